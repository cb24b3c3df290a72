"""The pipeline's CI image (`.ci/Dockerfile`): its tag, and a stand-in for the registry image where none answers.

In GitLab the `ci-image` job builds `.ci/Dockerfile` and pushes `$CI_REGISTRY_IMAGE/ci:$CI_IMAGE_TAG`, where
CI_IMAGE_TAG (in .gitlab-ci.yml) is `dockerfile_tag()`: the first 16 hex digits of the Dockerfile's SHA-256.

**Stand-in.** The build machines reach no container registry, so `build_standin()` builds an image of the same
name and contents here, to run the `test` job in it with gitlab-ci-local (tests/ci/test_ci_image.py). It builds
the same `.ci/Dockerfile`, with its four bases replaced through the Dockerfile's own build arguments by local
images holding the same things at the same paths:

- `DEBIAN_IMAGE`: Debian bookworm from `debootstrap --variant=minbase` (harness/container.py's base, which also
  carries the host's extra CA certificates: outbound TLS here goes through an intercepting proxy) instead of
  `debian:bookworm-slim`; the Dockerfile's `apt-get install` then runs for real against Debian's mirrors;
- `GO_IMAGE`: this machine's Go (`go env GOROOT`, which must be 1.26.8) at /usr/local/go, as in `golang:1.26.8-bookworm`;
- `NODE_IMAGE`: this machine's Node.js 20 and its npm at /usr/local/bin/node and /usr/local/lib/node_modules/npm,
  as in `node:20-bookworm-slim` (here Node 20 is NodeSource's Debian package);
- `TERRAFORM_IMAGE`: this machine's Terraform (which must be TERRAFORM_VERSION) at /bin/terraform, as in
  `hashicorp/terraform`.

The stand-in is labelled `mirror-kit.stand-in` (what it was built from) and lives in the engine's image store,
outside the clone: a later run with the same Dockerfile and the same inputs reuses it in seconds, a changed
Dockerfile is a new tag. `python -m harness.ci_image tag|build` prints the tag or builds the stand-in.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from harness import container
from harness.paths import REPO_ROOT

DOCKERFILE = REPO_ROOT / ".ci" / "Dockerfile"
PIPELINE_FILE = REPO_ROOT / ".gitlab-ci.yml"
STANDIN = "localhost/mirror-kit-standin"
LABEL = "mirror-kit.stand-in"
GO_VERSION = "go1.26.8"
NODE_MAJOR = "v20."


def dockerfile_tag(dockerfile: Path = DOCKERFILE) -> str:
    """The CI image's tag: its Dockerfile's content, so a changed Dockerfile is a new image."""
    return hashlib.sha256(dockerfile.read_bytes()).hexdigest()[:16]


def pipeline_variables() -> dict[str, str]:
    return {name: str(value) for name, value in yaml.safe_load(PIPELINE_FILE.read_text())["variables"].items()}


def declared_image(registry_image: str) -> str:
    """The `image:` the jobs declare, for a project whose CI_REGISTRY_IMAGE is `registry_image`."""
    return f"{registry_image}/ci:{pipeline_variables()['CI_IMAGE_TAG']}"


def _run(argv: list[str], **kwargs) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120, **kwargs).stdout.strip()


def _host_inputs() -> dict[str, Path | str]:
    """This machine's Go, Node.js (+ npm) and Terraform, each checked against the version the Dockerfile copies."""
    missing = [tool for tool in ("go", "node", "terraform") if shutil.which(tool) is None]
    if missing:
        raise container.EngineUnavailable(f"the CI image stand-in copies this machine's {', '.join(missing)}: not on PATH")
    goroot = Path(_run(["go", "env", "GOROOT"]))
    go_version = _run([str(goroot / "bin" / "go"), "version"])
    node = Path(shutil.which("node")).resolve()
    node_version = _run([str(node), "--version"])
    npm = node.parent.parent / "lib" / "node_modules" / "npm"
    terraform = Path(shutil.which("terraform")).resolve()
    terraform_version = json.loads(_run([str(terraform), "version", "-json"]))["terraform_version"]
    wanted_terraform = pipeline_variables()["TERRAFORM_VERSION"]
    problems = []
    if f" {GO_VERSION} " not in f" {go_version} ":
        problems.append(f"Go at {goroot} is `{go_version}`, the image copies {GO_VERSION}")
    if not node_version.startswith(NODE_MAJOR):
        problems.append(f"{node} is Node.js {node_version}, the image copies Node.js 20")
    if not (npm / "bin" / "npm-cli.js").is_file():
        problems.append(f"no npm beside {node} (looked for {npm})")
    if terraform_version != wanted_terraform:
        problems.append(f"{terraform} is Terraform {terraform_version}, the pipeline pins {wanted_terraform}")
    if problems:
        raise container.EngineUnavailable("cannot build the CI image stand-in: " + "; ".join(problems))
    return {"goroot": goroot, "go": go_version, "node": node, "node_version": node_version, "npm": npm,
            "terraform": terraform, "terraform_version": terraform_version}


def _import(engine: container.Engine, tag: str, tar_argv: list[str]) -> None:
    """A one-layer image from a tar stream (the stand-in of a stage the Dockerfile only copies files out of)."""
    tar = subprocess.Popen(tar_argv, stdout=subprocess.PIPE)
    engine.run("import", "-", tag, stdin=tar.stdout, timeout=600)
    tar.stdout.close()
    if tar.wait() != 0:
        raise RuntimeError(f"{' '.join(tar_argv[:4])} ... failed")


def _standin_bases(engine: container.Engine, inputs: dict, log) -> dict[str, str]:
    """DEBIAN_IMAGE, GO_IMAGE, NODE_IMAGE and TERRAFORM_IMAGE stand-ins, each reused by a tag naming its input."""
    debian = container.build_local_base(engine, log)
    go = f"{STANDIN}/golang:{inputs['go'].split()[2].removeprefix('go')}-bookworm"
    node = f"{STANDIN}/node:{inputs['node_version'].lstrip('v')}-bookworm-slim"
    terraform = f"{STANDIN}/terraform:{inputs['terraform_version']}"
    goroot, npm = inputs["goroot"], inputs["npm"]
    if not engine.image_exists(go):
        _import(engine, go, ["tar", "-C", str(goroot.parent), "--transform", f"flags=r;s,^{re.escape(goroot.name)},usr/local/go,",
                             "-c", goroot.name])
    if not engine.image_exists(node):
        _import(engine, node, ["tar", "-C", "/", "--transform", "flags=r;s,^.*/bin/node$,usr/local/bin/node,;"
                               f"s,^{re.escape(str(npm.relative_to('/')))},usr/local/lib/node_modules/npm,",
                               "-c", str(inputs["node"].relative_to("/")), str(npm.relative_to("/"))])
    if not engine.image_exists(terraform):
        _import(engine, terraform, ["tar", "-C", str(inputs["terraform"].parent), "--transform", "flags=r;s,^,bin/,",
                                    "-c", inputs["terraform"].name])
    return {"DEBIAN_IMAGE": debian, "GO_IMAGE": go, "NODE_IMAGE": node, "TERRAFORM_IMAGE": terraform}


def build_standin(engine: container.Engine, name: str, log=print) -> dict:
    """The stand-in for the registry image `name` (built from .ci/Dockerfile unless an identical one exists).

    Returns what was done: `built` (False when reused), `seconds`, `bases` and `size_bytes`."""
    started = time.monotonic()
    inputs = _host_inputs()
    bases = _standin_bases(engine, inputs, log)
    recipe = json.dumps({"dockerfile": dockerfile_tag(), **bases}, sort_keys=True)
    if engine.image_exists(name):
        label = engine.run("image", "inspect", "--format", f'{{{{index .Labels "{LABEL}"}}}}', name).stdout.strip()
        if label == recipe:
            return {"built": False, "seconds": round(time.monotonic() - started, 1), "bases": bases,
                    "size_bytes": engine.image_size(name)}
    log(f"ci-image: building the stand-in {name} from .ci/Dockerfile (a few minutes, once per Dockerfile) ...")
    with tempfile.TemporaryDirectory(prefix="ci-image-context-") as context:
        shutil.copy(DOCKERFILE, Path(context) / "Dockerfile")
        engine.run("build", "--format", "docker", "--tag", name, "--label", f"{LABEL}={recipe}",
                   *[arg for base, image in bases.items() for arg in ("--build-arg", f"{base}={image}")],
                   "--file", str(Path(context) / "Dockerfile"), context, timeout=1800)
    seconds = round(time.monotonic() - started, 1)
    log(f"ci-image: stand-in {name} built in {seconds:.0f} s")
    _remove_older_standins(engine, name, log)
    return {"built": True, "seconds": seconds, "bases": bases, "size_bytes": engine.image_size(name)}


def _remove_older_standins(engine: container.Engine, name: str, log) -> None:
    """Stand-ins of this repository built from another Dockerfile (about 1.3 GB each) go when a new one is built."""
    repository = name.rsplit(":", 1)[0]
    listed = engine.run("images", "--filter", f"label={LABEL}", "--format", "{{.Repository}}:{{.Tag}}", check=False)
    for other in sorted(set(listed.stdout.split())):
        if other.rsplit(":", 1)[0] == repository and other != name:
            if engine.run("rmi", other, check=False).returncode == 0:
                log(f"ci-image: removed the older stand-in {other}")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "tag"
    if command == "tag":
        print(dockerfile_tag())
        return 0
    if command == "build" and len(argv) == 2:
        print(json.dumps(build_standin(container.find_engine(), argv[1]), indent=2))
        return 0
    print("usage: python -m harness.ci_image tag | build IMAGE-NAME", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
