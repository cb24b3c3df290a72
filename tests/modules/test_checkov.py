"""checkov (offline, --skip-download) finds nothing in the modules and the state-bucket root.

Skips are allowed only inline, inside the resource, with a reason (`#checkov:skip=CKV_...:reason`).
"""

from __future__ import annotations

from tests.modules.support import CHECKOV_TARGETS


def test_no_failed_checks(checkov_report):
    report = checkov_report.get()
    failed = report.get("results", {}).get("failed_checks", [])
    listing = "\n".join(
        f"  {check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']}:"
        f"{check['file_line_range'][0]})"
        for check in failed
    )
    assert report["summary"]["failed"] == 0, f"checkov failed checks in {', '.join(CHECKOV_TARGETS)}:\n{listing}"
    assert report["documents"] == len(CHECKOV_TARGETS), "checkov did not report on every target"
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 100, "checkov scanned suspiciously little"


def test_every_skip_is_inline_with_a_reason(checkov_report):
    skipped = checkov_report.get().get("results", {}).get("skipped_checks", [])
    assert skipped, "expected the documented inline skips"
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 30, f"{check['check_id']} on {check['resource']} is skipped without a real reason: {reason!r}"
