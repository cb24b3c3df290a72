"""gunicorn settings for mirror-service, the same in the container, the sandbox, the tests and the benchmark.

Start: `gunicorn --config app/gunicorn.conf.py` (from anywhere: the app is the installed `mirror_service` package,
`pip install ./app`).
Every value comes from the environment (docs/CONTRACTS.md); a bad one stops the master at once with a
single line `configuration error: ...` and exit code 2, before any worker starts.
"""

import os
import shutil
import sys
import tempfile

from gunicorn.glogging import Logger


def _in_memory_dir() -> str:
    """/dev/shm (tmpfs) when usable, else the temp dir: works with a read-only root filesystem."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        return "/dev/shm"
    return tempfile.gettempdir()


def _multiprocess_metrics_dir() -> tuple[str, bool]:
    """PROMETHEUS_MULTIPROC_DIR, or a fresh directory (under TMPDIR, or in memory when that is read-only).

    Must be in the environment before anything imports prometheus_client, which picks its storage at
    import time; the workers inherit it. Returns the path and whether we created it (then we remove it).
    """
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if configured:
        return configured, False
    try:
        path = tempfile.mkdtemp(prefix="mirror-metrics-")
    except OSError:  # no writable TMPDIR, /tmp, /var/tmp or working directory
        path = tempfile.mkdtemp(prefix="mirror-metrics-", dir="/dev/shm")
    return path, True


METRICS_DIR, _METRICS_DIR_IS_OURS = _multiprocess_metrics_dir()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR


def _validated_server_settings():
    """Every setting, the app's included (create_app reads them again in each worker), checked here, so
    a bad value stops the master with one line instead of failing every worker's boot."""
    from mirror_service.config import ConfigError, load_all

    try:
        _, server_settings = load_all()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr, flush=True)
        if _METRICS_DIR_IS_OURS:
            shutil.rmtree(METRICS_DIR, ignore_errors=True)
        # SystemExit passes through gunicorn's config loader, which would print a traceback for anything else.
        sys.exit(2)
    return server_settings


SERVER_SETTINGS = _validated_server_settings()

wsgi_app = "mirror_service:create_app()"

_host = SERVER_SETTINGS.host.strip("[]")
bind = [f"[{_host}]:{SERVER_SETTINGS.port}" if ":" in _host else f"{_host}:{SERVER_SETTINGS.port}"]
workers = SERVER_SETTINGS.workers
# GUNICORN_THREADS=1 runs gunicorn's sync worker; more than 1 makes gunicorn use its gthread worker
# (gunicorn's own rule for worker_class "sync" with threads > 1). Why sync is the default: bench/README.md.
worker_class = "sync"
threads = SERVER_SETTINGS.threads
timeout = SERVER_SETTINGS.timeout
graceful_timeout = SERVER_SETTINGS.graceful_timeout
keepalive = SERVER_SETTINGS.keepalive
# The longest request line gunicorn allows (default 4094): 1024 percent-encoded two-byte characters fit.
# Beyond it gunicorn answers 414 itself, before the app.
limit_request_line = 8190

# Read-only root filesystem: the heartbeat file goes to memory, and no control socket is opened
# (gunicorn >= 25.1 would otherwise try to create $HOME/.gunicorn/gunicorn.ctl).
worker_tmp_dir = _in_memory_dir()
control_socket_disable = True

# Logs: JSON lines on stdout. The app writes one line per request itself, so gunicorn's access log is
# off; gunicorn would still build its access-log fields for every request once logconfig_dict is set,
# which the logger class below avoids.
loglevel = SERVER_SETTINGS.log_level.lower()
accesslog = None
errorlog = "-"


class JsonLogsWithoutAccessLog(Logger):
    @property
    def access_log_enabled(self) -> bool:
        return False


logger_class = JsonLogsWithoutAccessLog
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "mirror_service.observability.json_formatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"level": SERVER_SETTINGS.log_level, "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": SERVER_SETTINGS.log_level, "handlers": ["stdout"], "propagate": False,
                           "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False, "qualname": "gunicorn.access"},
    },
}


def on_starting(server) -> None:
    """Metric files of an earlier run (a restarted container keeps its emptyDir) must not be counted."""
    os.makedirs(METRICS_DIR, exist_ok=True)
    for name in os.listdir(METRICS_DIR):
        if name.endswith(".db"):
            os.remove(os.path.join(METRICS_DIR, name))


def post_worker_init(worker) -> None:
    """Flip /api/ready to 503 as soon as this worker is told to stop (see mirror_service.lifecycle)."""
    services = getattr(worker.wsgi, "extensions", {}).get("mirror_service")
    if services is not None:  # the benchmark's bare WSGI app runs under this config too
        from mirror_service.lifecycle import drain_on_sigterm

        drain_on_sigterm(services.readiness)


def child_exit(server, worker) -> None:
    """A dead worker's live gauges must go; its counters stay and keep adding up."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, METRICS_DIR)


def on_exit(server) -> None:
    if _METRICS_DIR_IS_OURS:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
