"""Releases: `make release VERSION=vX.Y.Z` tags the repository, and other teams consume a module by that tag.

The consumer side is real Terraform: a root whose module source is
`git::file://<repo>//modules/kubernetes-app?ref=<tag>` (the form the README documents, with a
`file://` URL instead of the GitLab one) runs `terraform get`, which downloads modules without any
provider; the tagged module arrives with its chart, and a commit made after the tag does not.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import ci_local, release, terraform
from harness.paths import REPO_ROOT

VERSION = "v9.9.9"
# The environment running the tests (a worktree may have none of its own).
VENV = Path(sys.executable).parents[1]
BREAKING = ("feat(eks)!: a probe input replaces another\n\nBody.\n\n"
            "BREAKING CHANGE: rename probe_old to probe_new in every module block.\n"
            "BREAKING CHANGE: probe_new has no default: set it.")


def _make(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args, f"VENV={VENV}"],
                          cwd=repo, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    repo = ci_local.clean_copy(tmp_path_factory.mktemp("release") / "repo")
    ci_local.commit(repo, BREAKING)
    ci_local.commit(repo, "fix(ci): a probe fix")
    result = _make(repo, "release", f"VERSION={VERSION}")
    assert result.returncode == 0, result.stdout + result.stderr
    return repo


def _newest_section(changelog: str) -> str:
    return changelog.split(f"## {VERSION} - ", 1)[1].split("\n## ", 1)[0]


def test_release_tags_the_commit_that_records_it_in_the_changelog(released):
    assert ci_local.git(released, "describe", "--exact-match", "HEAD") == VERSION
    assert ci_local.git(released, "cat-file", "-t", VERSION) == "tag", "an annotated tag"
    assert ci_local.git(released, "log", "-1", "--format=%s") == f"chore(release): {VERSION}"
    assert ci_local.git(released, "status", "--porcelain") == "", "the release leaves nothing uncommitted"
    changed = set(ci_local.git(released, "show", "--name-only", "--format=", "HEAD").splitlines())
    assert {"CHANGELOG.md", "README.md", "modules/kubernetes-app/chart/Chart.yaml"} <= changed
    assert all(name == "CHANGELOG.md" or name.endswith(("README.md", "Chart.yaml")) for name in changed), changed
    chart = yaml.safe_load((released / "modules/kubernetes-app/chart/Chart.yaml").read_text())
    assert (chart["version"], chart["appVersion"]) == (VERSION[1:], VERSION)
    readme = (released / "README.md").read_text()
    assert f"?ref={VERSION}" in readme and not re.search(rf"\?ref=v(?!{re.escape(VERSION[1:])})", readme)
    assert release.disagreements(released) == [], "the released tree names one version"


def test_the_changelog_has_an_upgrade_note_per_breaking_change(released):
    section = _newest_section((released / "CHANGELOG.md").read_text())
    notes = section.split("### Upgrade notes", 1)[1].split("\n### ", 1)[0]
    assert "- **eks**: rename probe_old to probe_new in every module block." in notes
    assert "- **eks**: probe_new has no default: set it." in notes
    assert "**eks**: [breaking] A probe input replaces another" in section.split("### Added", 1)[1]
    assert "**ci**: A probe fix" in section.split("### Fixed", 1)[1]
    # The first release also carries the notes for what changed before Conventional Commits (cliff.toml).
    assert "`create_lifecycle_configuration` input is gone" in notes and "modules/values` submodule is gone" in notes


def test_the_next_release_keeps_each_note_in_its_own_section(released, tmp_path):
    repo = tmp_path / "next"
    subprocess.run(["git", "clone", "-q", str(released), str(repo)], check=True, timeout=120)
    ci_local.commit(repo, "fix(eks): a later fix")
    result = _make(repo, "release", "VERSION=v9.10.0")
    assert result.returncode == 0, result.stdout + result.stderr
    changelog = (repo / "CHANGELOG.md").read_text()
    newest = changelog.split("## v9.10.0 - ", 1)[1].split(f"\n## {VERSION} - ", 1)
    assert "Upgrade notes" not in newest[0] and "**eks**: A later fix" in newest[0]
    assert "rename probe_old to probe_new" in newest[1] and "`create_lifecycle_configuration`" in newest[1]
    assert release.disagreements(repo) == []


def test_the_checkout_names_one_released_version():
    """Tags may not travel with the default branch: the tree itself says which release it is. Before the
    first `make release` there is nothing to agree on yet (the released copy above is held to it)."""
    named = release.versions_named(REPO_ROOT)
    pins = set().union(*(versions for place, versions in named.items() if place.endswith("pins")))
    assert len(pins) == 1, f"the READMEs tell consumers to pin different versions: {named}"
    if named["CHANGELOG.md, newest release"] == set():
        pytest.skip(f"no release yet: `make release VERSION={pins.pop()}` makes the first")
    assert release.disagreements(REPO_ROOT) == []


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
