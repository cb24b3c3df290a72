"""Fixtures of the chart tests: every value set rendered once, and one checkov run over all of them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.processes import REPO_ROOT
from tests.chart import support


@pytest.fixture(scope="session")
def aws_env() -> dict[str, str]:
    """Overrides the shared fixture: nothing here talks to AWS, so `terraform_copy` must not start a moto server."""
    return {}


@pytest.fixture(scope="session")
def rendered_sets() -> dict[str, list[dict]]:
    """Value-set name → rendered manifests, for every `ci/*-values.yaml` (ci/minimal is the chart's defaults)."""
    return {name: support.render(values) for name, values in support.ci_value_sets().items()}


def checkov_binary() -> str | None:
    configured = os.environ.get("CHECKOV_BIN")
    if configured:
        return configured
    candidate = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    return str(candidate) if candidate.exists() else shutil.which("checkov")


@pytest.fixture(scope="session")
def checkov_report(rendered_sets, tmp_path_factory) -> dict:
    """One checkov run (kubernetes framework, offline) over the manifests of every value set, one file per set."""
    binary = checkov_binary()
    if not binary or not Path(binary).exists():
        pytest.fail("checkov is missing: run `make tools` (it installs .venv-checkov) or set CHECKOV_BIN")
    directory = tmp_path_factory.mktemp("rendered")
    for name, manifests in rendered_sets.items():
        (directory / f"{name}.yaml").write_text(support.dump_all(manifests))
    result = subprocess.run(
        [binary, "--directory", str(directory), "--framework", "kubernetes", "--skip-download", "--output", "json"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    # Exit 1 means "findings"; the test reports them. Anything else without JSON is a broken run.
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov produced no JSON (exit {result.returncode}):\n{result.stderr[-3000:]}")
    reports = report if isinstance(report, list) else [report]
    kubernetes = [r for r in reports if r.get("check_type") == "kubernetes"]
    assert kubernetes, f"checkov ran no kubernetes checks: {result.stdout[:2000]}"
    return kubernetes[0]
