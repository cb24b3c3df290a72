"""`python -m bench.mirror` (`make bench`): throughput and latency of /api/mirror next to the bare-WSGI ceiling,
then the instructions per request (bench/instructions.py) beside them.

Both servers run under the checked-in app/gunicorn.conf.py with the same settings (the environment's
WEB_CONCURRENCY / GUNICORN_THREADS / GUNICORN_KEEPALIVE, else the config's defaults) on free loopback
ports. wrk runs pinned to the last CPU (taskset) and the servers to the others, so the load generator
never takes a server's core; WEB_CONCURRENCY, unless set, is then one worker per CPU the servers may
use, the service's own rule (one gevent worker per CPU, as the chart sets it per CPU of its limit). Each round warms both up, then loads each for the same time with wrk, one
after the other, so a noisy neighbour hits both alike. The report is the median over rounds and how far
apart the rounds were; the JSON goes to bench/results/.

Targets: service/bare req/s ratio >= 0.6, service p99 <= 25 ms, no errors, the rounds of each server
within 10 % of their median; and bench/instructions.py's. Exit code 1 if one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness import processes

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SERVICE_PATH = "/api/mirror?word=fOoBar25"
EXPECTED_BODY = b'{"transformed":"52RAbOoF"}'
BARE_APP = "bench.bare_wsgi:application"

TARGET_RATIO = 0.6
TARGET_P99_MS = 25.0
TARGET_SPREAD = 0.10  # (max - min) / median of the rounds' req/s


def cpu_split() -> tuple[str, str]:
    """(wrk's CPU, the servers' CPUs) for taskset: wrk gets the last CPU this process may use, servers the rest."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return str(cpus[0]), str(cpus[0])
    return str(cpus[-1]), ",".join(str(cpu) for cpu in cpus[:-1])


WRK_CPU, SERVER_CPUS = cpu_split()


def pinned(argv: list[str], cpus: str) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if shutil.which("taskset") else argv


def wrk_command(url: str, seconds: int, connections: int, latency: bool = True,
                script: Path | None = None) -> list[str]:
    """wrk on its own CPU: one thread, as the servers' clients in every bench here."""
    return pinned(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", *(["--latency"] if latency else []),
                   *(["-s", str(script)] if script else []), url], WRK_CPU)

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors (connect, read, write, timeout) plus non-2xx/3xx answers


def parse_wrk(output: str) -> Run:
    def latency(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not match:
            raise ValueError(f"no {percentile}% latency in wrk output:\n{output}")
        return float(match.group(1)) * _UNITS_MS[match.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not rate:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Run(float(rate.group(1)), latency("50"), latency("99"), errors)


def wrk(url: str, seconds: int, connections: int, latency: bool = True) -> Run | None:
    result = subprocess.run(wrk_command(url, seconds, connections, latency), capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(result.stdout) if latency else None


def start(name: str, app_uri: str | None, logs_dir: Path) -> processes.ManagedProcess:
    port = processes.free_port()
    env = processes.service_environment(
        HOST=processes.LOOPBACK, PORT=str(port),
        **{"WEB_CONCURRENCY": str(len(SERVER_CPUS.split(",")))},
        **{key: os.environ[key] for key in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_KEEPALIVE")
           if key in os.environ},
    )
    server = processes.spawn(f"{name}-{port}", pinned(processes.gunicorn_command(app_uri), SERVER_CPUS), env,
                             logs_dir, cwd=processes.REPO_ROOT)
    server.url = f"http://{processes.LOOPBACK}:{port}{SERVICE_PATH}"
    server.wait_until(lambda: processes.http_status(server.url) == 200, 30, "answering")
    with urllib.request.urlopen(server.url, timeout=5) as response:
        body = response.read()
    if body != EXPECTED_BODY:
        raise RuntimeError(f"{name} answered {body!r}, expected {EXPECTED_BODY!r}")
    return server


def spread(runs: list[Run]) -> float:
    """How far apart the rounds' req/s were: (max - min) / median."""
    rates = [r.requests_per_second for r in runs]
    return (max(rates) - min(rates)) / statistics.median(rates)


def summarize(runs: list[Run]) -> dict:
    return {
        "requests_per_second": statistics.median(r.requests_per_second for r in runs),
        "spread": spread(runs),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "errors": sum(r.errors for r in runs),
        "runs": [asdict(r) for r in runs],
    }


def gunicorn_settings() -> dict:
    """The settings both servers ran with, as gunicorn.conf.py resolved them."""
    from mirror_service.config import load_all

    _, server = load_all({"WEB_CONCURRENCY": str(len(SERVER_CPUS.split(","))), **os.environ})
    return {"workers": server.workers, "threads": server.threads, "keepalive": server.keepalive}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="measured wrk run per server and round")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured wrk run before each measured one")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-instructions", action="store_true",
                        help="skip the instruction counts (bench/instructions.py; about 5 minutes under callgrind)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench: wrk is not installed (`apt-get install -y wrk`, or run `make bench`)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="mirror-bench-") as logs:
        return run_benchmark(args, Path(logs))


def requests_per_worker(server: processes.ManagedProcess) -> list[int]:
    """How the service's workers shared the load (from its one-line-per-request log), largest first."""
    pids: Counter = Counter()
    for line in server.log().splitlines():
        if '"mirror_service.requests"' in line:
            pids[json.loads(line)["pid"]] += 1
    return sorted(pids.values(), reverse=True)


def run_benchmark(args: argparse.Namespace, logs_dir: Path) -> int:
    servers: dict[str, processes.ManagedProcess] = {}
    try:
        servers = {"service": start("service", None, logs_dir), "bare": start("bare", BARE_APP, logs_dir)}
        runs: dict[str, list[Run]] = {name: [] for name in servers}
        for round_number in range(1, args.rounds + 1):
            for name, server in servers.items():
                wrk(server.url, args.warmup, args.connections, latency=False)
                run = wrk(server.url, args.seconds, args.connections)
                runs[name].append(run)
                print(f"round {round_number} {name:8} {run.requests_per_second:9.0f} req/s  "
                      f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms  errors {run.errors}", flush=True)
        share = requests_per_worker(servers["service"])
    finally:
        for server in servers.values():
            server.stop(timeout=15)

    service, bare = summarize(runs["service"]), summarize(runs["bare"])
    ratio = service["requests_per_second"] / bare["requests_per_second"]
    checks = {
        f"ratio service/bare >= {TARGET_RATIO}": ratio >= TARGET_RATIO,
        f"service p99 <= {TARGET_P99_MS:g} ms": service["p99_ms"] <= TARGET_P99_MS,
        "no errors": service["errors"] == 0 and bare["errors"] == 0,
        f"rounds within {TARGET_SPREAD:.0%} of each other (req/s, each server)":
            max(service["spread"], bare["spread"]) <= TARGET_SPREAD,
    }
    print()
    print(f"wrk on CPU {WRK_CPU}, servers on CPU {SERVER_CPUS} ({gunicorn_settings()['workers']} workers each); load average "
          f"{' '.join(f'{n:.1f}' for n in os.getloadavg())}")
    print(f"{'median of ' + str(args.rounds):14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'spread':>7}")
    for name, summary in (("service", service), ("bare WSGI", bare)):
        print(f"{name:14} {summary['requests_per_second']:9.0f} {summary['p50_ms']:8.2f} "
              f"{summary['p99_ms']:8.2f} {summary['errors']:7d} {summary['spread']:7.1%}")
    print(f"{'ratio':14} {ratio:9.2f}")
    print(f"service requests per worker (all runs): {share}")
    counts = None
    if not args.no_instructions:
        from bench import instructions

        print("\n" + instructions.HEADLINE, flush=True)
        with tempfile.TemporaryDirectory(prefix="mirror-instructions-") as work:
            counts = instructions.measure(instructions.DEFAULTS, Path(work))
        checks.update(instructions.report(counts, instructions.load_before(), print_checks=False))
    print()
    for check, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {check}")

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "time": stamp, "path": SERVICE_PATH, "wrk": {"threads": 1, "connections": args.connections,
                                                     "seconds": args.seconds, "rounds": args.rounds},
        "gunicorn": gunicorn_settings(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        "wrk_cpu": WRK_CPU, "server_cpus": SERVER_CPUS,
        "service": service, "bare": bare, "ratio": ratio, "service_requests_per_worker": share,
        "instructions_per_request": counts, "checks": checks,
    }
    path = RESULTS_DIR / f"mirror-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {path.relative_to(processes.REPO_ROOT)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
