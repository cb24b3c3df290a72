"""Settings read from environment variables only, validated once, with one clear message when wrong.

Two groups: `Settings` is what the application needs, `ServerSettings` is what gunicorn needs.
gunicorn.conf.py validates both in the master before any worker starts, so a bad value stops the
service with one line instead of a crash loop; `create_app()` validates `Settings` again, so the
application is safe however it is started.

An empty variable counts as unset: deployment tooling often renders absent values as "".
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# gevent: a connection costs a greenlet, not a worker, until its request has arrived (the default).
# sync (one request per process) and gthread (sync with GUNICORN_THREADS > 1) stay for comparison.
WORKER_CLASSES = ("gevent", "sync")
# S3 bucket naming rules (the general-purpose subset; dots allowed, no IP-address check needed here).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
# Keys stay printable and URL-friendly; "/" separates the prefix from the generated part.
_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]{0,512}")
# A bearer token is sent in a header: visible ASCII, no spaces. 16 characters is a floor against guessable values.
_TOKEN = re.compile(r"[\x21-\x7e]{16,512}")
_VERSION = re.compile(r"[\x20-\x7e]{1,128}")
_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,255}")


class ConfigError(ValueError):
    """The environment does not describe a valid configuration; the message names every problem."""


@dataclass(frozen=True)
class Settings:
    """What the application needs. `upload_token` never appears in repr or logs."""

    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_prefix: str = "uploads/"
    aws_region: str = "us-east-1"
    upload_token: str | None = field(default=None, repr=False)
    app_version: str = "0.0.0-dev"
    log_level: str = "INFO"
    max_word_length: int = 1024

    @property
    def request_line_limit(self) -> int:
        """The longest request line to accept: one that carries any valid word in any UTF-8, percent-encoded
        (4 bytes per character at most, 3 characters per byte), plus method, path, other parameters, version."""
        return self.max_word_length * 12 + 512


@dataclass(frozen=True)
class ServerSettings:
    """What gunicorn needs (see CONTRACTS.md for the defaults)."""

    host: str = "0.0.0.0"  # a container must listen on all interfaces
    port: int = 4545
    workers: int = 2
    worker_class: str = "gevent"
    # gevent: connections one worker holds at once (open, idle, or sending their request), beyond which it
    # stops accepting. Each held connection costs a few KB (bench/slow_clients.py).
    worker_connections: int = 1000
    # sync only: more than 1 makes gunicorn use its gthread worker.
    threads: int = 1
    timeout: int = 30
    graceful_timeout: int = 20
    # gevent: also the seconds a connection has to send each complete request head (app/README.md).
    keepalive: int = 5
    # Addresses whose X-Forwarded-* headers gunicorn believes: none unless configured.
    forwarded_allow_ips: tuple[str, ...] = ()
    log_level: str = "INFO"


class _Reader:
    """Reads variables from one environment and collects every problem instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.raw(name)
        if raw is None:
            return default
        if raw.isascii() and raw.isdigit() and low <= int(raw) <= high:
            return int(raw)
        self.problems.append(f"{name} must be an integer between {low} and {high}, got {raw!r}")
        return default

    def matching(self, name: str, default: T, check: Callable[[str], bool], rule: str, secret: bool = False) -> str | T:
        raw = self.raw(name)
        if raw is None:
            return default
        if check(raw):
            return raw
        shown = "a value that does not qualify (not shown)" if secret else repr(raw)
        self.problems.append(f"{name} must be {rule}, got {shown}")
        return default

    def log_level(self) -> str:
        return self.matching("LOG_LEVEL", "INFO", lambda v: v.upper() in LOG_LEVELS,
                             f"one of {', '.join(LOG_LEVELS)}").upper()

    def raise_if_invalid(self) -> None:
        if self.problems:
            # A variable read by both groups (LOG_LEVEL) is reported once.
            raise ConfigError("; ".join(dict.fromkeys(self.problems)))


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        port_is_valid = parts.port is None or parts.port > 0  # .port raises ValueError when malformed
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and port_is_valid
            and not parts.query and not parts.fragment)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The application's settings from `environ` (default: the process environment); ConfigError if invalid."""
    read = _Reader(os.environ if environ is None else environ)
    settings = _read_settings(read)
    read.raise_if_invalid()
    return settings


def load_server_settings(environ: Mapping[str, str] | None = None) -> ServerSettings:
    """gunicorn's settings alone from `environ` (what a pod with that environment runs); ConfigError if invalid."""
    read = _Reader(os.environ if environ is None else environ)
    server_settings = _read_server_settings(read)
    read.raise_if_invalid()
    return server_settings


def load_all(environ: Mapping[str, str] | None = None) -> tuple[Settings, ServerSettings]:
    """Both groups, with every problem of both in one ConfigError (what gunicorn.conf.py reports)."""
    read = _Reader(os.environ if environ is None else environ)
    settings, server_settings = _read_settings(read), _read_server_settings(read)
    read.raise_if_invalid()
    return settings, server_settings


def _read_settings(read: _Reader) -> Settings:
    return Settings(
        s3_bucket=read.matching("S3_BUCKET", None, _BUCKET_NAME.fullmatch,
                                "a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')"),
        s3_endpoint_url=read.matching("S3_ENDPOINT_URL", None, _is_http_url, "an http:// or https:// URL"),
        s3_prefix=read.matching("S3_PREFIX", Settings.s3_prefix,
                                lambda v: bool(_PREFIX.fullmatch(v)) and not v.startswith("/"),
                                "a key prefix of at most 512 characters from A-Z a-z 0-9 ! _ . * ' ( ) / - "
                                "not starting with '/'"),
        aws_region=read.matching("AWS_REGION", Settings.aws_region, _REGION.fullmatch, "an AWS region like us-east-1"),
        upload_token=read.matching("UPLOAD_TOKEN", None, _TOKEN.fullmatch,
                                   "16 to 512 visible ASCII characters without spaces", secret=True),
        app_version=read.matching("APP_VERSION", Settings.app_version, _VERSION.fullmatch,
                                  "1 to 128 printable ASCII characters"),
        log_level=read.log_level(),
        max_word_length=read.integer("MAX_WORD_LENGTH", Settings.max_word_length, 1, 1_000_000),
    )


def _is_address_list(value: str) -> bool:
    try:
        for item in value.split(","):
            ipaddress.ip_network(item.strip(), strict=True)
    except ValueError:
        return False
    return True


def _read_server_settings(read: _Reader) -> ServerSettings:
    worker_class = read.matching("GUNICORN_WORKER_CLASS", ServerSettings.worker_class, WORKER_CLASSES.__contains__,
                                 f"one of {', '.join(WORKER_CLASSES)}")
    keepalive = read.integer("GUNICORN_KEEPALIVE", ServerSettings.keepalive, 0, 600)
    if worker_class == "gevent" and keepalive == 0:
        # With keep-alive 0 gunicorn reads a request head without any deadline (workers/base_async.py).
        read.problems.append("GUNICORN_KEEPALIVE must be at least 1 with the gevent worker: it is also the "
                             "time a connection has to send each request head")
    threads = read.integer("GUNICORN_THREADS", ServerSettings.threads, 1, 256)
    if worker_class == "gevent" and threads > 1:
        # gunicorn ignores threads in its gevent worker; a tuning value silently unused would mislead.
        read.problems.append("GUNICORN_THREADS has no effect with the gevent worker (its concurrency is "
                             "GUNICORN_WORKER_CONNECTIONS): leave it at 1, or set GUNICORN_WORKER_CLASS=sync to run "
                             "gunicorn's gthread worker")
    forwarded = read.matching("FORWARDED_ALLOW_IPS", "", _is_address_list,
                              "comma-separated IP addresses or networks (CIDR), e.g. 10.0.0.0/8,::1")
    return ServerSettings(
        host=read.matching("HOST", ServerSettings.host, _HOST.fullmatch, "a host name or IP address"),
        port=read.integer("PORT", ServerSettings.port, 1, 65535),
        workers=read.integer("WEB_CONCURRENCY", ServerSettings.workers, 1, 64),
        worker_class=worker_class,
        worker_connections=read.integer("GUNICORN_WORKER_CONNECTIONS", ServerSettings.worker_connections, 1, 100_000),
        threads=threads,
        timeout=read.integer("GUNICORN_TIMEOUT", ServerSettings.timeout, 5, 3600),
        graceful_timeout=read.integer("GUNICORN_GRACEFUL_TIMEOUT", ServerSettings.graceful_timeout, 1, 3600),
        keepalive=keepalive,
        forwarded_allow_ips=tuple(item.strip() for item in forwarded.split(",") if item.strip()),
        log_level=read.log_level(),
    )
