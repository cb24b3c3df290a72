"""Settings come from the environment only; every bad value is named in one clear message."""

from __future__ import annotations

import pytest

from mirror_service.config import ConfigError, ServerSettings, Settings, load_all, load_settings


def test_defaults() -> None:
    settings, server = load_all({})
    assert settings == Settings(s3_bucket=None, s3_endpoint_url=None, s3_prefix="uploads/", aws_region="us-east-1",
                                upload_token=None, app_version="0.0.0-dev", log_level="INFO", max_word_length=1024)
    assert server == ServerSettings(host="0.0.0.0", port=4545, workers=2, worker_class="gevent",
                                    worker_connections=1000, threads=1, timeout=30, graceful_timeout=20,
                                    keepalive=5, forwarded_allow_ips=(), log_level="INFO")
    assert settings.request_line_limit == 1024 * 12 + 512, "1,024 four-byte characters percent-encoded fit"


def test_every_variable_is_read() -> None:
    settings, server = load_all({
        "S3_BUCKET": "my.bucket-1", "S3_ENDPOINT_URL": "http://127.0.0.1:5000", "S3_PREFIX": "a/b/",
        "AWS_REGION": "eu-central-1", "UPLOAD_TOKEN": "x" * 16, "APP_VERSION": "1.2.3+abc", "LOG_LEVEL": "debug",
        "MAX_WORD_LENGTH": "5", "HOST": "127.0.0.1", "PORT": "8080", "WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "8",
        "GUNICORN_TIMEOUT": "60", "GUNICORN_GRACEFUL_TIMEOUT": "25", "GUNICORN_KEEPALIVE": "0",
        "GUNICORN_WORKER_CLASS": "sync", "GUNICORN_WORKER_CONNECTIONS": "50",
        "FORWARDED_ALLOW_IPS": "10.0.0.0/8, ::1",
    })
    assert settings == Settings("my.bucket-1", "http://127.0.0.1:5000", "a/b/", "eu-central-1", "x" * 16,
                                "1.2.3+abc", "DEBUG", 5)
    assert server == ServerSettings("127.0.0.1", 8080, 3, "sync", 50, 8, 60, 25, 0, ("10.0.0.0/8", "::1"), "DEBUG")


def test_empty_means_unset() -> None:
    """Tooling renders absent values as "" (the sandbox passes UPLOAD_TOKEN="" for "no token")."""
    assert load_settings({"UPLOAD_TOKEN": "", "S3_PREFIX": " ", "MAX_WORD_LENGTH": ""}) == Settings()


def test_the_token_is_never_shown() -> None:
    settings = load_settings({"UPLOAD_TOKEN": "s3cr3t-value-long-enough"})
    assert "s3cr3t" not in repr(settings)
    with pytest.raises(ConfigError) as raised:
        load_settings({"UPLOAD_TOKEN": "short-s3cr3t"})
    assert "s3cr3t" not in str(raised.value)
    assert "UPLOAD_TOKEN must be 16 to 512 visible ASCII characters" in str(raised.value)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MAX_WORD_LENGTH": "abc"}, "MAX_WORD_LENGTH must be an integer between 1 and 1000000, got 'abc'"),
        ({"MAX_WORD_LENGTH": "0"}, "MAX_WORD_LENGTH must be an integer between 1 and 1000000, got '0'"),
        ({"MAX_WORD_LENGTH": "-5"}, "MAX_WORD_LENGTH must be an integer between 1 and 1000000, got '-5'"),
        ({"MAX_WORD_LENGTH": "²"}, "MAX_WORD_LENGTH must be an integer between 1 and 1000000, got '²'"),
        ({"PORT": "70000"}, "PORT must be an integer between 1 and 65535, got '70000'"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be an integer between 1 and 64, got '0'"),
        ({"GUNICORN_THREADS": "many"}, "GUNICORN_THREADS must be an integer between 1 and 256, got 'many'"),
        ({"GUNICORN_WORKER_CLASS": "eventlet"}, "GUNICORN_WORKER_CLASS must be one of gevent, sync, got 'eventlet'"),
        ({"GUNICORN_KEEPALIVE": "0"}, "GUNICORN_KEEPALIVE must be at least 1 with the gevent worker"),
        ({"GUNICORN_THREADS": "4"}, "GUNICORN_THREADS has no effect with the gevent worker"),
        ({"FORWARDED_ALLOW_IPS": "*"}, "FORWARDED_ALLOW_IPS must be comma-separated IP addresses or networks"),
        ({"FORWARDED_ALLOW_IPS": "10.0.0.1/8"}, "FORWARDED_ALLOW_IPS must be comma-separated IP addresses"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
        ({"S3_BUCKET": "Not_A_Bucket"}, "S3_BUCKET must be a valid S3 bucket name"),
        ({"S3_ENDPOINT_URL": "ftp://x"}, "S3_ENDPOINT_URL must be an http:// or https:// URL, got 'ftp://x'"),
        ({"S3_ENDPOINT_URL": "http://host:port"}, "S3_ENDPOINT_URL must be an http:// or https:// URL"),
        ({"S3_PREFIX": "/abs/"}, "S3_PREFIX must be a key prefix"),
        ({"AWS_REGION": "mars"}, "AWS_REGION must be an AWS region like us-east-1, got 'mars'"),
        ({"APP_VERSION": "x" * 129}, "APP_VERSION must be 1 to 128 printable ASCII characters"),
    ],
)
def test_bad_values_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_all(environ)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_all_problems_in_one_message_and_shared_variables_once() -> None:
    with pytest.raises(ConfigError) as raised:
        load_all({"PORT": "x", "MAX_WORD_LENGTH": "y", "LOG_LEVEL": "z"})
    problems = str(raised.value).split("; ")
    assert [p.split(" ")[0] for p in problems] == ["LOG_LEVEL", "MAX_WORD_LENGTH", "PORT"]


def test_create_app_validates_too(app_for) -> None:
    with pytest.raises(ConfigError, match="MAX_WORD_LENGTH"):
        app_for(MAX_WORD_LENGTH="abc")
