"""The container without a container engine: checkov's Dockerfile checks, and the service under a
read-only root filesystem (what `readOnlyRootFilesystem: true` or `docker run --read-only` gives it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from harness import processes
from tests.app.conftest import log_records

REPO_ROOT = processes.REPO_ROOT
DOCKERFILE = REPO_ROOT / "app" / "Dockerfile"


def checkov_binary() -> Path | None:
    configured = os.environ.get("CHECKOV_BIN")
    candidate = Path(configured) if configured else REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    return candidate if candidate.exists() else None


def test_checkov_passes_the_dockerfile() -> None:
    binary = checkov_binary()
    if binary is None:
        pytest.skip("checkov is not installed: `make tools` creates .venv-checkov (or set CHECKOV_BIN)")
    result = subprocess.run(
        [str(binary), "--framework", "dockerfile", "--skip-download", "-f", str(DOCKERFILE.relative_to(REPO_ROOT)),
         "-o", "json", "--quiet"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    report = json.loads(result.stdout)
    failed = report["results"].get("failed_checks", [])
    assert not failed, "\n".join(f"{c['check_id']} {c['check_name']}" for c in failed)
    assert report["summary"]["failed"] == 0
    assert report["summary"]["passed"] > 20
    assert report["summary"]["parsing_errors"] == 0


def test_dockerfile_contract() -> None:
    """What the chart and CONTRACTS.md rely on, read from the Dockerfile itself."""
    text = DOCKERFILE.read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith(("#", " "))]
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(froms) == 2 and all(f.startswith("python:3.11.") and "slim-bookworm" in f for f in froms)
    assert ["USER", "10001:10001"] in instructions
    assert ["EXPOSE", "4545"] in instructions
    assert ["WORKDIR", "/app"] in instructions
    assert ["CMD", '["gunicorn", "--config", "gunicorn.conf.py"]'] in instructions
    assert "ARG APP_VERSION" in text and "APP_VERSION=${APP_VERSION}" in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text and "PYTHONUNBUFFERED=1" in text
    assert "--no-cache-dir --requirement /tmp/requirements.txt" in text
    assert "HEALTHCHECK" in text and "/api/health" in text


def _read_only_root_problem() -> str | None:
    if not shutil.which("unshare"):
        return "the `unshare` command (util-linux) is not installed"
    if os.geteuid() != 0:
        return "simulating a read-only root needs root (unshare --mount and a bind remount)"
    trial = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "mount -o remount,bind,ro / && ! touch /.mirror-rofs-probe 2>/dev/null"],
                           capture_output=True, text=True, timeout=10, check=False)
    if trial.returncode != 0:
        return f"cannot make / read-only in a private mount namespace here: {trial.stderr.strip() or trial.returncode}"
    return None


# Remount / read-only in a private mount namespace, prove it, then become gunicorn. /dev/shm (tmpfs) stays
# writable, as it is in a container; /tmp does not, as without an emptyDir there.
_READ_ONLY_ROOT = (
    'mount -o remount,bind,ro / || exit 97; '
    'if touch /tmp/.mirror-rofs-probe 2>/dev/null; then echo "root is still writable"; exit 98; fi; '
    'exec "$@"'
)


def test_serves_with_a_read_only_root_filesystem(logs_dir) -> None:
    problem = _read_only_root_problem()
    if problem:
        pytest.skip(problem)
    port = processes.free_port()
    env = processes.service_environment(HOST=processes.LOOPBACK, PORT=str(port), PYTHONDONTWRITEBYTECODE="1",
                                        HOME="/nonexistent", APP_VERSION="rofs")
    for name in ("TMPDIR", "PROMETHEUS_MULTIPROC_DIR", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    metric_dirs_before = set(Path("/dev/shm").glob("mirror-metrics-*"))
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _READ_ONLY_ROOT, "sh",
            *processes.gunicorn_command()]
    service = processes.spawn(f"gunicorn-rofs-{port}", argv, env, logs_dir, cwd=processes.APP_DIR)
    service.url = f"http://{processes.LOOPBACK}:{port}"
    try:
        service.wait_until(lambda: processes.http_status(service.url + "/api/health") == 200, 20, "serving")
        assert requests.get(f"{service.url}/api/mirror?word=fOoBar25", timeout=5).json() == {"transformed": "52RAbOoF"}
        assert requests.get(f"{service.url}/api/version", timeout=5).json()["version"] == "rofs"
        for _ in range(4):
            requests.get(f"{service.url}/api/health", timeout=5, headers={"Connection": "close"})
        metrics = requests.get(f"{service.url}/metrics", timeout=5).text
        assert 'route="/api/health",status="200"' in metrics, "multiprocess metrics need a writable directory"
    finally:
        exit_code = service.stop(timeout=15)
    log = service.log()
    assert exit_code == 0, log[-3000:]
    assert "Read-only file system" not in log
    records = log_records(log)
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], log[-3000:]
    assert set(Path("/dev/shm").glob("mirror-metrics-*")) <= metric_dirs_before, "metrics directory left in /dev/shm"
