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


def _validated_settings():
    """Every setting, the app's included (create_app reads them again in each worker), checked here, so
    a bad value stops the master with one line instead of failing every worker's boot."""
    from mirror_service.config import ConfigError, load_all

    try:
        settings, server_settings = load_all()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr, flush=True)
        if _METRICS_DIR_IS_OURS:
            shutil.rmtree(METRICS_DIR, ignore_errors=True)
        # SystemExit passes through gunicorn's config loader, which would print a traceback for anything else.
        sys.exit(2)
    return settings, server_settings


APP_SETTINGS, SERVER_SETTINGS = _validated_settings()

# Descriptors a worker process needs beyond its client connections: the listening socket, its S3
# connection pool, metric files, logs, gevent's hub. (A sync worker holds one connection at a time.)
_SPARE_FILE_DESCRIPTORS = 64


def _raise_open_file_limit(connections_per_worker: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE to what one worker needs (workers inherit it), or stop.

    The limit is per process and Kubernetes cannot set it per pod; containerd 2.0 gives containers a soft
    limit of 1024 (containerd#8924), below one gevent worker's 1,000 connections, while the hard limit is
    usually far higher. A process may raise its soft limit up to the hard one without privileges.
    """
    import resource

    needed = connections_per_worker + _SPARE_FILE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        print(f"configuration error: each worker needs {needed} open files for GUNICORN_WORKER_CONNECTIONS="
              f"{connections_per_worker}, but the hard limit is {hard}: lower GUNICORN_WORKER_CONNECTIONS or "
              f"raise the container's nofile limit", file=sys.stderr, flush=True)
        if _METRICS_DIR_IS_OURS:
            shutil.rmtree(METRICS_DIR, ignore_errors=True)
        sys.exit(2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


_raise_open_file_limit(SERVER_SETTINGS.worker_connections if SERVER_SETTINGS.worker_class == "gevent" else 1)

wsgi_app = "mirror_service:create_app()"

_host = SERVER_SETTINGS.host.strip("[]")
bind = [f"[{_host}]:{SERVER_SETTINGS.port}" if ":" in _host else f"{_host}:{SERVER_SETTINGS.port}"]
workers = SERVER_SETTINGS.workers
# gevent (the default): a connection holds a greenlet, not a worker, until its request has arrived; our
# subclass answers gunicorn's own refusals in the API's JSON (mirror_service/worker.py). "sync" is kept
# for comparison (bench/slow_clients.py); GUNICORN_THREADS > 1 turns it into gunicorn's gthread worker.
worker_class = {"gevent": "mirror_service.worker.MirrorGeventWorker", "sync": "sync"}[SERVER_SETTINGS.worker_class]
worker_connections = SERVER_SETTINGS.worker_connections
threads = SERVER_SETTINGS.threads
timeout = SERVER_SETTINGS.timeout
graceful_timeout = SERVER_SETTINGS.graceful_timeout
# gevent: each request head (and the drain of an unread body before it) must arrive within keepalive
# seconds of the connection opening or the previous answer (gunicorn/workers/base_async.py timeout_ctx).
keepalive = SERVER_SETTINGS.keepalive

# Limits gunicorn checks before the app; the gevent worker answers them 414 / 431 / 400 in JSON.
# The request line carries any valid word in any UTF-8, percent-encoded (12 bytes per character).
limit_request_line = APP_SETTINGS.request_line_limit
limit_request_fields = 100
limit_request_field_size = 8190

# Forwarding headers (X-Forwarded-Proto, ...) only from configured proxies (FORWARDED_ALLOW_IPS, default
# none: gunicorn's own default trusts 127.0.0.1, where a mesh sidecar forwards from). SCRIPT_NAME and
# PATH_INFO never come from a header, whoever sends it: the service is mounted at /.
forwarded_allow_ips = ",".join(SERVER_SETTINGS.forwarded_allow_ips)
forwarder_headers = ""
proxy_allow_ips = ""

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
    """A dead worker's counts are folded into one merged file per type (its own files go), so recycled
    workers leave the metrics directory bounded and the totals unchanged (mirror_service/metric_files.py)."""
    from mirror_service.metric_files import merge_dead_worker

    merge_dead_worker(METRICS_DIR, worker.pid)


def on_exit(server) -> None:
    if _METRICS_DIR_IS_OURS:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
