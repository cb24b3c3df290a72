"""Bench-only instrumentation for bench/instructions.py; the service never imports this module.

Each factory returns a WSGI app for gunicorn (`bench.callgrind_shim:service()`) that passes every request
through unchanged, except for paths under /__bench/, which the benchmark's client sends between the
measured requests:

- `/__bench/dump`: callgrind writes the instructions counted since the last dump and starts again at zero
  (CALLGRIND_DUMP_STATS, through a tiny C helper that bench/instructions.py compiles; a Python program
  cannot issue Valgrind's client requests itself);
- `/__bench/off?components=log,metrics` (service only): turns the named parts of the service into no-ops,
  or all back on with an empty list, so one worker process measures every variant of the breakdown.

The check for the prefix costs the same few instructions in all three apps, and the slope method in
bench/instructions.py cancels everything the dump requests themselves cost.
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs

CONTROL_PREFIX = "/__bench/"
HELPER_ENV = "MIRROR_BENCH_CALLGRIND_HELPER"

# What the breakdown can turn off in the service, each replaced by a no-op on the running app's objects.
COMPONENTS = ("log", "metrics", "telemetry")


class Counted:
    def __init__(self, app: Callable, switch: Callable[[frozenset[str]], None] | None = None):
        self.app = app
        self.switch = switch
        self.helper = ctypes.CDLL(os.environ[HELPER_ENV])
        self.dumps = 0

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not environ["PATH_INFO"].startswith(CONTROL_PREFIX):
            return self.app(environ, start_response)
        command = environ["PATH_INFO"][len(CONTROL_PREFIX):]
        if command == "dump":
            # Every window starts with an empty young generation: without it, whether a window happens to
            # hold one more collection of Python's cyclic GC moved the differences between variants by
            # ±25,000 instructions per request (two runs of the same code). Collections the requests
            # themselves cause are still counted, in every window alike.
            gc.collect()
            self.helper.bench_dump()
            self.dumps += 1
            body = f"{os.getpid()} {self.dumps}".encode()
        elif command == "off" and self.switch is not None:
            names = parse_qs(environ.get("QUERY_STRING", "")).get("components", [""])[0]
            off = frozenset(name for name in names.split(",") if name)
            unknown = off - set(COMPONENTS)
            if unknown:
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [f"unknown components: {sorted(unknown)}".encode()]
            self.switch(off)
            body = b"ok"
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"unknown bench command"]
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]


def bare_wsgi() -> Counted:
    from bench.bare_wsgi import application

    return Counted(application)


def bare_flask() -> Counted:
    from bench.bare_flask import application

    return Counted(application)


def service() -> Counted:
    from mirror_service import create_app
    from mirror_service.observability import REQUEST_ID_ENVIRON_KEY

    app = create_app()
    telemetry = app.wsgi_app  # RequestTelemetry around Flask's own wsgi_app
    flask_only = telemetry.wsgi_app
    counted = Counted(app)

    def without_telemetry(environ: dict, start_response: Callable) -> Iterable[bytes]:
        # Flask alone; the routes still read the request id (errors do), so give them a fixed one.
        environ[REQUEST_ID_ENVIRON_KEY] = "bench"
        return flask_only(environ, start_response)

    def switch(off: frozenset[str]) -> None:
        for name, target, attribute in (("log", telemetry.access_log, "write"),
                                        ("metrics", telemetry.metrics, "observe_request")):
            if name in off:
                setattr(target, attribute, _nothing)
            else:
                target.__dict__.pop(attribute, None)  # the class's method again
        counted.app = without_telemetry if "telemetry" in off else app

    counted.switch = switch
    return counted


def _nothing(*args: object, **kwargs: object) -> None:
    return None
