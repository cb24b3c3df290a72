"""What the service tells its operators: JSON log lines, request ids, Prometheus metrics.

Every request gets an id (the caller's `X-Request-ID` when it is sane, a new one otherwise), echoed
on the response, and exactly one JSON log line with id, method, route, status and duration. Headers,
query strings and bodies are never logged, so neither the upload token nor anything else a client
sends in them can reach the log.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _json_string  # what json.dumps uses for str (C)

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import HTTPException

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON_KEY = "mirror_service.request_id"
# Accept ids that are safe to echo and to log unchanged: UUIDs, hex, ULIDs, proxies' formats.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Metric labels must stay bounded: anything else collapses into one value.
UNMATCHED_ROUTE = "unmatched"
OTHER_METHOD = "other"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LOGGED_PATH_LENGTH = 200
LATENCY_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

ACCESS_LOGGER = "mirror_service.requests"


# Log lines stay under 4 KB at every level (collectors split or drop longer ones); see BoundedJsonFormatter.
MAX_LOG_LINE_CHARACTERS = 4000
_KEPT_MESSAGE_CHARACTERS = 1000
_KEPT_TRACEBACK_CHARACTERS = 1500


class BoundedJsonFormatter(JsonFormatter):
    """JSON lines that never exceed MAX_LOG_LINE_CHARACTERS: a longer one (gunicorn's configuration dump at
    DEBUG, a deep traceback) keeps the head of its message and the tail of its traceback, marked."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if len(line) <= MAX_LOG_LINE_CHARACTERS:
            return line
        shortened = logging.makeLogRecord(record.__dict__)
        traceback = self.formatException(record.exc_info) if record.exc_info else ""
        shortened.msg = (record.getMessage()[:_KEPT_MESSAGE_CHARACTERS] + " [truncated]"
                         + (" ... " + traceback[-_KEPT_TRACEBACK_CHARACTERS:] if traceback else ""))
        shortened.args, shortened.exc_info, shortened.exc_text, shortened.stack_info = (), None, None, None
        return super().format(shortened)


def json_formatter() -> logging.Formatter:
    """The one log format of the service, for the app's loggers and gunicorn's alike."""
    return BoundedJsonFormatter(
        "%(levelname)s %(name)s %(process)d %(message)s",
        rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
        timestamp="time",
    )


# At DEBUG these libraries log credentials: botocore the access key id, signed headers and the string
# to sign; urllib3 request lines and headers. They never log below INFO here, whatever LOG_LEVEL says.
LIBRARIES_NEVER_AT_DEBUG = ("botocore", "boto3", "s3transfer", "urllib3")


def configure_logging(level: str) -> None:
    """JSON lines on stdout for the `mirror_service` loggers (Flask's app.logger is one of them)."""
    for name in LIBRARIES_NEVER_AT_DEBUG:
        library = logging.getLogger(name)
        library.setLevel(max(logging.INFO, logging.getLevelName(level)))
    logger = logging.getLogger("mirror_service")
    logger.setLevel(level)
    if not any(getattr(handler, "_mirror_service", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(json_formatter())
        handler._mirror_service = True  # type: ignore[attr-defined] - marks ours, so a second app adds none
        logger.addHandler(handler)
    # Our own handler writes the line; passing it on to root would print it twice under gunicorn.
    logger.propagate = False


class AccessLog:
    """Writes the one line per request, in the same JSON shape as every other log line.

    The line bypasses the logging module's record machinery on purpose: building a LogRecord and
    formatting it generically costs more than answering /api/mirror does, and this line is written
    for every request. Nor is it built by json.dumps: the constant fields are formatted once, and each
    request only escapes its strings with the JSON encoder's own C function (70,000 instructions per
    request before, 25,000 after; bench/README.md). The line still obeys the `mirror_service.requests`
    logger's level (LOG_LEVEL), and every string a client can influence (path, request id) goes through
    that escaping, so the line is valid JSON whatever they hold.
    """

    def __init__(self) -> None:
        self._logger = logging.getLogger(ACCESS_LOGGER)
        # The app is built in the worker, after the fork, so this is the worker's pid.
        self._head = (f'{{"level": "INFO", "logger": "{ACCESS_LOGGER}", "pid": {os.getpid()}, '
                      f'"message": "request", "request_id": ')
        self._lock = threading.Lock()
        self._second = (-1, "")  # the last whole second and its ISO 8601 text, swapped as one tuple

    def write(self, request_id: str, method: str, route: str, path: str, status: int, duration: float) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        line = (f'{self._head}{_json_string(request_id)}, "method": {_json_string(method)}, '
                f'"route": {_json_string(route)}, "path": {_json_string(path)}, "status": {status:d}, '
                f'"duration_ms": {duration * 1000:.3f}, "time": "{self._timestamp()}"}}\n')
        stream = sys.stdout
        with self._lock:  # one write per line: lines from threads never interleave
            stream.write(line)
            stream.flush()

    def _timestamp(self) -> str:
        """Now as `datetime.now(UTC).isoformat()` writes it, microseconds always shown; the date and time
        of day are formatted once a second, not per request."""
        now = time.time()
        whole = int(now)
        second = self._second
        if second[0] != whole:
            second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
            self._second = second
        return f"{second[1]}.{int((now - whole) * 1_000_000):06d}+00:00"


def request_id_from(header_value: str | None) -> str:
    if header_value and _SANE_REQUEST_ID.fullmatch(header_value):
        return header_value
    return os.urandom(16).hex()  # secrets.token_hex(16) without its two layers of calls: the same bytes


class Metrics:
    """The service's Prometheus metrics.

    Under gunicorn `PROMETHEUS_MULTIPROC_DIR` is set (gunicorn.conf.py sees to it before anything imports
    prometheus_client): each worker writes its values to files there and a scrape, whichever worker
    answers it, adds up all of them. Without it (tests, a single process) the values live in memory.
    Each instance has its own registry, so several apps in one process do not collide.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.requests = Counter(
            "mirror_http_requests", "HTTP requests answered, by route template, method and status.",
            ("method", "route", "status"), registry=self.registry,
        )
        self.latency = Histogram(
            "mirror_http_request_duration_seconds", "Time to answer an HTTP request, by route template and method.",
            ("method", "route"), buckets=LATENCY_BUCKETS_SECONDS, registry=self.registry,
        )
        self.uploads = Counter(
            "mirror_uploads", "Upload requests by outcome: succeeded (a new object stored; each object counted "
            "once), replayed (an idempotency key's object answered again), failed (nothing stored), unknown "
            "(S3 did not confirm; may be stored).",
            ("outcome",), registry=self.registry,
        )
        for outcome in ("succeeded", "replayed", "failed", "unknown"):
            self.uploads.labels(outcome)  # present from the start as 0, so rate() and alerts work at once
        # labels() takes a lock and builds a key on every call; the set of label values is small and bounded.
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, method: str, route: str, status: int, duration_seconds: float) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(duration_seconds)

    def exposition(self) -> Response:
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)
        else:
            registry = self.registry
        return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)


def current_request_id() -> str:
    """The id of the request being handled (set by RequestTelemetry before Flask sees the request)."""
    return request.environ[REQUEST_ID_ENVIRON_KEY]


class RequestTelemetry:
    """WSGI middleware around the Flask app: request id, metrics and the log line for every request.

    Outside Flask on purpose: it sees every response, including errors and 404s, the same way, and it
    costs no request-context lookups (this runs on every request; see bench/README.md).
    """

    def __init__(self, app: Flask, metrics: Metrics):
        self.wsgi_app = app.wsgi_app
        self.url_map = app.url_map
        self.metrics = metrics
        self.access_log = AccessLog()
        # Build after every route is registered (create_app wraps last).
        self.static_routes = frozenset(rule.rule for rule in app.url_map.iter_rules() if not rule.arguments)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ[REQUEST_ID_ENVIRON_KEY] = request_id
        status = [500]  # what the server answers if the app raises through (it does not: errors.py)

        def start_response_with_id(status_line: str, headers: list, exc_info=None):
            status[0] = int(status_line[:3])
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status_line, headers, exc_info)

        try:
            return self.wsgi_app(environ, start_response_with_id)
        finally:
            self._record(environ, request_id, status[0], time.perf_counter() - started)

    def _record(self, environ: dict, request_id: str, status: int, duration: float) -> None:
        method = environ.get("REQUEST_METHOD", "")
        method = method if method in _KNOWN_METHODS else OTHER_METHOD
        path = environ.get("PATH_INFO", "")
        if not path.isascii():  # WSGI gives the path as latin-1 decoded bytes; show it as the UTF-8 it was sent as
            path = path.encode("latin-1").decode("utf-8", "replace")
        route = self._route_label(environ, path)
        self.metrics.observe_request(method, route, status, duration)
        self.access_log.write(request_id, method, route, path[:_LOGGED_PATH_LENGTH], status, duration)

    def _route_label(self, environ: dict, path: str) -> str:
        """The route template: bounded, unlike the path. Static routes (all of ours) need no matching."""
        if path in self.static_routes:
            return path
        try:
            rule, _ = self.url_map.bind_to_environ(environ).match(return_rule=True)
        except HTTPException:  # not found (or a redirect or 405 on a route with variables)
            return UNMATCHED_ROUTE
        return rule.rule
