"""modules/s3-staging/examples/complete applied as a team would: customer managed key, lifecycle rules,
a role trusted through EKS Pod Identity and IRSA. Read back through boto3, re-planned, destroyed.

Most of this test's time is the AWS provider confirming the lifecycle configuration (~55 s, on AWS as
on moto; modules/s3-staging/README.md), so it is marked `slow`: the file starts first and the wait overlaps
with the rest of the suite.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest

from harness.paths import REPO_ROOT

MODULE_DIR = REPO_ROOT / "modules" / "s3-staging"

pytestmark = pytest.mark.slow

EXAMPLE = REPO_ROOT / "modules" / "s3-staging" / "examples" / "complete"
LIFECYCLE_EXPECTED = {
    "expire-staged-objects": {
        "Status": "Enabled",
        "Filter": {"Prefix": "uploads/"},
        "Expiration": {"Days": 14},
    },
    "expire-noncurrent-versions-and-incomplete-uploads": {
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    },
}


def statements_by_sid(document: str | dict) -> dict[str, dict]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return {statement["Sid"]: statement for statement in parsed["Statement"]}


def test_complete_example_applies_kms_lifecycle_rules_and_a_pod_identity_and_irsa_role(
        terraform_copy, aws_client, unique_name, assert_idempotent, assert_private_bucket, request):
    s3, iam, kms = aws_client("s3"), aws_client("iam"), aws_client("kms")
    # The cluster's OIDC provider, as the eks module would create it.
    oidc_arn = iam.create_open_id_connect_provider(
        Url=f"https://oidc.eks.us-east-1.amazonaws.com/id/{secrets.token_hex(8).upper()}",
        ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
    )["OpenIDConnectProviderArn"]
    request.addfinalizer(lambda: iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oidc_arn))
    bucket = unique_name("stg-complete")
    tf = terraform_copy(EXAMPLE, tf_vars={"bucket_name": bucket, "irsa_oidc_provider_arn": oidc_arn})

    tf.apply()
    outputs = tf.output()

    # SSE-KMS with the example's key and an S3 Bucket Key; the key rotates.
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": outputs["kms_key_arn"],
    }
    assert encryption["BucketKeyEnabled"] is True
    assert kms.describe_key(KeyId=outputs["kms_key_arn"])["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=outputs["kms_key_arn"])["KeyRotationEnabled"] is True
    assert_private_bucket(bucket)

    # The lifecycle rules, as S3 stores them (the provider waited until it read them back ten times).
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    rules = {rule["ID"]: rule for rule in lifecycle["Rules"]}
    assert set(rules) == set(LIFECYCLE_EXPECTED)
    for rule_id, expected in LIFECYCLE_EXPECTED.items():
        assert {key: rules[rule_id].get(key) for key in expected} == expected, rules[rule_id]
    assert lifecycle["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    assert sorted(outputs["lifecycle_rule_ids"]) == sorted(LIFECYCLE_EXPECTED)

    # Tags from the module input and from the example's provider default_tags.
    tags = {tag["Key"]: tag["Value"] for tag in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {"service": "mirror-service", "example": "s3-staging/complete", "managed-by": "terraform"}

    # The role: Pod Identity and IRSA trust, limited to mirror/mirror-service; exactly the service policy.
    role_name = outputs["service_role_arn"].rsplit("/", 1)[1]
    role = iam.get_role(RoleName=role_name)["Role"]
    trust = statements_by_sid(role["AssumeRolePolicyDocument"])
    assert trust["EksPodIdentity"]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["EksPodIdentity"]["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    issuer = oidc_arn.split(":oidc-provider/", 1)[1]
    assert trust["EksIrsa"]["Principal"] == {"Federated": oidc_arn}
    assert trust["EksIrsa"]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["EksIrsa"]["Condition"] == {"StringEquals": {
        f"{issuer}:sub": "system:serviceaccount:mirror:mirror-service",
        f"{issuer}:aud": "sts.amazonaws.com",
    }}
    assert role["MaxSessionDuration"] == 3600
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["staging-bucket-access"]
    attached = iam.get_role_policy(RoleName=role_name, PolicyName="staging-bucket-access")["PolicyDocument"]
    assert attached == json.loads(outputs["service_policy_json"])
    service = statements_by_sid(outputs["service_policy_json"])
    assert service["PutStagedObjects"]["Resource"] == f"arn:aws:s3:::{bucket}/uploads/*"
    key_use = service["EncryptStagedObjectsWithBucketKey"]
    assert sorted(key_use["Action"]) == ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    assert key_use["Resource"] == outputs["kms_key_arn"]
    assert key_use["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    # The module README's "What the service gets" table names exactly the actions the policy grants.
    granted = {action for statement in service.values() for action in
               ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}
    assert readme_service_actions() == granted


    assert_idempotent(tf)

    tf.destroy()
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=role_name)
    assert kms.describe_key(KeyId=outputs["kms_key_arn"])["KeyMetadata"]["KeyState"] == "PendingDeletion"


def readme_service_actions() -> set[str]:
    """The IAM actions modules/s3-staging/README.md lists in its "What the service gets" table."""
    readme = (MODULE_DIR / "README.md").read_text()
    table = readme.split("What the service gets", 1)[1].split("\n\n", 2)[1]
    statements = [row.split("|")[1].split(" on ")[0] for row in table.splitlines()[2:]]
    return {action for statement in statements for action in re.findall(r"`([a-z0-9]+:[A-Za-z]+)`", statement)}
