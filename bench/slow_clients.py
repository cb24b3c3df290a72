"""`python -m bench.slow_clients` (`make bench`): the serving stack against slow clients, gevent vs sync.

For each stack (the service's default, gevent, and the sync workers it replaced), in the same run, under
the checked-in app/gunicorn.conf.py with its defaults otherwise (2 workers) on free loopback ports:

1. /api/mirror with wrk at 32 connections: req/s and p99 (the median of the rounds, interleaved).
2. 1,000 connections held open (a third idle, a third sending their headers a byte at a time, a third
   trickling a body; re-opened whenever the server closes one), and meanwhile /api/health probed on
   fresh connections: p99, and how many probes got no 200 within 1 s.
3. What the held connections cost: the server's RSS (master + workers) while held, minus before, per
   connection.

Targets (issue #13): health p99 <= 100 ms with 1,000 held; mirror >= 1.2x sync, p99 <= 25 ms; <= 50 KB
per held connection. The gevent figures are checked; sync's are printed beside them. Exit 1 on a miss.
Loopback only; every phase is bounded in connections and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.mirror import RESULTS_DIR, SERVICE_PATH, Run, wrk
from harness import processes
from tests.app import attacks

STACKS = {"gevent": {"GUNICORN_WORKER_CLASS": "gevent"}, "sync": {"GUNICORN_WORKER_CLASS": "sync"}}
HELD_CONNECTIONS = 1000
PROBE_TIMEOUT_SECONDS = 1.0
TARGET_HEALTH_P99_MS = 100.0
TARGET_MIRROR_RATIO = 1.2
TARGET_MIRROR_P99_MS = 25.0
TARGET_KB_PER_CONNECTION = 50.0


def raise_open_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed) if hard != resource.RLIM_INFINITY
                                                    else needed, hard))


def start(stack: str, logs_dir: Path) -> processes.ManagedProcess:
    env = processes.service_environment(LOG_LEVEL="WARNING", **STACKS[stack])
    return processes.start_service(env, logs_dir, timeout=30)


def rss_kb(root_pid: int) -> int:
    """Resident memory of a process and its children (gunicorn's master and workers), in KB."""
    total = 0
    for pid in [root_pid, *processes.child_pids(root_pid)]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def held_connection_figures(server: processes.ManagedProcess, probes: int) -> dict:
    before = rss_kb(server.pid)
    per_kind = HELD_CONNECTIONS // len(attacks.KINDS)
    with attacks.HeldConnections(server.url, per_kind + 1) as held:
        time.sleep(2)
        results = attacks.probe(server.url, count=probes, timeout=PROBE_TIMEOUT_SECONDS, pause=0.02)
        during = rss_kb(server.pid)
        open_now = held.open_count
    # A probe that got no 200 in time counts as the timeout: p99 then shows the miss.
    latencies_ms = [1000 * (r if r is not None else PROBE_TIMEOUT_SECONDS) for r in results]
    return {
        "held_open": open_now, "reopened": held.reopened, "probes": len(results),
        "probes_missed": sum(r is None for r in results),
        "health_p50_ms": percentile(latencies_ms, 0.50), "health_p99_ms": percentile(latencies_ms, 0.99),
        "rss_before_kb": before, "rss_held_kb": during,
        "kb_per_connection": (during - before) / max(open_now, 1),
    }


def mirror_figures(server: processes.ManagedProcess, seconds: int, connections: int) -> Run:
    url = server.url + SERVICE_PATH
    wrk(url, 2, connections, latency=False)
    return wrk(url, seconds, connections)


def run(args: argparse.Namespace, logs_dir: Path) -> dict:
    servers = {}
    try:
        servers = {stack: start(stack, logs_dir) for stack in STACKS}
        mirror_runs: dict[str, list[Run]] = {stack: [] for stack in STACKS}
        for round_number in range(1, args.rounds + 1):
            for stack, server in servers.items():
                result = mirror_figures(server, args.seconds, args.connections)
                mirror_runs[stack].append(result)
                print(f"round {round_number} {stack:7} mirror {result.requests_per_second:8.0f} req/s  "
                      f"p99 {result.p99_ms:7.2f} ms  errors {result.errors}", flush=True)
        held = {}
        for stack, server in servers.items():
            held[stack] = held_connection_figures(server, args.probes if stack == "gevent" else args.probes // 10)
            print(f"{stack:7} with {held[stack]['held_open']} held: health p99 {held[stack]['health_p99_ms']:.1f} ms, "
                  f"{held[stack]['probes_missed']}/{held[stack]['probes']} probes missed, "
                  f"{held[stack]['kb_per_connection']:.1f} KB per connection", flush=True)
    finally:
        for server in servers.values():
            server.stop(timeout=20)
    mirror = {stack: {"requests_per_second": statistics.median(r.requests_per_second for r in runs),
                      "p99_ms": statistics.median(r.p99_ms for r in runs), "errors": sum(r.errors for r in runs)}
              for stack, runs in mirror_runs.items()}
    return {"mirror": mirror, "held": held}


def report(figures: dict) -> dict[str, bool]:
    mirror, held = figures["mirror"], figures["held"]
    ratio = mirror["gevent"]["requests_per_second"] / mirror["sync"]["requests_per_second"]
    figures["mirror_ratio_gevent_to_sync"] = ratio
    print(f"\n{'':28} {'gevent':>10} {'sync':>10}  target (gevent)")
    rows = [
        ("mirror req/s (32 conns)", "requests_per_second", mirror, "%.0f", f">= {TARGET_MIRROR_RATIO}x sync"),
        ("mirror p99 ms", "p99_ms", mirror, "%.2f", f"<= {TARGET_MIRROR_P99_MS:g}"),
        (f"health p99 ms ({HELD_CONNECTIONS} held)", "health_p99_ms", held, "%.1f", f"<= {TARGET_HEALTH_P99_MS:g}"),
        ("health probes missed", "probes_missed", held, "%d", "0"),
        ("KB per held connection", "kb_per_connection", held, "%.1f", f"<= {TARGET_KB_PER_CONNECTION:g}"),
    ]
    for label, key, table, form, target in rows:
        print(f"{label:28} {form % table['gevent'][key]:>10} {form % table['sync'][key]:>10}  {target}")
    print(f"{'mirror ratio gevent/sync':28} {ratio:10.2f}")
    checks = {
        f"mirror >= {TARGET_MIRROR_RATIO}x sync": ratio >= TARGET_MIRROR_RATIO,
        f"mirror p99 <= {TARGET_MIRROR_P99_MS:g} ms": mirror["gevent"]["p99_ms"] <= TARGET_MIRROR_P99_MS,
        f"health p99 <= {TARGET_HEALTH_P99_MS:g} ms with {HELD_CONNECTIONS} held":
            held["gevent"]["health_p99_ms"] <= TARGET_HEALTH_P99_MS and held["gevent"]["probes_missed"] == 0,
        f"<= {TARGET_KB_PER_CONNECTION:g} KB per held connection":
            held["gevent"]["kb_per_connection"] <= TARGET_KB_PER_CONNECTION,
        "no mirror errors": mirror["gevent"]["errors"] == 0,
    }
    print()
    for check, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {check}")
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="measured wrk run per stack and round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--probes", type=int, default=200, help="health probes while connections are held")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench: wrk is not installed (`apt-get install -y wrk`, or run `make bench`)", file=sys.stderr)
        return 2
    # The held connections, both ends, plus the servers' own files; the servers inherit the limit.
    raise_open_file_limit(4 * HELD_CONNECTIONS + 1024)
    with tempfile.TemporaryDirectory(prefix="mirror-slow-clients-") as logs:
        figures = run(args, Path(logs))
    checks = report(figures)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"slow-clients-{stamp}.json"
    path.write_text(json.dumps({"time": stamp, "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                                "args": vars(args), **figures, "checks": checks}, indent=2) + "\n")
    print(f"\nresults: {path.relative_to(processes.REPO_ROOT)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
