"""The ceiling for the benchmark: a WSGI callable that does nothing but answer a fixed small JSON.

Run under the service's own gunicorn.conf.py, it measures what gunicorn alone costs on this machine,
so `service / bare` is the share of that ceiling the Flask application keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

_BODY = b'{"transformed":"52RAbOoF"}'
_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(_BODY)))]


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    start_response("200 OK", list(_HEADERS))
    return [_BODY]
