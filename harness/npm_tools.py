"""Node tools the repository pins (a package.json + package-lock.json each), installed with `npm ci`
into their own prefix under .cache/, once per lock file content.

Test files run on several pytest-xdist workers at once and more than one may need a tool: an exclusive
lock per prefix makes the first caller install it while the others wait and reuse it (two `npm ci` into
one prefix delete each other's files).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path


def install(project: Path, prefix: Path, binary: str) -> Path:
    """`npm ci` of `project`'s lock into `prefix` unless that lock is installed there; the binary's path."""
    lock = project / "package-lock.json"
    stamp = prefix / ".installed-lock"
    executable = prefix / "node_modules" / ".bin" / binary
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix.parent / f".{prefix.name}.install-lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if executable.exists() and stamp.exists() and stamp.read_bytes() == lock.read_bytes():
            return executable
        for name in ("package.json", "package-lock.json"):
            shutil.copy(project / name, prefix / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(prefix)],
                       check=True, capture_output=True, text=True, timeout=300)
        stamp.write_bytes(lock.read_bytes())
    return executable
