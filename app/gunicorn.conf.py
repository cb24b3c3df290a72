"""gunicorn settings for mirror-service, the same in the container, the sandbox, the tests and the benchmark.

Start: `gunicorn --config app/gunicorn.conf.py` (from anywhere: the app is the installed `mirror_service` package,
`pip install ./app`).
Every value comes from the environment (docs/CONTRACTS.md); a bad one stops the master at once with a
single line `configuration error: ...` and exit code 2, before any worker starts.

Importing this module only reads: the environment, and the process's open-file limit. Everything that
changes something (the metrics directory, PROMETHEUS_MULTIPROC_DIR, the open-file limit, the exit on a bad
setting) happens in gunicorn's server hooks below, when gunicorn starts (tests/app/test_gunicorn_conf.py).
"""

import os
import shutil
import sys
import tempfile

from gunicorn.glogging import Logger

from mirror_service.config import ConfigError, ServerSettings, Settings, load_all

# Descriptors a worker process needs beyond its client connections: the listening socket, its S3
# connection pool, metric files, logs, gevent's hub. (A sync worker holds one connection at a time.)
_SPARE_FILE_DESCRIPTORS = 64


def _read_settings() -> tuple[Settings, ServerSettings, str | None]:
    """Every setting, the app's included (create_app reads them again in each worker), and what is wrong with
    them: reported by on_starting, so a bad value stops the master with one line instead of failing every
    worker's boot. Until then the defaults stand in, so that gunicorn can read this module."""
    try:
        return (*load_all(), None)
    except ConfigError as error:
        return Settings(), ServerSettings(), str(error)


APP_SETTINGS, SERVER_SETTINGS, _CONFIG_ERROR = _read_settings()


def _open_files_needed() -> int:
    return (SERVER_SETTINGS.worker_connections if SERVER_SETTINGS.worker_class == "gevent" else 1) \
        + _SPARE_FILE_DESCRIPTORS


def _open_file_limit_problem() -> str | None:
    """Whether one worker's connections fit under the hard RLIMIT_NOFILE (read only; on_starting raises the soft one).

    The limit is per process and Kubernetes cannot set it per pod; containerd 2.0 gives containers a soft
    limit of 1024 (containerd#8924), below one gevent worker's 1,000 connections, while the hard limit is
    usually far higher. A process may raise its soft limit up to the hard one without privileges.
    """
    import resource

    needed = _open_files_needed()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < needed:
        return (f"each worker needs {needed} open files for GUNICORN_WORKER_CONNECTIONS="
                f"{SERVER_SETTINGS.worker_connections}, but the hard limit is {hard}: lower "
                f"GUNICORN_WORKER_CONNECTIONS or raise the container's nofile limit")
    return None


# What stops the start, one line, printed by on_starting. Until then nothing is logged (gunicorn logs
# "Starting gunicorn" before its first hook), so the line is the whole output.
_STARTUP_PROBLEM = _CONFIG_ERROR or _open_file_limit_problem()


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

# Read-only root filesystem: the heartbeat file goes to memory (/dev/shm, tmpfs) when usable, else to
# gunicorn's default, the temp dir; and no control socket is opened (gunicorn >= 25.1 would otherwise try
# to create $HOME/.gunicorn/gunicorn.ctl).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK) else None
control_socket_disable = True

# Logs: JSON lines on stdout. The app writes one line per request itself, so gunicorn's access log is
# off; gunicorn would still build its access-log fields for every request once logconfig_dict is set,
# which the logger class below avoids.
_LOG_LEVEL = "CRITICAL" if _STARTUP_PROBLEM else SERVER_SETTINGS.log_level
loglevel = _LOG_LEVEL.lower()
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
    "root": {"level": _LOG_LEVEL, "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": _LOG_LEVEL, "handlers": ["stdout"], "propagate": False,
                           "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False, "qualname": "gunicorn.access"},
    },
}


# The metrics directory: PROMETHEUS_MULTIPROC_DIR, or one on_starting makes (and on_exit removes).
_metrics = {"dir": os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip() or None, "ours": False}


def _make_metrics_dir() -> str:
    """A fresh directory under TMPDIR, or in memory when no temp dir is writable (read-only root filesystem)."""
    try:
        return tempfile.mkdtemp(prefix="mirror-metrics-")
    except OSError:  # no writable TMPDIR, /tmp, /var/tmp or working directory
        return tempfile.mkdtemp(prefix="mirror-metrics-", dir="/dev/shm")


def _raise_open_file_limit() -> None:
    """Raise this process's soft RLIMIT_NOFILE to what one worker needs (workers inherit it); the hard limit
    was checked on import (_open_file_limit_problem)."""
    import resource

    needed = _open_files_needed()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def on_starting(server) -> None:
    """In the master, before it binds or forks: stop on a bad setting, raise the open-file limit, and prepare
    the metrics directory every worker inherits through PROMETHEUS_MULTIPROC_DIR."""
    if _STARTUP_PROBLEM:
        print(f"configuration error: {_STARTUP_PROBLEM}", file=sys.stderr, flush=True)
        # SystemExit passes through gunicorn's arbiter, which would print a traceback for anything else.
        sys.exit(2)
    _raise_open_file_limit()
    if _metrics["dir"] is None:
        _metrics["dir"], _metrics["ours"] = _make_metrics_dir(), True
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics["dir"]
    # prometheus_client picks its storage when first imported, which gunicorn's logging setup (the JSON
    # formatter lives in mirror_service.observability) did before this hook; no metric exists yet, so choose
    # again, now with the directory set (prometheus_client/values.py: "chosen before the first metric").
    if "prometheus_client.values" in sys.modules:
        from prometheus_client import values

        values.ValueClass = values.get_value_class()
    # Metric files of an earlier run (a restarted container keeps its emptyDir) must not be counted.
    os.makedirs(_metrics["dir"], exist_ok=True)
    for name in os.listdir(_metrics["dir"]):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics["dir"], name))


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

    merge_dead_worker(_metrics["dir"], worker.pid)


def on_exit(server) -> None:
    if _metrics["ours"]:
        shutil.rmtree(_metrics["dir"], ignore_errors=True)
