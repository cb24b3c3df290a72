"""Start, wait for and stop the local servers the sandbox, the tests and the benchmarks run.

Every server is started in its own process group on a loopback port, and `stop()` ends the whole
group, so nothing started here outlives its owner (a test, `make sandbox`, a benchmark).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# REPO_ROOT is re-exported: the sandbox, the benchmarks and some tests read it as processes.REPO_ROOT.
from harness.paths import APP_DIR, REPO_ROOT  # noqa: F401

GUNICORN_CONFIG = APP_DIR / "gunicorn.conf.py"
LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_open(port: int, host: str = LOOPBACK) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, urllib.error.URLError):
        return None


@dataclass
class ManagedProcess:
    """A server started by us, in its own process group, with its output kept in a log file."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_until(self, predicate, timeout: float, what: str) -> None:
        """Poll `predicate` until it holds; fail with the server's log if it dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited with code {self.popen.returncode} before {what}.\n"
                    f"--- {self.name} log ---\n{self.log()[-4000:]}"
                )
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not reach '{what}' within {timeout:.0f}s.\n{self.log()[-4000:]}")

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signum)

    def stop(self, timeout: float = 30.0, signum: int = signal.SIGTERM) -> int | None:
        """Ask the server to stop, wait up to `timeout`, then kill its whole process group."""
        if self.alive():
            self.send_signal(signum)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        return self.popen.returncode


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers, for its master), from Linux's /proc."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path, cwd: Path | None = None) -> ManagedProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log_file = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its whole life
    try:
        popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: Ctrl-C in a terminal reaches us, not it
        )
    finally:
        log_file.close()
    return ManagedProcess(name=name, popen=popen, log_path=log_path)


def start_moto(log_dir: Path, port: int | None = None, host: str = LOOPBACK, timeout: float = 30.0) -> ManagedProcess:
    """A moto server (real HTTP AWS emulator, with harness.moto_server's one fix) on `host`; `url` is its endpoint."""
    port = port or free_port(host)
    if port_is_open(port, host):
        raise RuntimeError(f"port {port} on {host} is already in use; choose another one for the S3 emulator")
    # AWS managed policies (AmazonEKSClusterPolicy, ...) exist only when loaded: modules/eks attaches them.
    env = {**os.environ, "MOTO_CALL_RESET_API": "false", "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    proc = spawn(f"moto-{port}", [sys.executable, "-m", "harness.moto_server", "-H", host, "-p", str(port)], env, log_dir)
    proc.url = f"http://{LOOPBACK if host == '0.0.0.0' else host}:{port}"
    proc.wait_until(lambda: http_status(f"{proc.url}/moto-api/") == 200, timeout, "serving HTTP")
    return proc


def service_environment(**overrides: str) -> dict[str, str]:
    """The process environment for the service: ours, minus anything that could point it elsewhere."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "S3_", "GUNICORN_"))}
    env.update({key: str(value) for key, value in overrides.items() if value is not None})
    return env


def gunicorn_command(app_uri: str | None = None) -> list[str]:
    """gunicorn with the checked-in config; `app_uri` swaps the WSGI app (the benchmark's bare ceiling)."""
    return [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG), *([app_uri] if app_uri else [])]


def start_service(
    env: dict[str, str],
    log_dir: Path,
    port: int | None = None,
    host: str = LOOPBACK,
    timeout: float = 30.0,
    ready_path: str = "/api/health",
) -> ManagedProcess:
    """The service under gunicorn with the checked-in config, exactly as the container runs it."""
    port = port or free_port(host)
    if port_is_open(port, host):
        raise RuntimeError(f"port {port} on {host} is already in use; set PORT to a free one")
    env = {**env, "PORT": str(port), "HOST": host}
    proc = spawn(f"gunicorn-{port}", gunicorn_command(), env, log_dir, cwd=APP_DIR)
    proc.url = f"http://{host}:{port}"
    proc.wait_until(lambda: http_status(proc.url + ready_path) == 200, timeout, f"answering {ready_path}")
    return proc
