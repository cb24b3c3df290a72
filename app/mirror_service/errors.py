"""One JSON shape for every error: `{"error": {"code": ..., "message": ..., "request_id": ...}}`.

`code` is a stable, machine-readable snake_case string; `message` is for people. A 500 never carries
a stack trace or exception text: those go to the log, under the same request id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from mirror_service.observability import current_request_id
from mirror_service.responses import json_response

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the routes answer with on purpose."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_body(code: str, message: str, request_id: str) -> dict:
    """The error shape, also written by the gunicorn worker for requests refused before the app."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(error_body(code, message, current_request_id()), status, headers)


def _snake_case(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message, error.headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Routing and protocol errors (404, 405 with its Allow header, 413, ...) raised by Flask/Werkzeug.
        headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        return error_response(error.code or 500, _snake_case(error.name), error.description or error.name, headers)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.error("unhandled exception", exc_info=error, extra={"request_id": current_request_id()})
        return error_response(500, "internal_error", "The server could not answer this request; "
                              "the request id identifies it in the service's log.")
