"""modules/s3-staging applied for real: the AWS provider against moto, the result read back via boto3."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import terraform
from tests.modules.support import REPO_ROOT, ROOTS, Root, assert_second_plan_empty, policy_statements, workspace

MODULE = "modules/s3-staging"
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
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    },
}


@pytest.fixture
def roots(tmp_path, aws_env):
    """Roots made by a test; whatever they applied is destroyed at teardown, also when the test failed."""
    made: list[Root] = []

    def make(path: Path, provider: str | None = "module") -> Root:
        root = Root(path, aws_env, provider=provider)
        made.append(root)
        return root

    yield make
    errors = [error for error in (root.destroy_quietly() for root in reversed(made)) if error]
    if errors:
        pytest.fail("destroy failed in teardown:\n" + "\n".join(errors))


def assert_private_bucket(state: dict, bucket: str) -> None:
    assert state["public_access_block"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    }
    assert state["ownership"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert state["versioning"] == "Enabled"
    statements = policy_statements(state["policy"])
    arns = sorted([f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])
    insecure = statements["DenyInsecureTransport"]
    assert insecure["Effect"] == "Deny" and insecure["Principal"] == "*" and insecure["Action"] == "s3:*"
    assert sorted(insecure["Resource"]) == arns
    assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyOutdatedTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


# ----------------------------------------------------------------------------------------------------


def test_module_applies_a_private_bucket_and_destroys_it(roots, aws_client, unique_name, tmp_path,
                                                                       record_property):
    bucket = unique_name("stg-fast")
    ws = workspace(tmp_path, [MODULE])
    root = roots(ws / MODULE).init()
    root.set_vars(
        bucket_name=bucket, environment="dev", force_destroy=True, enable_pod_identity=True,
        # Throwaway bucket: no lifecycle configuration, so no ~55 s provider waiter (see README);
        # the lifecycle rules are applied and read back in test_complete_example_*.
        create_lifecycle_configuration=False,
        tags={"service": "mirror-service", "owner": "tests"},
    )

    apply_seconds = root.apply()
    outputs = root.outputs()
    s3, iam = aws_client("s3"), aws_client("iam")

    assert outputs["bucket_name"] == bucket
    assert outputs["bucket_arn"] == f"arn:aws:s3:::{bucket}"
    assert outputs["bucket_region"] == "us-east-1"
    assert outputs["object_prefix"] == "uploads/"
    assert outputs["lifecycle_rule_ids"] == []
    state = {
        "public_access_block": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "policy": s3.get_bucket_policy(Bucket=bucket)["Policy"],
    }
    assert_private_bucket(state, bucket)
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert not encryption.get("BucketKeyEnabled", False)
    tags = {tag["Key"]: tag["Value"] for tag in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {"service": "mirror-service", "owner": "tests"}

    # Pod Identity only: one statement, the service principal, AssumeRole + TagSession.
    role = iam.get_role(RoleName=outputs["service_role_name"])["Role"]
    assert role["Arn"] == outputs["service_role_arn"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    assert trust[0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust[0]["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    attached = iam.get_role_policy(RoleName=outputs["service_role_name"], PolicyName="staging-bucket-access")
    assert attached["PolicyDocument"] == json.loads(outputs["service_policy_json"])
    service = policy_statements(outputs["service_policy_json"])
    assert set(service) == {"PutStagedObjects", "ReadinessHeadBucket"}  # no KMS statement without a key
    assert service["PutStagedObjects"]["Action"] == "s3:PutObject"
    assert service["PutStagedObjects"]["Resource"] == f"arn:aws:s3:::{bucket}/uploads/*"
    assert service["ReadinessHeadBucket"]["Action"] == "s3:ListBucket"
    assert service["ReadinessHeadBucket"]["Resource"] == f"arn:aws:s3:::{bucket}"

    # What the service does, with the bucket as the module built it: uploads under the prefix; two
    # versions of the object stay behind, and force_destroy must still remove the versioned bucket.
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="uploads/staged.txt", Body=body)

    assert_second_plan_empty(root.changes())

    destroy_seconds = root.destroy()
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=outputs["service_role_name"])

    # Informational (the terminal summary lists them); the 15 s target is measured by `make bench`.
    record_property("apply_seconds", apply_seconds)
    record_property("destroy_seconds", destroy_seconds)


def test_complete_example_applies_lifecycle_kms_and_role(s3_complete_run, record_property):
    observed = s3_complete_run.get()
    bucket, outputs = observed["bucket"], observed["outputs"]
    record_property("apply_seconds", observed["apply_seconds"])
    record_property("destroy_seconds", observed["destroy_seconds"])
    state = observed["bucket_state"]

    assert_private_bucket(state, bucket)

    # SSE-KMS with the example's key and an S3 Bucket Key; the key rotates.
    encryption = state["encryption"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": outputs["kms_key_arn"],
    }
    assert encryption["BucketKeyEnabled"] is True
    assert observed["kms_key"]["KeyState"] == "Enabled"
    assert observed["kms_rotation"] is True

    # The lifecycle rules, as S3 stores them (the provider waited until it read them back ten times).
    assert set(state["lifecycle_rules"]) == set(LIFECYCLE_EXPECTED)
    for rule_id, expected in LIFECYCLE_EXPECTED.items():
        rule = state["lifecycle_rules"][rule_id]
        assert {key: rule.get(key) for key in expected} == expected, rule
    assert state["transition_default_minimum_object_size"] == "all_storage_classes_128K"
    assert sorted(outputs["lifecycle_rule_ids"]) == sorted(LIFECYCLE_EXPECTED)

    # Tags from the module input and from the example's provider default_tags.
    assert state["tags"] == {"service": "mirror-service", "example": "s3-staging/complete", "managed-by": "terraform"}

    # The role: Pod Identity and IRSA trust, limited to mirror/mirror-service; exactly the service policy.
    role = observed["role"]
    trust = {statement["Sid"]: statement for statement in role["trust"]["Statement"]}
    assert trust["EksPodIdentity"]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["EksPodIdentity"]["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    issuer = observed["oidc_provider_arn"].split(":oidc-provider/", 1)[1]
    assert trust["EksIrsa"]["Principal"] == {"Federated": observed["oidc_provider_arn"]}
    assert trust["EksIrsa"]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["EksIrsa"]["Condition"] == {"StringEquals": {
        f"{issuer}:sub": "system:serviceaccount:mirror:mirror-service",
        f"{issuer}:aud": "sts.amazonaws.com",
    }}
    assert role["max_session_duration"] == 3600
    assert role["inline_policies"] == {"staging-bucket-access": json.loads(outputs["service_policy_json"])}
    service = policy_statements(outputs["service_policy_json"])
    assert service["PutStagedObjects"]["Resource"] == f"arn:aws:s3:::{bucket}/uploads/*"
    kms = service["EncryptStagedObjectsWithBucketKey"]
    assert sorted(kms["Action"]) == ["kms:Encrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == outputs["kms_key_arn"]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}

    assert_second_plan_empty(observed["second_plan"])

    assert observed["after_destroy"] == {"bucket_exists": False, "role_exists": False, "kms_key_state": "PendingDeletion"}


def test_module_consumed_through_a_git_source_with_ref(roots, aws_client, unique_name, tmp_path):
    """What a team does: `source = "git::...//modules/s3-staging?ref=<tag>"`, then init and apply."""
    tag = "v0.0.0-test"
    source_tree = tmp_path / "source"
    terraform.copy_root(REPO_ROOT / "modules", source_tree / "modules")
    git_env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_AUTHOR_NAME": "tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
               "GIT_COMMITTER_NAME": "tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid"}

    def git(*args: str, cwd: Path = source_tree) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=git_env, check=True, capture_output=True, text=True)

    git("init", "--quiet", "--initial-branch=main")
    git("add", "--all")
    git("commit", "--quiet", "--message", "modules for the git source test")
    git("tag", tag)
    bare = tmp_path / "modules.git"
    git("clone", "--quiet", "--bare", str(source_tree), str(bare), cwd=tmp_path)
    # A change after the tag must not reach the consumer: the ref pins the tagged tree.
    (source_tree / "modules" / "s3-staging" / "main.tf").write_text("this is not terraform\n")
    git("commit", "--quiet", "--all", "--message", "break main after the tag")
    git("push", "--quiet", str(bare), "main")

    consumer = tmp_path / "consumer"
    terraform.copy_root(ROOTS / "git_consumer", consumer)
    module_source = f"git::file://{bare}//modules/s3-staging?ref={tag}"
    main_tf = consumer / "main.tf"
    main_tf.write_text(main_tf.read_text().replace("__MODULE_SOURCE__", module_source))

    bucket = unique_name("stg-git")
    root = roots(consumer).init()
    installed = json.loads((consumer / ".terraform" / "modules" / "modules.json").read_text())["Modules"]
    assert [m["Source"] for m in installed if m["Key"] == "staging_bucket"] == [module_source]

    root.set_vars(bucket_name=bucket)
    root.apply()
    s3 = aws_client("s3")
    assert root.outputs()["bucket_name"] == bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True

    # Uploads go through (harness.moto_server evaluates the TLS-only statement as AWS does for a key it
    # has no value for); two versions stay behind, and force_destroy must still remove the bucket.
    for body in (b"first", b"second"):
        s3.put_object(Bucket=bucket, Key="uploads/staged.txt", Body=body)
    versions = s3.list_object_versions(Bucket=bucket, Prefix="uploads/")["Versions"]
    assert len(versions) == 2

    root.destroy()
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
