"""The attacks of tests/app/test_attacks.py, aimed at the image run as the chart runs the pod (issue #13).

The process tests prove the serving stack; these prove the image carries it: the same gevent worker,
the same JSON refusals and the same limits under the chart's environment, read-only root, uid 10001 and
the pod's CPU and memory limits. The container listens on the host's network (loopback only).
"""

from __future__ import annotations

import re
import urllib.parse

from harness import attacks

HELD_PER_KIND = 100  # 300 connections at once: idle, slow headers, slow body
PROBE_TIMEOUT_SECONDS = 1.0


def test_health_answers_while_hundreds_of_slow_connections_are_held(served) -> None:
    """Before: with the image's defaults 64 idle connections left /api/health answering 0 of 8 probes."""
    with attacks.HeldConnections(served.url, HELD_PER_KIND) as held:
        results = attacks.probe(served.url, count=20, timeout=PROBE_TIMEOUT_SECONDS)
        assert held.open_count >= 0.9 * 3 * HELD_PER_KIND, "the attack itself must be in place"
    missed = [r for r in results if r is None]
    assert not missed, f"{len(missed)} of {len(results)} health probes got no 200 within 1 s"


def test_requests_refused_before_the_app_answer_the_apis_json(served) -> None:
    """Before: gunicorn's HTML 414/431/400 pages without X-Request-ID, from the image as from the process."""
    for name, raw, status, code in attacks.REFUSED:
        answer = attacks.exchange(served.url, raw)
        assert answer.status == status, f"{name}: {answer.body[:300]!r}"
        assert answer.headers["content-type"] == "application/json", name
        assert answer.json()["error"]["code"] == code, name
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), name


def test_the_longest_valid_word_in_four_byte_characters_is_mirrored(served) -> None:
    """Before: 1,024 emoji (12 KB percent-encoded) got gunicorn's HTML 414."""
    word = "\U0001F600" * 1024
    answer = attacks.exchange(served.url, attacks.get_request("/api/mirror?word=" + urllib.parse.quote(word)))
    assert answer.status == 200, answer.body[:300]
    assert answer.json() == {"transformed": word}


def test_a_script_name_header_from_loopback_changes_nothing(served) -> None:
    """Before: `SCRIPT_NAME: /elsewhere` from 127.0.0.1 (where a sidecar forwards from) answered HTML 500."""
    answer = attacks.exchange(served.url, attacks.get_request("/api/health", "SCRIPT_NAME: /elsewhere",
                                                              "X-Forwarded-For: 203.0.113.9"))
    assert (answer.status, answer.json()) == (200, {"status": "ok"})
