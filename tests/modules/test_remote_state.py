"""envs/bootstrap's state bucket, and a root keeping its state there with S3-native locking.

The whole run happens in the background (conftest.remote_state_run → scenarios.remote_state): apply
envs/bootstrap on moto, read the bucket back, then `terraform init -backend-config=<file>.s3.tfbackend`
a root with `backend "s3" {}`, apply it, hold its lock with a slow second apply and try a third one.
"""

from __future__ import annotations

from tests.modules.support import assert_second_plan_empty, policy_statements


def test_bootstrap_creates_a_private_versioned_encrypted_tls_only_bucket(remote_state_run, record_property):
    observed = remote_state_run.get()
    record_property("bootstrap_apply_seconds", observed["bootstrap_apply_seconds"])
    for name, at in observed["phases"].items():
        record_property(f"{name.replace(' ', '_')}_at_seconds", at)
    bucket, state = observed["bucket"], observed["bucket_state"]

    assert state["public_access_block"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    }
    assert state["ownership"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert state["versioning"] == "Enabled"
    assert state["encryption"][0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    statements = policy_statements(state["policy"])
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(statements["DenyInsecureTransport"]["Resource"]) == sorted(
        [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    )

    rule = state["lifecycle_rules"]["expire-superseded-state-versions"]
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": ""}
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rule["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert state["tags"] == {"managed-by": "terraform", "root": "envs/bootstrap"}

    outputs = observed["bootstrap_outputs"]
    assert outputs["state_bucket_name"] == bucket
    assert outputs["backend_config"] == {"bucket": bucket, "region": "us-east-1", "encrypt": True, "use_lockfile": True}
    assert_second_plan_empty(observed["bootstrap_second_plan"])


def test_emulator_honours_if_none_match_so_the_lock_can_exclude(remote_state_run):
    probe = remote_state_run.get()["if_none_match"]
    assert probe == {"refused": True, "code": "PreconditionFailed", "status": 412, "body_kept": "first"}


def test_state_lands_in_the_bucket_encrypted(remote_state_run):
    observed = remote_state_run.get()
    first = observed["first_state"]
    assert first["resources"] == ["terraform_data.marker"]
    assert first["outputs"]["generation"]["value"] == "1"
    assert first["server_side_encryption"] == "AES256"
    assert observed["lock_after_first_apply"] is False, "the lock must be released after the apply"


def test_second_apply_is_refused_while_the_first_holds_the_lock(remote_state_run):
    observed = remote_state_run.get()
    lock = observed["lock_info"]
    assert lock["Operation"] == "OperationTypeApply"
    assert lock["ID"] and observed["bucket"] in lock["Path"]

    refused = observed["refused_apply"]
    assert observed["holder_still_running_when_refused"], "the contender must have run while the lock was held"
    assert refused["returncode"] != 0
    assert "Error acquiring the state lock" in refused["output"]
    assert lock["ID"] in refused["output"], "Terraform should name the lock holder's lock ID"

    # Nothing written by the refused apply; the holder's apply went through completely.
    assert observed["state_unchanged_by_refused_apply"] is True
    assert observed["holder"]["returncode"] == 0, observed["holder"]["output"][-2000:]
    assert observed["final_state"]["outputs"]["generation"]["value"] == "2"
    assert observed["final_state"]["serial"] > observed["first_state"]["serial"]
    assert observed["lock_after_holder"] is False
    assert observed["consumer_plan_exit_code"] == 0


def test_everything_is_destroyed(remote_state_run):
    observed = remote_state_run.get()
    assert observed["state_after_consumer_destroy"] == []
    assert observed["bucket_exists_after_destroy"] is False
