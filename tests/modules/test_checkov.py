"""checkov (offline, --skip-download) finds nothing in the modules and the state-bucket root.

Skips are allowed only inline, inside the resource, with a reason (`#checkov:skip=CKV_...:reason`).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from harness.paths import CHECKOV_BIN, REPO_ROOT

# What checkov must find clean: every module (examples and the helm module included) and the state-bucket root.
TARGETS = ("modules", "envs/bootstrap")


def json_documents(text: str) -> list[dict]:
    """checkov prints one JSON document per --directory (each a report or a list of them), back to back."""
    decoder, documents, index = json.JSONDecoder(), [], 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return documents
        document, index = decoder.raw_decode(text, index)
        documents.extend(document if isinstance(document, list) else [document])


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    if not CHECKOV_BIN.exists():
        pytest.fail(f"checkov not found at {CHECKOV_BIN}; run `make tools` (it installs .venv-checkov)")
    args = [str(CHECKOV_BIN), "--framework", "terraform", "--skip-download", "--compact", "--output", "json"]
    for target in TARGETS:
        args += ["--directory", target]
    result = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"})
    documents = json_documents(result.stdout)
    assert documents, f"checkov printed no JSON report (exit {result.returncode}):\n{result.stdout[:2000]}\n{result.stderr[-3000:]}"
    return documents


def test_no_failed_checks(reports):
    failed = [check for report in reports for check in report.get("results", {}).get("failed_checks", [])]
    listing = "\n".join(f"  {check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']}:"
                        f"{check['file_line_range'][0]})" for check in failed)
    assert not failed, f"checkov failed checks in {', '.join(TARGETS)}:\n{listing}"
    assert len(reports) == len(TARGETS), "checkov did not report on every target"
    assert sum(report.get("summary", {}).get("parsing_errors", 0) for report in reports) == 0
    assert sum(report.get("summary", {}).get("passed", 0) for report in reports) > 100, "checkov scanned suspiciously little"


def test_every_skip_is_inline_with_a_reason(reports):
    skipped = [check for report in reports for check in report.get("results", {}).get("skipped_checks", [])]
    assert skipped, "expected the documented inline skips"
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 30, f"{check['check_id']} on {check['resource']} is skipped without a real reason: {reason!r}"
