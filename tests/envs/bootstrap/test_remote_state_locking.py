"""A root keeping its state in envs/bootstrap's bucket, with S3-native locking (`use_lockfile`, no DynamoDB).

envs/bootstrap is applied on moto, then a root with `backend "s3" {}` is initialised with
`-backend-config=<file>.s3.tfbackend`, applied, and applied again while a first apply holds the lock.
The lock holder waits for a file the test writes once the contender was refused, so the contention
happens however slow the machine is. The bucket's lifecycle configuration makes the AWS provider wait
~55 s, so this file is marked `slow` and starts first.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import tftest
from botocore.exceptions import ClientError

from harness.paths import REPO_ROOT

pytestmark = pytest.mark.slow

BOOTSTRAP = REPO_ROOT / "envs" / "bootstrap"
GUARD_UNLOCKED = Path(__file__).parent / "guard_unlocked_override.tf"
CONSUMER = Path(__file__).parent / "remote_state_consumer"
STATE_KEY = "remote-state-test/terraform.tfstate"
LOCK_KEY = f"{STATE_KEY}.tflock"


def backend_config(bucket: str, endpoint: str) -> str:
    """A partial backend configuration (`*.s3.tfbackend`), as envs/bootstrap/README.md documents, plus the emulator."""
    return "\n".join([
        f'bucket                      = "{bucket}"',
        f'key                         = "{STATE_KEY}"',
        'region                      = "us-east-1"',
        "encrypt                     = true",
        "use_lockfile                = true",
        # The emulator only:
        "use_path_style              = true",
        f'endpoints                   = {{ s3 = "{endpoint}" }}',
        "skip_credentials_validation = true",
        "skip_requesting_account_id  = true",
        "skip_metadata_api_check     = true",
        "",
    ])


def test_state_lands_in_the_bucket_and_a_second_apply_is_refused_while_the_first_holds_the_lock(
        terraform_copy, aws_client, aws_env, unique_name, request, tmp_path):
    s3 = aws_client("s3")
    bucket = unique_name("tfstate-lock")
    bootstrap = terraform_copy(BOOTSTRAP, extra_files=[GUARD_UNLOCKED], tf_vars={"bucket_name": bucket,
                                                                                "force_destroy": True})
    bootstrap.apply()

    # Locking rests on conditional writes: a second If-None-Match create must be refused (412).
    probe = f"probe-{unique_name('lock')}.tflock"
    s3.put_object(Bucket=bucket, Key=probe, Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as second_create:
        s3.put_object(Bucket=bucket, Key=probe, Body=b"second", IfNoneMatch="*")
    assert second_create.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key=probe)["Body"].read() == b"first"

    consumer = terraform_copy(CONSUMER, emulator=False, env=aws_env, init=False)
    Path(consumer.tfdir, "emulator.s3.tfbackend").write_text(backend_config(bucket, aws_env["AWS_ENDPOINT_URL"]))
    consumer.setup(init_vars="emulator.s3.tfbackend", cleanup_on_exit=False)
    request.addfinalizer(lambda: empty_versioned_bucket(s3, bucket))  # runs before the fixture's destroy

    # The state lands in the bucket, encrypted, and the lock is released after the apply.
    consumer.apply(tf_vars={"generation": "1"})
    state_object = s3.get_object(Bucket=bucket, Key=STATE_KEY)
    first_state = json.loads(state_object["Body"].read())
    assert [f"{r['type']}.{r['name']}" for r in first_state["resources"]] == ["terraform_data.marker"]
    assert first_state["outputs"]["generation"]["value"] == "1"
    assert state_object["ServerSideEncryption"] == "AES256"
    assert not exists(s3, bucket, LOCK_KEY)

    # A first apply takes the lock and keeps it until the release file exists.
    release = tmp_path / "release-the-lock"
    holder_errors: list[BaseException] = []

    def hold() -> None:
        try:
            consumer.apply(tf_vars={"generation": "2", "hold_lock_until": str(release)})
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            holder_errors.append(error)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        deadline = time.monotonic() + 120  # bounds a broken run only: the lock is normally taken in seconds
        while not exists(s3, bucket, LOCK_KEY):
            assert holder.is_alive() and time.monotonic() < deadline, f"the first apply never took the lock: {holder_errors}"
            time.sleep(0.2)
        lock = json.loads(s3.get_object(Bucket=bucket, Key=LOCK_KEY)["Body"].read())
        assert lock["Operation"] == "OperationTypeApply"
        assert lock["ID"] and bucket in lock["Path"]
        state_before = s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read()
        versions_before = state_versions(s3, bucket)

        with pytest.raises(tftest.TerraformTestError) as contender:
            consumer.apply(tf_vars={"generation": "3"})
        refusal = " ".join(contender.value.cmd_error.replace("│", " ").split())
        assert "Error acquiring the state lock" in refusal
        assert lock["ID"] in refusal, "Terraform should name the lock holder's lock ID"
        assert holder.is_alive(), "the contender must have been refused while the lock was held"
        # Nothing written by the refused apply.
        assert s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read() == state_before
        assert state_versions(s3, bucket) == versions_before
    finally:
        release.touch()
        holder.join(timeout=300)

    # The holder's apply went through completely, and released the lock.
    assert not holder.is_alive() and not holder_errors, holder_errors
    final_state = json.loads(s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read())
    assert final_state["outputs"]["generation"]["value"] == "2"
    assert final_state["serial"] > first_state["serial"]
    assert not exists(s3, bucket, LOCK_KEY)
    replan = consumer.plan(output=True, tf_vars={"generation": "2"})
    assert all(change["change"]["actions"] == ["no-op"] for change in replan.resource_changes.values()), replan

    consumer.destroy(tf_vars={"generation": "2"})
    assert json.loads(s3.get_object(Bucket=bucket, Key=STATE_KEY)["Body"].read())["resources"] == []


def exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def state_versions(s3, bucket: str) -> list[str]:
    listing = s3.list_object_versions(Bucket=bucket, Prefix=STATE_KEY)
    return [version["VersionId"] for version in listing.get("Versions", []) if version["Key"] == STATE_KEY]


def empty_versioned_bucket(s3, bucket: str) -> None:
    """Delete every object version and delete marker while versioning is still enabled.

    force_destroy would do this on AWS. On moto 5.2.5 it cannot: Terraform destroys
    aws_s3_bucket_versioning first (versioning becomes Suspended), and moto's DeleteObjects on a
    suspended bucket whose keys carry delete markers (every released .tflock does) fails with
    `AttributeError: 'FakeDeleteMarker' object has no attribute 'dispose'` (HTTP 500), which the
    provider retries until it times out.
    """
    listing = s3.list_object_versions(Bucket=bucket)
    for version in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
