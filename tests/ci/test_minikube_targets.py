"""The Minikube lifecycle targets stop with a clear message where minikube (or kubectl) is missing.

No Minikube exists on the build machines (nor on PyPI, npm or Debian), so what runs here is the
refusal, and the targets' own steps with stand-ins for minikube and terraform (the CNI asked for, the
emulator started and stopped); the lifecycle itself is what `make e2e ENV=local` exercises where a
cluster exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from harness import ci_local, processes

# The environment running the tests (a worktree may have none of its own).
VENV = Path(sys.executable).parents[1]

TARGETS = ["minikube-start", "minikube-deploy", "minikube-url", "minikube-logs", "minikube-destroy"]


@pytest.mark.parametrize("target", TARGETS)
def test_target_names_the_missing_tool_and_where_to_get_it(target, tmp_path):
    # PATH with make, bash, git and terraform but without minikube, even on a machine that has it
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("make", "bash", "git", "terraform", "env"):
        (tools / tool).symlink_to(shutil.which(tool))
    result = subprocess.run(["make", "--no-print-directory", target], cwd=processes.REPO_ROOT, capture_output=True,
                            text=True, timeout=60, check=False, env={**os.environ, "PATH": str(tools)})
    assert result.returncode != 0
    assert f"make {target} needs minikube on PATH, which is missing" in result.stderr
    assert "https://minikube.sigs.k8s.io/docs/start/" in result.stderr


def _stand_in(directory, name: str) -> None:
    """A `minikube` or `terraform` that records its arguments and succeeds: no cluster exists here."""
    script = directory / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{directory}/calls.log"\n')
    script.chmod(0o755)


def test_the_readme_lifecycle_starts_calico_and_the_emulator_and_stops_it(tmp_path):
    """README's `make minikube-start` / `minikube-deploy` / `minikube-destroy` with stand-ins for minikube and
    terraform: Minikube gets a CNI that enforces NetworkPolicy, and the emulator the README promises on the
    port answers after the deploy and is gone after the destroy."""
    repo = ci_local.clean_copy(tmp_path / "repo")
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("minikube", "terraform"):
        _stand_in(tools, name)
    port = processes.free_port()
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "TF_VAR_upload_token": "t" * 24}

    def make(target: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", target, f"EMULATOR_PORT={port}", f"VENV={VENV}"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)

    try:
        assert make("minikube-start").returncode == 0
        deployed = make("minikube-deploy")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert f"S3 emulator started on :{port}" in deployed.stdout
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200, "no S3 emulator answers"
        calls = (tools / "calls.log").read_text()
        assert "minikube start --profile minikube --cni=calico" in calls
        assert f"-var emulator_endpoint=http://127.0.0.1:{port}" in calls
        assert f"emulator_endpoint_in_cluster=http://host.minikube.internal:{port}" in calls
        destroyed = make("minikube-destroy")
        assert destroyed.returncode == 0 and "S3 emulator stopped" in destroyed.stdout, destroyed.stderr
        deadline = time.monotonic() + 10
        while processes.port_is_open(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not processes.port_is_open(port), "the emulator outlived minikube-destroy"
    finally:
        pid_file = repo / ".cache/minikube-emulator.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
