"""The GitLab pipeline, checked offline: GitLab's own schema, checkov's CI checks, and the job graph.

GitLab itself cannot run here, so these tests pin down the properties that matter to the people who
rely on the pipeline: nothing is applied that a person did not review as a plan, nothing is applied
unless validate and the whole test suite passed, every Terraform root is validated, and no static
cloud key is ever needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_FILE = REPO_ROOT / ".gitlab-ci.yml"
KEYWORDS = {"workflow", "stages", "variables", "default", "include"}


def _merge(base: dict, override: dict) -> dict:
    """GitLab's `extends`: hashes merge deeply, everything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return yaml.safe_load(PIPELINE_FILE.read_text())


@pytest.fixture(scope="module")
def jobs(pipeline) -> dict[str, dict]:
    """Visible jobs with `extends` resolved."""

    def resolve(name: str) -> dict:
        job = pipeline[name]
        parents = job.get("extends", [])
        resolved: dict = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            resolved = _merge(resolved, resolve(parent))
        return _merge(resolved, {k: v for k, v in job.items() if k != "extends"})

    return {name: resolve(name) for name in pipeline if name not in KEYWORDS and not name.startswith(".")}


def _needs(job: dict) -> list[str]:
    return [need if isinstance(need, str) else need["job"] for need in job.get("needs", [])]


def _script_text(job: dict) -> str:
    def flatten(lines):
        for line in lines or []:
            yield from flatten(line) if isinstance(line, list) else [line]

    return "\n".join(flatten(job.get("before_script", []))) + "\n" + "\n".join(flatten(job.get("script", [])))


def _upstream(jobs: dict, name: str) -> set[str]:
    seen: set[str] = set()
    stack = _needs(jobs[name])
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(_needs(jobs[current]))
    return seen


def test_pipeline_matches_gitlab_schema():
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci",
         "--regex-variant", "nonunicode", str(PIPELINE_FILE)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_gitlab_ci_checks_pass(tmp_path):
    checkov = os.environ.get("CHECKOV_BIN") or str(REPO_ROOT / ".venv-checkov/bin/checkov")
    if not Path(checkov).exists():
        pytest.fail(f"checkov not found at {checkov}; run `make tools`")
    shutil.copy(PIPELINE_FILE, tmp_path / ".gitlab-ci.yml")
    result = subprocess.run(
        [checkov, "--framework", "gitlab_ci", "--skip-download", "-d", str(tmp_path), "-o", "json", "--quiet"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    report = json.loads(result.stdout)
    summary = report.get("summary", report)
    failed = [f"{c['check_id']} {c['check_name']}" for c in report.get("results", {}).get("failed_checks", [])]
    assert summary["passed"] > 0, "checkov parsed no job: the file uses something its parser cannot read"
    assert summary["failed"] == 0, failed


def test_every_job_runs_in_a_declared_stage_and_needs_only_earlier_jobs(pipeline, jobs):
    stages = pipeline["stages"]
    assert stages == ["validate", "test", "build", "plan", "apply"]
    for name, job in jobs.items():
        assert job.get("stage") in stages, f"{name} has no declared stage"
        for needed in _needs(job):
            assert needed in jobs, f"{name} needs {needed}, which does not exist"
            assert stages.index(jobs[needed]["stage"]) <= stages.index(job["stage"]), f"{name} needs a later job"


def test_apply_runs_only_a_reviewed_plan_after_validate_and_tests(jobs):
    applies = [name for name in jobs if jobs[name]["stage"] == "apply"]
    assert applies, "the pipeline has no apply job"
    for name in applies:
        job = jobs[name]
        plan_job = name.replace("apply", "plan")
        assert _needs(job) == [plan_job], f"{name} must apply exactly {plan_job}'s artifact"
        assert {"fmt", "validate", "test"} <= _upstream(jobs, name), f"{name} can run before validation and tests"
        rules = job["rules"]
        assert all(rule.get("when") == "manual" for rule in rules), f"{name} must be manual"
        assert all("$CI_DEFAULT_BRANCH" in rule["if"] for rule in rules), f"{name} must run on the default branch only"
        script = _script_text(job)
        assert "apply -input=false -lock-timeout=120s plan.cache" in script
        assert "-auto-approve" not in script and " plan " not in script.split("apply", 1)[1]
        assert job["resource_group"] == jobs[plan_job]["resource_group"], "plan and apply must serialise on one state"
        assert job["environment"]["action"] == "start" and jobs[plan_job]["environment"]["action"] == "prepare"


def test_plan_keeps_the_plan_file_and_reports_it_to_the_merge_request(jobs):
    for name in (n for n in jobs if jobs[n]["stage"] == "plan"):
        artifacts = jobs[name]["artifacts"]
        assert any(path.endswith("plan.cache") for path in artifacts["paths"])
        assert artifacts["reports"]["terraform"].endswith("plan.json")
        assert artifacts["access"] == "developer", "plan files can hold sensitive values: not for guests"
        assert "-out=plan.cache" in _script_text(jobs[name])


def test_test_job_runs_the_readme_test_command(jobs):
    assert "make test" in _script_text(jobs["test"])
    assert (REPO_ROOT / ".ci/run").read_text().strip().endswith("make test")


def test_validate_covers_every_terraform_root_and_module(jobs):
    roots = {
        str(path.parent.relative_to(REPO_ROOT))
        for top in ("modules", "envs")
        for path in (REPO_ROOT / top).rglob("*.tf")
        if not ({"examples", ".terraform"} & set(path.relative_to(REPO_ROOT).parts))
    }
    matrix = {root for entry in jobs["validate"]["parallel"]["matrix"] for root in entry["ROOT"]}
    assert roots, "found no Terraform directories"
    assert roots == matrix, f"validate misses {sorted(roots - matrix)} / lists unknown {sorted(matrix - roots)}"


def test_cloud_access_uses_oidc_never_static_keys(jobs):
    text = PIPELINE_FILE.read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for name in (n for n in jobs if jobs[n]["stage"] in ("plan", "apply")):
        job = jobs[name]
        assert job["id_tokens"]["AWS_OIDC_TOKEN"]["aud"] == "sts.amazonaws.com"
        assert job["variables"]["AWS_ROLE_ARN"].startswith("$AWS_")


def test_image_is_built_only_after_tests_on_the_default_branch_or_a_tag(jobs):
    build = jobs["build"]
    assert _needs(build) == ["test"]
    assert {rule["if"] for rule in build["rules"]} == {"$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "$CI_COMMIT_TAG"}
