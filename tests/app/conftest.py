"""Fixtures of the service tests: the app in-process, the service under real gunicorn, S3 that misbehaves."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator

import pytest

from harness import processes
from mirror_service import create_app

# Credentials the emulator accepts; never real ones.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Long enough for the service's 16-character floor; unique enough to grep for in logs.
UPLOAD_TOKEN = "tok-7f3c9a1e5b2d4c6a8e0f"


@pytest.fixture
def bucket(aws_client, unique_name) -> str:
    """A fresh bucket on the session's moto server."""
    name = unique_name("mirror-test")
    aws_client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def app_for(monkeypatch) -> Callable[..., object]:
    """`app_for(**env)`: the Flask app built by create_app() from exactly that environment.

    boto3 reads credentials from the process environment, so the emulator's go there (and nothing of
    the developer's own AWS setup can leak in).
    """
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in EMULATOR_CREDENTIALS.items():
        monkeypatch.setenv(name, value)

    def make(**env: str):
        return create_app({key: str(value) for key, value in env.items()})

    return make


@pytest.fixture
def s3_env(moto, bucket) -> dict[str, str]:
    """The service's environment for the session's moto server and a fresh bucket."""
    return {**EMULATOR_CREDENTIALS, "S3_BUCKET": bucket, "S3_ENDPOINT_URL": moto.url}


@pytest.fixture
def start_service(logs_dir) -> Iterator[Callable[..., processes.ManagedProcess]]:
    """`start_service(**env)`: the service under gunicorn with the checked-in config; stopped at teardown."""
    started: list[processes.ManagedProcess] = []

    def start(ready_path: str = "/api/health", **env: str) -> processes.ManagedProcess:
        service = processes.start_service(processes.service_environment(**env), logs_dir, ready_path=ready_path,
                                          timeout=20)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop(timeout=15)


class ScriptedS3(http.server.ThreadingHTTPServer):
    """Answers request n with `script[n]`: an HTTP status, or None for "accept and never answer"."""

    daemon_threads = True

    def __init__(self, script: list[int | None]):
        self.script = script
        self.requests_seen = 0
        self.puts_seen = 0  # uploads that reached S3: a worker has accepted their request
        self.release = threading.Event()
        super().__init__((processes.LOOPBACK, 0), _ScriptedHandler)
        self.url = f"http://{processes.LOOPBACK}:{self.server_address[1]}"


class _ScriptedHandler(http.server.BaseHTTPRequestHandler):
    server: ScriptedS3

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        index = self.server.requests_seen
        self.server.requests_seen += 1
        self.server.puts_seen += self.command == "PUT"
        status = self.server.script[min(index, len(self.server.script) - 1)]
        if status is None:
            self.server.release.wait(10)
            return
        body = b"" if status < 300 else b"<Error><Code>ServiceUnavailable</Code><Message>x</Message></Error>"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"d41d8cd98f00b204e9800998ecf8427e"')
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_HEAD = _answer  # http.server dispatches on these names

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scripted_s3(monkeypatch) -> Iterator[Callable[[list[int | None]], ScriptedS3]]:
    """`scripted_s3([503, None])`: a started ScriptedS3 (`[None]` is a hung S3); also puts the emulator
    credentials in this process's environment, for in-process boto3 clients."""
    for name, value in EMULATOR_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    servers: list[ScriptedS3] = []

    def start(script: list[int | None]) -> ScriptedS3:
        server = ScriptedS3(script)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def refused_url() -> str:
    """An endpoint where nothing listens (connection refused)."""
    return f"http://{processes.LOOPBACK}:{processes.free_port()}"


def log_records(log_text: str) -> list[dict]:
    """Every line of a service log parsed as JSON; fails on the first line that is not JSON."""
    records = []
    for number, line in enumerate(log_text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                pytest.fail(f"log line {number} is not JSON ({error}): {line[:300]}")
    return records


def metric_samples(text: str, name: str) -> dict[str, float]:
    """`{labels: value}` of one metric in a Prometheus exposition."""
    samples = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name):].rsplit(" ", 1)
            samples[labels] = float(value)
    return samples
