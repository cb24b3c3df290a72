"""harness.moto_server's one change to moto: conditional bucket-policy statements no longer deny everything."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


def _policy(bucket: str, **condition) -> str:
    statement = {"Sid": "deny", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": f"arn:aws:s3:::{bucket}/*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_tls_only_statement_does_not_block_requests(aws_client, unique_name):
    s3, bucket = aws_client("s3"), unique_name("policy")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, Bool={"aws:SecureTransport": "false"}))
    s3.put_object(Bucket=bucket, Key="allowed.txt", Body=b"1")
    assert s3.get_object(Bucket=bucket, Key="allowed.txt")["Body"].read() == b"1"


def test_unconditional_deny_is_still_enforced(aws_client, unique_name):
    s3, bucket = aws_client("s3"), unique_name("policy")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket))
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="denied.txt", Body=b"1")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
