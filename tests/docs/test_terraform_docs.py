"""The README tables of every module and root are exactly what the real terraform-docs prints
(harness/terraform_docs.py runs it with the root .terraform-docs.yml), and a stale one is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import terraform_docs
from harness.paths import REPO_ROOT


def test_every_generated_readme_is_what_terraform_docs_prints():
    directories = terraform_docs.discover()
    covered = {directory.relative_to(REPO_ROOT).as_posix() for directory in directories}
    # Every root and module a team applies or consumes is covered, the environments included.
    assert {"envs/aws", "envs/bootstrap", "envs/local", "envs/sandbox", "modules/eks", "modules/kubernetes-app",
            "modules/s3-staging"} <= covered
    problems = terraform_docs.check(directories)
    if problems:
        pytest.fail("README tables differ from terraform-docs' output; run `make docs` and commit the result:\n\n"
                    + "\n".join(problems), pytrace=False)


@pytest.fixture
def root_copy(tmp_path) -> Path:
    """A private copy of envs/sandbox (a root whose README carries a generated block), made current."""
    copy = tmp_path / "envs" / "sandbox"
    shutil.copytree(REPO_ROOT / "envs" / "sandbox", copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    terraform_docs.write([copy])
    assert terraform_docs.check([copy]) == []
    return copy


def test_a_changed_description_makes_the_readme_stale_until_it_is_regenerated(root_copy):
    variables = root_copy / "variables.tf"
    described = 'description = "Name of the staging bucket created in the emulator."'
    assert variables.read_text().count(described) == 1
    variables.write_text(variables.read_text().replace(described, 'description = "Renamed: the emulator bucket_name."'))
    readme_before = (root_copy / "README.md").read_text()

    (problem,) = terraform_docs.check([root_copy])
    assert problem.startswith(f"{root_copy / 'README.md'} is out of date; run `make docs`")
    assert "\n+| <a name=\"input_bucket_name\"></a> [bucket\\_name](#input\\_bucket\\_name) | Renamed: the emulator" \
           " bucket\\_name. |" in problem
    assert (root_copy / "README.md").read_text() == readme_before, "check must not change anything"

    assert terraform_docs.write([root_copy]) == [root_copy]
    assert terraform_docs.check([root_copy]) == []
    readme = (root_copy / "README.md").read_text()
    # Only the generated block changes: the hand-written part before it is kept byte for byte.
    assert readme.split(terraform_docs.BEGIN)[0] == readme_before.split(terraform_docs.BEGIN)[0]
    assert readme.rstrip("\n").endswith(terraform_docs.END)


def test_a_readme_without_markers_is_reported_and_given_them(root_copy):
    readme = root_copy / "README.md"
    readme.write_text("# sandbox\n\nNo generated block here.\n")
    assert terraform_docs.check([root_copy]) == [
        f"{readme} has no {terraform_docs.BEGIN} ... {terraform_docs.END} block; run `make docs`"]
    assert terraform_docs.main(["--check", str(root_copy)]) == 1
    assert terraform_docs.main(["--write", str(root_copy)]) == 0
    text = readme.read_text()
    assert text.startswith("# sandbox\n\nNo generated block here.\n")
    assert f"{terraform_docs.BEGIN}\n## Requirements\n" in text
    assert terraform_docs.main(["--check", str(root_copy)]) == 0
