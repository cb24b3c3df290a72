"""What a team does: `source = "git::...//modules/s3-staging?ref=<tag>"`, then init and apply.

The module comes from a throwaway git repository (a bare clone of this checkout's modules/, tagged),
through Terraform's own git installer. The consumer applies the module as teams get it, lifecycle
configuration included, so the AWS provider's ~55 s lifecycle waiter runs here: marked `slow`, the file
starts first and the wait overlaps with the rest of the suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

pytestmark = pytest.mark.slow

CONSUMER = Path(__file__).parent / "git_consumer"
TAG = "v0.0.0-test"
GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
           "GIT_COMMITTER_NAME": "tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid"}


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True, timeout=60)


def test_module_consumed_through_a_git_source_pinned_to_a_tag(terraform_copy, aws_client, unique_name, tmp_path):
    # A repository with the modules, tagged; then main moves on with a change that must not reach the
    # consumer: the ref pins the tagged tree.
    source_tree = tmp_path / "source"
    shutil.copytree(REPO_ROOT / "modules", source_tree / "modules",
                    ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    git("init", "--quiet", "--initial-branch=main", cwd=source_tree)
    git("add", "--all", cwd=source_tree)
    git("commit", "--quiet", "--message", "modules for the git source test", cwd=source_tree)
    git("tag", TAG, cwd=source_tree)
    bare = tmp_path / "modules.git"
    git("clone", "--quiet", "--bare", str(source_tree), str(bare), cwd=tmp_path)
    (source_tree / "modules" / "s3-staging" / "main.tf").write_text("this is not terraform\n")
    git("commit", "--quiet", "--all", "--message", "break main after the tag", cwd=source_tree)
    git("push", "--quiet", str(bare), "main", cwd=source_tree)

    consumer = tmp_path / "consumer-source"
    shutil.copytree(CONSUMER, consumer)
    module_source = f"git::file://{bare}//modules/s3-staging?ref={TAG}"
    main_tf = consumer / "main.tf"
    main_tf.write_text(main_tf.read_text().replace("__MODULE_SOURCE__", module_source))
    bucket = unique_name("stg-git")
    tf = terraform_copy(consumer, name="consumer", tf_vars={"bucket_name": bucket})

    installed = json.loads(Path(tf.tfdir, ".terraform", "modules", "modules.json").read_text())["Modules"]
    assert [m["Source"] for m in installed if m["Key"] == "staging_bucket"] == [module_source]

    tf.apply()
    s3 = aws_client("s3")
    assert tf.output()["bucket_name"] == bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    rules = [rule["ID"] for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]]
    assert sorted(rules) == ["expire-noncurrent-versions-and-incomplete-uploads", "expire-staged-objects"]

    # Uploads go through; two versions stay behind, and force_destroy must still remove the bucket.
    for body in (b"first", b"second"):
        s3.put_object(Bucket=bucket, Key="uploads/staged.txt", Body=body)
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="uploads/")["Versions"]) == 2

    tf.destroy()
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
