"""`Idempotency-Key` for POST /api/upload-random (IETF httpapi draft "The Idempotency-Key HTTP Header Field").

The same key, sent with the same token, always names the same S3 object: the object key is derived
from both, and S3 stores it only if it does not exist yet (conditional PutObject, `If-None-Match: *`).
So a retry, or two attempts at once, can never store a second object, and no database is needed: the
bucket itself remembers which keys were used, for as long as the object lives (the bucket's expiration
rule; docs/CONTRACTS.md).

Scope: the upload token. Clients holding different tokens cannot collide or see each other's objects;
clients sharing a token share its key space (as the draft's "per client" scoping, where the token is the
client). The object key is an HMAC of the idempotency key under the token, so it reveals neither.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from mirror_service.errors import ApiError

HEADER = "Idempotency-Key"
# The draft makes the value a Structured Field String (RFC 8941: "..." of printable ASCII); many clients
# send the bare value, which is accepted too. No backslash escapes, no commas (two keys), 1-255 characters.
_QUOTED = re.compile(r'"([\x20\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]{1,255})"')
_BARE = re.compile(r"[\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]{1,255}")


def parse_key(header_value: str | None) -> str | None:
    """The idempotency key a request carries, None without one; ApiError 400 if it is malformed."""
    if header_value is None:
        return None
    value = header_value.strip()
    quoted = _QUOTED.fullmatch(value)
    if quoted:
        return quoted.group(1)
    if _BARE.fullmatch(value):
        return value
    raise ApiError(400, "invalid_idempotency_key",
                   f"{HEADER} must be one string of 1 to 255 printable ASCII characters, "
                   'e.g. Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324" (no commas or backslashes).')


def object_name(idempotency_key: str, token: str | None) -> str:
    """The object's name (under the prefix) for this key in this token's scope."""
    scope = (token or "").encode("utf-8", "surrogatepass")
    digest = hmac.new(scope, idempotency_key.encode(), hashlib.sha256).hexdigest()
    return f"idempotent/{digest}.txt"
