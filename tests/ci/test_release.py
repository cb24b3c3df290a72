"""Releases: `make release VERSION=vX.Y.Z` tags the repository, and other teams consume a module by that tag.

The consumer side is real Terraform: a root whose module source is
`git::file://<repo>//modules/kubernetes-app?ref=<tag>` (the form the README documents, with a
`file://` URL instead of the GitLab one) runs `terraform get`, which downloads modules without any
provider; the tagged module arrives with its chart, and a commit made after the tag does not.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness import ci_local, processes, terraform

VERSION = "v9.9.9"


def _make(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args, f"VENV={processes.REPO_ROOT / '.venv'}"],
                          cwd=repo, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    repo = ci_local.clean_copy(tmp_path_factory.mktemp("release") / "repo")
    result = _make(repo, "release", f"VERSION={VERSION}")
    assert result.returncode == 0, result.stdout + result.stderr
    return repo


def test_release_tags_the_commit_that_records_it_in_the_changelog(released):
    assert ci_local.git(released, "describe", "--exact-match", "HEAD") == VERSION
    assert ci_local.git(released, "log", "-1", "--format=%s") == f"chore(release): {VERSION}"
    assert f"## {VERSION} - " in (released / "CHANGELOG.md").read_text()


@pytest.mark.parametrize(("version", "refusal"), [
    ("1.2.0", "VERSION must be a semantic version tag"),
    ("v1.2", "VERSION must be a semantic version tag"),
    (VERSION, "already exists"),
])
def test_release_refuses_bad_or_existing_versions(released, version, refusal):
    result = _make(released, "release", f"VERSION={version}")
    assert result.returncode != 0 and refusal in result.stderr


def test_a_tagged_kubernetes_app_resolves_through_a_git_source_with_its_chart(released, tmp_path):
    chart_values = released / "modules/kubernetes-app/chart/values.yaml"
    tagged_values = chart_values.read_text()
    chart_values.write_text(tagged_values + "# changed after the release\n")
    ci_local.commit(released, "a change after the tag")
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "main.tf").write_text(
        'module "app" {\n'
        f'  source = "git::file://{released}//modules/kubernetes-app?ref={VERSION}"\n'
        "}\n")
    result = terraform.run(["get", "-no-color"], cwd=consumer, env=terraform.terraform_env(), check=False)
    assert result.returncode == 0, result.stderr
    modules = json.loads((consumer / ".terraform/modules/modules.json").read_text())["Modules"]
    [app] = [module for module in modules if module["Key"] == "app"]
    module_dir = consumer / app["Dir"]
    assert module_dir.relative_to(consumer).parts[-2:] == ("modules", "kubernetes-app")
    for chart_file in ("Chart.yaml", "values.yaml", "values.schema.json", "templates/deployment.yaml"):
        assert (module_dir / "chart" / chart_file).is_file(), f"the chart's {chart_file} did not arrive"
    assert (module_dir / "chart/values.yaml").read_text() == tagged_values, "the ref did not pin the tag"
