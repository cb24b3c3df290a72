"""`make lint` runs real linters that fail on findings (issue #9 part 4: it used to pass silently).

A clean copy of the repository gets one typical finding per linter; each `make lint-<piece>` (what
pre-commit and the pipeline's lint job call) must fail and name the finding. The unmodified
repository passing `make lint` is asserted where the pipeline runs it (test_pipeline_jobs.py).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from harness import ci_local, processes

FINDINGS = {
    # piece: (file, content appended, what the linter reports)
    "lint-python": ("harness/lint_probe.py", "import os\n", "F401"),
    "lint-terraform": ("envs/sandbox/lint_probe.tf", 'variable "probe" {\ntype=string\n}\n', "lint_probe.tf"),
    # The AWS ruleset (a plugin built from tools/tflint-ruleset-aws) knows EC2's instance types.
    "lint-tflint": ("modules/s3-staging/lint_probe.tf",
                    'resource "aws_instance" "probe" {\n  ami           = "ami-12345678"\n  instance_type = "t9.nano"\n}\n',
                    "aws_instance_invalid_type"),
    "lint-docker": ("app/Dockerfile", "RUN cd /tmp && echo probe\n", "DL3003"),
    "lint-yaml": ("lint-probe.yaml", "key: 1\nkey: 2\n", "key-duplicates"),
    "lint-shell": (".ci/lint-probe.sh", "#!/bin/sh\necho $1\n", "SC2086"),
}


@pytest.fixture(scope="module")
def repo_with_findings(tmp_path_factory):
    repo = ci_local.clean_copy(tmp_path_factory.mktemp("lint") / "repo")
    for path, content, _ in FINDINGS.values():
        with (repo / path).open("a") as handle:
            handle.write(content)
    ci_local.commit(repo, "one finding per linter")
    return repo


def _make(repo, target: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", target, f"VENV={processes.REPO_ROOT / '.venv'}"], cwd=repo,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("piece", sorted(FINDINGS))
def test_each_linter_fails_on_its_finding(repo_with_findings, piece):
    result = _make(repo_with_findings, piece)
    assert result.returncode != 0, f"make {piece} passed a finding:\n{result.stdout}{result.stderr}"
    assert FINDINGS[piece][2] in result.stdout + result.stderr


def test_make_lint_runs_every_piece_and_fails(repo_with_findings):
    result = subprocess.run(["make", "--no-print-directory", "-k", "lint", f"VENV={processes.REPO_ROOT / '.venv'}"],
                            cwd=repo_with_findings, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    for _, _, finding in FINDINGS.values():
        assert finding in result.stdout + result.stderr


def _pre_commit(repo, tmp_path) -> subprocess.CompletedProcess:
    venv = processes.REPO_ROOT / ".venv"
    env = {**os.environ, "VENV": str(venv), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"),
           "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    (repo / ".venv").symlink_to(venv)  # the check-gitlab-ci hook calls .venv/bin/check-jsonschema
    return subprocess.run([str(venv / "bin/pre-commit"), "run", "--all-files"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_pre_commit_hooks_run_the_lint_pieces(repo_with_findings, tmp_path):
    result = _pre_commit(repo_with_findings, tmp_path)
    assert result.returncode != 0
    for hook in ("ruff", "terraform fmt", "tflint", "hadolint", "yamllint", "shellcheck"):
        assert any(hook in line and "Failed" in line for line in result.stdout.splitlines()), result.stdout


def test_pre_commit_hooks_pass_on_the_repository(tmp_path):
    repo = ci_local.clean_copy(tmp_path / "repo")
    result = _pre_commit(repo, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
