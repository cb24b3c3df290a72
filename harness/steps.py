"""One long step of a make target, said out loud: a line when it starts, a line every 10 s while it runs,
and what it took when it ends; its own output is kept back and shown only when it fails.

    python3 -m harness.steps "creating .venv (pinned requirements)" -- python3 -m pip install ...

Standard library only: the Makefile runs it with the system Python before any virtual environment exists.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HEARTBEAT_SECONDS = 10.0


def run(title: str, argv: list[str], heartbeat: float = HEARTBEAT_SECONDS, *, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> int:
    """Run `argv`, saying what it does; its exit code. Output is kept in a temporary file, printed on failure."""
    started = time.monotonic()
    print(f"==> {title} ...", flush=True)
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env)
        while True:
            try:
                code = process.wait(timeout=heartbeat)
                break
            except subprocess.TimeoutExpired:
                print(f"    {title}: still running ({time.monotonic() - started:.0f} s)", flush=True)
        took = time.monotonic() - started
        if code != 0:
            output.seek(0)
            print(output.read()[-20000:], end="", file=sys.stderr)
            print(f"==> {title}: FAILED after {took:.0f} s (exit {code})", file=sys.stderr, flush=True)
            return code
    print(f"==> {title}: done in {took:.0f} s", flush=True)
    return 0


@contextlib.contextmanager
def still(message, every: float = HEARTBEAT_SECONDS):
    """While the block runs, `message()` (the line to print, built at that moment) every `every` seconds,
    so a slow step in-process never looks like a hang."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            print(message(), flush=True)

    threading.Thread(target=beat, daemon=True).start()
    try:
        yield
    finally:
        done.set()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    return run(argv[0], argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
