"""Recycled workers leave the metrics directory bounded and the totals right (issue #13: before, the
per-worker files of dead workers accumulated without bound)."""

from __future__ import annotations

import os
import signal

import requests

from tests.app.conftest import log_records, metric_samples

RECYCLES = 4
REQUESTS_PER_WORKER = 5
HEALTH_200 = '{method="GET",route="/api/health",status="200"}'


def test_dead_workers_files_are_merged_and_counts_kept(start_service, tmp_path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    service = start_service(WEB_CONCURRENCY="1", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    for _ in range(RECYCLES):
        for _ in range(REQUESTS_PER_WORKER):
            assert requests.get(f"{service.url}/api/health", headers={"Connection": "close"}, timeout=10).ok
        worker_pid = [r for r in log_records(service.log()) if r.get("route") == "/api/health"][-1]["pid"]
        os.kill(worker_pid, signal.SIGKILL)
        service.wait_until(lambda pid=worker_pid: _serving_pid(service) not in (None, pid), 20,
                           "a new worker serving")
    text = requests.get(f"{service.url}/metrics", timeout=5).text
    answered = [r for r in log_records(service.log()) if r.get("route") == "/api/health" and r["status"] == 200]
    assert len({r["pid"] for r in answered}) == RECYCLES + 1, "each recycled worker served requests"
    assert metric_samples(text, "mirror_http_requests_total")[HEALTH_200] == len(answered)
    files = sorted(os.listdir(metrics_dir))
    assert len(files) <= 4, f"one live worker plus merged files expected, found {files}"
    assert "counter_merged.db" in files


def _serving_pid(service) -> int | None:
    try:
        requests.get(f"{service.url}/api/health", headers={"Connection": "close"}, timeout=5)
    except requests.RequestException:  # no worker yet, or a busy machine
        return None
    records = [r for r in log_records(service.log()) if r.get("route") == "/api/health"]
    return records[-1]["pid"] if records else None
