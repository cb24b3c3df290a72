"""`python -m bench.slow_clients` (`make bench`): the serving stack against slow clients, gevent vs sync.

Two places, each with the gevent stack and the sync stack it replaced (2 sync workers), in the same run:

- **one pod under the chart's limits**: the image run as the chart's rendered Deployment runs it (bench/
  capacity.py's `pod_bench`: user, read-only root, the chart's environment, `--cpus`/`--memory` from its
  limits), gevent with the chart's own settings (one worker for its 1 CPU) beside sync with 2 workers.
  The targets are checked here;
- **processes on the host**, with the checked-in app/gunicorn.conf.py and the service's defaults (gevent,
  2 workers, no CPU quota), printed beside them; checked instead when no container engine runs.

For each stack:

1. /api/mirror with wrk at 32 connections: req/s and p99 (the median of the rounds, interleaved).
2. 1,000 connections held open (a third idle, a third sending their headers a byte at a time, a third
   trickling a body; re-opened whenever the server closes one), and meanwhile /api/health probed on
   fresh connections: p99, and how many probes got no 200 within 1 s.
3. What the held connections cost: gunicorn's RSS while held, minus before, per connection (on the host
   master + workers; in the pod the workers, as the probe inside it skips PID 1, the master).

Targets (issue #13): health p99 <= 100 ms with 1,000 held and no probe missed; mirror >= 1.2x sync,
p99 <= 25 ms; <= 50 KB per held connection. Exit 1 on a miss. Loopback only; every phase is bounded in
connections and seconds.
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.capacity import PodBench, pod_bench
from bench.mirror import RESULTS_DIR, SERVICE_PATH, Run, wrk
from harness import attacks, container, processes

SYNC_STACK = {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "1", "GUNICORN_WORKER_CLASS": "sync"}
HOST_STACKS = {"gevent": {"GUNICORN_WORKER_CLASS": "gevent"}, "sync": SYNC_STACK}
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


def process_rss_kb(root_pid: int) -> int:
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


def held_connection_figures(url: str, rss_kb: Callable[[], int], probes: int) -> dict:
    before = rss_kb()
    per_kind = HELD_CONNECTIONS // len(attacks.KINDS)
    with attacks.HeldConnections(url, per_kind + 1) as held:
        time.sleep(2)
        results = attacks.probe(url, count=probes, timeout=PROBE_TIMEOUT_SECONDS, pause=0.02)
        during = rss_kb()
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


def measure(servers: dict[str, tuple[str, Callable[[], int]]], args: argparse.Namespace, place: str) -> dict:
    """`servers`: stack -> (base URL, RSS reader). Mirror rounds interleaved, then the held connections."""
    runs: dict[str, list[Run]] = {stack: [] for stack in servers}
    for round_number in range(1, args.rounds + 1):
        for stack, (url, _) in servers.items():
            wrk(url + SERVICE_PATH, 2, args.connections, latency=False)
            result = wrk(url + SERVICE_PATH, args.seconds, args.connections)
            runs[stack].append(result)
            print(f"{place} round {round_number} {stack:7} mirror {result.requests_per_second:8.0f} req/s  "
                  f"p99 {result.p99_ms:7.2f} ms  errors {result.errors}", flush=True)
    figures = {}
    for stack, (url, rss_kb) in servers.items():
        held = held_connection_figures(url, rss_kb, args.probes if stack == "gevent" else args.probes // 10)
        figures[stack] = {
            "requests_per_second": statistics.median(r.requests_per_second for r in runs[stack]),
            "p99_ms": statistics.median(r.p99_ms for r in runs[stack]),
            "errors": sum(r.errors for r in runs[stack]), **held}
        print(f"{place} {stack:7} with {held['held_open']} held: health p99 {held['health_p99_ms']:.1f} ms, "
              f"{held['probes_missed']}/{held['probes']} probes missed, "
              f"{held['kb_per_connection']:.1f} KB per connection", flush=True)
    return figures


def on_the_host(args: argparse.Namespace, logs_dir: Path) -> dict:
    servers: dict[str, processes.ManagedProcess] = {}
    try:
        for stack, settings in HOST_STACKS.items():
            servers[stack] = processes.start_service(
                processes.service_environment(LOG_LEVEL="WARNING", **settings), logs_dir, timeout=30)
        return measure({stack: (server.url, lambda pid=server.pid: process_rss_kb(pid))
                        for stack, server in servers.items()}, args, "host")
    finally:
        for server in servers.values():
            server.stop(timeout=20)


def in_a_pod(args: argparse.Namespace, bench: PodBench) -> dict:
    stacks = {"gevent": {}, "sync": SYNC_STACK}  # gevent: the chart's own settings, unchanged
    running: dict[str, container.Container] = {}
    try:
        for stack, settings in stacks.items():
            running[stack] = bench.start(settings, ready_path="/api/health")

        def rss_reader(pod: container.Container) -> Callable[[], int]:
            return lambda: int(1024 * sum(bench.gunicorn_memory(pod)["worker_rss_mb"]))

        return measure({stack: (pod.url, rss_reader(pod)) for stack, pod in running.items()}, args, "pod")
    finally:
        for pod in running.values():
            pod.remove()


def report(figures: dict, checked: str) -> dict[str, bool]:
    rows = [
        ("mirror req/s (32 conns)", "requests_per_second", "%.0f", f">= {TARGET_MIRROR_RATIO}x sync"),
        ("mirror p99 ms", "p99_ms", "%.2f", f"<= {TARGET_MIRROR_P99_MS:g}"),
        (f"health p99 ms ({HELD_CONNECTIONS} held)", "health_p99_ms", "%.1f", f"<= {TARGET_HEALTH_P99_MS:g}"),
        ("health probes missed", "probes_missed", "%d", "0"),
        ("KB per held connection", "kb_per_connection", "%.1f", f"<= {TARGET_KB_PER_CONNECTION:g}"),
    ]
    places = list(figures)
    header = "".join(f"{place + ' gevent':>13}{place + ' sync':>11}" for place in places)
    print(f"\n{'':28}{header}  target (gevent, {checked})")
    for label, key, form, target in rows:
        cells = "".join(f"{form % figures[p]['gevent'][key]:>13}{form % figures[p]['sync'][key]:>11}" for p in places)
        print(f"{label:28}{cells}  {target}")
    for place in places:
        ratio = figures[place]["gevent"]["requests_per_second"] / figures[place]["sync"]["requests_per_second"]
        figures[place]["mirror_ratio_gevent_to_sync"] = ratio
        print(f"{'mirror ratio gevent/sync':28} {place}: {ratio:.2f}")
    gevent, ratio = figures[checked]["gevent"], figures[checked]["mirror_ratio_gevent_to_sync"]
    checks = {
        f"{checked}: mirror >= {TARGET_MIRROR_RATIO}x sync": ratio >= TARGET_MIRROR_RATIO,
        f"{checked}: mirror p99 <= {TARGET_MIRROR_P99_MS:g} ms": gevent["p99_ms"] <= TARGET_MIRROR_P99_MS,
        f"{checked}: health p99 <= {TARGET_HEALTH_P99_MS:g} ms with {HELD_CONNECTIONS} held, none missed":
            gevent["health_p99_ms"] <= TARGET_HEALTH_P99_MS and gevent["probes_missed"] == 0,
        f"{checked}: <= {TARGET_KB_PER_CONNECTION:g} KB per held connection":
            gevent["kb_per_connection"] <= TARGET_KB_PER_CONNECTION,
        f"{checked}: no mirror errors": gevent["errors"] == 0,
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
    figures, pod_unavailable = {}, None
    try:
        with pod_bench(log=lambda line: print(f"pod: {line}", flush=True)) as bench:
            print(f"pod: limits cpu {bench.pod.cpus}, memory {bench.pod.memory}; gevent with the chart's settings "
                  f"(WEB_CONCURRENCY={bench.pod.env['WEB_CONCURRENCY']}), sync with 2 workers", flush=True)
            figures["pod"] = in_a_pod(args, bench)
    except container.EngineUnavailable as error:
        pod_unavailable = str(error)
        print(f"pod: not measured ({pod_unavailable}); the host's figures are checked instead", flush=True)
    with tempfile.TemporaryDirectory(prefix="mirror-slow-clients-") as logs:
        figures["host"] = on_the_host(args, Path(logs))
    checks = report(figures, "pod" if "pod" in figures else "host")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"slow-clients-{stamp}.json"
    path.write_text(json.dumps({"time": stamp, "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                                "args": vars(args), "pod_unavailable": pod_unavailable, **figures,
                                "checks": checks}, indent=2) + "\n")
    print(f"\nresults: {path.relative_to(processes.REPO_ROOT)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
