"""The sandbox environment end to end, offline: plan → apply → roll out → call → destroy.

It drives exactly what `make sandbox` runs (harness.sandbox.Sandbox), with a unique bucket name and
private copies of the root and module, and proves each layer: Terraform's plan and a second, empty
plan; the bucket read back from the emulator; the service answering over HTTP; the uploaded object
in the bucket; nothing left after destroy.
"""

from __future__ import annotations

import secrets

import boto3
import pytest
import requests
from botocore.config import Config

from harness.sandbox import Sandbox
from tests.e2e.support import retry

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_sandbox_environment(tmp_path, unique_name, selected_environments):
    if selected_environments and "sandbox" not in selected_environments:
        pytest.skip(f"E2E_ENVIRONMENTS={','.join(sorted(selected_environments))} does not include sandbox")
    token = secrets.token_urlsafe(24)
    bucket = unique_name("mirror-e2e")
    sandbox = Sandbox(workdir=tmp_path / "sandbox", upload_token=token, tf_vars={"bucket_name": bucket})
    try:
        sandbox.start()
        s3 = boto3.client("s3", endpoint_url=sandbox.emulator.url, region_name="us-east-1",
                          aws_access_key_id="e2e", aws_secret_access_key="e2e",
                          config=Config(s3={"addressing_style": "path"}))

        # Plan to a file and apply it in the background, as `make sandbox` does: the service starts once
        # the bucket is built, while the AWS provider still confirms the lifecycle configuration (~55 s).
        apply_run = sandbox.start_apply()
        assert "module.staging_bucket.aws_s3_bucket.this will be created" in sandbox.plan_output
        assert "module.staging_bucket.aws_s3_bucket_lifecycle_configuration.this" in sandbox.planned
        assert apply_run.wait_for(sandbox.bucket_built, timeout=180), "\n".join(apply_run.errors())
        assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        outputs = sandbox.outputs
        assert outputs["bucket_name"] == bucket
        # What `make sandbox` starts the service with before Terraform plans is what Terraform planned.
        assert sandbox.service_environment_before_plan() == outputs["service_environment"]

        service = sandbox.start_service()
        url = service.url
        health = retry(lambda: requests.get(f"{url}/api/health", timeout=3), lambda r: r.status_code == 200,
                       timeout=30, what="GET /api/health")
        assert health.json() == {"status": "ok"}
        mirror = requests.get(f"{url}/api/mirror", params={"word": "fOoBar25"}, timeout=3)
        assert (mirror.status_code, mirror.json()) == (200, {"transformed": "52RAbOoF"})

        refused = requests.post(f"{url}/api/upload-random", timeout=5)
        assert refused.status_code == 401
        upload = retry(lambda: requests.post(f"{url}/api/upload-random", timeout=5,
                                             headers={"Authorization": f"Bearer {token}"}),
                       lambda r: r.status_code == 201, timeout=30, what="POST /api/upload-random")
        key = upload.json()["key"]
        assert upload.json()["bucket"] == bucket
        assert key.startswith(outputs["service_environment"]["S3_PREFIX"]) and key.endswith(".txt")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        assert body.strip().lstrip("-").isdigit(), f"object holds {body!r}, not an integer"
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert listed == [key], "the refused upload must not have written anything"
        assert token not in service.log(), "the upload token appeared in the service's log"

        # The apply ends cleanly, the lifecycle rules included, and a second plan proposes nothing.
        apply_run.wait(timeout=180)
        assert "module.staging_bucket.aws_s3_bucket_lifecycle_configuration.this" in apply_run.completed()
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert {rule["ID"] for rule in rules} == {"expire-staged-objects",
                                                  "expire-noncurrent-versions-and-incomplete-uploads"}
        second_plan = sandbox.plan()
        assert second_plan.returncode == 0, f"second plan is not empty:\n{second_plan.stdout}"
        assert token not in sandbox.plan_output + second_plan.stdout, "the upload token reached Terraform"

        service.stop(timeout=30)
        assert service.popen.returncode == 0
        sandbox.destroy()
        assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]], "destroy left the bucket behind"
    finally:
        sandbox.stop(destroy=True)
    assert not sandbox.emulator.alive()
