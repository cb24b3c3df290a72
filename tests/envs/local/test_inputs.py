"""envs/local's inputs, planned for real: `use_real_s3 = true` without the pod's keys is refused at
plan time with what to set, instead of pods failing to authenticate five minutes into the apply.

envs/local needs the helm provider and a Minikube cluster, which cannot run here, so the test plans a
root of just the environment's `variables.tf`: real Terraform evaluates the validations with real
values. The release itself is covered by `terraform validate` against the helm provider's schema
(tests/envs/test_validate.py) and by `make e2e ENV=local` where a cluster exists.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tftest

from harness import processes

ENV = processes.REPO_ROOT / "envs" / "local"


@pytest.fixture
def plan_inputs(tmp_path, terraform_copy):
    root = tmp_path / "inputs-of-envs-local"
    root.mkdir()
    shutil.copy(ENV / "variables.tf", root)
    tf = terraform_copy(root, emulator=False, name="envs-local-inputs")
    base_env = dict(tf.env)

    def plan(secrets: dict[str, str] | None = None, **inputs) -> str | None:
        """None when the plan succeeds, else Terraform's error text. Secrets go in as TF_VAR_*, as the README says."""
        tf.env = {**base_env, "TF_VAR_upload_token": "not-a-real-token",
                  **{f"TF_VAR_{name}": value for name, value in (secrets or {}).items()}}
        Path(tf.tfdir, "test.auto.tfvars.json").write_text(json.dumps(inputs))
        try:
            tf.execute_command("plan", "-input=false", "-no-color")
        except tftest.TerraformTestError as error:
            return " ".join(" ".join(str(part) for part in error.args).split())
        return None

    return plan


def test_real_s3_without_the_pods_keys_is_refused_with_what_to_set(plan_inputs):
    error = plan_inputs(use_real_s3=True)
    assert error is not None, "use_real_s3 = true without keys was accepted"
    assert "use_real_s3 = true needs the pod's S3 credentials: export TF_VAR_s3_access_key_id and TF_VAR_s3_secret_access_key" in error
    assert "use_real_s3 = true needs TF_VAR_s3_secret_access_key too" in error

    # An empty key is no key; and the secret's value never appears in the message.
    half = plan_inputs({"s3_access_key_id": " ", "s3_secret_access_key": "s3cr3t-value-must-not-leak"}, use_real_s3=True)
    assert "export TF_VAR_s3_access_key_id" in half and "s3cr3t-value-must-not-leak" not in half


def test_the_emulator_needs_no_keys_and_real_s3_with_keys_plans(plan_inputs):
    assert plan_inputs() is None
    assert plan_inputs({"s3_access_key_id": "AKIAEXAMPLE", "s3_secret_access_key": "example-secret"}, use_real_s3=True) is None
