"""envs/bootstrap on moto: the state bucket modules/s3-staging builds, read back, and protected from destroy.

The bucket's lifecycle configuration makes the AWS provider wait ~55 s (modules/s3-staging/README.md),
so this file is marked `slow`: it starts first and the wait overlaps with the rest of the suite.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tftest

from harness.paths import REPO_ROOT

pytestmark = pytest.mark.slow

BOOTSTRAP = REPO_ROOT / "envs" / "bootstrap"
GUARD_UNLOCKED = Path(__file__).parent / "guard_unlocked_override.tf"


def test_bootstrap_creates_a_private_versioned_tls_only_bucket_that_refuses_destroy(
        terraform_copy, aws_client, unique_name, assert_idempotent, assert_private_bucket, request):
    bucket = unique_name("tfstate-test")
    tf = terraform_copy(BOOTSTRAP, tf_vars={"bucket_name": bucket, "force_destroy": True})
    # Teardown (runs before the fixture's destroy): lift the guard, as an engineer would on purpose.
    request.addfinalizer(lambda: shutil.copy(GUARD_UNLOCKED, tf.tfdir))

    tf.apply()
    outputs = tf.output()
    s3 = aws_client("s3")

    assert outputs["state_bucket_name"] == bucket
    assert outputs["backend_config"] == {"bucket": bucket, "region": "us-east-1", "encrypt": True, "use_lockfile": True}
    assert_private_bucket(bucket)
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    # No service role: the state bucket is nobody's staging bucket.
    assert outputs.get("service_role_arn") is None

    # State is never expired: one whole-bucket rule, for superseded versions, delete markers and uploads.
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [rule["ID"] for rule in rules] == ["expire-noncurrent-versions-and-incomplete-uploads"]
    assert rules[0]["Status"] == "Enabled"
    assert rules[0]["Filter"] == {"Prefix": ""}
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rules[0]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    tags = {tag["Key"]: tag["Value"] for tag in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {"managed-by": "terraform", "root": "envs/bootstrap"}

    assert_idempotent(tf)

    # Neither destroying the bucket nor replacing it (a new name) gets past the plan.
    with pytest.raises(tftest.TerraformTestError) as destroy:
        tf.destroy()
    with pytest.raises(tftest.TerraformTestError) as rename:
        tf.plan(tf_vars={"bucket_name": unique_name("tfstate-renamed")})
    for refused in (destroy, rename):
        message = " ".join(refused.value.cmd_error.replace("│", " ").split())
        assert "Instance cannot be destroyed" in message, message
        assert "terraform_data.state_bucket_guard" in message, message
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
