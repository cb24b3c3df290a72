"""The HTTP endpoints. Each one validates its input and answers JSON; errors go through errors.py."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from flask import Blueprint, Response, current_app, request

from mirror_service import idempotency
from mirror_service.config import Settings
from mirror_service.errors import ApiError
from mirror_service.lifecycle import Readiness
from mirror_service.observability import Metrics, current_request_id
from mirror_service.responses import encode_json, json_response
from mirror_service.storage import Storage, StorageError, StorageOutcomeUnknown, StoredObject
from mirror_service.transform import mirror

log = logging.getLogger(__name__)
api = Blueprint("api", __name__)

SERVICE_NAME = "mirror-service"
_AUTH_REALM = f'Bearer realm="{SERVICE_NAME}"'
# StorageError code → status, message and headers of the answer. Only "unavailable" is worth a retry:
# nothing was stored. An unknown outcome is answered apart (_outcome_unknown).
_UPLOAD_FAILURES = {
    "storage_not_configured": (503, "No bucket is configured for uploads.", {}),
    "storage_unavailable": (503, "The storage is not available; nothing was stored; try again later.",
                            {"Retry-After": "5"}),
    "storage_rejected": (502, "The storage refused the upload.", {}),
}


@dataclass(frozen=True)
class Services:
    """What the routes work with; one per application, kept in `app.extensions`."""

    settings: Settings
    storage: Storage
    readiness: Readiness
    metrics: Metrics
    api_document: bytes  # the OpenAPI document (contract.py)


def services() -> Services:
    return current_app.extensions["mirror_service"]


def _get(rule: str):
    # No automatic OPTIONS: it would answer 200 with an empty, non-JSON body. OPTIONS gets a JSON 405.
    return api.get(rule, provide_automatic_options=False)


@_get("/api/health")
def health() -> Response:
    """Liveness: the process answers HTTP. Deliberately checks nothing else."""
    return json_response({"status": "ok"})


@_get("/api/ready")
def ready() -> Response:
    status = services().readiness.status()
    if not status.ready:
        raise ApiError(503, status.code, status.message)
    return json_response({"status": "ready"})


@_get("/api/version")
def version() -> Response:
    return json_response({"service": SERVICE_NAME, "version": services().settings.app_version})


MIRROR_PATH = "/api/mirror"


@_get(MIRROR_PATH)
def mirror_word() -> Response:
    word = _word_from_query(request.query_string, services().settings.max_word_length)
    return json_response(_mirrored(word))


def _mirrored(word: str) -> dict[str, str]:
    return {"transformed": mirror(word)}


class DirectMirror:
    """WSGI layer in front of Flask that answers a valid `GET /api/mirror` itself; everything else goes on.

    Flask's per-request machinery (request and app contexts, URL adapter, session, signals, response
    object) cost 370,000 instructions per mirror request, a third of the whole and nearly three times
    the log line, metrics and request id together (bench/instructions.py, bench/README.md).
    The answer here is the one the Flask route gives, byte for byte, headers included
    (tests/app/test_direct_mirror.py holds the two equal). Anything but a valid word (a 400, or a bug) is
    handed to Flask unchanged, so every error keeps its shape, its handler and its log line.
    """

    _HEADERS = ("Content-Type", "application/json")

    def __init__(self, flask_wsgi_app: Callable, max_word_length: int):
        self.flask_wsgi_app = flask_wsgi_app
        self.max_word_length = max_word_length

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != MIRROR_PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.flask_wsgi_app(environ, start_response)
        try:
            # As werkzeug reads it (Request.query_string): WSGI gives the query as latin-1 decoded bytes.
            word = _word_from_query(environ.get("QUERY_STRING", "").encode("latin-1"), self.max_word_length)
            body = encode_json(_mirrored(word)).encode()
        except Exception:  # noqa: BLE001 - Flask answers it below, through the route and the error handlers
            body = None
        if body is None:  # outside the except block: Flask's own error, if any, must not chain to this one
            return self.flask_wsgi_app(environ, start_response)
        start_response("200 OK", [self._HEADERS, ("Content-Length", str(len(body)))])
        return [body]


@api.post("/api/upload-random", provide_automatic_options=False)
def upload_random() -> Response:
    """Store a random number; with an Idempotency-Key, at most once per key and token (idempotency.py)."""
    found = services()
    _authorize(found.settings.upload_token)
    if request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        raise ApiError(400, "body_not_allowed", "This endpoint takes no request body.")
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    name = idempotency.object_name(key, found.settings.upload_token) if key is not None else None
    request_id = current_request_id()
    try:
        stored = found.storage.upload_random_number(request_id, name)
    except StorageOutcomeUnknown as error:
        found.metrics.uploads.labels("unknown").inc()
        log.warning("upload outcome unknown", extra={"request_id": request_id, "detail": error.detail})
        return _outcome_unknown(found.settings.s3_bucket, error.key, keyed=key is not None)
    except StorageError as error:
        found.metrics.uploads.labels("failed").inc()
        log.warning("upload failed", extra={"request_id": request_id, "error_code": error.code,
                                            "detail": error.detail})
        status, message, headers = _UPLOAD_FAILURES[error.code]
        raise ApiError(status, error.code, message, headers) from error
    # Stored objects are counted once: a replay of an idempotency key stores nothing.
    found.metrics.uploads.labels("succeeded" if stored.created else "replayed").inc()
    return _stored(stored)


def _stored(stored: StoredObject) -> Response:
    return json_response({"bucket": stored.bucket, "key": stored.key, "value": stored.value}, 201)


def _outcome_unknown(bucket: str | None, key: str, keyed: bool) -> Response:
    """S3 got the write but did not answer: it may be stored. Never a "try again" 503, which would make
    a retry store a second object; with an idempotency key, retrying is exactly what to do."""
    if keyed:
        raise ApiError(503, "upload_outcome_unknown", "The storage did not confirm the upload in time; "
                       "retry with the same Idempotency-Key: it answers with the object if it was stored, "
                       "and never stores a second one.", {"Retry-After": "2"})
    return json_response({"outcome": "unknown", "bucket": bucket, "key": key,
                          "message": "The storage did not confirm the upload in time; it may still be "
                                     "stored under this key. Check the key before uploading again, or send "
                                     "an Idempotency-Key header to make retries safe."}, 202)


@_get("/api/openapi.json")
def openapi_document() -> Response:
    """The API's OpenAPI 3.1 document (contract.py), the bytes of the shipped file."""
    return Response(services().api_document, mimetype="application/json")


@_get("/metrics")
def metrics() -> Response:
    return services().metrics.exposition()


def _authorize(expected_token: str | None) -> None:
    """Require `Authorization: Bearer <UPLOAD_TOKEN>` when a token is configured (RFC 6750 answers)."""
    if expected_token is None:
        return
    header = request.headers.get("Authorization")
    if not header:
        raise ApiError(401, "missing_token", "This endpoint needs an 'Authorization: Bearer <token>' header.",
                       {"WWW-Authenticate": _AUTH_REALM})
    scheme, _, credentials = header.partition(" ")
    # compare_digest takes the same time wherever the strings differ, so timing reveals nothing.
    presented = credentials.strip().encode("utf-8", "surrogatepass")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented, expected_token.encode()):
        raise ApiError(401, "invalid_token", "The bearer token is not valid.",
                       {"WWW-Authenticate": f'{_AUTH_REALM}, error="invalid_token"'})


def _word_from_query(query_string: bytes, max_length: int) -> str:
    """The `word` parameter, decoded strictly.

    Werkzeug's `request.args` replaces undecodable bytes with U+FFFD, which would turn `%ff` into a
    valid-looking word; this reads the raw query so that it becomes a 400 instead.
    """
    values = []
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        if unquote_to_bytes(name.replace(b"+", b" ")) == b"word":
            values.append(value)
    if not values:
        raise ApiError(400, "missing_word", "The query parameter 'word' is required.")
    if len(values) > 1:
        raise ApiError(400, "ambiguous_word", "The query parameter 'word' must be given once.")
    try:
        word = unquote_to_bytes(values[0].replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_word_encoding", "'word' is not valid UTF-8 after percent-decoding.") from None
    if not word:
        raise ApiError(400, "empty_word", "The query parameter 'word' must not be empty.")
    if len(word) > max_length:
        raise ApiError(400, "word_too_long", f"'word' is longer than {max_length} characters.")
    return word
