"""JSON responses, built directly: the service answers JSON on every path, so this is the hot path."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response

# One encoder for all responses: json.dumps() with non-default options builds a new encoder per call.
# Compact separators, keys in the order written (flask.jsonify would sort them and costs ~50% more).
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode_json(payload: Mapping[str, Any]) -> str:
    return _ENCODER.encode(payload)


def json_response(payload: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(encode_json(payload), status=status, headers=headers, mimetype="application/json")
