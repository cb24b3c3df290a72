"""Writing the random-number objects to S3, and checking that the bucket is reachable.

One boto3 client per worker process, created on first use (never at import, never in the gunicorn
master): clients are thread-safe but must not cross a fork. Every call has a small, explicit time
budget so that a dead or black-holed endpoint turns into a 503 within 3 seconds instead of tying up a
worker thread (the worst cases are measured by tests/app/test_storage_budget.py).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.handlers import add_expect_header

from mirror_service.config import Settings

log = logging.getLogger(__name__)

# Time budget of one attempt: connect 1 s + read 1 s. botocore's own retries are off because its
# backoff before a retry is random up to 1 s, which would put a timed-out attempt plus a retry over the
# 3 s we promise; instead a failure that came back fast (refused, reset, 5xx, throttled) is retried
# once here, and a slow one is not. Worst case: 0.5 s + 0.1 s pause + 2 s = 2.6 s.
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 1.0
FAST_FAILURE_SECONDS = 0.5
RETRY_PAUSE_SECONDS = (0.02, 0.1)
# An upper bound, not a pre-allocation: enough for every gunicorn thread of a worker to have a connection.
MAX_POOL_CONNECTIONS = 32
# S3 error codes that mean "try again later" rather than "this request is wrong".
_TRANSIENT_CODES = frozenset({
    "InternalError", "ServiceUnavailable", "SlowDown", "Throttling", "ThrottlingException",
    "RequestTimeout", "RequestTimeTooSkewed",
    # Two conditional writes of one key at once: S3 asks to retry (the retry then finds the object).
    "ConditionalRequestConflict",
})


class StorageError(Exception):
    """S3 could not be used; `code` is safe to show to clients, `detail` is for the log only."""

    code = "storage_error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class StorageNotConfigured(StorageError):
    code = "storage_not_configured"


class StorageUnavailable(StorageError):
    """Unreachable, too slow, throttled, or no credentials: a retry later may succeed."""

    code = "storage_unavailable"


class StorageOutcomeUnknown(StorageUnavailable):
    """PutObject was sent but no answer came (timed out, connection lost): S3 may have stored it."""

    code = "upload_outcome_unknown"

    def __init__(self, detail: str, key: str = ""):
        super().__init__(detail)
        self.key = key


class ObjectExists(StorageError):
    """A conditional PutObject found the key already stored (S3 412 PreconditionFailed)."""

    code = "object_exists"


class StorageRejected(StorageError):
    """S3 answered and refused (access denied, no such bucket, ...): a retry will not help."""

    code = "storage_rejected"


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    value: int
    created: bool = True  # False: an earlier request with the same idempotency key stored it


class Storage:
    """The S3 side of the service for one application instance."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client: BaseClient | None = None
        self._client_pid: int | None = None
        self._client_lock = threading.Lock()

    def client(self) -> BaseClient:
        """This process's client, created on first use; a forked child makes its own."""
        pid = os.getpid()
        if self._client is None or self._client_pid != pid:
            with self._client_lock:
                if self._client is None or self._client_pid != pid:
                    self._client = _new_client(self.settings)
                    self._client_pid = pid
        return self._client

    def _bucket(self) -> str:
        if not self.settings.s3_bucket:
            raise StorageNotConfigured("S3_BUCKET is not set")
        return self.settings.s3_bucket

    def check_bucket(self) -> None:
        """Raise a StorageError unless the bucket answers HeadBucket (needs s3:ListBucket on the bucket)."""
        bucket = self._bucket()
        self._call("HeadBucket", lambda: self.client().head_bucket(Bucket=bucket))

    def upload_random_number(self, request_id: str, name: str | None = None) -> StoredObject:
        """Write a new object holding a random integer, in one PutObject.

        Without `name` the key is `<prefix>YYYY/MM/DD/<uuid>.txt`. With `name` (an idempotency key's,
        see idempotency.py) the key is `<prefix><name>` and S3 writes it only if it does not exist
        (`If-None-Match: *`); if it does, the stored object is read back and returned (`created` False).

        One PutObject with Content-MD5 is all-or-nothing: S3 stores the object only if the body arrived
        whole and matches the digest, so a failure never leaves a partial object behind. No
        ServerSideEncryption parameter: the bucket's default encryption (SSE-S3 or SSE-KMS) applies.
        Raises StorageOutcomeUnknown (with the key) when S3 may have stored the object without saying so.
        """
        bucket = self._bucket()
        key = self.settings.s3_prefix + (name or f"{datetime.now(UTC):%Y/%m/%d}/{uuid.uuid4().hex}.txt")
        value = secrets.randbelow(1_000_000_000)
        body = f"{value}\n".encode()
        digest = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        condition = {"IfNoneMatch": "*"} if name else {}
        try:
            # Retrying is safe: the same key with the same body (or, conditional, no second write at all).
            self._call("PutObject", lambda: self.client().put_object(
                Bucket=bucket, Key=key, Body=body, ContentMD5=digest, **condition,
                ContentType="text/plain; charset=utf-8", Metadata={"request-id": request_id},
            ))
        except ObjectExists:
            return StoredObject(bucket=bucket, key=key, value=self._stored_value(bucket, key), created=False)
        except StorageOutcomeUnknown as error:
            error.key = key
            raise
        return StoredObject(bucket=bucket, key=key, value=value)

    def _stored_value(self, bucket: str, key: str) -> int:
        found = {}
        self._call("GetObject", lambda: found.setdefault(
            "body", self.client().get_object(Bucket=bucket, Key=key)["Body"].read()))
        return int(found["body"])

    @staticmethod
    def _call(operation: str, call: Callable[[], object]) -> None:
        """`call()` with StorageErrors instead of botocore's, retried once if it failed fast."""
        started = time.monotonic()
        try:
            with _translated_errors(operation):
                call()
                return
        except StorageUnavailable:
            if time.monotonic() - started > FAST_FAILURE_SECONDS:
                raise
        time.sleep(random.uniform(*RETRY_PAUSE_SECONDS))  # jitter, not a secret: `random` is right here
        with _translated_errors(operation):
            call()


@contextmanager
def _translated_errors(operation: str) -> Iterator[None]:
    """Turn botocore's exceptions into the StorageError kinds the routes answer with."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        detail = f"{operation} failed: S3 answered {status} {code}"
        if code == "PreconditionFailed":
            raise ObjectExists(detail) from error
        if status >= 500 or code in _TRANSIENT_CODES:
            raise StorageUnavailable(detail) from error
        raise StorageRejected(detail) from error
    except (ReadTimeoutError, ConnectionClosedError) as error:
        # The request went out; whether S3 acted on it is unknown (for a write: it may be stored).
        raise StorageOutcomeUnknown(f"{operation} sent, no answer: {type(error).__name__}") from error
    except BotoCoreError as error:
        # Connection refused/reset, timeouts, no credentials, DNS: the storage cannot be reached now.
        raise StorageUnavailable(f"{operation} failed: {type(error).__name__}: {error}") from error


def _new_client(settings: Settings) -> BaseClient:
    emulator_options = {}
    if settings.s3_endpoint_url:
        # Emulators and S3-compatible stores: path-style addressing (no bucket subdomains on localhost)
        # and checksums only where the API requires them (boto3 >= 1.36 adds CRC32 by default, which
        # some of them reject). On real AWS the defaults stay.
        emulator_options = {
            "s3": {"addressing_style": "path"},
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
    config = Config(
        region_name=settings.aws_region,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=MAX_POOL_CONNECTIONS,
        **emulator_options,
    )
    client = _session().client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
    # For a 10-byte body, "Expect: 100-continue" only adds a round trip, and against an endpoint that
    # never answers it costs a whole extra read timeout before the body is even sent.
    client.meta.events.unregister("before-call.s3", add_expect_header)
    return client


def _session() -> boto3.session.Session:
    """A private session (the default one is shared module state); credentials come from the usual chain."""
    if "AWS_PROFILE" in os.environ and not os.environ["AWS_PROFILE"].strip():
        # Tooling renders "no profile" as AWS_PROFILE=""; botocore would look for a profile named "".
        # Consistent with our own rule that an empty variable counts as unset, ignore it.
        return boto3.session.Session(botocore_session=botocore.session.Session(
            session_vars={"profile": (None, None, None, None)}))
    return boto3.session.Session()
