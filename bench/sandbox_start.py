"""`python -m bench.sandbox_start` (`make bench`): how long `make sandbox` takes to its first answer.

Target (issue #21): the first `curl /api/health` answers within 10 s of the command starting, the service
serving from the moment the S3 emulator is up while Terraform still plans and applies the bucket. Each
round runs what `make sandbox` runs (`python -m harness.sandbox`) on free ports in a temporary
`SANDBOX_DIR`, polls from outside every 50 ms, and records when each of these first answered:

- the emulator (`/moto-api/` on its port): Python, moto's imports, the server's start;
- the service (`/api/health`): the sandbox reads the service's environment from envs/sandbox's outputs.tf
  and starts gunicorn (its boot and the app's import);
- the bucket (a ListObjects straight to the emulator): Terraform's init, plan (loading the AWS provider)
  and apply up to the bucket's creation;
- `/api/ready` 200: the service's next bucket check after that (each worker caches it for 3 s).

Then the run is stopped with SIGINT, as Ctrl-C would. Medians over `--rounds`; JSON goes to
bench/results/sandbox-start-<time>.json (ignored by git). Exit code 1 when the median first answer misses
the target.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import processes

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
FIRST_ANSWER_TARGET_SECONDS = 10.0
GIVE_UP_SECONDS = 300.0
POLL_SECONDS = 0.05


def one_round() -> dict[str, float]:
    service_port, emulator_port = processes.free_port(), processes.free_port()
    bucket = f"bench-sandbox-{secrets.token_hex(3)}"  # named here (TF_VAR_bucket_name), so it can be probed
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as workdir:
        env = {**os.environ, "SANDBOX_DIR": str(Path(workdir) / "sandbox"), "PORT": str(service_port),
               "SANDBOX_S3_PORT": str(emulator_port), "TF_VAR_bucket_name": bucket}
        started = time.monotonic()
        run = subprocess.Popen([sys.executable, "-m", "harness.sandbox"], cwd=processes.REPO_ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        probes = {
            "emulator": f"http://127.0.0.1:{emulator_port}/moto-api/",
            "first_answer": f"http://127.0.0.1:{service_port}/api/health",
            # ListObjects straight to the emulator: the bucket exists
            "bucket": f"http://127.0.0.1:{emulator_port}/{bucket}",
            "ready": f"http://127.0.0.1:{service_port}/api/ready",
        }
        seen: dict[str, float] = {}
        try:
            while len(seen) < len(probes):
                if run.poll() is not None:
                    raise RuntimeError(f"`make sandbox` exited with {run.returncode} before it was ready")
                if time.monotonic() - started > GIVE_UP_SECONDS:
                    raise RuntimeError(f"`make sandbox` was not ready within {GIVE_UP_SECONDS:.0f}s")
                for name, url in probes.items():
                    if name not in seen and processes.http_status(url, timeout=0.5) == 200:
                        seen[name] = round(time.monotonic() - started, 2)
                time.sleep(POLL_SECONDS)
        finally:
            os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: it stops the service, Terraform and the emulator
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait(timeout=10)
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rounds = [one_round() for _ in range(args.rounds)]
    median = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(f"\n`make sandbox` start, {args.rounds} rounds (s after the command started; medians, then each round)")
    for name, label in (("emulator", "emulator answers"), ("first_answer", "first /api/health answer"),
                        ("bucket", "bucket exists (Terraform)"), ("ready", "/api/ready 200")):
        print(f"  {label:<32} {median[name]:6.1f}   ({', '.join(f'{r[name]:.1f}' for r in rounds)})")
    passed = median["first_answer"] <= FIRST_ANSWER_TARGET_SECONDS
    print(f"  target: first answer <= {FIRST_ANSWER_TARGET_SECONDS:.0f} s: {'PASS' if passed else 'FAIL'}"
          f"  (load average {os.getloadavg()[0]:.1f})")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"sandbox-start-{stamp}.json").write_text(json.dumps(
        {"rounds": rounds, "median": median, "target_seconds": FIRST_ANSWER_TARGET_SECONDS,
         "load_average": os.getloadavg()}, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
