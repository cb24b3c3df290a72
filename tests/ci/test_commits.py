"""Conventional Commits are enforced where a message is written and where it arrives (harness/commits.py).

The commit-msg hook runs through pre-commit exactly as `pre-commit install` wires it (the hook stage and
the message file git hands it), and `make commits`, what the pipeline's `commits` job runs, checks a
range of a real repository. A bad message is refused with what to write instead; a good one passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ci_local, commits

# The environment running the tests (a worktree may have none of its own).
VENV = Path(sys.executable).parents[1]

GOOD = [
    "feat(eks): refuse a cluster nobody can enter",
    "fix!: environment defaults to prod\n\nBREAKING CHANGE: set environment = \"dev\" where uploads may be open.",
    "docs(kubernetes-app): upgrade notes\n\nBody.\n\nBREAKING CHANGE: one\nBREAKING-CHANGE: two",
    "chore(release): v0.1.0",
    "Merge branch 'wip/x' into main",
    "# a comment git shows in the editor\nci: check commit messages\n# ------------------------ >8 ------------------------\ndiff",
]
BAD = {
    "kubernetes-app: every input declared once": "the first line must be `type(scope): summary`",
    "Feat(eks): capital type": "the first line must be",
    "feat(EKS): upper-case scope": "the first line must be",
    "feat:no space": "the first line must be",
    "fixed the thing": "the first line must be",
    "feat(eks): summary\nbody without a blank line": "a blank line must separate",
    "feat(eks)!: summary\n\nBreaking change: lower case": "write the footer as `BREAKING CHANGE: what to change`",
    "": "the message is empty",
}


@pytest.mark.parametrize("message", GOOD)
def test_conventional_messages_pass(message):
    assert commits.problems(message) == []


@pytest.mark.parametrize(("message", "problem"), BAD.items(), ids=list(BAD))
def test_other_messages_are_refused_with_what_to_write(message, problem):
    assert any(problem in found for found in commits.problems(message)), commits.problems(message)


@pytest.fixture
def repo(tmp_path) -> Path:
    return ci_local.clean_copy(tmp_path / "repo")


def _commit_msg_hook(repo: Path, tmp_path: Path, message: str) -> subprocess.CompletedProcess:
    """The commit-msg stage of the checked-in .pre-commit-config.yaml, on a message file as git writes it."""
    venv = VENV
    message_file = tmp_path / "COMMIT_EDITMSG"
    message_file.write_text(message + "\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run([str(venv / "bin/pre-commit"), "run", "--hook-stage", "commit-msg",
                           "--commit-msg-filename", str(message_file)],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_commit_msg_hook_refuses_a_bad_message_and_accepts_a_good_one(repo, tmp_path):
    refused = _commit_msg_hook(repo, tmp_path, "kubernetes-app: every input declared once")
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "Conventional Commits" in refused.stdout and "type(scope): summary" in refused.stdout
    accepted = _commit_msg_hook(repo, tmp_path, "feat(eks): refuse a cluster nobody can enter")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    # `pre-commit install` installs the commit-msg hook too, without a flag.
    installed = subprocess.run([str(VENV / "bin/pre-commit"), "install"], cwd=repo,
                               env={**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")},
                               capture_output=True, text=True, timeout=120, check=False)
    assert installed.returncode == 0, installed.stderr
    assert (repo / ".git/hooks/commit-msg").is_file() and (repo / ".git/hooks/pre-commit").is_file()


def _make_commits(repo: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CI_MERGE_REQUEST_DIFF_BASE_SHA"}
    return subprocess.run(["make", "--no-print-directory", "commits", f"VENV={VENV}"],
                          cwd=repo, env={**env, **variables}, capture_output=True, text=True, timeout=120, check=False)


def test_make_commits_checks_every_commit_of_the_merge_request(repo):
    base = ci_local.git(repo, "rev-parse", "HEAD")
    ci_local.commit(repo, "feat(ci): a good one")
    passed = _make_commits(repo, CI_MERGE_REQUEST_DIFF_BASE_SHA=base)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 commit(s)" in passed.stdout
    bad = ci_local.commit(repo, "tests: an old-style message")
    ci_local.commit(repo, "fix(ci): a good one after it")
    refused = _make_commits(repo, CI_MERGE_REQUEST_DIFF_BASE_SHA=base)
    assert refused.returncode != 0
    assert f"{bad[:12]}: the first line must be" in refused.stderr and "git rebase -i" in refused.stderr
    # Outside a merge-request pipeline it names what to set instead of checking nothing.
    unset = _make_commits(repo)
    assert unset.returncode != 0 and "set RANGE=base..HEAD" in unset.stderr
