"""Exactly-once uploads: the Idempotency-Key contract, down to the objects in the bucket (issue #13).

Before: with S3 stalled past the client's timeout the service answered "503 try again later" although
the object was written once S3 recovered, so a retry stored a second one; the same request sent twice
stored two objects, with no way to ask for one.
"""

from __future__ import annotations

import signal
import threading
import time

import boto3
import pytest
import requests
from botocore.config import Config

from harness import processes
from tests.app.conftest import EMULATOR_CREDENTIALS, UPLOAD_TOKEN, metric_samples

TIMEOUT = 10


def objects(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def upload(client, key: str | None = None, token: str = UPLOAD_TOKEN):
    """One upload; with a key, retried on 503 as the contract says to (a busy emulator can be slower than
    the service's 1 s budget)."""
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    response = client.post("/api/upload-random", headers=headers)
    for _ in range(5 if key is not None else 0):
        if response.status_code != 503:
            break
        time.sleep(0.5)
        response = client.post("/api/upload-random", headers=headers)
    return response


@pytest.fixture
def app_client(app_for, s3_env):
    return app_for(**s3_env, UPLOAD_TOKEN=UPLOAD_TOKEN).test_client()


def test_the_same_key_twice_is_one_object_and_the_same_answer(app_client, aws_client, bucket) -> None:
    first = upload(app_client, '"order-1234"')
    second = upload(app_client, '"order-1234"')
    assert first.status_code == second.status_code == 201, first.get_data(as_text=True)
    assert first.get_json() == second.get_json()
    assert objects(aws_client("s3"), bucket) == [first.get_json()["key"]]
    body = aws_client("s3").get_object(Bucket=bucket, Key=first.get_json()["key"])["Body"].read()
    assert int(body) == first.get_json()["value"]
    samples = metric_samples(app_client.get("/metrics").get_data(as_text=True), "mirror_uploads_total")
    # One object: counted as stored once, or (if S3 was too slow to confirm it) as unknown, never twice.
    assert samples['{outcome="succeeded"}'] + samples['{outcome="unknown"}'] >= 1.0
    assert samples['{outcome="succeeded"}'] <= 1.0


def test_without_a_key_each_request_is_a_new_object(app_client, aws_client, bucket) -> None:
    answers = [upload(app_client) for _ in range(2)]
    assert all(a.status_code in (201, 202) for a in answers), [a.get_data(as_text=True) for a in answers]
    keys = {a.get_json()["key"] for a in answers}  # a 202 (S3 too slow to confirm) names its key too
    assert len(keys) == 2
    assert poll(lambda: set(objects(aws_client("s3"), bucket)) == keys, 10)


def test_keys_are_scoped_by_token_and_bare_values_are_accepted(app_for, s3_env, aws_client, bucket) -> None:
    other_token = "another-token-0123456789"
    mine = upload(app_for(**s3_env, UPLOAD_TOKEN=UPLOAD_TOKEN).test_client(), "k-1")
    theirs = upload(app_for(**s3_env, UPLOAD_TOKEN=other_token).test_client(), '"k-1"', token=other_token)
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["key"] != theirs.get_json()["key"]
    assert "k-1" not in mine.get_json()["key"], "the object key does not reveal the idempotency key"
    assert len(objects(aws_client("s3"), bucket)) == 2


@pytest.mark.parametrize("value", ['"a","b"', '"unterminated', '"back\\\\slash"', "", '""', '"' + "x" * 256 + '"',
                                   "spa ce"])
def test_a_malformed_key_is_a_400_and_stores_nothing(app_client, aws_client, bucket, value) -> None:
    response = upload(app_client, value)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_idempotency_key"
    assert objects(aws_client("s3"), bucket) == []


def test_concurrent_attempts_with_one_key_store_one_object(logs_dir, moto, bucket, aws_client) -> None:
    service = processes.start_service(processes.service_environment(
        **EMULATOR_CREDENTIALS, S3_BUCKET=bucket, S3_ENDPOINT_URL=moto.url, UPLOAD_TOKEN=UPLOAD_TOKEN), logs_dir)
    answers = []

    def attempt() -> None:
        answers.append(requests.post(f"{service.url}/api/upload-random", timeout=TIMEOUT, headers={
            "Authorization": f"Bearer {UPLOAD_TOKEN}", "Idempotency-Key": '"same-key"'}))

    try:
        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        service.stop(timeout=15)
    assert len(objects(aws_client("s3"), bucket)) == 1
    stored = [a.json() for a in answers if a.status_code == 201]
    assert stored and all(body == stored[0] for body in stored), [a.text for a in answers]
    assert all(a.status_code in (201, 503) for a in answers), [a.text for a in answers]


def poll(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.fixture
def stalled_s3(logs_dir):
    """An S3 emulator of our own (this test freezes it), with a bucket."""
    emulator = processes.start_moto(logs_dir)
    s3 = boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="stall-bucket")
    yield emulator, s3
    emulator.send_signal(signal.SIGCONT)
    emulator.stop(timeout=10)


def test_an_upload_that_timed_out_after_s3_stored_it_is_not_stored_twice(start_service, stalled_s3) -> None:
    """S3 frozen (SIGSTOP) past the service's 1 s read timeout, then thawed: it stores what it had received.
    Keyed: the retry answers with that object. Unkeyed: the answer names the key to check, and it is there."""
    emulator, s3 = stalled_s3
    service = start_service(**EMULATOR_CREDENTIALS, S3_BUCKET="stall-bucket", S3_ENDPOINT_URL=emulator.url,
                            UPLOAD_TOKEN=UPLOAD_TOKEN)
    url = f"{service.url}/api/upload-random"
    headers = {"Authorization": f"Bearer {UPLOAD_TOKEN}"}
    keyed = {**headers, "Idempotency-Key": '"stall-1"'}
    warm_up = {**headers, "Idempotency-Key": '"warm-up"'}  # a fresh emulator is slow to its first PutObject
    assert poll(lambda: requests.post(url, headers=warm_up, timeout=TIMEOUT).status_code == 201, 20)

    emulator.send_signal(signal.SIGSTOP)
    try:
        timed_out = requests.post(url, headers=keyed, timeout=TIMEOUT)
        unkeyed = requests.post(url, headers=headers, timeout=TIMEOUT)
    finally:
        emulator.send_signal(signal.SIGCONT)
    assert timed_out.status_code == 503, timed_out.text
    assert timed_out.json()["error"]["code"] == "upload_outcome_unknown"
    assert "same Idempotency-Key" in timed_out.json()["error"]["message"]
    assert unkeyed.status_code == 202, unkeyed.text
    assert unkeyed.json()["outcome"] == "unknown"

    answers = []
    poll(lambda: answers.append(requests.post(url, headers=keyed, timeout=TIMEOUT)) or answers[-1].status_code == 201,
         20)
    retried = answers[-1]
    assert retried.status_code == 201, retried.text
    again = requests.post(url, headers=keyed, timeout=TIMEOUT)
    assert again.json() == retried.json()

    stored = objects(s3, "stall-bucket")
    assert stored.count(retried.json()["key"]) == 1
    assert unkeyed.json()["key"] in stored, "the key the 202 named is where the object landed"
    assert len(stored) == 3, stored  # the warm-up's, the keyed one's once, the unkeyed one's
    assert int(s3.get_object(Bucket="stall-bucket", Key=retried.json()["key"])["Body"].read()) == \
        retried.json()["value"]
