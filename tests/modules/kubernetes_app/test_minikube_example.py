"""examples/minikube/README.md's commands that need no cluster, run as written against a real moto server.

The AWS CLI signs every request, so even against an emulator `aws s3 mb` fails with "Unable to locate
credentials" on a machine without AWS configuration: the README's command must carry the dummy pair
itself. It runs here with an empty environment (no AWS_* variables, an empty HOME: no ~/.aws)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import boto3
import pytest

from tests.modules.kubernetes_app.rendering import MODULE_DIR

README = MODULE_DIR / "examples" / "minikube" / "README.md"
README_ENDPOINT = "http://127.0.0.1:5000"


def _readme_commands() -> list[str]:
    """The README's sh block as commands, backslash-continued lines joined."""
    block = re.search(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL).group(1)
    return [line.strip() for line in block.replace("\\\n", " ").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_bucket_creation_works_on_a_machine_without_aws_configuration(moto, unique_name, tmp_path):
    if shutil.which("aws") is None:
        hint = "the AWS CLI is missing: apt-get install awscli (or pip install awscli)"
        if os.environ.get("CI") == "true":
            pytest.fail(hint)
        pytest.skip(hint)
    [command] = [c for c in _readme_commands() if " s3 mb " in f" {c} "]
    bucket = unique_name("minikube-example")
    command = command.replace(README_ENDPOINT, moto.url).replace("s3://mirror-staging-local", f"s3://{bucket}")
    assert moto.url in command and bucket in command, command

    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120,
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})

    assert result.returncode == 0, result.stdout + result.stderr
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    s3.head_bucket(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)
