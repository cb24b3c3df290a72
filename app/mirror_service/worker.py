"""The gunicorn worker the service runs on: gevent, with the API's own answers for what gunicorn refuses.

Why gevent: every connection is a greenlet, so a connection that is slow to send its request (or sends
nothing) costs a few kilobytes of memory, not a worker; the worker keeps answering everyone else. A
sync worker is taken by the first slow connection; gthread's threads go just as fast (issue #13).

What this subclass of gunicorn's `GeventWorker` (gunicorn/workers/ggevent.py, 27.0.1) adds:

- Errors found before the app (request line too long, too many or too large headers, malformed
  framing, a body over the limit) answer the API's JSON error shape with an `X-Request-ID`, instead of
  gunicorn's HTML page (`util.write_error`, called from `Worker.handle_error` in workers/base.py). The
  log line names the error class only: gunicorn's own line quotes the rejected request line, query
  string included.
- A request line as long as the longest valid word needs (`Settings.request_line_limit`): gunicorn caps
  `limit_request_line` at 8190 bytes (`MAX_REQUEST_LINE` in gunicorn/http/message.py, read for every
  request), and 1,024 four-byte characters percent-encode to 12,288.
- A request body declared larger than the API could ever take is refused before the app (413).

Time limits come from gunicorn itself: `AsyncWorker.handle` (workers/base_async.py) reads each request
head, and drains the previous request's unread body, inside `timeout_ctx()`, which for gevent is
`gevent.Timeout(keepalive)`. So a connection has `keepalive` seconds, idle time included, to deliver
each complete request head; then it is closed without an answer. That only holds with keepalive >= 1
(with 0 gunicorn reads the one request without a deadline), which config.py enforces.
"""

from __future__ import annotations

import logging
import socket
import time
from http import HTTPStatus

import gevent
from gunicorn.http import errors as http_errors
from gunicorn.http import message
from gunicorn.workers.ggevent import GeventWorker

from mirror_service.errors import error_body
from mirror_service.observability import REQUEST_ID_HEADER, request_id_from
from mirror_service.responses import encode_json

log = logging.getLogger(__name__)

# After an error answer, unread request bytes are read and dropped for this long (at most this much), so
# the close does not reset the connection before the client has read the answer (RFC 9112 9.6).
LINGER_SECONDS = 1.0
LINGER_BYTES = 256 * 1024
# The API takes no request bodies; small ones reach the app, which names the problem (body_not_allowed).
MAX_BODY_BYTES = 1024


class RequestBodyTooLarge(http_errors.ParseException):
    def __str__(self) -> str:
        return f"the request declares a body of more than {MAX_BODY_BYTES} bytes"


# Error class -> (status, code, message). Checked in order: the first match wins; the rest are 400.
_REJECTIONS: tuple[tuple[type[BaseException], HTTPStatus, str, str], ...] = (
    (http_errors.LimitRequestLine, HTTPStatus.REQUEST_URI_TOO_LONG, "request_line_too_long",
     "The request line is longer than the service accepts."),
    (http_errors.LimitRequestHeaders, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large",
     "The request has too many header fields, or one that is too large."),
    (RequestBodyTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large",
     f"The API takes no request body; this one declares more than {MAX_BODY_BYTES} bytes."),
    (http_errors.ExpectationFailed, HTTPStatus.EXPECTATION_FAILED, "expectation_failed",
     "The Expect header asks for something the service does not do."),
    (http_errors.ForbiddenProxyRequest, HTTPStatus.FORBIDDEN, "proxy_not_allowed",
     "PROXY protocol is only accepted from configured proxy addresses."),
    # A SCRIPT_NAME in the server's own environment that does not prefix the path: our fault, not the client's.
    (http_errors.ConfigurationProblem, HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error",
     "The server is misconfigured; the request id identifies this in the service's log."),
    (http_errors.ParseException, HTTPStatus.BAD_REQUEST, "malformed_request",
     "The request is not valid HTTP/1.1 (request line, header or body framing)."),
    (OSError, HTTPStatus.BAD_REQUEST, "malformed_request", "The request could not be read."),
)
_UNEXPECTED = (HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error",
               "The server could not answer this request; the request id identifies it in the service's log.")


def rejection_for(error: BaseException) -> tuple[HTTPStatus, str, str]:
    for kind, status, code, text in _REJECTIONS:
        if isinstance(error, kind):
            return status, code, text
    return _UNEXPECTED


def error_response_bytes(status: HTTPStatus, code: str, text: str, request_id: str) -> bytes:
    body = encode_json(error_body(code, text, request_id)).encode()
    head = (f"HTTP/1.1 {status.value} {status.phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{REQUEST_ID_HEADER}: {request_id}\r\n\r\n")
    return head.encode("latin-1") + body


def _header(req, name: str) -> str | None:
    for header_name, value in getattr(req, "headers", None) or ():
        if header_name == name:
            return value
    return None


class MirrorGeventWorker(GeventWorker):
    """gunicorn's gevent worker, answering in the API's own JSON where gunicorn would write HTML."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._answered: set[socket.socket] = set()  # connections that got at least one answer

    def init_process(self) -> None:
        # Per worker process, before any request is parsed: let limit_request_line exceed gunicorn's cap.
        message.MAX_REQUEST_LINE = max(message.MAX_REQUEST_LINE, self.cfg.limit_request_line)
        super().init_process()

    def handle(self, listener, client, addr) -> None:
        try:
            super().handle(listener, client, addr)
        finally:
            self._answered.discard(client)

    def handle_request(self, listener_name, req, sock, addr):
        length = _header(req, "CONTENT-LENGTH")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise RequestBodyTooLarge()
        self._answered.add(sock)
        handled = super().handle_request(listener_name, req, sock, addr)
        # Let every other connection with a request waiting go before this one's next request. Without it,
        # a keep-alive client that sends its next request before the worker reads again (a client on
        # another core: the usual case) finds it already buffered, so the worker serves that connection
        # back to back and the rest wait: /api/mirror at 32 connections had p50 7 ms but p99 97 ms under
        # gunicorn's own gevent worker, 13 ms with this yield, at the same req/s (bench/README.md).
        gevent.sleep(0)
        return handled

    def handle_error(self, req, client, addr, exc) -> None:
        if req is None and client in self._answered:
            # The unread body of an answered request turned out malformed while gunicorn drained it: the
            # client has its answer; a second, unasked-for one would only confuse it. Just close.
            log.info("malformed request body after the answer", extra={"reason": type(exc).__name__})
            return
        status, code, text = rejection_for(exc)
        request_id = request_id_from(_header(req, "X-REQUEST-ID"))
        # Never str(exc): gunicorn's messages quote the request line and header values.
        if status >= 500:
            log.error("request failed before the app", exc_info=exc,
                      extra={"request_id": request_id, "status": status.value, "error_code": code})
        else:
            log.info("request refused before the app", extra={
                "request_id": request_id, "status": status.value, "error_code": code,
                "reason": type(exc).__name__})
        try:
            client.sendall(error_response_bytes(status, code, text, request_id))
            _linger(client)
        except OSError:
            log.debug("could not send the error answer", extra={"request_id": request_id})


def _linger(client: socket.socket) -> None:
    """Half-close, then drop what the client still sends, briefly: closing a socket with unread data
    makes the kernel send a reset, which can destroy the answer before the client reads it."""
    deadline = time.monotonic() + LINGER_SECONDS
    received = 0
    try:
        client.shutdown(socket.SHUT_WR)
        while received < LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
            client.settimeout(remaining)
            chunk = client.recv(65536)
            if not chunk:
                return
            received += len(chunk)
    except OSError:  # timed out, or the client is gone: either way, done
        return
