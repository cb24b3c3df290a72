"""The service when things go wrong around it: S3 disappears and comes back; the service is told to stop."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from harness import processes
from tests.app.conftest import EMULATOR_CREDENTIALS

BUDGET_SECONDS = 3.0
READY_CACHE_SECONDS = 3.0


def poll(call, accept, timeout: float, interval: float = 0.2):
    """`call()` until `accept(result)`, at most `timeout` seconds; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = call()
        if accept(result) or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def test_s3_outage_is_a_fast_503_and_recovery_needs_no_restart(logs_dir, start_service) -> None:
    emulator = processes.start_moto(logs_dir)
    port = int(emulator.url.rsplit(":", 1)[1])
    bucket = "outage-bucket"

    def create_bucket() -> None:
        boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}),
                     ).create_bucket(Bucket=bucket)

    try:
        create_bucket()
        service = start_service(ready_path="/api/ready", **EMULATOR_CREDENTIALS, S3_BUCKET=bucket,
                                S3_ENDPOINT_URL=emulator.url)
        upload = f"{service.url}/api/upload-random"
        assert requests.post(upload, timeout=5).status_code == 201

        emulator.stop(timeout=10)
        started = time.monotonic()
        failed = requests.post(upload, timeout=10)
        assert time.monotonic() - started < BUDGET_SECONDS
        assert failed.status_code == 503
        assert failed.json()["error"]["code"] == "storage_unavailable"
        assert failed.headers["Retry-After"]
        not_ready = poll(lambda: requests.get(f"{service.url}/api/ready", timeout=5),
                         lambda r: r.status_code == 503, timeout=READY_CACHE_SECONDS + BUDGET_SECONDS)
        assert not_ready.status_code == 503
        assert not_ready.json()["error"]["code"] == "storage_unavailable"
        assert requests.get(f"{service.url}/api/health", timeout=5).status_code == 200, "liveness must not follow S3"

        # S3 returns on the same address (moto starts empty, so the bucket is made again).
        emulator = processes.start_moto(logs_dir, port=port)
        create_bucket()
        answers = []
        recovered = poll(lambda: answers.append(requests.post(upload, timeout=5)) or answers[-1],
                         lambda r: r.status_code == 201, timeout=5)
        assert recovered.status_code == 201, recovered.text
        ready = poll(lambda: requests.get(f"{service.url}/api/ready", timeout=5),
                     lambda r: r.status_code == 200, timeout=READY_CACHE_SECONDS + BUDGET_SECONDS)
        assert ready.status_code == 200
        assert service.alive()
        metrics = requests.get(f"{service.url}/metrics", timeout=5).text
        # The service may take a moment to see S3 back (a pooled connection to the old process fails first).
        # A busy emulator can also be too slow to confirm (202, outcome unknown).
        failed_while_recovering = sum(answer.status_code == 503 for answer in answers)
        unknown = sum(answer.status_code == 202 for answer in answers)
        assert f'mirror_uploads_total{{outcome="failed"}} {1.0 + failed_while_recovering}' in metrics
        assert f'mirror_uploads_total{{outcome="unknown"}} {float(unknown)}' in metrics
        assert 'mirror_uploads_total{outcome="succeeded"} 2.0' in metrics
    finally:
        emulator.stop(timeout=10)


@dataclass
class Outcome:
    kind: str
    started: float
    finished: float
    status: int | None = None  # None: the connection failed (refused or reset), no HTTP answer
    body: dict | None = None


@pytest.mark.parametrize("worker", [{"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_THREADS": "4"},
                                    {"GUNICORN_WORKER_CLASS": "gevent"}], ids=["gthread", "gevent"])
def test_sigterm_drains_in_flight_requests_and_exits_cleanly(start_service, scripted_s3, worker) -> None:
    """Workers that keep connections alive: gthread (sync with GUNICORN_THREADS > 1) and gevent. Uploads
    hang on a black-holed S3 (1 s each: the slow path); mirror requests run on kept-alive connections
    throughout. SIGTERM to the master: everything in flight gets a whole answer (an upload S3 never
    confirmed: 202 outcome unknown), readiness turns 503 on a kept connection, and gunicorn exits 0 well
    within the graceful timeout."""
    graceful_timeout = 10
    s3 = scripted_s3([None])
    service = start_service(**EMULATOR_CREDENTIALS, S3_BUCKET="drain-bucket", S3_ENDPOINT_URL=s3.url,
                            WEB_CONCURRENCY="2", **worker, GUNICORN_GRACEFUL_TIMEOUT=str(graceful_timeout))
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def fast_client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                outcomes.append(send(service, session, "mirror", "GET", "/api/mirror?word=drain"))

    def slow_client() -> None:
        outcomes.append(send(service, requests.Session(), "upload", "POST", "/api/upload-random"))

    probe = requests.Session()
    assert probe.get(f"{service.url}/api/ready", timeout=5).json()["error"]["code"] == "storage_unavailable"

    threads = [threading.Thread(target=fast_client) for _ in range(3)]
    threads += [threading.Thread(target=slow_client) for _ in range(3)]
    for thread in threads:
        thread.start()
    # The uploads are in flight once their PUTs reach the black hole (a worker holds each request). A
    # busy machine gets there later, so wait for it instead of guessing a delay: a request still in the
    # listen backlog at SIGTERM is reset by design (the pod's preStop delay keeps new ones away).
    assert poll(lambda: s3.puts_seen, lambda seen: seen >= 3, timeout=10, interval=0.02) >= 3
    # A busy machine answers fewer mirrors in that time: wait for enough of them to judge the drain by.
    # (Bounded: the uploads give up on S3 after 1 s and must still be in flight at SIGTERM.)
    poll(lambda: sum(o.kind == "mirror" for o in outcomes), lambda count: count > 10, timeout=0.3, interval=0.05)
    sigterm_at = time.monotonic()
    service.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    draining = probe.get(f"{service.url}/api/ready", timeout=5)  # the probe's connection is still open
    try:
        exit_code, exited_after = wait_for_exit(service, sigterm_at, graceful_timeout + 5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)

    assert_clean_exit(service, exit_code, exited_after, graceful_timeout)
    assert draining.status_code == 503
    assert draining.json()["error"]["code"] == "shutting_down"
    assert draining.headers.get("Connection") == "close"
    assert_uploads_finished(outcomes, sigterm_at, expected=3)

    before_sigterm = [o for o in outcomes if o.kind == "mirror" and o.started < sigterm_at]
    assert len(before_sigterm) > 3
    dropped = [o for o in before_sigterm if o.status is None]
    assert not dropped, f"{len(dropped)} requests sent before SIGTERM got no answer"
    assert all(o.status == 200 for o in before_sigterm)
    answered_during_drain = [o for o in outcomes if o.kind == "mirror" and o.started > sigterm_at and o.status]
    assert all(o.status == 200 for o in answered_during_drain)


def test_sigterm_drains_in_flight_requests_and_exits_cleanly_sync(start_service, scripted_s3) -> None:
    """The default sync workers: each holds one request at a time and no kept-alive connections, so what is
    in flight at SIGTERM is exactly one upload per worker; both finish, then gunicorn exits 0. (A connection
    still waiting in the listen backlog at SIGTERM is reset: Kubernetes' preStop delay keeps new ones away.)"""
    graceful_timeout = 10
    s3 = scripted_s3([None])
    service = start_service(**EMULATOR_CREDENTIALS, S3_BUCKET="drain-bucket", S3_ENDPOINT_URL=s3.url,
                            WEB_CONCURRENCY="2", GUNICORN_WORKER_CLASS="sync",
                            GUNICORN_GRACEFUL_TIMEOUT=str(graceful_timeout))
    outcomes: list[Outcome] = []
    uploads = [threading.Thread(target=lambda: outcomes.append(
        send(service, requests.Session(), "upload", "POST", "/api/upload-random"))) for _ in range(2)]
    for thread in uploads:
        thread.start()
    assert poll(lambda: s3.puts_seen, lambda seen: seen >= 2, timeout=10, interval=0.02) >= 2  # both held by a worker
    sigterm_at = time.monotonic()
    service.send_signal(signal.SIGTERM)
    try:
        exit_code, exited_after = wait_for_exit(service, sigterm_at, graceful_timeout + 5)
    finally:
        for thread in uploads:
            thread.join(timeout=20)
    assert_clean_exit(service, exit_code, exited_after, graceful_timeout)
    assert_uploads_finished(outcomes, sigterm_at, expected=2)


def send(service: processes.ManagedProcess, session: requests.Session, kind: str, method: str,
         path: str) -> Outcome:
    started = time.monotonic()
    try:
        response = session.request(method, service.url + path, timeout=15)
    except requests.ConnectionError:
        return Outcome(kind, started, time.monotonic())
    return Outcome(kind, started, time.monotonic(), response.status_code, response.json())


def wait_for_exit(service: processes.ManagedProcess, since: float, timeout: float) -> tuple[int, float]:
    exit_code = service.popen.wait(timeout=timeout)
    return exit_code, time.monotonic() - since


def assert_clean_exit(service: processes.ManagedProcess, exit_code: int, exited_after: float,
                      graceful_timeout: float) -> None:
    assert exit_code == 0, service.log()[-2000:]
    assert exited_after < graceful_timeout, f"exit took {exited_after:.1f}s"
    assert "SIGKILL" not in service.log()


def assert_uploads_finished(outcomes: list[Outcome], sigterm_at: float, expected: int) -> None:
    uploads = [o for o in outcomes if o.kind == "upload"]
    assert len(uploads) == expected
    # Every upload was held by a worker before SIGTERM; on a busy machine the first may have been given up
    # on S3 (1 s) just before it, but the drain must be what answered at least one.
    assert any(upload.finished > sigterm_at for upload in uploads), "no upload was in flight at SIGTERM"
    for upload in uploads:
        # The PUT went out and S3 never answered: it may be stored, so the answer says so (not "try again").
        assert upload.status == 202 and upload.body["outcome"] == "unknown", upload
        assert upload.body["key"].startswith("uploads/"), upload


@pytest.mark.parametrize(
    ("environ", "line"),
    [
        ({"MAX_WORD_LENGTH": "abc"},
         "configuration error: MAX_WORD_LENGTH must be an integer between 1 and 1000000, got 'abc'"),
        ({"FORWARDED_ALLOW_IPS": "*", "GUNICORN_KEEPALIVE": "0"},
         ("configuration error: GUNICORN_KEEPALIVE must be at least 1 with the gevent worker: it is also the "
          "time a connection has to send each request head; FORWARDED_ALLOW_IPS must be comma-separated IP "
          "addresses or networks (CIDR), e.g. 10.0.0.0/8,::1, got '*'")),
        ({"PORT": "0", "LOG_LEVEL": "chatty"},
         ("configuration error: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'chatty'; "
          "PORT must be an integer between 1 and 65535, got '0'")),
    ],
)
def test_bad_configuration_stops_start_up_with_one_line(tmp_path, environ, line) -> None:
    env = processes.service_environment(TMPDIR=str(tmp_path), HOST=processes.LOOPBACK,
                                        **{"PORT": str(processes.free_port()), **environ})
    started = time.monotonic()
    result = subprocess.run(processes.gunicorn_command(), env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert time.monotonic() - started < 10
    assert (result.stdout + result.stderr).strip().splitlines() == [line]
    assert list(tmp_path.iterdir()) == [], "the metrics directory made for this run must be gone"


def _with_open_file_limit(soft: int, hard: int):
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_low_soft_open_file_limit_is_raised_for_the_workers_connections(tmp_path) -> None:
    """containerd 2.0 starts containers with a soft nofile limit of 1024 (containerd#8924): below one gevent
    worker's 1,000 connections. The service raises its soft limit (up to the hard one) before forking."""
    env = processes.service_environment(TMPDIR=str(tmp_path), HOST=processes.LOOPBACK,
                                        PORT=str(processes.free_port()), GUNICORN_WORKER_CONNECTIONS="1000")
    service = subprocess.Popen(processes.gunicorn_command(), env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, preexec_fn=_with_open_file_limit(256, 4096))
    try:
        soft = 256
        deadline = time.monotonic() + 20
        while soft == 256 and service.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            limits = Path(f"/proc/{service.pid}/limits").read_text().splitlines()
            soft = int(next(line for line in limits if line.startswith("Max open files")).split()[3])
        assert soft == 1000 + 64, f"the master's soft open-file limit is {soft}"
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_a_hard_open_file_limit_below_the_workers_connections_stops_start_up_with_one_line(tmp_path) -> None:
    env = processes.service_environment(TMPDIR=str(tmp_path), HOST=processes.LOOPBACK,
                                        PORT=str(processes.free_port()), GUNICORN_WORKER_CONNECTIONS="1000")
    result = subprocess.run(processes.gunicorn_command(), env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=30, check=False, preexec_fn=_with_open_file_limit(256, 512))
    assert result.returncode == 2
    assert (result.stdout + result.stderr).strip().splitlines() == [
        "configuration error: each worker needs 1064 open files for GUNICORN_WORKER_CONNECTIONS=1000, but the hard "
        "limit is 512: lower GUNICORN_WORKER_CONNECTIONS or raise the container's nofile limit"]
    assert list(tmp_path.iterdir()) == [], "the metrics directory made for this run must be gone"
