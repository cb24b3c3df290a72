"""The service under attack, as an attacker or an unlucky client would try it (issue #13).

Real gunicorn with the checked-in config and its defaults (2 gevent workers) on a loopback port; the
attacks come from harness/attacks.py (shared with bench/slow_clients.py), which the image tests aim at the container the same way.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time

import pytest

from harness import attacks, processes
from tests.app.conftest import log_records

PROBE_TIMEOUT_SECONDS = 1.0
HELD_PER_KIND = 100  # 300 connections at once: idle, slow headers, slow body
KEEPALIVE_SECONDS = 2


@pytest.fixture(scope="module")
def service(logs_dir):
    env = processes.service_environment(GUNICORN_KEEPALIVE=str(KEEPALIVE_SECONDS))
    server = processes.start_service(env, logs_dir, timeout=20)
    yield server
    assert server.stop(timeout=15) == 0


def test_health_answers_while_hundreds_of_slow_connections_are_held(service) -> None:
    """Before: 2 slow connections left /api/health answering 0 of 20 probes within 1 s (sync workers)."""
    with attacks.HeldConnections(service.url, HELD_PER_KIND) as held:
        time.sleep(KEEPALIVE_SECONDS + 1)  # past the first timeouts: re-opened connections count too
        results = attacks.probe(service.url, count=20, timeout=PROBE_TIMEOUT_SECONDS)
        assert held.open_count >= 0.9 * 3 * HELD_PER_KIND, "the attack itself must be in place"
    missed = [r for r in results if r is None]
    assert not missed, f"{len(missed)} of {len(results)} health probes got no 200 within 1 s"


def test_a_connection_with_requests_queued_does_not_keep_the_worker_from_the_others(start_service) -> None:
    """One worker, stopped while connection A sends 100 requests at once and then connection B sends one;
    once it runs again, both are ready and A comes first. B must be served after a few of A's requests,
    not after all of them.

    Before: gunicorn's gevent worker served A's buffered requests back to back (one read holds them all)
    and B after all 100. The same happens without pipelining whenever a keep-alive client on another core
    sends its next request before the worker reads again: /api/mirror at 32 connections had p99 97 ms
    where p50 was 7 ms (bench/README.md). The order of the request log lines, not a clock, is asserted,
    so a busy machine cannot change the outcome.
    """
    service = start_service(WEB_CONCURRENCY="1")
    (worker,) = processes.child_pids(service.pid)
    batch = 100
    with socket.create_connection(attacks.address(service.url), timeout=10) as a, \
            socket.create_connection(attacks.address(service.url), timeout=10) as b:
        os.kill(worker, signal.SIGSTOP)
        try:
            a.sendall(b"GET /api/mirror?word=queued HTTP/1.1\r\nHost: a\r\nX-Request-ID: queued-a\r\n\r\n" * batch)
            b.sendall(attacks.get_request("/api/mirror?word=waiting", "X-Request-ID: waiting-b"))
        finally:
            os.kill(worker, signal.SIGCONT)
        answers_to_a = b""
        while answers_to_a.count(b"HTTP/1.1 200") < batch:
            chunk = a.recv(1 << 20)
            assert chunk, "A's connection closed before all its answers"
            answers_to_a += chunk
        assert b'"transformed":"GNITIAW"' in b"".join(iter(lambda: b.recv(65536), b""))
    deadline = time.monotonic() + 10
    while (served := [r["request_id"] for r in log_records(service.log()) if r.get("message") == "request"
                      and r.get("request_id") in ("queued-a", "waiting-b")]).count("queued-a") < batch \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "waiting-b" in served
    assert served.index("waiting-b") < 10, f"B was served after {served.index('waiting-b')} of A's requests"


@pytest.mark.parametrize("kind", ["slow_headers", "slow_body"])
def test_a_connection_that_never_finishes_its_request_is_closed(service, kind) -> None:
    """The request head (and an unread body) must arrive within GUNICORN_KEEPALIVE seconds; then the
    server closes the connection, however steadily the client trickles."""
    with attacks.HeldConnections(service.url, 1, kinds=(kind,), interval=0.2) as held:
        deadline = time.monotonic() + 10 * KEEPALIVE_SECONDS
        while held.reopened == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert held.reopened >= 1, f"a {kind} connection was still open after {10 * KEEPALIVE_SECONDS} s"


@pytest.mark.parametrize(("raw", "status", "code"), [r[1:] for r in attacks.REFUSED],
                         ids=[r[0] for r in attacks.REFUSED])
def test_requests_refused_before_the_app_answer_the_apis_json(service, raw, status, code) -> None:
    """Before: gunicorn's HTML 414/431/400 pages without X-Request-ID."""
    answer = attacks.exchange(service.url, raw)
    assert answer.status == status, answer.body[:300]
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"])


def test_a_malformed_body_nobody_reads_gets_one_answer_then_the_connection_closes(service) -> None:
    request = (b"GET /api/health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"
               b"GET /api/health HTTP/1.1\r\nHost: a\r\n\r\n")
    answer = attacks.exchange(service.url, request, until_close=True)
    assert (answer.status, answer.json()) == (200, {"status": "ok"})
    assert answer.after == b"", "no second answer on the connection"


def test_the_longest_valid_word_in_four_byte_characters_is_mirrored(service) -> None:
    """Before: 1,024 emoji (12 KB percent-encoded) got gunicorn's HTML 414."""
    word = "\U0001F600" * 1024
    encoded = "".join(f"%{byte:02X}" for byte in word.encode())
    answer = attacks.exchange(service.url, attacks.get_request(f"/api/mirror?word={encoded}"))
    assert answer.status == 200, answer.body[:300]
    assert answer.json() == {"transformed": word}
    too_long = attacks.exchange(service.url, attacks.get_request(f"/api/mirror?word={encoded}%F0%9F%98%80"))
    assert (too_long.status, too_long.json()["error"]["code"]) == (400, "word_too_long")


@pytest.mark.parametrize("headers", [
    ("SCRIPT_NAME: /elsewhere",),
    ("PATH_INFO: /api/upload-random",),
    ("X-Forwarded-Proto: https", "X-Forwarded-Ssl: off"),  # contradictory: a 400 if believed
    ("X-Forwarded-For: 203.0.113.9", "X-Forwarded-Host: evil.example", "Forwarded: for=1.2.3.4"),
], ids=["script-name", "path-info", "contradictory-scheme", "forwarded-for"])
def test_forwarding_headers_from_a_client_change_nothing(service, headers) -> None:
    """Before: `SCRIPT_NAME: /elsewhere` from loopback (gunicorn trusted 127.0.0.1) answered HTML 500."""
    answer = attacks.exchange(service.url, attacks.get_request("/api/health", *headers))
    assert answer.status == 200, answer.body[:300]
    assert answer.json() == {"status": "ok"}


def test_script_name_is_ignored_even_from_a_trusted_proxy(logs_dir) -> None:
    proxied = processes.start_service(processes.service_environment(FORWARDED_ALLOW_IPS="127.0.0.1"), logs_dir)
    try:
        answer = attacks.exchange(proxied.url, attacks.get_request("/api/health", "SCRIPT_NAME: /elsewhere"))
        assert (answer.status, answer.json()) == (200, {"status": "ok"})
        believed = attacks.exchange(proxied.url, attacks.get_request("/api/health", "X-Forwarded-Proto: https",
                                                      "X-Forwarded-Ssl: off"))
        assert believed.status == 400, "from a configured proxy the scheme headers are read (and here disagree)"
        assert believed.json()["error"]["code"] == "malformed_request"
    finally:
        proxied.stop(timeout=15)


def test_refusals_are_logged_as_json_without_the_request(service) -> None:
    marker = "SecretQueryValue"
    attacks.exchange(service.url, attacks.get_request(f"/api/mirror?word={marker}" + "a" * 20_000))
    attacks.exchange(service.url, attacks.get_request("/api/health", f"X-Big: {marker}" + "a" * 20_000))
    time.sleep(0.2)
    log = service.log()
    assert marker not in log, "rejected request lines and headers stay out of the log"
    assert '"error_code": "request_line_too_long"' in log
