"""The pipeline's `test` job run **in its declared image** by gitlab-ci-local, not on this machine's shell.

The other pipeline tests run jobs with `--force-shell-executor`, which hides what a job's image lacks: the
`test` job once ran `make test` in python:3.11-slim without podman, tmux, the AWS CLI, Go or Node.js 20, and
every one of those turned into a failure under GitLab's CI=true. Here gitlab-ci-local runs the job as
GitLab's Docker executor would: in `$CI_REGISTRY_IMAGE/ci:$CI_IMAGE_TAG`, through podman
(`--container-executable podman`), with the job's own variables, before_script and script (`make test`).

- **The image.** No registry answers here, so `harness.ci_image.build_standin` builds an image of that exact name
  from `.ci/Dockerfile` with stand-in bases (Debian from debootstrap, this machine's Go 1.26.8, Node.js 20 and
  Terraform 1.11.4; its docstring says what differs). It is cached in podman's image store, outside the clone,
  labelled with what it was built from: the first run builds it (cold), later runs reuse it (warm).
- **The job's real script, a narrower selection.** The whole suite inside the suite would double `make test`, so
  the job's `PYTEST_SELECTION` variable narrows pytest to tests that prove the image: Python 3.11 and the service
  (tests/app/test_transform.py), the image's Terraform (tests/harness/test_terraform_json_run.py, and the
  session's `terraform init` of the AWS provider; tests/ci/test_toolchain.py where ../shared/toolchain is beside
  the clone, as on the build machines), the Go-built tools run from the cache
  (tests/harness/test_tools.py), Node.js 20 with npm, rsync and git running gitlab-ci-local
  (tests/ci/test_pipeline.py), the AWS CLI against moto (tests/modules/kubernetes_app/test_minikube_example.py).
  The job's own `PYTEST_DESELECT` (the privileged tests) still applies. CI=true is gitlab-ci-local's predefined
  value, as GitLab's: a test that cannot run fails. The job's exit code and its artifact (report.xml, every
  selected test passed, none skipped) are asserted.
- **What the pipeline's caches provide.** The Go-built tools are not rebuilt in the container (a cold build is
  about 100 minutes): this machine's tools cache is mounted where the job's `MIRROR_KIT_TOOLS_DIR` (its
  `go-tools-all` cache path) points, as an overlay (podman's `:O`), so the job reads it and nothing it writes
  reaches the host. pip's cache (`.cache/pip`, the job's pip cache) is a directory under ~/.cache/mirror-kit.
  The job's two venvs (`.venv`, `.venv-checkov`, which `make test` creates with the image's Python) are kept
  there too, keyed on the requirement files and the image: the first run of a key creates them in the container
  for real (3 to 9 minutes on these 2 shared cores: pip's cache stays empty here), later runs find them where the job's
  `make` looks (the copy is always at the same path, so their editable installs stay valid) and skip pip.
  What GitLab gets from the internet and this machine cannot (the Terraform registry) comes from the same places
  the suite's other tests use, where this machine has them: the AWS provider mirror (`TF_PROVIDER_MIRROR`) and
  ../shared/toolchain, read-only. In `test:privileged` on a GitLab runner neither exists and the job downloads
  the provider as the pipeline does.

Checked against: gitlab-ci-local 4.70.1's source (its dist/index.js, as installed from tests/ci/node): a job with
an `image:` runs in a container of that image, pulled only when `image inspect` fails (`--pull-policy`
if-not-present); the project is copied into a volume at /builds/<group>/<project> by the helper image
(`--helper-image`, which needs sh and bash: the CI image serves), artifacts are copied out of `artifacts:paths`
only (not `reports:junit`, hence the test job's `paths: [report.xml]`), `--volume` adds mounts, CI=true is
predefined, and CI_REGISTRY is `local-registry.<host of origin>`. GitLab's side: `image:` (here
`$CI_REGISTRY_IMAGE/ci:$CI_IMAGE_TAG`) is expanded by the runner's own variable expansion, file and predefined
variables included (docs.gitlab.com/ci/variables/where_variables_can_be_used), and a job variable may use
another (`PYTEST_ARGS` uses `PYTEST_DESELECT` and `PYTEST_SELECTION`: gitlab-org/gitlab-runner#1809, enabled on
GitLab.com in 14.3, first behind a flag on self-managed); gitlab-ci-local expanded both the same way here. What runs where: `tags:`
sends a job only to runners carrying every tag it names, and a runner that does not run untagged jobs takes only
those (gitlab-org/gitlab#17873 describes exactly this setup, a `privileged = true` Docker runner kept for tagged
jobs); `privileged = true` in a runner's `[runners.docker]` applies to every job it runs
(gitlab-org/gitlab-runner#27368), which is why the privileged tests have a job and a runner tag of their own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness import ci_image, ci_local, container, terraform, tools

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

REPO_ROOT = Path(__file__).resolve().parents[2]
# The project path the clean copy's origin gives (harness/ci_local.ORIGIN_URL), as gitlab-ci-local derives it.
PROJECT_DIR = "/builds/platform/mirror-service"
REGISTRY_IMAGE = "local-registry.gitlab.example.com/platform/mirror-service"
SHARED_TOOLCHAIN = REPO_ROOT.parent / "shared" / "toolchain"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mirror-kit"
PIP_CACHE = CACHE / "ci-pip"
REQUIREMENTS = ("requirements/dev.txt", "requirements/pipeline.txt", "requirements/checkov.txt",
                "app/requirements.txt", "pyproject.toml", "app/pyproject.toml")
SELECTION = {
    "tests/app/test_transform.py": "Python 3.11 and the service's code",
    "tests/harness/test_terraform_json_run.py": "the image's Terraform: init, apply, interrupt",
    "tests/harness/test_tools.py::test_the_built_tools_run_and_report_their_pinned_versions": "the Go-built tools",
    "tests/ci/test_pipeline.py::test_gitlab_ci_local_lists_every_job_as_gitlab_would": "Node.js 20, npm, rsync, git",
    "tests/modules/kubernetes_app/test_minikube_example.py": "the AWS CLI",
}
# Where the build machines' toolchain archive is beside the clone, .ci/toolchain.sh too (tar, xz, sha256sum).
TOOLCHAIN_TEST = {"tests/ci/test_toolchain.py": "Terraform from ../shared/toolchain via .ci/toolchain.sh"}


def _fail_or_skip(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: the test job must run in its image here, but {reason}", pytrace=False)
    pytest.skip(reason)


def _venvs(engine: container.Engine, image_name: str) -> Path:
    """Where the job's venvs are kept between runs: one directory per requirements and image. Those of images
    that are gone (a new stand-in replaces the older ones) are removed."""
    key = hashlib.sha256(image_name.encode())
    for name in REQUIREMENTS:
        key.update(name.encode() + b"\0" + (REPO_ROOT / name).read_bytes())
    venvs = CACHE / "ci-venv" / key.hexdigest()[:16]
    for other in (CACHE / "ci-venv").glob("*/image"):
        if other.parent != venvs and not engine.image_exists(other.read_text().strip()):
            shutil.rmtree(other.parent, ignore_errors=True)
    venvs.mkdir(parents=True, exist_ok=True)
    (venvs / "image").write_text(image_name)
    return venvs


@pytest.fixture(scope="module")
def image() -> dict:
    """The declared image's stand-in, built or reused; what it cost."""
    try:
        engine = container.find_engine()
        if engine.name != "podman":
            _fail_or_skip(f"this test drives gitlab-ci-local through podman, found {engine.name}")
        name = ci_image.declared_image(REGISTRY_IMAGE)
        return {"engine": engine, "name": name, **ci_image.build_standin(engine, name)}
    except container.EngineUnavailable as missing:
        _fail_or_skip(str(missing))


def _has_toolchain() -> bool:
    return any(SHARED_TOOLCHAIN.glob("terraform-*.tar.xz"))


def _selection() -> dict[str, str]:
    return {**SELECTION, **(TOOLCHAIN_TEST if _has_toolchain() else {})}


def _leftovers(engine: container.Engine, image_name: str) -> set[str]:
    """Containers of the image and gitlab-ci-local's volumes (`gcl-*`): 4.70.1 leaves some behind after a job."""
    containers = engine.run("ps", "--all", "--quiet", "--no-trunc", "--filter", f"ancestor={image_name}", check=False)
    volumes = engine.run("volume", "ls", "--quiet", check=False)
    return ({f"container:{name}" for name in containers.stdout.split()}
            | {f"volume:{name}" for name in volumes.stdout.split() if name.startswith("gcl-")})


@pytest.fixture(scope="module")
def job(image, tmp_path_factory) -> Iterator[dict]:
    if ci_local.missing_tools():
        _fail_or_skip(f"gitlab-ci-local needs {', '.join(ci_local.missing_tools())}")
    repo = ci_local.clean_copy(tmp_path_factory.mktemp("ci-image") / "repo")
    venvs = _venvs(image["engine"], image["name"])
    for directory in (PIP_CACHE, venvs / "venv", venvs / "venv-checkov"):
        directory.mkdir(parents=True, exist_ok=True)
    mounts = [
        f"{tools.cache_root()}:{PROJECT_DIR}/.cache/tools:O",  # the go-tools-all cache, as an overlay
        f"{PIP_CACHE}:{PROJECT_DIR}/.cache/pip",  # the pip cache
        f"{venvs / 'venv'}:{PROJECT_DIR}/.venv",
        f"{venvs / 'venv-checkov'}:{PROJECT_DIR}/.venv-checkov",
    ]
    variables = {"PYTEST_SELECTION": " ".join(_selection()),
                 "TEST_WORKERS": "2"}  # two pytest workers: this runs beside the rest of `make test` on two cores
    # No Terraform registry on the build machines: the AWS provider from this machine's mirror (elsewhere, as in
    # GitLab, `terraform init` downloads it).
    mirror = terraform.provider_mirror()
    if mirror is not None:
        mounts.append(f"{mirror}:{mirror}:ro")
        variables["TF_PROVIDER_MIRROR"] = str(mirror)
    if _has_toolchain():
        mounts.append(f"{SHARED_TOOLCHAIN}:{Path(PROJECT_DIR).parent}/shared/toolchain:ro")
    engine = image["engine"]
    before = _leftovers(engine, image["name"])
    started = time.monotonic()
    run = ci_local.run(
        repo, "--container-executable", "podman", "--helper-image", image["name"], "--pull-policy", "if-not-present",
        *[arg for mount in mounts for arg in ("--volume", mount)], "test",
        variables=variables,
        on_host=False, env=engine.env, timeout=3000)
    yield {"run": run, "seconds": round(time.monotonic() - started, 1), "venvs_reused": "==> .venv:" not in run.output}
    left = _leftovers(engine, image["name"]) - before  # only what this run made
    for kind in ("container", "volume"):  # containers first: they hold the volumes
        names = sorted(entry.split(":", 1)[1] for entry in left if entry.startswith(f"{kind}:"))
        if names:
            engine.run(*(("rm", "--force") if kind == "container" else ("volume", "rm", "--force")), *names,
                       check=False, timeout=300)


def test_the_ci_image_tag_is_the_dockerfiles_hash():
    """A changed .ci/Dockerfile must be a new tag, or jobs would run in an image built from the old one."""
    variables = yaml.safe_load((REPO_ROOT / ".gitlab-ci.yml").read_text())["variables"]
    assert variables["CI_IMAGE_TAG"] == ci_image.dockerfile_tag(), (
        f"set CI_IMAGE_TAG: \"{ci_image.dockerfile_tag()}\" in .gitlab-ci.yml (python -m harness.ci_image tag)")


def test_the_test_job_passes_in_its_declared_image(image, job):
    run = job["run"]
    print(f"\nci-image stand-in {image['name']}: {'built' if image['built'] else 'reused'} in {image['seconds']} s, "
          f"{image['size_bytes'] / 2**20:.0f} MiB; the test job ran in {job['seconds']} s "
          f"({'venvs reused' if job['venvs_reused'] else 'venvs created'})")
    assert run.returncode == 0, run.output[-8000:]
    assert f"starting {image['name']} (test)" in run.output, "the job did not run in its declared image"
    assert "PASS  test" in run.output
    # The image's own Terraform: install-terraform.sh found it and downloaded nothing.
    assert "terraform 1.11.4 already on PATH: not installing 1.11.4" in run.output
    # The Go tools came from the cache: nothing was built.
    assert "nothing built" in run.output and "tools: building" not in run.output


def test_the_job_keeps_a_junit_report_where_every_selected_test_passed(job):
    run = job["run"]
    report = run.artifacts("test") / "report.xml"
    assert report.is_file(), f"no report.xml among the job's artifacts: {run.output[-3000:]}"
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key)) for key in ("tests", "failures", "errors", "skipped")}
    assert counts["tests"] >= 15 and counts["failures"] == counts["errors"] == counts["skipped"] == 0, counts
    ran = {f"{case.get('classname')}.{case.get('name')}" for case in suite.iter("testcase")}
    for selected, proves in _selection().items():
        path, _, name = selected.partition("::")
        module = path.removesuffix(".py").replace("/", ".")
        assert any(case.startswith(f"{module}.{name}") for case in ran), f"{selected} ({proves}) did not run"
    assert not any(case.startswith(("tests.container.", "tests.cluster.", "tests.e2e.test_kubernetes_environments.",
                                    "tests.ci.test_ci_image.")) for case in ran)


def test_the_ci_dockerfile_pins_what_the_pipeline_and_the_stand_in_agree_on():
    """The image's Terraform is the pipeline's TERRAFORM_VERSION, its Go the version the stand-in checks (and the
    highest `go` line of tools/*/go.mod), its Node.js the major gitlab-ci-local 4.70.1 needs; checkov passes it."""
    dockerfile = ci_image.DOCKERFILE.read_text()
    arguments = dict(line.removeprefix("ARG ").split("=", 1) for line in dockerfile.splitlines()
                     if line.startswith("ARG ") and "=" in line)
    pipeline = ci_image.pipeline_variables()
    assert arguments["TERRAFORM_IMAGE"] == f"hashicorp/terraform:{pipeline['TERRAFORM_VERSION']}"
    assert arguments["GO_IMAGE"] == f"golang:{ci_image.GO_VERSION.removeprefix('go')}-bookworm"
    go_lines = {line.split()[1] for path in (REPO_ROOT / "tools").glob("*/go.mod")
                for line in path.read_text().splitlines() if line.startswith("go ")}
    def version(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    assert go_lines and max(map(version, go_lines)) <= version(ci_image.GO_VERSION.removeprefix("go"))
    assert arguments["NODE_IMAGE"].startswith(f"node:{ci_image.NODE_MAJOR.removeprefix('v')}")
    assert arguments["DEBIAN_IMAGE"].startswith("debian:bookworm")
    checkov = Path(os.environ.get("CHECKOV_BIN") or REPO_ROOT / ".venv-checkov/bin/checkov")
    if not checkov.exists():
        pytest.fail(f"checkov not found at {checkov}; run `make tools`")
    result = subprocess.run([str(checkov), "--framework", "dockerfile", "--skip-download", "--quiet", "--compact",
                             "--file", str(ci_image.DOCKERFILE)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_podman_runs_inside_the_image_in_a_privileged_container(image, tmp_path):
    """What test:privileged needs of its image on a `privileged = true` runner: podman inside the job's container
    (its storage on that container's overlayfs, through fuse-overlayfs), here with podman as the outer engine."""
    engine = image["engine"]
    script = ("set -e; mkdir -p /probe/bin; cp /usr/bin/true /probe/bin/; "
              "for lib in $(ldd /usr/bin/true | grep -o '/lib[^ ]*'); do mkdir -p /probe$(dirname $lib); "
              "cp $lib /probe$lib; done; tar -C /probe -c . | podman import - localhost/probe:1 >/dev/null; "
              "podman run --rm localhost/probe:1 /bin/true; podman info --format '{{.Store.GraphDriverName}}'")
    result = engine.run("run", "--rm", "--privileged", "--volume",
                        f"{engine.env['CONTAINERS_CONF']}:/etc/containers/containers.conf:ro",
                        image["name"], "bash", "-c", script, check=False, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "overlay"
