"""The HTTP contract through Flask's test client: JSON shapes, request ids, the token, bad input.

S3 is the session's real moto server where a test needs one; nothing is mocked.
"""

from __future__ import annotations

import re

import pytest

from tests.app.conftest import UPLOAD_TOKEN, metric_samples

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def client(app_for):
    return app_for().test_client()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    return body


def test_health(client) -> None:
    response = client.get("/api/health")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert response.mimetype == "application/json"
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])


def test_version_reports_the_version_and_nothing_configured(app_for) -> None:
    client = app_for(APP_VERSION="1.4.2", UPLOAD_TOKEN=UPLOAD_TOKEN, S3_BUCKET="secret-bucket-name").test_client()
    response = client.get("/api/version")
    assert response.get_json() == {"service": "mirror-service", "version": "1.4.2"}
    assert UPLOAD_TOKEN not in response.get_data(as_text=True)


def test_mirror(client) -> None:
    response = client.get("/api/mirror?word=fOoBar25")
    assert (response.status_code, response.get_json()) == (200, {"transformed": "52RAbOoF"})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("word=h%C3%A9LLo", "OllÉH"),  # percent-encoded UTF-8
        ("word=a+b", "B A"),  # '+' is a space in a query
        ("word=a%2Bb", "B+A"),
        ("other=%ff&word=ok", "KO"),  # other parameters are not our business, even undecodable ones
        ("word=%F0%9F%98%80", "😀"),
    ],
)
def test_mirror_decodes_queries(client, query: str, expected: str) -> None:
    response = client.get(f"/api/mirror?{query}")
    assert (response.status_code, response.get_json()) == (200, {"transformed": expected})


def test_word_length_limit_is_inclusive(client) -> None:
    assert client.get("/api/mirror?word=" + "a" * 1024).get_json() == {"transformed": "A" * 1024}
    assert_error(client.get("/api/mirror?word=" + "a" * 1025), 400, "word_too_long")
    # Characters, not bytes: 1024 two-byte letters are fine.
    assert client.get("/api/mirror?word=" + "%C3%A9" * 1024).status_code == 200


def test_word_length_limit_is_configurable(app_for) -> None:
    client = app_for(MAX_WORD_LENGTH="3").test_client()
    assert client.get("/api/mirror?word=abc").status_code == 200
    body = assert_error(client.get("/api/mirror?word=abcd"), 400, "word_too_long")
    assert "3 characters" in body["error"]["message"]


BAD_INPUT = [
    # (method, path, extra headers, status, error code)
    ("GET", "/api/mirror", {}, 400, "missing_word"),
    ("GET", "/api/mirror?word=", {}, 400, "empty_word"),
    ("GET", "/api/mirror?word", {}, 400, "empty_word"),
    ("GET", "/api/mirror?word=%ff", {}, 400, "invalid_word_encoding"),
    ("GET", "/api/mirror?word=%ED%A0%80", {}, 400, "invalid_word_encoding"),  # an encoded lone surrogate
    ("GET", "/api/mirror?word=a&word=b", {}, 400, "ambiguous_word"),
    ("GET", "/api/mirror?word=" + "x" * 1025, {}, 400, "word_too_long"),
    ("POST", "/api/mirror?word=abc", {}, 405, "method_not_allowed"),
    ("DELETE", "/api/health", {}, 405, "method_not_allowed"),
    ("OPTIONS", "/api/mirror", {}, 405, "method_not_allowed"),
    ("GET", "/api/upload-random", {}, 405, "method_not_allowed"),
    ("GET", "/api/nope", {}, 404, "not_found"),
    ("GET", "/api/health/", {}, 404, "not_found"),
    ("GET", "/", {}, 404, "not_found"),
    ("BREW", "/api/health", {}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "headers", "status", "code"), BAD_INPUT,
                         ids=[f"{m} {p[:40]}" for m, p, *_ in BAD_INPUT])
def test_bad_input_gets_a_clear_json_4xx(client, method, path, headers, status, code) -> None:
    assert_error(client.open(path, method=method, headers=headers), status, code)


def test_405_names_the_allowed_methods(client) -> None:
    assert set(client.post("/api/mirror").headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert client.get("/api/upload-random").headers["Allow"] == "POST"


def test_a_sane_request_id_is_echoed(client) -> None:
    for sane in ("abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "Root:1-5759e988.bd862e3f_X", "x" * 128):
        response = client.get("/api/health", headers={"X-Request-ID": sane})
        assert response.headers["X-Request-ID"] == sane


@pytest.mark.parametrize("insane", ["x" * 129, "with space", "semi;colon", "quote\"", "ünï", "<script>"])
def test_an_insane_request_id_is_replaced(client, insane: str) -> None:
    response = client.get("/api/nope", headers={"X-Request-ID": insane})
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])
    assert response.get_json()["error"]["request_id"] == response.headers["X-Request-ID"]


def test_every_response_has_its_own_id(client) -> None:
    ids = {client.get("/api/health").headers["X-Request-ID"] for _ in range(20)}
    assert len(ids) == 20


def test_unhandled_exceptions_become_a_json_500_without_details(app_for) -> None:
    app = app_for()

    def broken():
        raise RuntimeError("internal detail that must not leak")

    app.add_url_rule("/broken", view_func=broken)
    response = app.test_client().get("/broken")
    body = assert_error(response, 500, "internal_error")
    assert "internal detail" not in response.get_data(as_text=True)
    assert "Traceback" not in body["error"]["message"]


class TestUploadToken:
    @pytest.fixture
    def client(self, app_for, s3_env):
        return app_for(**s3_env, UPLOAD_TOKEN=UPLOAD_TOKEN).test_client()

    def test_missing_token(self, client) -> None:
        response = client.post("/api/upload-random")
        assert_error(response, 401, "missing_token")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="mirror-service"'

    @pytest.mark.parametrize("authorization", [
        "Bearer wrong-token-of-some-length",
        f"Bearer {UPLOAD_TOKEN}x",
        f"Bearer {UPLOAD_TOKEN[:-1]}",
        f"Basic {UPLOAD_TOKEN}",
        UPLOAD_TOKEN,
        "Bearer",
        "Bearer ",
        "Bearer ünïcödé",
    ])
    def test_bad_token(self, client, authorization: str) -> None:
        response = client.post("/api/upload-random", headers={"Authorization": authorization})
        assert_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="mirror-service", error="invalid_token"'

    @pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
    def test_good_token_uploads(self, client, scheme: str, aws_client, s3_env) -> None:
        response = client.post("/api/upload-random", headers={"Authorization": f"{scheme} {UPLOAD_TOKEN}"})
        assert response.status_code == 201, response.get_data(as_text=True)
        body = response.get_json()
        stored = aws_client("s3").get_object(Bucket=s3_env["S3_BUCKET"], Key=body["key"])["Body"].read()
        assert stored == f"{body['value']}\n".encode()

    def test_a_body_is_refused_after_the_token_check(self, client) -> None:
        assert_error(client.post("/api/upload-random", data=b"x"), 401, "missing_token")
        response = client.post("/api/upload-random", data=b"payload",
                               headers={"Authorization": f"Bearer {UPLOAD_TOKEN}"})
        assert_error(response, 400, "body_not_allowed")


def test_upload_writes_a_txt_object_with_an_integer(app_for, s3_env, aws_client) -> None:
    client = app_for(**s3_env, S3_PREFIX="incoming/").test_client()
    response = client.post("/api/upload-random", headers={"X-Request-ID": "upload-1"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"bucket", "key", "value"}
    assert body["bucket"] == s3_env["S3_BUCKET"]
    assert re.fullmatch(r"incoming/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}\.txt", body["key"])
    obj = aws_client("s3").get_object(Bucket=s3_env["S3_BUCKET"], Key=body["key"])
    assert int(obj["Body"].read()) == body["value"]
    assert obj["ContentType"] == "text/plain; charset=utf-8"
    assert obj["Metadata"] == {"request-id": "upload-1"}


def test_an_empty_aws_profile_counts_as_unset(app_for, s3_env, monkeypatch) -> None:
    """Tooling (the sandbox among them) renders "no profile" as AWS_PROFILE=""; botocore alone would fail."""
    monkeypatch.setenv("AWS_PROFILE", "")
    assert app_for(**s3_env).test_client().post("/api/upload-random").status_code == 201


def test_upload_without_a_bucket_is_503(client) -> None:
    assert_error(client.post("/api/upload-random"), 503, "storage_not_configured")


def test_upload_to_a_missing_bucket_is_502(app_for, s3_env) -> None:
    client = app_for(**{**s3_env, "S3_BUCKET": "no-such-bucket-anywhere"}).test_client()
    assert_error(client.post("/api/upload-random"), 502, "storage_rejected")


def test_upload_to_an_unreachable_store_is_503_with_retry_after(app_for, s3_env, refused_url) -> None:
    client = app_for(**{**s3_env, "S3_ENDPOINT_URL": refused_url}).test_client()
    response = client.post("/api/upload-random")
    assert_error(response, 503, "storage_unavailable")
    assert response.headers["Retry-After"] == "5"


class TestReadiness:
    def test_ready_when_the_bucket_answers(self, app_for, s3_env) -> None:
        response = app_for(**s3_env).test_client().get("/api/ready")
        assert (response.status_code, response.get_json()) == (200, {"status": "ready"})

    @pytest.mark.parametrize(("overrides", "code"), [
        ({"S3_BUCKET": ""}, "storage_not_configured"),
        ({"S3_BUCKET": "no-such-bucket-anywhere"}, "storage_rejected"),
        ({"S3_ENDPOINT_URL": "refused"}, "storage_unavailable"),
    ])
    def test_not_ready_with_a_reason(self, app_for, s3_env, refused_url, overrides, code) -> None:
        env = {**s3_env, **overrides}
        if env["S3_ENDPOINT_URL"] == "refused":
            env["S3_ENDPOINT_URL"] = refused_url
        assert_error(app_for(**env).test_client().get("/api/ready"), 503, code)

    def test_draining_wins_over_everything(self, app_for, s3_env) -> None:
        app = app_for(**s3_env)
        client = app.test_client()
        assert client.get("/api/ready").status_code == 200
        app.extensions["mirror_service"].readiness.begin_draining()
        assert_error(client.get("/api/ready"), 503, "shutting_down")
        assert client.get("/api/health").status_code == 200  # liveness is not readiness

    def test_the_check_is_cached(self, app_for, s3_env, aws_client) -> None:
        """A deleted bucket is noticed only when the cached answer expires (a few seconds)."""
        app = app_for(**s3_env)
        client = app.test_client()
        assert client.get("/api/ready").status_code == 200
        aws_client("s3").delete_bucket(Bucket=s3_env["S3_BUCKET"])
        assert client.get("/api/ready").status_code == 200
        readiness = app.extensions["mirror_service"].readiness
        readiness._last_checked -= readiness._cache_seconds  # let the cached answer expire without sleeping
        assert_error(client.get("/api/ready"), 503, "storage_rejected")


def test_metrics_use_route_templates_and_bounded_labels(client) -> None:
    client.get("/api/mirror?word=a")
    client.get("/api/mirror?word=")
    client.post("/api/mirror")
    for path in ("/random/1", "/random/2", "/wp-admin.php"):
        client.get(path)
    client.open("/api/health", method="BREW")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    requests_total = metric_samples(response.get_data(as_text=True), "mirror_http_requests_total")
    assert requests_total == {
        '{method="GET",route="/api/mirror",status="200"}': 1.0,
        '{method="GET",route="/api/mirror",status="400"}': 1.0,
        '{method="POST",route="/api/mirror",status="405"}': 1.0,
        '{method="GET",route="unmatched",status="404"}': 3.0,
        '{method="other",route="/api/health",status="405"}': 1.0,
    }
    text = response.get_data(as_text=True)
    assert 'mirror_uploads_total{outcome="succeeded"} 0.0' in text
    assert 'mirror_uploads_total{outcome="failed"} 0.0' in text
    assert 'mirror_http_request_duration_seconds_count{method="GET",route="/api/mirror"} 2.0' in text


def test_upload_outcomes_are_counted(app_for, s3_env, refused_url) -> None:
    good = app_for(**s3_env).test_client()
    good.post("/api/upload-random")
    assert 'mirror_uploads_total{outcome="succeeded"} 1.0' in good.get("/metrics").get_data(as_text=True)
    bad = app_for(**{**s3_env, "S3_ENDPOINT_URL": refused_url}).test_client()
    bad.post("/api/upload-random")
    assert 'mirror_uploads_total{outcome="failed"} 1.0' in bad.get("/metrics").get_data(as_text=True)
