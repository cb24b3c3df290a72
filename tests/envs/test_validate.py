"""`terraform validate` of every root, example and module against the providers' real schemas (`make validate`).

The same runner as `make validate` (harness/validate.py): each root in a private copy, `init -backend=false`
then `validate`. On a normal machine Terraform installs the real providers; offline (the build machines)
the AWS provider comes from the mirror, and helm and kubernetes are HashiCorp's providers built here from
the commits tools/terraform-provider-*/go.mod pin (harness/terraform.py). What validate proves: every
argument exists with the right type and syntax (attribute vs block), required ones are set, references
and module interfaces line up, variable validations are well-formed. What it cannot: values only known
at plan/apply, chart rendering, cluster access (those are tested in tests/modules, tests/chart, tests/e2e).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import terraform, validate
from harness.processes import REPO_ROOT

pytestmark = pytest.mark.slow

ROOTS = validate.discover_roots()
GIT_CONSUMER = Path(__file__).parent / "fixtures" / "kubernetes_app_git_consumer"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, validate.Result]:
    """All roots validated once, side by side (the first alone, to fill the plugin cache)."""
    return {result.root: result for result in validate.validate_all(ROOTS, tmp_path_factory.mktemp("validate"))}


def test_every_environment_and_example_is_validated():
    """Discovery must not silently lose a root: the ones users apply are named here."""
    expected = {"envs/sandbox", "envs/local", "envs/aws", "envs/bootstrap", "modules/kubernetes-app",
                "modules/kubernetes-app/examples/minikube", "modules/eks", "modules/s3-staging"}
    assert expected <= set(ROOTS)
    examples = {path.parent.relative_to(REPO_ROOT).as_posix() for path in REPO_ROOT.glob("modules/*/examples/*/*.tf")}
    assert examples and examples <= set(ROOTS)


@pytest.mark.parametrize("root", ROOTS)
def test_root_validates_against_the_provider_schemas(results, root):
    result = results[root]
    assert result.ok, f"{root} does not validate:\n{result.output}"


def test_make_validate_reports_a_broken_root_and_exits_non_zero(tmp_path):
    """The CLI the pipeline runs: one line per root, non-zero exit, Terraform's message for the failure."""
    broken = tmp_path / "repo"
    for tree in validate.TREES:
        terraform.copy_root(REPO_ROOT / tree, broken / tree)
    call = broken / "modules/kubernetes-app/examples/minikube/main.tf"
    call.write_text(call.read_text().replace('release_name     = "mirror"', 'release_nam = "mirror"'))
    results = validate.validate_all(["modules/kubernetes-app/examples/minikube", "modules/kubernetes-app"], tmp_path / "w",
                                    repo=broken)
    assert [r.ok for r in results] == [False, True]
    assert "FAIL" in results[0].line() and 'An argument named "release_nam" is not expected here' in results[0].output
    cli = subprocess.run([sys.executable, "-m", "harness.validate",
                          "modules/kubernetes-app", "no/such/root"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    lines = cli.stdout.splitlines()
    assert lines[0].startswith("validating 2 roots"), "it says what it does before the first root ends"
    # One line per root as it ends, in the order they end (a heartbeat line may come between them).
    assert sorted(line[:34] for line in lines if line.startswith(("ok ", "FAIL "))) == [
        "FAIL  no/such/root                ", "ok    modules/kubernetes-app      "]


def _git(*args: str, cwd: Path) -> str:
    identity = ["-c", "user.name=validate-test", "-c", "user.email=validate-test@example.invalid",
                "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]
    return subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True, text=True,
                          timeout=60).stdout


def test_git_ref_consumer_of_kubernetes_app_initialises_and_validates_with_the_chart(tmp_path):
    """How other teams consume the module (README: `git::…//modules/kubernetes-app?ref=<tag>`), from a bare repo.

    The repository is today's working tree (modules/) committed and tagged in a scratch repo, cloned bare;
    the consumer root pins the tag. `init` must fetch the module with its chart (path.module/chart), and
    `validate` must pass against the helm schema. `terraform console` then evaluates the chart's hash in
    the consumer: it equals the hash of this checkout's chart only if the chart arrived whole with the module.
    """
    work = tmp_path / "source"
    terraform.copy_root(REPO_ROOT / "modules", work / "modules")
    _git("init", "-q", cwd=work)
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "modules", cwd=work)
    _git("tag", "v9.9.9", cwd=work)
    _git("clone", "-q", "--bare", str(work), str(tmp_path / "platform.git"), cwd=tmp_path)
    consumer = tmp_path / "consumer"
    shutil.copytree(GIT_CONSUMER, consumer)
    main_tf = consumer / "main.tf"
    main_tf.write_text(main_tf.read_text().replace("__MODULE_SOURCE__",
                                                   f"git::file://{tmp_path / 'platform.git'}//modules/kubernetes-app?ref=v9.9.9"))
    env = terraform.terraform_env()
    terraform.run(["init", "-backend=false", "-input=false", "-no-color"], cwd=consumer, env=env)
    fetched = consumer / ".terraform/modules/app/modules/kubernetes-app"
    assert (fetched / "chart/Chart.yaml").is_file() and (fetched / "chart/values.schema.json").is_file()
    assert terraform.run(["validate", "-no-color"], cwd=consumer, env=env).returncode == 0
    console = subprocess.run(["terraform", "console", "-no-color"], input="module.app.chart_sha256\n", cwd=consumer,
                             env=env, capture_output=True, text=True, timeout=120)
    assert console.returncode == 0, console.stderr
    assert console.stdout.strip() == f'"{_chart_sha256(REPO_ROOT / "modules/kubernetes-app/chart")}"'


def _chart_sha256(chart: Path) -> str:
    """The module's own chart_sha256 expression, in Python: sha256 of the sorted files' sha256s, joined."""
    files = sorted(path.relative_to(chart).as_posix() for path in chart.rglob("*") if path.is_file())
    return hashlib.sha256("".join(hashlib.sha256((chart / f).read_bytes()).hexdigest() for f in files).encode()).hexdigest()
