"""The pipeline's cloud-free jobs, run for real by gitlab-ci-local on a clean copy of the repository.

`lint`, `validate` and `plan:sandbox` (the plan job template pointed at a moto server) run on this
machine with GitLab's semantics (`--force-shell-executor`); the tests assert their exit codes and the
artifacts they leave. Then the apply job's own command (`make apply ENV=sandbox`) is run against that
plan: it refuses a plan made from another commit or altered, and applies exactly the reviewed plan.

Secrets: the copy gets a sensitive input the sandbox does not have (`PROBE`, appended to its variables.tf, test wiring
only) set to a known value through TF_VAR_upload_token, the way GitLab passes a masked variable. The
value must appear in no file the jobs keep, in none of their output, and in no file left in the copy;
the test also proves it was really in the plan (inside the encrypted plan file), so the check can fail.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import zipfile
from pathlib import Path

import boto3
import pytest
from cryptography.fernet import Fernet

from harness import ci_local, processes, terraform, tools

pytestmark = pytest.mark.slow

SECRET = f"upload-token-{secrets.token_hex(12)}"
KEY = Fernet.generate_key().decode()
BUCKET = f"ci-plan-{secrets.token_hex(4)}"
# Test wiring only (tests/ci): a sensitive input, passed as TF_VAR_upload_token like a masked CI variable,
# appended where tflint's standard module structure wants a root's variables and outputs (the lint job runs it).
PROBE = {
    "envs/sandbox/variables.tf": """
variable "upload_token" {
  description = "Test wiring only (tests/ci): a sensitive input."
  type        = string
  sensitive   = true
}
""",
    "envs/sandbox/outputs.tf": """
output "upload_token_probe" {
  description = "Test wiring only (tests/ci): the sensitive input, as an output."
  value       = var.upload_token
  sensitive   = true
}
""",
}
KEPT = ("plan.cache.enc", "plan.meta.json", "plan.txt", ".terraform.lock.hcl")



@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    server = processes.start_moto(tmp_path_factory.mktemp("ci-moto"))
    yield server
    server.stop(timeout=10)  # the applied bucket goes with the emulator


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, emulator):
    missing = ci_local.missing_tools()
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"gitlab-ci-local needs {', '.join(missing)}")
    repo = ci_local.clean_copy(tmp_path_factory.mktemp("ci-jobs") / "repo")
    for path, addition in PROBE.items():
        with (repo / path).open("a") as handle:
            handle.write(addition)
    commit = ci_local.commit(repo, "test wiring: a sensitive sandbox input")
    run = ci_local.run(repo, "--force-shell-executor", "lint", "validate", "plan:sandbox", variables={
        # The lint job's own cache of the Go-built tools starts empty in a fresh copy; here it reuses the
        # machine's (the build itself is tested in tests/harness/test_tools.py).
        "MIRROR_KIT_TOOLS_DIR": str(tools.cache_root()),
        **{name: _go_env(name) for name in ("GOMODCACHE", "GOCACHE")},
        "TF_CLI_CONFIG_FILE": str(terraform.cli_config_file()),
        "TF_VAR_upload_token": SECRET,
        "PLAN_ENCRYPTION_KEY": KEY,
        "TF_VAR_emulator_endpoint": emulator.url,
        "TF_VAR_bucket_name": BUCKET,
    })
    return run, commit


def _go_env(name: str) -> str:
    return subprocess.run(["go", "env", name], capture_output=True, text=True, check=True).stdout.strip()


def _kept(run: ci_local.JobRun) -> Path:
    """plan:sandbox's exported artifacts (gitlab-ci-local keeps one directory per job)."""
    [kept] = [meta.parent for meta in (run.repo / ".gitlab-ci-local/artifacts").glob("*/envs/sandbox/plan.meta.json")]
    return kept


def test_cloud_free_jobs_pass(pipeline):
    run, _ = pipeline
    assert run.returncode == 0, run.output[-6000:]
    for job in ("lint", "validate", "plan:sandbox"):
        assert f"PASS  {job}" in run.output
    assert "ok    modules/s3-staging/examples/complete" in run.output, "validate skipped the examples"
    assert "ok    modules/kubernetes-app/examples/minikube" in run.output, "validate skipped the helm roots"
    assert "ok    envs/sandbox" in run.output


def test_plan_job_keeps_the_gitlab_report_a_readable_plan_and_an_encrypted_plan(pipeline):
    run, commit = pipeline
    kept = _kept(run)
    assert sorted(path.name for path in kept.iterdir()) == sorted(KEPT)
    # GitLab's parser needs exactly these keys (gitlabhq lib/gitlab/ci/parsers/terraform/tfplan.rb)
    report = json.loads((run.repo / "envs/sandbox/plan.json").read_text())
    assert report == {"create": 7, "update": 0, "delete": 0}
    readable = (kept / "plan.txt").read_text()
    assert "Plan: 7 to add, 0 to change, 0 to destroy." in readable
    assert "upload_token_probe" in readable and "(sensitive value)" in readable
    meta = json.loads((kept / "plan.meta.json").read_text())
    assert meta["commit"] == commit and meta["applicable"] is True
    assert not (run.repo / "envs/sandbox/plan.cache").exists(), "the plain plan file outlived the job"


def test_the_secret_is_in_no_kept_file_no_output_and_no_file_left_behind(pipeline):
    run, _ = pipeline
    assert SECRET not in run.output
    leaked = [str(path.relative_to(run.repo)) for path in run.repo.rglob("*")
              if path.is_file() and ".git" not in path.relative_to(run.repo).parts[:1]
              and SECRET.encode() in path.read_bytes()]
    assert leaked == []
    # ...and it really was in the plan: Terraform stores every input variable in the plan file.
    payload = Fernet(KEY.encode()).decrypt((_kept(run) / "plan.cache.enc").read_bytes())
    plan_zip = zipfile.ZipFile(io.BytesIO(payload.partition(b"\n")[2]))
    assert any(SECRET.encode() in plan_zip.read(name) for name in plan_zip.namelist())


def _apply(repo: Path, commit: str, key: str = KEY) -> subprocess.CompletedProcess:
    env = terraform.terraform_env(VENV=str(processes.REPO_ROOT / ".venv"), CI_COMMIT_SHA=commit,
                                  PLAN_ENCRYPTION_KEY=key)
    return subprocess.run(["make", "--no-print-directory", "apply", "ENV=sandbox"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def _buckets(emulator) -> list[str]:
    s3 = boto3.client("s3", **{"endpoint_url": emulator.url, "region_name": "us-east-1",
                               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
    return [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]


def test_apply_refuses_a_plan_made_from_another_commit(pipeline, emulator):
    run, commit = pipeline
    result = _apply(run.repo, "0" * 40)
    assert result.returncode != 0
    assert f"refusing to apply: the plan was made from commit {commit}" in result.stderr
    assert BUCKET not in _buckets(emulator)


def test_apply_refuses_a_plan_it_cannot_authenticate(pipeline, emulator):
    run, commit = pipeline
    result = _apply(run.repo, commit, key=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "was not encrypted with this PLAN_ENCRYPTION_KEY or was altered" in result.stderr
    assert BUCKET not in _buckets(emulator)


def test_apply_installs_only_the_provider_versions_locked_with_the_plan(pipeline, emulator):
    run, commit = pipeline
    lock_file = run.repo / "envs/sandbox/.terraform.lock.hcl"
    lock = lock_file.read_text()
    assert 'version     = "5.100.0"' in lock
    lock_file.write_text(lock.replace('version     = "5.100.0"', 'version     = "5.99.0"'))
    try:
        result = _apply(run.repo, commit)
    finally:
        lock_file.write_text(lock)
    assert result.returncode != 0
    assert "5.99.0" in result.stdout + result.stderr
    assert BUCKET not in _buckets(emulator)


def test_apply_applies_exactly_the_reviewed_plan_with_the_lock_it_travelled_with(pipeline, emulator):
    run, commit = pipeline
    lock = (run.repo / "envs/sandbox/.terraform.lock.hcl").read_text()
    result = _apply(run.repo, commit)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "Apply complete! Resources: 7 added, 0 changed, 0 destroyed." in result.stdout
    assert BUCKET in _buckets(emulator)
    assert (run.repo / "envs/sandbox/.terraform.lock.hcl").read_text() == lock
    assert not (run.repo / "envs/sandbox/plan.cache").exists()
    assert SECRET not in result.stdout + result.stderr


def test_a_merge_request_plan_without_protected_variables_is_review_only(tmp_path):
    """No PLAN_ENCRYPTION_KEY (protected): the plan is shown and reported, nothing appliable is kept.

    Also the path GitLab takes for plan:sandbox: no TF_VAR_emulator_endpoint, so `make plan` starts
    its own moto server through the harness.
    """
    repo = ci_local.clean_copy(tmp_path / "repo")
    commit = ci_local.git(repo, "rev-parse", "HEAD")
    env = terraform.terraform_env(VENV=str(processes.REPO_ROOT / ".venv"), CI_COMMIT_SHA=commit)
    for name in ("PLAN_ENCRYPTION_KEY", "TF_VAR_emulator_endpoint", "PLAN_REQUIRE_APPLIABLE"):
        env.pop(name, None)
    refused = subprocess.run(["make", "--no-print-directory", "plan", "ENV=sandbox"], cwd=repo, capture_output=True,
                             text=True, timeout=600, check=False, env={**env, "PLAN_REQUIRE_APPLIABLE": "true"})
    assert refused.returncode != 0 and "this plan must be appliable: set PLAN_ENCRYPTION_KEY" in refused.stderr
    result = subprocess.run(["make", "--no-print-directory", "plan", "ENV=sandbox"], cwd=repo, capture_output=True,
                            text=True, timeout=600, check=False, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    root = repo / "envs/sandbox"
    assert json.loads((root / "plan.json").read_text()) == {"create": 7, "update": 0, "delete": 0}
    assert json.loads((root / "plan.meta.json").read_text())["applicable"] is False
    assert not (root / "plan.cache").exists() and not (root / "plan.cache.enc").exists()
    assert "review only" in result.stdout
    apply = _apply(repo, commit, key=KEY)
    assert apply.returncode != 0 and "this plan was for review only" in apply.stderr
