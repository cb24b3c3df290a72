"""Logs at every level: JSON lines under 4 KB, and nothing secret or client-controlled in them (issue #13).

Before: at LOG_LEVEL=DEBUG botocore wrote the access key id and the signed headers to the log.
"""

from __future__ import annotations

import contextlib

import requests

from harness import attacks, processes
from tests.app.conftest import UPLOAD_TOKEN, log_records

ACCESS_KEY_ID = "AKIALOGTESTKEYID0001"
SECRET_ACCESS_KEY = "logtest/Secret+Access+Key+0123456789abcd"
QUERY_MARKER = "QueryValueNotForLogs"
MAX_LINE_BYTES = 4096


def test_debug_logs_hold_no_credentials_signatures_or_query_strings(logs_dir, moto, bucket) -> None:
    env = processes.service_environment(
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY, AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true", S3_BUCKET=bucket, S3_ENDPOINT_URL=moto.url, UPLOAD_TOKEN=UPLOAD_TOKEN,
        LOG_LEVEL="DEBUG")
    service = processes.start_service(env, logs_dir, ready_path="/api/ready", timeout=20)
    try:
        auth = {"Authorization": f"Bearer {UPLOAD_TOKEN}"}
        assert requests.post(f"{service.url}/api/upload-random", headers={**auth, "Idempotency-Key": "log-1"},
                             timeout=10).status_code in (201, 202, 503)
        requests.post(f"{service.url}/api/upload-random", headers={"Authorization": "Bearer wrong-token-value"},
                      timeout=10)
        requests.get(f"{service.url}/api/mirror?word={QUERY_MARKER}&x=%ff", timeout=10)
        attacks.exchange(service.url, f"GET /api/mirror?word={QUERY_MARKER}{'a' * 20_000} HTTP/1.1\r\n\r\n".encode())
        with contextlib.suppress(ConnectionError):  # an unfinished request gets no answer, only a closed connection
            attacks.exchange(service.url, f"GET /api/mirror?word={QUERY_MARKER} HTTP/1.1\r\nHost".encode(), timeout=7)
    finally:
        assert service.stop(timeout=15) == 0
    log = service.log()
    assert '"level": "DEBUG"' in log, "the service did log at DEBUG"
    for secret in (ACCESS_KEY_ID, SECRET_ACCESS_KEY, UPLOAD_TOKEN, "wrong-token-value", "Signature=",
                   "AWS4-HMAC-SHA256", "Authorization", QUERY_MARKER):
        assert secret not in log, f"{secret!r} reached the log"
    log_records(log)  # every line is JSON
    assert max(len(line.encode()) for line in log.splitlines()) < MAX_LINE_BYTES
