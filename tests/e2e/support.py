"""Helpers of the environment harness: bounded retries (cluster access is in harness/kube.py)."""

from __future__ import annotations

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
