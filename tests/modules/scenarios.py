"""Whole apply → read back → re-plan → destroy → read back runs, for the background.

Each scenario is one real lifecycle of a root against moto. Most of its wall time is the AWS provider
waiting (about 55 s after writing a lifecycle configuration, KMS key propagation, EKS deletion), not
CPU, so conftest.py starts the scenarios when the session starts and the tests that assert on them
collect the results later. A scenario returns what it observed; it never asserts, and it always
destroys what it applied, also when it fails half-way (the error then reaches the test).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time

from botocore.exceptions import ClientError

from tests.modules.support import Aws, Root


def _bucket_snapshot(aws: Aws, bucket: str) -> dict:
    s3 = aws.s3
    snapshot = {
        "public_access_block": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "policy": json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]),
        "tags": {tag["Key"]: tag["Value"] for tag in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]},
    }
    try:
        lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
        snapshot["lifecycle_rules"] = {rule["ID"]: rule for rule in lifecycle["Rules"]}
        snapshot["transition_default_minimum_object_size"] = lifecycle.get("TransitionDefaultMinimumObjectSize")
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
            raise
        snapshot["lifecycle_rules"] = {}
    return snapshot


def _role_snapshot(aws: Aws, role_name: str) -> dict:
    iam = aws.iam
    role = iam.get_role(RoleName=role_name)["Role"]
    return {
        "arn": role["Arn"],
        "trust": role["AssumeRolePolicyDocument"],
        "max_session_duration": role.get("MaxSessionDuration"),
        "inline_policies": {
            name: iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        },
        "attached_policies": sorted(
            policy["PolicyArn"] for policy in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        ),
        "tags": {tag["Key"]: tag["Value"] for tag in iam.list_role_tags(RoleName=role_name)["Tags"]},
    }


# ----------------------------------------------------------------------------------------------------
# modules/s3-staging/examples/complete: KMS, lifecycle rules, Pod Identity + IRSA role
# ----------------------------------------------------------------------------------------------------


def s3_complete(root: Root, aws: Aws, bucket: str) -> dict:
    """Apply the complete example (the lifecycle configuration included) and read everything back."""
    observed: dict = {"bucket": bucket}
    oidc_arn = aws.iam.create_open_id_connect_provider(
        Url=f"https://oidc.eks.us-east-1.amazonaws.com/id/{secrets.token_hex(8).upper()}",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
    )["OpenIDConnectProviderArn"]
    observed["oidc_provider_arn"] = oidc_arn
    try:
        root.set_vars(bucket_name=bucket, irsa_oidc_provider_arn=oidc_arn)
        observed["apply_seconds"] = root.apply()
        observed["outputs"] = outputs = root.outputs()
        observed["bucket_state"] = _bucket_snapshot(aws, bucket)
        role_name = outputs["service_role_arn"].rsplit("/", 1)[1]
        observed["role"] = _role_snapshot(aws, role_name)
        key_id = outputs["kms_key_arn"]
        observed["kms_key"] = aws.kms.describe_key(KeyId=key_id)["KeyMetadata"]
        observed["kms_rotation"] = aws.kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]

        observed["second_plan"] = root.changes()

        observed["destroy_seconds"] = root.destroy()
        observed["after_destroy"] = {
            "bucket_exists": aws.bucket_exists(bucket),
            "role_exists": aws.role_exists(role_name),
            "kms_key_state": aws.kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"],
        }
    finally:
        leftover = root.destroy_quietly()
        aws.iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=oidc_arn)
        if leftover:
            raise RuntimeError(f"destroy after a failed run also failed: {leftover}")
    return observed


# ----------------------------------------------------------------------------------------------------
# envs/bootstrap + a root with backend "s3" {} and S3-native locking
# ----------------------------------------------------------------------------------------------------

STATE_KEY = "remote-state-test/terraform.tfstate"
LOCK_HOLD_SECONDS = 8


def _if_none_match_honoured(aws: Aws, bucket: str) -> dict:
    """Does the emulator refuse a second conditional create (412)? Otherwise the lock locks nothing."""
    key = f"probe-{secrets.token_hex(4)}.tflock"
    aws.s3.put_object(Bucket=bucket, Key=key, Body=b"first", IfNoneMatch="*")
    try:
        aws.s3.put_object(Bucket=bucket, Key=key, Body=b"second", IfNoneMatch="*")
        second = {"refused": False}
    except ClientError as error:
        second = {"refused": True, "code": error.response["Error"]["Code"],
                  "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    aws.s3.delete_object(Bucket=bucket, Key=key)
    return {**second, "body_kept": body.decode()}


def _state_versions(aws: Aws, bucket: str, key: str) -> list[str]:
    listing = aws.s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [version["VersionId"] for version in listing.get("Versions", []) if version["Key"] == key]


def _lock_exists(aws: Aws, bucket: str, key: str) -> bool:
    try:
        aws.s3.head_object(Bucket=bucket, Key=f"{key}.tflock")
    except ClientError:
        return False
    return True


def _empty_versioned_bucket(aws: Aws, bucket: str) -> None:
    """Delete every object version and delete marker while versioning is still enabled.

    force_destroy would do this on AWS. On moto 5.2.5 it cannot: Terraform destroys
    aws_s3_bucket_versioning first (versioning becomes Suspended), and moto's DeleteObjects on a
    suspended bucket whose keys carry delete markers (every released .tflock does) fails with
    `AttributeError: 'FakeDeleteMarker' object has no attribute 'dispose'` (HTTP 500), which the
    provider retries until it times out.
    """
    listing = aws.s3.list_object_versions(Bucket=bucket)
    for version in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        aws.s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def backend_config(bucket: str, endpoint: str) -> str:
    """A partial backend configuration (`*.s3.tfbackend`) that points the S3 backend at the emulator."""
    return "\n".join([
        f'bucket                      = "{bucket}"',
        f'key                         = "{STATE_KEY}"',
        'region                      = "us-east-1"',
        "encrypt                     = true",
        "use_lockfile                = true",
        "use_path_style              = true",
        f'endpoints                   = {{ s3 = "{endpoint}" }}',
        "skip_credentials_validation = true",
        "skip_requesting_account_id  = true",
        "skip_metadata_api_check     = true",
        "",
    ])


def remote_state(bootstrap: Root, consumer: Root, aws: Aws, bucket: str) -> dict:
    observed: dict = {"bucket": bucket, "key": STATE_KEY, "phases": {}}
    started = time.monotonic()

    def phase(name: str) -> None:
        observed["phases"][name] = round(time.monotonic() - started, 1)
    try:
        # 1. The state bucket.
        bootstrap.set_vars(bucket_name=bucket, force_destroy=True)
        observed["bootstrap_apply_seconds"] = bootstrap.apply()
        observed["bootstrap_outputs"] = bootstrap.outputs()
        observed["bucket_state"] = _bucket_snapshot(aws, bucket)
        observed["bootstrap_second_plan"] = bootstrap.changes()
        phase("bootstrap applied and re-planned")
        observed["if_none_match"] = _if_none_match_honoured(aws, bucket)

        # 2. A root keeping its state there: partial configuration through -backend-config.
        (consumer.path / "emulator.s3.tfbackend").write_text(backend_config(bucket, aws.endpoint))
        consumer.init(backend_config="emulator.s3.tfbackend")
        consumer.apply("-var", "generation=1")
        phase("first consumer apply")
        state_object = aws.s3.get_object(Bucket=bucket, Key=STATE_KEY)
        first_state = json.loads(state_object["Body"].read())
        observed["first_state"] = {
            "serial": first_state["serial"],
            "outputs": first_state.get("outputs", {}),
            "resources": [f"{r['type']}.{r['name']}" for r in first_state.get("resources", [])],
            "server_side_encryption": state_object.get("ServerSideEncryption"),
        }
        observed["lock_after_first_apply"] = _lock_exists(aws, bucket, STATE_KEY)

        # 3. A second apply while the first holds the lock.
        holder = subprocess.Popen(
            ["terraform", "apply", "-input=false", "-no-color", "-auto-approve",
             "-var", "generation=2", "-var", f"hold_lock_seconds={LOCK_HOLD_SECONDS}"],
            cwd=consumer.path, env=consumer.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not _lock_exists(aws, bucket, STATE_KEY):
                if holder.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the first apply never held the lock:\n{holder.communicate()}")
                time.sleep(0.1)
            observed["lock_info"] = json.loads(
                aws.s3.get_object(Bucket=bucket, Key=f"{STATE_KEY}.tflock")["Body"].read()
            )
            versions_before = _state_versions(aws, bucket, STATE_KEY)
            state_before = aws.s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read()

            refused = consumer.run("apply", "-input=false", "-no-color", "-auto-approve", "-var", "generation=3",
                                   check=False)
            observed["refused_apply"] = {"returncode": refused.returncode, "output": refused.stderr + refused.stdout}
            observed["state_unchanged_by_refused_apply"] = (
                aws.s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read() == state_before
                and _state_versions(aws, bucket, STATE_KEY) == versions_before
            )
            observed["holder_still_running_when_refused"] = holder.poll() is None
        finally:
            holder_out, holder_err = holder.communicate(timeout=120)
        observed["holder"] = {"returncode": holder.returncode, "output": holder_err + holder_out}

        phase("lock contention")
        final_state = json.loads(aws.s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read())
        observed["final_state"] = {"serial": final_state["serial"], "outputs": final_state.get("outputs", {})}
        observed["lock_after_holder"] = _lock_exists(aws, bucket, STATE_KEY)
        # The state the holder wrote is complete: planning its own inputs again changes nothing (exit 0).
        observed["consumer_plan_exit_code"] = consumer.run(
            "plan", "-input=false", "-no-color", "-detailed-exitcode", "-var", "generation=2", check=False
        ).returncode

        # 4. Tear down: the consumer's resources, then the bucket (force_destroy: state versions inside).
        consumer.destroy("-var", "generation=2")
        phase("consumer destroyed")
        observed["state_after_consumer_destroy"] = json.loads(
            aws.s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read()
        ).get("resources", [])
        _empty_versioned_bucket(aws, bucket)
        observed["bootstrap_destroy_seconds"] = bootstrap.destroy()
        phase("bootstrap destroyed")
        observed["bucket_exists_after_destroy"] = aws.bucket_exists(bucket)
    finally:
        leftovers = [error for error in (consumer.destroy_quietly(), bootstrap.destroy_quietly()) if error]
        if leftovers:
            raise RuntimeError("destroy after a failed run also failed: " + "; ".join(leftovers))
    return observed
