"""Run .gitlab-ci.yml with gitlab-ci-local (GitLab CI's semantics, from the npm registry) on a clean copy.

gitlab-ci-local 4.70.1 is pinned in tests/ci/node/package-lock.json (4.74+ need Node 22) and installed
with `npm ci` into .cache/node (git-ignored). It needs rsync and a git checkout whose `origin` has a
GitLab-like URL (it derives CI_PROJECT_* from it). Most jobs run with `--force-shell-executor`, on this
machine, reusing the checkout's .venv and Terraform's provider configuration through variables, so no
job installs what is already here. `run(..., on_host=False)` passes none of that: tests/ci/test_ci_image.py
runs the `test` job in its declared image through gitlab-ci-local's container path (`--container-executable
podman`), where the job builds its own venv as it does in GitLab.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import npm_tools
from harness.processes import REPO_ROOT

NODE_PROJECT = REPO_ROOT / "tests" / "ci" / "node"
NODE_PREFIX = Path(os.environ.get("REPO_CACHE_DIR", REPO_ROOT / ".cache")) / "node"
ORIGIN_URL = "https://gitlab.example.com/platform/mirror-service.git"
GIT_IDENTITY = ["-c", "user.name=ci-local", "-c", "user.email=ci-local@example.com"]


def missing_tools() -> list[str]:
    """What gitlab-ci-local needs that is not on PATH, each with the command that installs it."""
    needs = {"npm": "apt-get install nodejs npm (Node >= 20)", "rsync": "apt-get install rsync",
             "git": "apt-get install git"}
    return [f"{tool} ({hint})" for tool, hint in needs.items() if shutil.which(tool) is None]


def install() -> Path:
    """gitlab-ci-local, pinned, installed into .cache/node (harness/npm_tools.py)."""
    return npm_tools.install(NODE_PROJECT, NODE_PREFIX, "gitlab-ci-local")


def clean_copy(destination: Path, branch: str = "main") -> Path:
    """The working tree as it would be pushed (tracked and new files, none ignored) as a fresh repository."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    destination.mkdir(parents=True)
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git(destination, "init", "-q", "-b", branch)
    git(destination, "remote", "add", "origin", ORIGIN_URL)
    commit(destination, "pipeline under test")
    # origin's default branch is main, as on the GitLab project (gitlab-ci-local reads origin/HEAD)
    git(destination, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(destination, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    # The copy's requirement files are older than the shared venv, so `make` reuses it instead of rebuilding.
    for requirements in [destination / "app/requirements.txt", *destination.glob("requirements/*.txt")]:
        os.utime(requirements, (0, 0))
    return destination


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class JobRun:
    returncode: int
    stdout: str
    stderr: str
    repo: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self):
        """The JSON document of `--list-json`, after whatever warnings gitlab-ci-local printed first."""
        return json.loads(self.stdout[self.stdout.index("\n[") + 1 if not self.stdout.startswith("[") else 0:])

    def artifacts(self, job: str) -> Path:
        """Where gitlab-ci-local keeps the files a job exported as artifacts."""
        return self.repo / ".gitlab-ci-local" / "artifacts" / job.replace("/", "_")


def run(repo: Path, *args: str, variables: dict[str, str] | None = None, timeout: float = 600,
        on_host: bool = True, env: dict[str, str] | None = None) -> JobRun:
    """`gitlab-ci-local <args>` in `repo`; `on_host` (shell executor): with the checkout's venv and Terraform
    configuration. `env` is added to gitlab-ci-local's own environment (e.g. podman's CONTAINERS_CONF)."""
    shared = {"VENV": str(REPO_ROOT / ".venv")} if on_host else {}
    shared.update(variables or {})
    if on_host and "TF_CLI_CONFIG_FILE" in os.environ:
        shared.setdefault("TF_CLI_CONFIG_FILE", os.environ["TF_CLI_CONFIG_FILE"])
    command = [str(install()), *args]
    for name, value in shared.items():
        command += ["--variable", f"{name}={value}"]
    # gitlab-ci-local reads GCL_* variables as its options (and refuses unknown ones): the ones an outer
    # gitlab-ci-local sets in a job it runs (tests/ci/test_ci_image.py) are not this run's options.
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("GCL_")}
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=timeout, check=False,
                            env={**inherited, **(env or {})})
    return JobRun(result.returncode, result.stdout, result.stderr, repo)
