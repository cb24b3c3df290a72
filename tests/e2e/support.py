"""Helpers of the environment harness: bounded retries, and the reason an environment cannot run."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

import requests


def retry(call: Callable[[], requests.Response], accept: Callable[[requests.Response], bool],
          timeout: float = 60, interval: float = 1.0, what: str = "call") -> requests.Response:
    """Repeat `call` until `accept(response)` or `timeout`; fail with the last answer seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = call()
            if accept(response):
                return response
            last = f"HTTP {response.status_code}: {response.text[:300]}"
        except requests.RequestException as error:
            last = error
        time.sleep(interval)
    raise AssertionError(f"{what} did not succeed within {timeout:.0f}s; last answer: {last}")


def kube_context_problem(context: str) -> str | None:
    """None when `context` answers its API server's /readyz; otherwise the reason it cannot be used."""
    if not shutil.which("kubectl"):
        return "kubectl is not installed"
    try:
        result = subprocess.run(["kubectl", "--context", context, "get", "--raw", "/readyz", "--request-timeout=5s"],
                                capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return f"kubectl context '{context}' did not answer within 15s"
    if result.returncode != 0:
        return f"kubectl context '{context}' is not reachable: {(result.stderr or result.stdout).strip()[:200]}"
    return None


