"""modules/s3-staging applied on its own: the real AWS provider against moto, the result read back through boto3.

This bucket is a throwaway: tests/fixtures/s3_staging_without_lifecycle_override.tf drops its lifecycle
configuration (and with it the AWS provider's ~55 s waiter), so everything else the module builds is
checked in seconds. The lifecycle rules are applied and read back by test_complete_example.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

MODULE = REPO_ROOT / "modules" / "s3-staging"
WITHOUT_LIFECYCLE = REPO_ROOT / "tests" / "fixtures" / "s3_staging_without_lifecycle_override.tf"
INPUTS = Path(__file__).parent / "fixtures" / "throwaway_bucket.tfvars"


def statements_by_sid(document: str | dict) -> dict[str, dict]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return {statement["Sid"]: statement for statement in parsed["Statement"]}


def test_module_applies_a_private_bucket_and_a_pod_identity_role_then_destroys_them(
        terraform_copy, aws_client, unique_name, assert_idempotent, assert_private_bucket):
    bucket = unique_name("stg-module")
    tf = terraform_copy(MODULE, extra_files=[WITHOUT_LIFECYCLE], tf_vars={"bucket_name": bucket})
    shutil.copy(INPUTS, Path(tf.tfdir, "inputs.auto.tfvars"))  # dev, force_destroy, Pod Identity, tags

    tf.apply()
    outputs = tf.output()
    s3, iam = aws_client("s3"), aws_client("iam")

    assert outputs["bucket_name"] == bucket
    assert outputs["bucket_arn"] == f"arn:aws:s3:::{bucket}"
    assert outputs["bucket_region"] == "us-east-1"
    assert outputs["object_prefix"] == "uploads/"

    # Private by construction (public access blocked, ACLs off, versioned, TLS-only policy), and SSE-S3.
    assert_private_bucket(bucket)
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert not encryption.get("BucketKeyEnabled", False)
    tags = {tag["Key"]: tag["Value"] for tag in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {"service": "mirror-service", "owner": "tests"}

    # Pod Identity only: one trust statement, the service principal, AssumeRole + TagSession.
    role = iam.get_role(RoleName=outputs["service_role_name"])["Role"]
    assert role["Arn"] == outputs["service_role_arn"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    assert trust[0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust[0]["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    attached = iam.get_role_policy(RoleName=outputs["service_role_name"], PolicyName="staging-bucket-access")
    assert attached["PolicyDocument"] == json.loads(outputs["service_policy_json"])
    service = statements_by_sid(outputs["service_policy_json"])
    assert set(service) == {"PutStagedObjects", "ReplayStagedObjects", "ReadinessHeadBucket"}  # no KMS without a key
    assert service["PutStagedObjects"]["Action"] == "s3:PutObject"
    assert service["PutStagedObjects"]["Resource"] == f"arn:aws:s3:::{bucket}/uploads/*"
    # Reads only what it writes: an Idempotency-Key replay answers with the stored object.
    assert service["ReplayStagedObjects"]["Action"] == "s3:GetObject"
    assert service["ReplayStagedObjects"]["Resource"] == f"arn:aws:s3:::{bucket}/uploads/*"
    assert service["ReadinessHeadBucket"]["Action"] == "s3:ListBucket"
    assert service["ReadinessHeadBucket"]["Resource"] == f"arn:aws:s3:::{bucket}"

    # What the service does, with the bucket as the module built it: uploads under the prefix (the
    # emulator evaluates the TLS-only statements as AWS does for a key it has no value for, see
    # harness/moto_server.py). Two versions stay behind: force_destroy must still remove the bucket.
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="uploads/staged.txt", Body=body)

    assert_idempotent(tf)

    tf.destroy()
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=outputs["service_role_name"])
