"""`terraform validate` of every root, example and module against the providers' real schemas (`make validate`).

The same runner as `make validate` (harness/validate.py): each root in a private copy, `init -backend=false`
then `validate`. On a normal machine Terraform installs the real providers; offline (the build machines)
the AWS provider comes from the mirror and helm from the schema-only stand-in (harness/provider_standin),
whose schema is derived from terraform-provider-helm v3.1.1's source. What validate proves: every
argument exists with the right type and syntax (attribute vs block), required ones are set, references
and module interfaces line up, variable validations are well-formed. What it cannot: values only known
at plan/apply, chart rendering, cluster access (those are tested in tests/modules, tests/chart, tests/e2e).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness import terraform, validate
from harness.processes import REPO_ROOT

ROOTS = validate.discover_roots()


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
                          "modules/kubernetes-app/modules/values", "no/such/root"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert cli.stdout.splitlines()[0].startswith("ok    modules/kubernetes-app/modules/values")
    assert cli.stdout.splitlines()[1].startswith("FAIL  no/such/root")
