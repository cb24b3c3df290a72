"""The instruction bench's arithmetic (bench/instructions.py, bench/mirror.py), without callgrind or wrk."""

from __future__ import annotations

import os
import shutil

import pytest

from bench import instructions, mirror

COUNTS = {"bare WSGI": 500_000.0, "bare Flask": 900_000.0, "service": 640_000.0, "without log line": 615_000.0,
          "without metrics": 616_000.0, "without telemetry": 560_000.0}


def test_the_breakdown_adds_up_to_the_service() -> None:
    parts = instructions.breakdown(COUNTS)
    assert sum(parts.values()) == pytest.approx(COUNTS["service"])
    assert parts["JSON access log line"] == 25_000
    assert parts["Prometheus metrics"] == 24_000
    assert parts["request id, X-Request-ID, middleware"] == 640_000 - 560_000 - 25_000 - 24_000


def test_the_targets_fail_when_the_log_line_is_too_dear() -> None:
    dear_log = {**COUNTS, "without log line": COUNTS["service"] * 0.85}
    checks = instructions.report(dear_log, None)
    assert [passed for check, passed in checks.items() if check.startswith("log line")] == [False]
    assert [passed for check, passed in checks.items() if check.startswith("service")] == [True]


def test_spread_is_max_minus_min_over_the_median() -> None:
    runs = [mirror.Run(rate, 1.0, 2.0, 0) for rate in (900.0, 1000.0, 1100.0)]
    assert mirror.spread(runs) == pytest.approx(0.2)


@pytest.mark.skipif(not shutil.which("taskset") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs taskset and two CPUs")
def test_wrk_is_pinned_to_a_cpu_the_servers_do_not_use() -> None:
    argv = mirror.wrk_command("http://127.0.0.1:1/", 1, 1)
    assert argv[:3] == ["taskset", "-c", mirror.WRK_CPU]
    assert mirror.WRK_CPU not in mirror.SERVER_CPUS.split(",")
