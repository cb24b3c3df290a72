"""`python -m bench.capacity` (`make bench`): what one pod serves, in the image, under the chart's limits.

For each gunicorn setting (the chart's own, and the alternatives: sync, gthread 2x4, gevent) one container
runs the service and one the bare WSGI app (bench/bare_wsgi.py, mounted read-only) with the same settings,
both as the chart's rendered Deployment runs the pod (harness/container.py: user, read-only root, tmpfs,
environment, `--cpus`/`--memory` from resources.limits) against a moto server on the host. wrk (-t1, 32
connections, loopback, pinned to its own CPU) loads /api/mirror on both, in interleaved rounds (medians,
and how far apart the rounds were), then POST /api/upload-random on the service (each request a real
PutObject into the emulator). RSS per worker is read from /proc inside the container after the load.
Whether the engine enforced the limits is read back from the container's own cgroup and printed.

Targets for the chart's settings: mirror req/s >= 0.6 x bare WSGI's under the same settings, mirror p99 <=
25 ms at 32 connections, RSS per worker <= 100 MB, no errors, the rounds within 10 % of each other. Exit
code 1 if one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3

from bench.mirror import EXPECTED_BODY, RESULTS_DIR, SERVICE_PATH, TARGET_SPREAD, Run, parse_wrk, spread, wrk_command
from harness import container, processes

TARGET_RATIO = 0.6
TARGET_P99_MS = 25.0
TARGET_RSS_MB = 100.0
TOKEN = "bench-token-" + secrets.token_hex(8)
BARE_WSGI = Path(__file__).resolve().parent / "bare_wsgi.py"
# The service's config reads GUNICORN_WORKER_CLASS (gevent or sync) once it has the gevent worker; before
# that, gunicorn's own GUNICORN_CMD_ARGS selects it (gunicorn applies it over the config file).
_KNOWS_WORKER_CLASS = "GUNICORN_WORKER_CLASS" in (processes.APP_DIR / "mirror_service" / "config.py").read_text()

# Read inside the container: the cgroup limits it got (v1 or v2) and each gunicorn worker's RSS.
_PROBE = r"""
import json, os
def read(*paths):
    for path in paths:
        try:
            return open(path).read().strip()
        except OSError:
            pass
quota = read("/sys/fs/cgroup/cpu.max") or f"{read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')} {read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')}"
memory = read("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
# CFS periods so far and how many of them ran out of quota (the kernel then stops the container until the
# next period): more runnable workers than the quota shows up here as a tail, not as lower req/s.
stat = dict(line.split() for line in (read("/sys/fs/cgroup/cpu.stat", "/sys/fs/cgroup/cpu/cpu.stat") or "").splitlines())
workers = []
for pid in (p for p in os.listdir("/proc") if p.isdigit() and p not in ("1", str(os.getpid()))):
    cmdline = read(f"/proc/{pid}/cmdline") or ""
    status = read(f"/proc/{pid}/status") or ""
    if "gunicorn" in cmdline:
        workers += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")]
print(json.dumps({"cpu": quota, "memory": memory, "worker_rss_mb": sorted(workers),
                  "cfs_periods": int(stat.get("nr_periods", 0)), "cfs_throttled": int(stat.get("nr_throttled", 0))}))
"""


@dataclass
class PodBench:
    """What a benchmark needs to run the image as the chart's pod: the engine, the built image, the pod the
    chart renders for a bucket in a moto server on the host, and a wrk script that uploads with the token."""

    engine: container.Engine
    image: dict
    pod: container.Pod
    logs_dir: Path
    upload_script: Path
    emulator_url: str

    def start(self, env: dict[str, str], **options) -> container.Container:
        """The image as the pod, with `env` over the chart's and a free loopback port."""
        env = with_worker_class({**env, "HOST": processes.LOOPBACK, "PORT": str(processes.free_port())})
        return container.run(self.engine, self.image["image"], self.pod, self.logs_dir,
                             name=f"bench-{secrets.token_hex(3)}", env=env, **options)

    def gunicorn_memory(self, running: container.Container) -> dict:
        """Read inside the container: its cgroup limits and throttling, and each gunicorn process's RSS."""
        return json.loads(self.engine.run("exec", running.name, "python", "-c", _PROBE).stdout)


@contextmanager
def pod_bench(log=print) -> Iterator[PodBench]:
    """Build the image (cached), start moto with a bucket, render the chart's pod for it; stop moto after.
    Raises container.EngineUnavailable where no container engine runs."""
    engine = container.find_engine()
    built = container.build_image(engine, tag=f"{container.IMAGE}:bench", app_version="bench")
    log(f"{built['image']} ({built['size_bytes'] / 1e6:.0f} MB, base {built['base']}) with {engine.name}")
    with tempfile.TemporaryDirectory(prefix="mirror-pod-bench-") as scratch:
        logs_dir = Path(scratch)
        moto = processes.start_moto(logs_dir)
        try:
            bucket = f"bench-{secrets.token_hex(3)}"
            boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="bench",
                         aws_secret_access_key="bench").create_bucket(Bucket=bucket)
            pod = container.chart_pod({"s3": {"bucket": bucket, "endpointUrl": moto.url},
                                       "secrets": {"uploadToken": TOKEN, "awsAccessKeyId": "bench",
                                                   "awsSecretAccessKey": "bench"}})
            upload_script = logs_dir / "upload.lua"
            upload_script.write_text(f'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer {TOKEN}"\n')
            yield PodBench(engine, built, pod, logs_dir, upload_script, moto.url)
        finally:
            moto.stop(timeout=10)


def settings_to_compare(pod: container.Pod) -> dict[str, dict[str, str]]:
    # The chart renders only the server settings it sets (or derives, like the worker count); the service's
    # own defaults fill in the rest: read them the way the pod's gunicorn does.
    from mirror_service.config import load_server_settings

    server = load_server_settings(pod.env)
    chart = {"WEB_CONCURRENCY": str(server.workers), "GUNICORN_THREADS": str(server.threads)}
    workers = chart["WEB_CONCURRENCY"]
    chart_class = server.worker_class
    # gunicorn's rule: the sync worker class with threads > 1 runs the gthread worker.
    shown_class = "gthread" if chart_class == "sync" and int(chart["GUNICORN_THREADS"]) > 1 else chart_class
    compared = {
        f"chart ({shown_class} {workers}x{chart['GUNICORN_THREADS']})": {**chart, "GUNICORN_WORKER_CLASS": chart_class},
        # The sync stack gevent replaced (the service's default before issue #13), and the chart's earlier settings.
        "sync 2": {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "1", "GUNICORN_WORKER_CLASS": "sync"},
        "gthread 2x4": {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4", "GUNICORN_WORKER_CLASS": "sync"},
        "gevent 1": {"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "1", "GUNICORN_WORKER_CLASS": "gevent"},
        "gevent 2": {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "1", "GUNICORN_WORKER_CLASS": "gevent"},
    }
    # An alternative equal to the chart's own settings is measured once, as the chart's row.
    unique: dict[str, dict[str, str]] = {}
    for name, settings in compared.items():
        if settings not in unique.values():
            unique[name] = settings
    return unique


def with_worker_class(env: dict[str, str]) -> dict[str, str]:
    if _KNOWS_WORKER_CLASS or env["GUNICORN_WORKER_CLASS"] == "sync":
        return env
    return {**env, "GUNICORN_CMD_ARGS": f"--worker-class {env['GUNICORN_WORKER_CLASS']}"}


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> Run:
    argv = wrk_command(url, seconds, connections, script=script)  # pinned to its own CPU, as in bench/mirror.py
    return parse_wrk(subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout)


def median_run(runs: list[Run]) -> Run:
    """The median of each figure over the rounds (errors: their sum), as bench/mirror.py reports it."""
    return Run(statistics.median(r.requests_per_second for r in runs), statistics.median(r.p50_ms for r in runs),
               statistics.median(r.p99_ms for r in runs), sum(r.errors for r in runs))


def measure(bench: PodBench, name: str, settings: dict[str, str], args) -> dict:
    started: list[container.Container] = []
    try:
        booting = time.monotonic()
        service = bench.start(settings)
        started.append(service)
        start_to_ready = time.monotonic() - booting
        bare = bench.start(settings, ready_path=SERVICE_PATH,
                           extra_args=("--volume", f"{BARE_WSGI}:/bench/bare_wsgi.py:ro"),
                           command=["gunicorn", "--config", "gunicorn.conf.py", "--pythonpath", "/bench",
                                    "bare_wsgi:application"])
        started.append(bare)
        rounds: dict[str, list[Run]] = {"mirror": [], "bare": []}
        for round_number in range(args.rounds):  # interleaved, so a noisy neighbour hits both alike
            for label, target in (("mirror", service), ("bare", bare)):
                url = target.url + SERVICE_PATH
                if round_number == 0 and (body := body_of(url)) != EXPECTED_BODY:
                    raise RuntimeError(f"{label} answered {body!r}")
                wrk(url, args.warmup, args.connections)
                rounds[label].append(wrk(url, args.seconds, args.connections))
        results = {label: median_run(runs) for label, runs in rounds.items()}
        results["upload"] = wrk(service.url + "/api/upload-random", args.seconds, args.connections, bench.upload_script)
        probe = bench.gunicorn_memory(service)
    finally:
        for running in started:
            running.remove()
    row = {label: asdict(run) for label, run in results.items()}
    row["rounds"] = {label: [asdict(run) for run in runs] for label, runs in rounds.items()}
    row["spread"] = {label: spread(runs) for label, runs in rounds.items()}
    row.update(settings=settings, ratio=results["mirror"].requests_per_second / results["bare"].requests_per_second,
               worker_rss_mb=probe["worker_rss_mb"][-int(settings["WEB_CONCURRENCY"]):], cgroup=probe,
               start_to_ready_seconds=round(start_to_ready, 1),
               throttled_share=probe["cfs_throttled"] / max(probe["cfs_periods"], 1))
    print(f"{name:18} mirror {results['mirror'].requests_per_second:7.0f}/s p99 {results['mirror'].p99_ms:6.1f} ms | "
          f"bare {results['bare'].requests_per_second:7.0f}/s | ratio {row['ratio']:.2f} | "
          f"spread {row['spread']['mirror']:.0%}/{row['spread']['bare']:.0%} | "
          f"upload {results['upload'].requests_per_second:6.0f}/s p99 {results['upload'].p99_ms:6.1f} ms | "
          f"RSS/worker {max(row['worker_rss_mb']):.0f} MB | ready {start_to_ready:.1f}s | "
          f"throttled {100 * row['throttled_share']:.0f}% of CPU periods", flush=True)
    return row


def body_of(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return response.read()


def enforcement(cgroup: dict, pod: container.Pod) -> dict[str, str]:
    quota, _, period = cgroup["cpu"].partition(" ")
    cpu = (f"enforced ({int(quota) / int(period):g} CPU)" if quota.lstrip("-").isdigit() and int(quota) > 0
           else f"NOT enforced here (cgroup says {cgroup['cpu']!r}; asked {pod.cpus})")
    memory = (f"enforced ({int(cgroup['memory']) / 2**20:.0f} MiB)" if cgroup["memory"].isdigit()
              and int(cgroup["memory"]) < 2**50 else f"NOT enforced here (cgroup says {cgroup['memory']!r})")
    return {"cpu": cpu, "memory": memory}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="measured wrk run per server and setting")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved mirror/bare rounds per setting (medians)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", help="run only the settings whose name starts with this")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("capacity: wrk is not installed (`apt-get install -y wrk`, or run `make bench`)", file=sys.stderr)
        return 2
    rows, failed = {}, {}
    try:
        with pod_bench(log=lambda line: print(f"capacity: {line}")) as bench:
            print(f"capacity: pod limits cpu {bench.pod.cpus}, memory {bench.pod.memory}; wrk -t1 -c{args.connections} "
                  f"{args.seconds}s per run; emulator {bench.emulator_url}\n", flush=True)
            for name, settings in settings_to_compare(bench.pod).items():
                if args.only and not name.startswith(args.only):
                    continue
                try:
                    rows[name] = measure(bench, name, settings, args)
                except (RuntimeError, TimeoutError) as error:  # one setting that cannot serve; the others still run
                    failed[name] = str(error).splitlines()[0]
                    print(f"{name:18} did not serve: {failed[name]}", flush=True)
            pod, built, engine = bench.pod, bench.image, bench.engine
    except container.EngineUnavailable as error:
        print(f"capacity: {error}", file=sys.stderr)
        return 2
    if not rows:
        return 1
    return report(rows, failed, pod, built, args, engine)


def report(rows: dict, failed: dict, pod: container.Pod, built: dict, args, engine) -> int:
    chart_name = next(iter(rows))
    limits = enforcement(next(iter(rows.values()))["cgroup"], pod)
    print(f"\n{'settings':18} {'mirror/s':>9} {'p99 ms':>7} {'bare/s':>8} {'ratio':>6} {'upload/s':>9} {'p99 ms':>7} "
          f"{'RSS/worker MB':>14} {'errors':>6}")
    for name, row in rows.items():
        errors = row["mirror"]["errors"] + row["bare"]["errors"] + row["upload"]["errors"]
        print(f"{name:18} {row['mirror']['requests_per_second']:9.0f} {row['mirror']['p99_ms']:7.1f} "
              f"{row['bare']['requests_per_second']:8.0f} {row['ratio']:6.2f} {row['upload']['requests_per_second']:9.0f} "
              f"{row['upload']['p99_ms']:7.1f} {max(row['worker_rss_mb']):14.0f} {errors:6d}")
    for name, reason in failed.items():
        print(f"{name:18} did not serve: {reason}")
    print(f"\nlimits: cpu {limits['cpu']}; memory {limits['memory']}; host load average "
          f"{' '.join(f'{n:.1f}' for n in os.getloadavg())} on {os.cpu_count()} CPUs (wrk and moto share them)")
    chosen = rows[chart_name]
    checks = {
        f"{chart_name}: mirror/bare >= {TARGET_RATIO}": chosen["ratio"] >= TARGET_RATIO,
        f"{chart_name}: mirror p99 <= {TARGET_P99_MS:g} ms at {args.connections} connections":
            chosen["mirror"]["p99_ms"] <= TARGET_P99_MS,
        f"{chart_name}: RSS per worker <= {TARGET_RSS_MB:g} MB": max(chosen["worker_rss_mb"]) <= TARGET_RSS_MB,
        f"{chart_name}: no errors": all(chosen[k]["errors"] == 0 for k in ("mirror", "bare", "upload")),
        f"{chart_name}: mirror and bare rounds within {TARGET_SPREAD:.0%} of each other":
            max(chosen["spread"].values()) <= TARGET_SPREAD,
        "every setting served": not failed,
    }
    for check, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {check}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"capacity-{stamp}.json"
    path.write_text(json.dumps({"time": stamp, "engine": engine.name, "image": built, "limits": limits,
                                "pod": {"cpus": pod.cpus, "memory": pod.memory}, "wrk": vars(args),
                                "load_average": os.getloadavg(), "rows": rows, "failed": failed, "checks": checks}, indent=2) + "\n")
    print(f"\nresults: {path.relative_to(processes.REPO_ROOT)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
