"""The API's contract: the OpenAPI 3.1 document shipped in this package (openapi.json), served as is.

The file is the source of truth for paths, status codes and the error shape: the tests run schemathesis
against the running service with it and check README.md and docs/CONTRACTS.md against it.
"""

from __future__ import annotations

import json
from importlib import resources

DOCUMENT_NAME = "openapi.json"


def load_document() -> bytes:
    """The document's bytes, read once per application; a file that is not a JSON object stops create_app()."""
    content = resources.files("mirror_service").joinpath(DOCUMENT_NAME).read_bytes()
    if not isinstance(json.loads(content), dict):
        raise ValueError(f"mirror_service/{DOCUMENT_NAME} is not a JSON object")
    return content
