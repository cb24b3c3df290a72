"""The Minikube lifecycle targets stop with a clear message where minikube (or kubectl) is missing.

No Minikube exists on the build machines (nor on PyPI, npm or Debian), so what runs here is the
refusal; the lifecycle itself is what `make e2e ENV=local` exercises where a cluster exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from harness import processes

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
