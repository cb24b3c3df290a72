"""The service as it runs in production: real gunicorn (checked-in config) on a loopback port, real moto.

One service instance serves the tests of this module (they do not depend on each other's state:
counts are taken as differences, objects are looked up by key).
"""

from __future__ import annotations

import re
import secrets
import socket

import pytest
import requests

from harness import processes
from tests.app.conftest import EMULATOR_CREDENTIALS, UPLOAD_TOKEN, log_records, metric_samples

TIMEOUT = 5


@pytest.fixture(scope="module")
def module_bucket(aws_client) -> str:
    name = f"mirror-svc-{secrets.token_hex(3)}"
    aws_client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def service(moto, module_bucket, logs_dir):
    env = processes.service_environment(**EMULATOR_CREDENTIALS, S3_BUCKET=module_bucket, S3_ENDPOINT_URL=moto.url,
                                        UPLOAD_TOKEN=UPLOAD_TOKEN, APP_VERSION="9.9.9-test",
                                        WEB_CONCURRENCY="2")
    server = processes.start_service(env, logs_dir, ready_path="/api/ready", timeout=20)
    yield server
    assert server.stop(timeout=15) == 0
    assert UPLOAD_TOKEN not in server.log(), "the upload token reached the service's log"


def keys_in(aws_client, bucket: str) -> set[str]:
    return {obj["Key"] for obj in aws_client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_upload_lands_in_the_bucket(service, aws_client, module_bucket) -> None:
    response = requests.post(f"{service.url}/api/upload-random", timeout=TIMEOUT,
                             headers={"Authorization": f"Bearer {UPLOAD_TOKEN}"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["bucket"] == module_bucket
    assert body["key"].startswith("uploads/") and body["key"].endswith(".txt")
    content = aws_client("s3").get_object(Bucket=module_bucket, Key=body["key"])["Body"].read().decode()
    assert content == f"{body['value']}\n"
    assert int(content) == body["value"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-token-at-all"},
                                     {"Authorization": f"Basic {UPLOAD_TOKEN}"}], ids=["missing", "bad", "basic"])
def test_without_the_token_nothing_is_written(service, aws_client, module_bucket, headers) -> None:
    before = keys_in(aws_client, module_bucket)
    response = requests.post(f"{service.url}/api/upload-random", headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="mirror-service"')
    assert response.json()["error"]["code"] in {"missing_token", "invalid_token"}
    assert keys_in(aws_client, module_bucket) == before


def chunks():
    yield b"unexpected"


BAD_REQUESTS = [
    # (method, path, keyword arguments for requests, status, error code)
    ("GET", "/api/mirror", {}, 400, "missing_word"),
    ("GET", "/api/mirror?word=", {}, 400, "empty_word"),
    ("GET", "/api/mirror?word=%ff", {}, 400, "invalid_word_encoding"),
    ("GET", "/api/mirror?word=%C3", {}, 400, "invalid_word_encoding"),
    ("GET", "/api/mirror?word=a&word=b", {}, 400, "ambiguous_word"),
    ("GET", "/api/mirror?word=" + "a" * 1025, {}, 400, "word_too_long"),
    ("PUT", "/api/mirror?word=a", {}, 405, "method_not_allowed"),
    ("OPTIONS", "/api/health", {}, 405, "method_not_allowed"),
    ("GET", "/api/upload-random", {}, 405, "method_not_allowed"),
    ("GET", "/does/not/exist", {}, 404, "not_found"),
    ("POST", "/api/upload-random", {"data": b"body"}, 400, "body_not_allowed"),
    ("POST", "/api/upload-random", {"data": chunks()}, 400, "body_not_allowed"),
    ("POST", "/api/upload-random", {"json": {"a": 1}}, 400, "body_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), BAD_REQUESTS,
                         ids=[f"{m} {p[:40]} {sorted(k)}" for m, p, k, *_ in BAD_REQUESTS])
def test_bad_requests_get_clear_json_errors(service, method, path, kwargs, status, code) -> None:
    headers = {"Authorization": f"Bearer {UPLOAD_TOKEN}", "X-Request-ID": f"bad-{secrets.token_hex(4)}"}
    response = requests.request(method, service.url + path, headers=headers, timeout=TIMEOUT, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": code, "message": response.json()["error"]["message"],
                                         "request_id": headers["X-Request-ID"]}}
    assert response.headers["X-Request-ID"] == headers["X-Request-ID"]
    if status == 405:
        assert response.headers["Allow"]


def test_good_requests(service) -> None:
    assert requests.get(f"{service.url}/api/health", timeout=TIMEOUT).json() == {"status": "ok"}
    assert requests.get(f"{service.url}/api/ready", timeout=TIMEOUT).json() == {"status": "ready"}
    assert requests.get(f"{service.url}/api/version", timeout=TIMEOUT).json() == {
        "service": "mirror-service", "version": "9.9.9-test"}
    mirrored = requests.get(f"{service.url}/api/mirror", params={"word": "fOoBar25"}, timeout=TIMEOUT)
    assert mirrored.json() == {"transformed": "52RAbOoF"}
    assert requests.get(f"{service.url}/api/mirror", params={"word": "a" * 1024}, timeout=TIMEOUT).status_code == 200
    unicode_word = requests.get(f"{service.url}/api/mirror", params={"word": "Straße"}, timeout=TIMEOUT)
    assert unicode_word.json() == {"transformed": "EßARTs"}


def test_garbage_on_the_socket_is_a_400(service) -> None:
    port = int(service.url.rsplit(":", 1)[1])
    with socket.create_connection((processes.LOOPBACK, port), timeout=TIMEOUT) as connection:
        connection.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        assert connection.recv(200).startswith(b"HTTP/1.1 400")


def test_metrics_add_up_across_workers(service) -> None:
    """N requests on fresh connections (so both workers get some); every scrape, whichever worker answers, says N."""
    def mirror_count() -> float:
        text = requests.get(f"{service.url}/metrics", timeout=TIMEOUT).text
        return metric_samples(text, "mirror_http_requests_total").get(
            '{method="GET",route="/api/mirror",status="200"}', 0.0)

    before = mirror_count()
    start = len(service.log())
    requests_sent = 120
    for number in range(requests_sent):
        response = requests.get(f"{service.url}/api/mirror", params={"word": f"w{number}"}, timeout=TIMEOUT,
                                headers={"X-Request-ID": f"metrics-{number}", "Connection": "close"})
        assert response.status_code == 200
    scrapes = [mirror_count() - before for _ in range(6)]
    assert scrapes == [requests_sent] * 6
    serving_pids = {record["pid"] for record in log_records(service.log()[start:])
                    if str(record.get("request_id", "")).startswith("metrics-")}
    assert len(serving_pids) == 2, f"expected both workers to serve, got pids {serving_pids}"


def test_every_log_line_is_json_and_requests_are_logged(service) -> None:
    request_id = f"logged-{secrets.token_hex(4)}"
    requests.get(f"{service.url}/api/mirror?word=QueryNotLogged", headers={"X-Request-ID": request_id},
                 timeout=TIMEOUT)
    requests.post(f"{service.url}/api/upload-random", timeout=TIMEOUT,
                  headers={"X-Request-ID": request_id + "-up", "Authorization": f"Bearer {UPLOAD_TOKEN}"})
    records = log_records(service.log())
    ours = [r for r in records if r.get("request_id") == request_id]
    assert len(ours) == 1, "exactly one line per request"
    line = ours[0]
    assert {"time", "level", "logger", "pid", "message", "request_id", "method", "route", "status",
            "duration_ms"} <= set(line)
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/mirror", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert "QueryNotLogged" not in service.log(), "query strings are not logged"
    assert any(r.get("logger") == "gunicorn.error" for r in records), "gunicorn's own lines are JSON too"
    assert not any("Authorization" in str(r) or "Bearer" in str(r) for r in records)
    assert UPLOAD_TOKEN not in service.log()


def test_ids_are_generated_when_missing_or_insane(service) -> None:
    generated = requests.get(f"{service.url}/api/health", timeout=TIMEOUT).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    replaced = requests.get(f"{service.url}/api/health", headers={"X-Request-ID": "a b"}, timeout=TIMEOUT)
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
