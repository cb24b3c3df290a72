"""How `make sandbox` knows the service's environment before Terraform plans (harness/sandbox.py).

It reads envs/sandbox's `service_environment` output from outputs.tf and evaluates it only when every
value is a `var.<name>` reference or a string literal, with Terraform's precedence for the variables
(-var, then TF_VAR_<name>, then the default). That it equals the plan's value on the real root is
asserted in tests/e2e/test_sandbox.py; here, copies of the root whose outputs it must not guess.
"""

from __future__ import annotations

import types

from harness.sandbox import Sandbox, prepare_workdir


def _sandbox(tmp_path, **tf_vars) -> Sandbox:
    sandbox = Sandbox(workdir=tmp_path / "sandbox", tf_vars=tf_vars)
    prepare_workdir(sandbox.workdir)
    # Only its URL is read: no emulator needs to run to evaluate variables.
    sandbox.emulator = types.SimpleNamespace(url="http://127.0.0.1:4566")
    return sandbox


def test_the_checked_in_root_is_evaluated_with_terraforms_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_VAR_object_prefix", "from-env/")
    monkeypatch.setenv("TF_VAR_bucket_name", "loses-to-the-var-flag")
    environment = _sandbox(tmp_path, bucket_name="from-var-flag").service_environment_before_plan()
    assert environment == {"S3_BUCKET": "from-var-flag", "S3_ENDPOINT_URL": "http://127.0.0.1:4566",
                           "S3_PREFIX": "from-env/", "AWS_REGION": "us-east-1"}


def test_a_value_that_needs_terraform_makes_it_wait_for_the_plan(tmp_path):
    sandbox = _sandbox(tmp_path)
    outputs = sandbox.root / "outputs.tf"
    outputs.write_text(outputs.read_text().replace("S3_BUCKET       = var.bucket_name",
                                                   "S3_BUCKET       = module.staging_bucket.bucket_name"))
    assert "module.staging_bucket.bucket_name" in outputs.read_text()
    assert sandbox.service_environment_before_plan() is None
