"""The image run as the chart runs the pod, against the session's moto server, asserted over HTTP.

The container gets what the rendered Deployment asks for (harness/container.py `chart_pod`): user 10001,
read-only root, all capabilities dropped, no privilege escalation, tmpfs where the chart mounts emptyDirs,
the ConfigMap's and Secret's environment, the CPU and memory limits.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import yaml

from harness import processes
from harness.container import CHART_DIR
from harness.container import run_arguments as container_flags
from tests.container.conftest import EMULATOR_SECRET, UPLOAD_TOKEN

AUTH = {"Authorization": f"Bearer {UPLOAD_TOKEN}"}
HEALTH_SAMPLE = 'mirror_http_requests_total{method="GET",route="/api/health",status="200"}'


def _records(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if line.strip()]


def _health_count(url: str) -> float:
    for line in requests.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(HEALTH_SAMPLE + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_health_readiness_version_and_mirror(served) -> None:
    assert requests.get(f"{served.url}/api/health", timeout=5).status_code == 200
    # Each worker checks the bucket for itself (and caches a failure for a few seconds on a slow emulator).
    served.wait_answering("/api/ready", timeout=30, in_a_row=5)
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert requests.get(f"{served.url}/api/version", timeout=5).json()["version"] == chart["appVersion"]
    assert requests.get(f"{served.url}/api/mirror?word=fOoBar25", timeout=5).json() == {"transformed": "52RAbOoF"}
    refused = requests.get(f"{served.url}/api/mirror", timeout=5)
    assert refused.status_code == 400 and refused.headers["Content-Type"].startswith("application/json")


def test_upload_lands_in_the_bucket(served, aws_client, pod_bucket, pod) -> None:
    answer = requests.post(f"{served.url}/api/upload-random", headers=AUTH, timeout=10)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["bucket"] == pod_bucket and body["key"].startswith(pod.env["S3_PREFIX"])
    stored = aws_client("s3").get_object(Bucket=pod_bucket, Key=body["key"])["Body"].read().decode()
    assert stored.strip() == str(body["value"])
    assert requests.post(f"{served.url}/api/upload-random", timeout=10).status_code == 401


def test_metrics_add_up_across_workers(start_pod, engine) -> None:
    """Every worker writes to the chart's metrics emptyDir; a scrape, whichever worker answers, sums them all.
    Two workers, as a pod with a 2-CPU limit runs (the chart's default is one per CPU of the limit)."""
    served = start_pod(env={"WEB_CONCURRENCY": "2"})
    served.wait_answering("/api/health", timeout=30)
    before = _health_count(served.url)
    sent = 0
    pids: set[int] = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(pids) < 2 and sent < 2000:  # until both workers have answered some
            statuses = list(pool.map(lambda _: requests.get(f"{served.url}/api/health", timeout=5,
                                                            headers={"Connection": "close"}).status_code, range(100)))
            assert statuses == [200] * 100
            sent += 100
            pids = {r["pid"] for r in _records(served.process.log())
                    if r.get("logger") == "mirror_service.requests" and r.get("route") == "/api/health"}
    assert len(pids) >= 2, "all requests went to one worker"
    assert _health_count(served.url) - before == sent
    files = engine.run("exec", served.name, "ls", "/run/prometheus").stdout.split()
    assert {f"counter_{pid}.db" for pid in pids} <= set(files)


def test_logs_are_json_lines_without_secrets(served) -> None:
    requests.post(f"{served.url}/api/upload-random", headers=AUTH, timeout=10)
    log = served.process.log()
    records = _records(log)  # every line of the container's stdout is one JSON object
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)
    assert any(r["logger"] == "mirror_service.requests" and r.get("request_id") for r in records)
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], log[-3000:]
    assert "Read-only file system" not in log
    assert UPLOAD_TOKEN not in log and EMULATOR_SECRET not in log


def test_runs_as_non_root_without_a_user_flag(start_pod, engine) -> None:
    running = start_pod(user=False)
    assert requests.get(f"{running.url}/api/mirror?word=ab", timeout=5).json() == {"transformed": "BA"}
    assert engine.run("exec", running.name, "id", "-u").stdout.strip() == "10001"
    running.remove()


def _half_sent(port: int, request_head: bytes) -> socket.socket:
    """A request whose last header line has not been sent yet: in flight in a worker when SIGTERM comes."""
    sock = socket.create_connection((processes.LOOPBACK, port), timeout=30)
    sock.sendall(request_head)
    return sock


def _finish(sock: socket.socket) -> bytes:
    sock.sendall(b"\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    return answer


def test_sigterm_under_load_drops_nothing_and_exits_zero(start_pod, pod, aws_client, pod_bucket) -> None:
    """The kubelet's order: the pod leaves the endpoints (the load stops sending), then SIGTERM. Requests in
    flight at SIGTERM (a mirror and an upload whose heads are still arriving) are answered; exit 0 within the
    time gunicorn has before the kubelet's SIGKILL (grace period minus the preStop sleep)."""
    running = start_pod()
    port = int(running.url.rsplit(":", 1)[1])
    stop_load = threading.Event()
    outcomes: list[int | str] = []

    def load(path: str, method: str) -> None:
        while not stop_load.is_set():
            try:
                outcomes.append(requests.request(method, f"{running.url}{path}", headers=AUTH, timeout=30).status_code)
            except requests.RequestException as error:
                outcomes.append(repr(error))

    threads = [threading.Thread(target=load, args=args) for args in
               [("/api/mirror?word=load", "GET")] * 3 + [("/api/upload-random", "POST")] * 2]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(outcomes) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    held_mirror = _half_sent(port, b"GET /api/mirror?word=held HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n")
    held_upload = _half_sent(port, b"POST /api/upload-random HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n"
                                   b"Content-Length: 0\r\nAuthorization: Bearer " + UPLOAD_TOKEN.encode() + b"\r\n")
    stop_load.set()  # endpoint removal: nothing new arrives
    for thread in threads:
        thread.join(timeout=60)
    time.sleep(0.5)  # the workers have picked the held connections up
    signalled = time.monotonic()
    running.signal("TERM")
    time.sleep(1)
    mirror_answer, upload_answer = _finish(held_mirror), _finish(held_upload)
    exit_code = running.wait(timeout=pod.grace_seconds)
    stopped_after = time.monotonic() - signalled

    assert len(outcomes) >= 200 and set(outcomes) <= {200, 201}, [o for o in outcomes if o not in (200, 201)][:5]
    assert mirror_answer.startswith(b"HTTP/1.1 200") and mirror_answer.endswith(b'{"transformed":"DLEH"}')
    assert upload_answer.startswith(b"HTTP/1.1 201"), upload_answer[:300]
    key = json.loads(upload_answer.split(b"\r\n\r\n", 1)[1])["key"]
    aws_client("s3").head_object(Bucket=pod_bucket, Key=key)
    assert exit_code == 0, running.process.log()[-3000:]
    assert stopped_after < pod.grace_seconds - pod.pre_stop_seconds
    running.remove()


def test_a_bad_setting_stops_the_container_with_one_line(engine, image, pod) -> None:
    """What a typo in values.yaml's gunicorn block does to the pod: exit 2 with one readable line, no traceback."""
    # Not WEB_CONCURRENCY: gunicorn itself parses that one at import (gunicorn/config.py Workers.default), so a
    # bad value there ends in gunicorn's ValueError traceback before the service's config can speak.
    env = {**pod.env, "GUNICORN_THREADS": "two"}
    result = engine.run("run", "--rm", "--network", "none", *[flag for flag in container_flags(engine, pod) if flag != "--network=host"],
                        *[f"--env={key}={value}" for key, value in env.items()], image["image"], check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert "configuration error" in output and "GUNICORN_THREADS" in output
    assert "Traceback" not in output
    assert UPLOAD_TOKEN not in output and EMULATOR_SECRET not in output
