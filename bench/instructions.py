"""`python -m bench.instructions` (`make bench`): CPU instructions per /api/mirror request, a figure noise cannot move.

Throughput on a shared 2-core machine moves ±25 % between identical runs; the number of instructions a
request executes does not. Valgrind's callgrind counts them (`perf stat -e instructions` needs a hardware
counter this KVM guest does not expose: `<not supported>`). Three apps run under the checked-in
app/gunicorn.conf.py, same worker class (our gevent worker) and settings, one worker each so that one
process sees every request:

- bench/bare_wsgi.py: gunicorn and the worker alone (the throughput bench's ceiling);
- bench/bare_flask.py: a bare Flask app with the same route and the same answer bytes;
- the service (`mirror_service:create_app()`).

Each is wrapped by bench/callgrind_shim.py, which dumps callgrind's counters when the client asks
(`/__bench/dump`, between measured requests). Per request = the slope between a window of N1 and one of
N2 requests on one kept-alive connection, so start-up, warm-up, the dump requests and the idle loop cancel.
The same shim turns the service's log line, its metrics or its whole telemetry middleware into no-ops in
the running worker, which gives the breakdown by difference (never a production setting).

Targets (PASS/FAIL, exit code 1 on a miss): service ≤ 1.5 × bare Flask; the JSON log line ≤ 10 % of the
service's request. The figures of the code before issue #21 (bench/instructions-before.json) print beside.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import processes

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
BEFORE_PATH = BENCH_DIR / "instructions-before.json"
MIRROR_PATH = "/api/mirror?word=fOoBar25"
EXPECTED_BODY = b'{"transformed":"52RAbOoF"}'

TARGET_FLASK_FACTOR = 1.5
TARGET_LOG_SHARE = 0.10

STOCK_WORKER = "bare WSGI, gunicorn's gevent worker"
# name -> (app, environment on top of the service's); every app runs under app/gunicorn.conf.py.
APPS = {
    # gunicorn's own gevent worker instead of ours (mirror_service/worker.py): what our subclass adds
    # per request (the JSON refusals' bookkeeping and the gevent.sleep(0) that keeps p99 down).
    STOCK_WORKER: ("bench.callgrind_shim:bare_wsgi()", {"GUNICORN_CMD_ARGS": "--worker-class gevent"}),
    "bare WSGI": ("bench.callgrind_shim:bare_wsgi()", {}),
    "bare Flask": ("bench.callgrind_shim:bare_flask()", {}),
    "service": ("bench.callgrind_shim:service()", {}),
}
# Service variants measured in the same worker: name -> components turned off (bench/callgrind_shim.py).
SERVICE_VARIANTS = {"service": "", "without log line": "log", "without metrics": "metrics",
                    "without telemetry": "telemetry"}

DEFAULTS = argparse.Namespace(requests=100, warmup=30)
HEADLINE = (f"instructions per /api/mirror request, counted by callgrind (one worker each; the slope between "
            f"{DEFAULTS.requests} and {3 * DEFAULTS.requests} requests)")

HELPER_SOURCE = """#include <valgrind/callgrind.h>
void bench_dump(void) { CALLGRIND_DUMP_STATS; }
"""


def build_helper(directory: Path) -> Path:
    """The C helper the shim calls to dump callgrind's counters (client requests are inline machine code)."""
    source, library = directory / "callgrind_helper.c", directory / "callgrind_helper.so"
    source.write_text(HELPER_SOURCE)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


class CountedServer:
    """gunicorn with one worker, run under callgrind, and one kept-alive client connection to it."""

    def __init__(self, name: str, app_uri: str, extra_env: dict[str, str], helper: Path, work_dir: Path):
        slug = "".join(c if c.isalnum() else "-" for c in name)
        self.out_dir = work_dir / slug
        self.out_dir.mkdir()
        port = processes.free_port()
        env = processes.service_environment(
            HOST=processes.LOOPBACK, PORT=str(port), WEB_CONCURRENCY="1",
            # Under callgrind a worker runs ~50x slower; its boot must not look like a hung worker.
            GUNICORN_TIMEOUT="600", MIRROR_BENCH_CALLGRIND_HELPER=str(helper), **extra_env,
        )
        argv = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--dump-line=no",
                f"--callgrind-out-file={self.out_dir}/callgrind.%p", *processes.gunicorn_command(app_uri)]
        self.process = processes.spawn(f"callgrind-{slug}", argv, env, work_dir,
                                       cwd=processes.REPO_ROOT)
        self.process.wait_until(lambda: processes.http_status(f"http://{processes.LOOPBACK}:{port}{MIRROR_PATH}",
                                                              timeout=10) == 200, 300, "answering under callgrind")
        self.connection = http.client.HTTPConnection(processes.LOOPBACK, port, timeout=120)

    def get(self, path: str) -> bytes:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}: {body!r}")
        return body

    def mirror(self, count: int) -> None:
        for _ in range(count):
            body = self.get(MIRROR_PATH)
            if body != EXPECTED_BODY:
                raise RuntimeError(f"/api/mirror answered {body!r}, expected {EXPECTED_BODY!r}")

    def dump(self) -> int:
        """Instructions the worker executed since the previous dump."""
        pid, number = self.get("/__bench/dump").decode().split()
        path = self.out_dir / f"callgrind.{pid}.{number}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if path.exists():
                for line in path.read_text().splitlines():
                    if line.startswith("totals:"):
                        return int(line.split()[1])
            time.sleep(0.1)
        raise TimeoutError(f"callgrind wrote no totals to {path}")

    def per_request(self, first: int, second: int) -> float:
        self.dump()  # everything before this point (boot, warm-up, switching variants) is left out
        self.mirror(first)
        counted_first = self.dump()
        self.mirror(second)
        counted_second = self.dump()
        return (counted_second - counted_first) / (second - first)

    def stop(self) -> None:
        self.connection.close()
        self.process.stop(timeout=60)


def measure(args: argparse.Namespace, work_dir: Path) -> dict[str, float]:
    helper = build_helper(work_dir)
    counts: dict[str, float] = {}
    for name, (app_uri, extra_env) in APPS.items():
        started = time.monotonic()
        server = CountedServer(name, app_uri, extra_env, helper, work_dir)
        try:
            server.mirror(args.warmup)
            variants = SERVICE_VARIANTS if name == "service" else {name: None}
            for variant, off in variants.items():
                if off is not None:
                    server.get(f"/__bench/off?components={off}")
                    server.mirror(args.warmup)
                counts[variant] = server.per_request(args.requests, 3 * args.requests)
                print(f"  {variant:20} {counts[variant]:12,.0f} instructions per request", flush=True)
        finally:
            server.stop()
        print(f"  ({name}: {time.monotonic() - started:.0f} s under callgrind)", flush=True)
    return counts


def breakdown(counts: dict[str, float]) -> dict[str, float]:
    """The service's instructions per request by component, by difference; the parts add up to the whole."""
    service = counts["service"]
    log_line = service - counts["without log line"]
    metrics = service - counts["without metrics"]
    return {
        "gunicorn + gevent worker (= bare WSGI)": counts["bare WSGI"],
        "dispatch + the route (Flask, or direct)": counts["without telemetry"] - counts["bare WSGI"],
        "JSON access log line": log_line,
        "Prometheus metrics": metrics,
        "request id, X-Request-ID, middleware": service - counts["without telemetry"] - log_line - metrics,
    }


def report(counts: dict[str, float], before: dict | None, print_checks: bool = True) -> dict[str, bool]:
    """Print the counts and the breakdown beside `before`; the checks too unless the caller prints them with its own."""
    parts = breakdown(counts)
    before_counts = (before or {}).get("counts")
    before_parts = breakdown(before_counts) if before_counts else {}
    label = f"before ({before['commit']})" if before else "before"
    print(f"\n{'instructions per /api/mirror request':44} {label:>18} {'now':>12}")
    for name in ("bare WSGI", "bare Flask", "service"):
        print(f"{name:44} {_figure(before_counts, name):>18} {counts[name]:12,.0f}")
    for numerator, denominator in (("service", "bare Flask"), ("bare WSGI", "service")):
        print(f"{numerator + ' / ' + denominator:44} {_ratio(before_counts, numerator, denominator):>18} "
              f"{counts[numerator] / counts[denominator]:12.2f}")
    print(f"\n{'the service by component':44} {label:>18} {'now':>12} {'share':>6}")
    for name, value in parts.items():
        print(f"{name:44} {_figure(before_parts, name):>18} {value:12,.0f} {value / counts['service']:6.1%}")
        if name.startswith("gunicorn") and STOCK_WORKER in counts:
            ours = counts["bare WSGI"] - counts[STOCK_WORKER]
            print(f"{'  of which our worker subclass (worker.py)':44} {'-':>18} {ours:12,.0f} "
                  f"{ours / counts['service']:6.1%}")
    log_share = parts["JSON access log line"] / counts["service"]
    checks = {
        f"service <= {TARGET_FLASK_FACTOR:g} x bare Flask instructions": counts["service"]
        <= TARGET_FLASK_FACTOR * counts["bare Flask"],
        f"log line <= {TARGET_LOG_SHARE:.0%} of the request's instructions": log_share <= TARGET_LOG_SHARE,
    }
    if print_checks:
        print()
        for check, passed in checks.items():
            print(f"{'PASS' if passed else 'FAIL'}  {check}")
    if not all(checks.values()):
        print("  what each behaviour costs per request is the breakdown above; none of them is dropped to pass")
    return checks


def load_before() -> dict | None:
    return json.loads(BEFORE_PATH.read_text()) if BEFORE_PATH.exists() else None


def _figure(counts: dict | None, name: str) -> str:
    return f"{counts[name]:,.0f}" if counts and name in counts else "-"


def _ratio(counts: dict | None, numerator: str, denominator: str) -> str:
    return f"{counts[numerator] / counts[denominator]:.2f}" if counts else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=DEFAULTS.requests,
                        help="N1; the second window has 3 x N1 requests, per request = their slope")
    parser.add_argument("--warmup", type=int, default=DEFAULTS.warmup, help="requests before counting, per app and variant")
    parser.add_argument("--write-before", metavar="COMMIT",
                        help=f"record this run as the 'before' figures ({BEFORE_PATH.name}), made at COMMIT")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers under callgrind too (finally)
    for tool in ("valgrind", "cc"):
        if not shutil.which(tool):
            print(f"bench: {tool} is not installed (apt-get install -y valgrind gcc)", file=sys.stderr)
            return 2

    print(HEADLINE)
    with tempfile.TemporaryDirectory(prefix="mirror-instructions-") as work:
        counts = measure(args, Path(work))
    before = load_before()
    if args.write_before:
        before = {"commit": args.write_before, "counts": counts}
        BEFORE_PATH.write_text(json.dumps(before, indent=2) + "\n")
    checks = report(counts, before)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"instructions-{stamp}.json"
    path.write_text(json.dumps({"time": stamp, "requests": [args.requests, 3 * args.requests], "counts": counts,
                                "breakdown": breakdown(counts), "before": before, "checks": checks},
                               indent=2) + "\n")
    print(f"\nresults: {path.relative_to(processes.REPO_ROOT)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
