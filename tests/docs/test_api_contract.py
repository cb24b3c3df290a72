"""README.md's API table and docs/CONTRACTS.md's HTTP section agree with the OpenAPI document, the contract.

app/mirror_service/openapi.json is the source of truth (the service serves it; tests/app/test_openapi.py
holds the running service to it). Here the prose is checked against it, in both directions:

- every operation (method and path) has a row in each table, and no row names one the document lacks;
- a row mentions every status code its operation answers, except those every operation shares (the
  errors gunicorn answers before the app, 500) and those of any path (`x-any-path-responses`: 404, 405),
  which the text around the table must mention instead; a row mentions no status its operation lacks;
- CONTRACTS.md also names each row's error codes (`error.code`), and the shared ones around the table.

A failure says which file, which row and what to add or remove.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.paths import APP_DIR, REPO_ROOT

DOCUMENT = APP_DIR / "mirror_service" / "openapi.json"
DOCUMENT_NAME = "app/mirror_service/openapi.json"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# A status code standing alone, not a digit group of a larger number (1,024, 12,800).
STATUS = re.compile(r"(?<![\w.])(?<!\d,)[1-5]\d\d(?!\w|[,.]\d)")
ERROR_CODE = re.compile(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`")
ROW_OPERATION = re.compile(r"`(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) (/[^`?\s]*)[^`]*`")


@dataclass(frozen=True)
class Contract:
    operations: dict[str, dict[int, set[str]]]  # "GET /api/ready" → status → error codes
    shared: dict[int, set[str]]  # answered by every operation, or on any path (404, 405)


def _resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        target: dict = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _error_codes(doc: dict, response: dict) -> set[str]:
    """The `error.code` values a response's JSON schema allows (its enum), none for a success."""
    codes: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            node = _resolve(doc, node)
            code = node.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
            codes.update(code.get("enum", ()))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(_resolve(doc, response).get("content", {}))
    return codes


def contract() -> Contract:
    doc = json.loads(DOCUMENT.read_text())
    operations = {
        f"{method.upper()} {path}": {int(status): _error_codes(doc, response)
                                     for status, response in operation["responses"].items()}
        for path, item in doc["paths"].items() for method, operation in item.items() if method in HTTP_METHODS
    }
    common = set.intersection(*(set(answers) for answers in operations.values()))
    shared = {status: set.intersection(*(answers[status] for answers in operations.values())) for status in common}
    shared.update({int(status): _error_codes(doc, response)
                   for status, response in doc.get("x-any-path-responses", {}).items()})
    return Contract(operations, shared)


def section(path: Path, heading: str) -> str:
    text = path.read_text()
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def table_rows(text: str) -> dict[str, str]:
    """`METHOD /path` → the rest of the row, for each table row whose first cell names operations."""
    rows = {}
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        first, _, rest = line[2:].partition(" | ")
        for method, path in ROW_OPERATION.findall(first):
            rows[f"{method} {path}"] = rest
    return rows


def status_problems(where: str, text: str, contract: Contract) -> list[str]:
    rows = table_rows(text)
    problems = [f"{where}: no row for `{operation}`, which {DOCUMENT_NAME} documents; add one"
                for operation in contract.operations if operation not in rows]
    problems += [f"{where}: the row `{operation}` names an operation {DOCUMENT_NAME} does not document; remove "
                 f"the row or add the operation to the document" for operation in rows if operation not in
                 contract.operations]
    for operation, row in rows.items():
        answers = contract.operations.get(operation)
        if answers is None:
            continue
        mentioned = {int(code) for code in STATUS.findall(row)}
        for status in sorted(set(answers) - set(contract.shared) - mentioned):
            problems.append(f"{where}: the row `{operation}` does not mention {status}, which {DOCUMENT_NAME} "
                            f"says it answers; add it")
        for status in sorted(mentioned - set(answers)):
            problems.append(f"{where}: the row `{operation}` mentions {status}, which {DOCUMENT_NAME} does not "
                            f"list for it; remove it, or add that response to the document")
    mentioned_anywhere = {int(code) for code in STATUS.findall(text)}
    for status in sorted(set(contract.shared) - mentioned_anywhere):
        problems.append(f"{where}: {status} is answered on every path ({DOCUMENT_NAME}) but never mentioned; "
                        f"add it to the text about errors answered everywhere")
    return problems


def error_code_problems(where: str, text: str, contract: Contract) -> list[str]:
    shared_codes = set().union(*contract.shared.values())
    problems = []
    for operation, row in table_rows(text).items():
        answers = contract.operations.get(operation)
        if answers is None:
            continue
        own = set().union(*answers.values()) - shared_codes
        named = set(ERROR_CODE.findall(row))
        problems += [f"{where}: the row `{operation}` does not name the error code `{code}`, which "
                     f"{DOCUMENT_NAME} lists for it; add it" for code in sorted(own - named)]
        problems += [f"{where}: the row `{operation}` names the error code `{code}`, which {DOCUMENT_NAME} does "
                     f"not list for it; remove it, or add it to the response's `code` enum"
                     for code in sorted(named - own - shared_codes)]
    named_anywhere = set(ERROR_CODE.findall(text))
    problems += [f"{where}: the shared error code `{code}` ({DOCUMENT_NAME}) is never named; add it"
                 for code in sorted(shared_codes - named_anywhere)]
    return problems


def test_the_document_is_what_these_checks_expect():
    found = contract()
    assert {"GET /api/health", "GET /api/ready", "GET /api/mirror", "POST /api/upload-random", "GET /api/version",
            "GET /metrics", "GET /api/openapi.json"} == set(found.operations)
    # The errors answered before the app, on every operation, and those of any path.
    assert {400, 404, 405, 413, 414, 417, 431, 500} == set(found.shared)
    assert found.shared[414] == {"request_line_too_long"}


def test_readme_api_table_agrees_with_the_openapi_document():
    problems = status_problems("README.md (The API in one screen)",
                               section(REPO_ROOT / "README.md", "## The API in one screen"), contract())
    assert not problems, "\n".join(problems)


def test_contracts_http_section_agrees_with_the_openapi_document():
    text = section(REPO_ROOT / "docs" / "CONTRACTS.md", "## HTTP")
    found = contract()
    problems = status_problems("docs/CONTRACTS.md (HTTP)", text, found)
    problems += error_code_problems("docs/CONTRACTS.md (HTTP)", text, found)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.replace("| `GET /api/version` | `200`: the build's version |\n", ""),
     "no row for `GET /api/version`"),
    (lambda t: t.replace("`503` when it is unavailable or not configured", "more"),
     "the row `POST /api/upload-random` does not mention 503"),
    (lambda t: t.replace("`200`: the build's version", "`200` or `418`"),
     "the row `GET /api/version` mentions 418"),
    (lambda t: t.replace("| `GET /metrics` |", "| `GET /metrics`, `DELETE /metrics` |"),
     "the row `DELETE /metrics` names an operation"),
    (lambda t: t.replace("path does not take → 405", "path does not take → an error"),
     "405 is answered on every path"),
])
def test_a_drift_in_the_readme_is_named(change, expected):
    text = section(REPO_ROOT / "README.md", "## The API in one screen")
    changed = change(text)
    assert changed != text, "the mutation no longer applies to README.md: update this test"
    problems = status_problems("README.md", changed, contract())
    assert any(expected in problem for problem in problems), problems


def test_a_drift_in_contracts_error_codes_is_named():
    text = section(REPO_ROOT / "docs" / "CONTRACTS.md", "## HTTP")
    changed = text.replace("`missing_word`, ", "").replace("`storage_rejected`; 503", "`storage_gone`; 503")
    problems = error_code_problems("CONTRACTS.md", changed, contract())
    assert any("does not name the error code `missing_word`" in problem for problem in problems), problems
    assert any("names the error code `storage_gone`" in problem for problem in problems), problems
