"""checkov (offline, kubernetes framework) over the manifests of every value set: no failed check, and every
skipped check is one we rendered a reason for."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.processes import REPO_ROOT
from tests.modules.kubernetes_app import rendering

# Checks the chart skips on purpose, via `checkov.io/skipN` annotations rendered next to the reason:
#  CKV_K8S_43 image digest: only while image.digest is empty (dev); prod pins a digest and is checked.
#  CKV_K8S_15 pull policy Always: IfNotPresent on purpose (immutable tags or a digest; restarts must not
#             depend on the registry).
#  CKV_K8S_35 secrets as files: the service reads UPLOAD_TOKEN from its environment by contract; each
#             variable is a secretKeyRef, never a literal.
#  CKV_K8S_8/9 probes: only on the one-shot helm-test Pod.
EXPECTED_SKIPS = {
    "Deployment": {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_35"},
    "Pod": {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_8", "CKV_K8S_9"},
}


def _checkov_binary() -> str | None:
    configured = os.environ.get("CHECKOV_BIN")
    if configured:
        return configured
    candidate = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    return str(candidate) if candidate.exists() else shutil.which("checkov")


@pytest.fixture(scope="module")
def chart_checkov_report(tmp_path_factory) -> dict:
    """One checkov run (kubernetes framework, offline) over the manifests of every value set, one file per set."""
    binary = _checkov_binary()
    if not binary or not Path(binary).exists():
        pytest.fail("checkov is missing: run `make tools` (it installs .venv-checkov) or set CHECKOV_BIN")
    directory = tmp_path_factory.mktemp("rendered")
    for name, manifests in rendering.rendered_ci_sets().items():
        (directory / f"{name}.yaml").write_text(rendering.dump_all(manifests))
    result = subprocess.run(
        [binary, "--directory", str(directory), "--framework", "kubernetes", "--skip-download", "--output", "json"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    # Exit 1 means "findings"; the tests report them. Anything else without JSON is a broken run.
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov produced no JSON (exit {result.returncode}):\n{result.stderr[-3000:]}")
    reports = report if isinstance(report, list) else [report]
    kubernetes = [r for r in reports if r.get("check_type") == "kubernetes"]
    assert kubernetes, f"checkov ran no kubernetes checks: {result.stdout[:2000]}"
    return kubernetes[0]


def _describe(check: dict) -> str:
    return f"{check['check_id']} {check['check_name']} — {check['file_path']} {check['resource']}"


def test_checkov_finds_nothing(chart_checkov_report):
    failed = chart_checkov_report["results"]["failed_checks"]
    assert not failed, "checkov failed checks:\n" + "\n".join(_describe(c) for c in failed)
    assert chart_checkov_report["summary"]["parsing_errors"] == 0
    assert chart_checkov_report["summary"]["passed"] > 100, chart_checkov_report["summary"]


def test_checkov_scanned_every_value_set(chart_checkov_report):
    scanned = {check["file_path"].rsplit("/", 1)[-1].removesuffix(".yaml")
               for check in chart_checkov_report["results"]["passed_checks"]}
    assert scanned == set(rendering.rendered_ci_sets())


def test_every_skip_is_expected_and_carries_its_reason(chart_checkov_report):
    skipped = chart_checkov_report["results"]["skipped_checks"]
    for check in skipped:
        kind = check["resource"].split(".")[0]
        assert check["check_id"] in EXPECTED_SKIPS.get(kind, set()), f"unexpected skip: {_describe(check)}"
        reason = check["check_result"].get("suppress_comment") or ""
        assert len(reason) > 30, f"skip without a real reason: {_describe(check)}"


def test_digest_check_applies_when_a_digest_is_set(chart_checkov_report):
    """prod pins the image by digest, so CKV_K8S_43 must be evaluated (and pass) there, not skipped."""
    def prod_digest_checks(group):
        return [c for c in chart_checkov_report["results"][group]
                if c["check_id"] == "CKV_K8S_43" and c["file_path"].endswith("/prod.yaml")]
    assert not prod_digest_checks("skipped_checks")
    assert {c["resource"].split(".")[0] for c in prod_digest_checks("passed_checks")} == {"Deployment", "Pod"}
