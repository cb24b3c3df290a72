"""Hostile and unlucky clients, aimed at a base URL: the process tests, the image tests and
bench/slow_clients.py use them.

Everything here speaks raw HTTP/1.1 over sockets (an HTTP library would fix up what we mean to send
broken) and is bounded: a number of connections, a time limit on every wait.

- `HeldConnections`: idle, slow-header and slow-body connections kept open (re-opened when the server
  closes one, as an attacker would), counted.
- `probe()`: request latencies on fresh connections, `None` for a probe that got no answer in time.
- `exchange()`: one raw request, its answer parsed (`Answer`).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

KINDS = ("idle", "slow_headers", "slow_body")
# What each kind sends on connecting; then one byte of `_TRICKLE[kind]` per interval, never finishing.
_OPENING = {
    "idle": b"",
    "slow_headers": b"GET /api/health HTTP/1.1\r\nHost: attack\r\nX-Slow: ",
    "slow_body": b"GET /api/health HTTP/1.1\r\nHost: attack\r\nContent-Length: 1000\r\n\r\n",
}
_TRICKLE = {"idle": b"", "slow_headers": b"a", "slow_body": b"x"}


def address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    after: bytes = b""  # whatever the server sent after this answer

    def json(self) -> dict:
        return json.loads(self.body)


def parse_answer(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return Answer(status, headers, body[:length], body[length:])


def exchange(base_url: str, request: bytes, timeout: float = 10.0, until_close: bool = False) -> Answer:
    """Send `request` as is (sending stops early if the server closes); read one answer, or everything
    until the server closes the connection (`until_close`)."""
    with socket.create_connection(address(base_url), timeout=timeout) as connection:
        try:
            connection.sendall(request)
        except OSError:  # the server answered and closed while we were still sending
            pass
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = connection.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            received += chunk
            if not until_close and _complete(received):
                break
    if not received:
        raise ConnectionError(f"no answer to a {len(request)}-byte request")
    return parse_answer(received)


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def probe(base_url: str, path: str = "/api/health", count: int = 20, timeout: float = 1.0,
          pause: float = 0.05) -> list[float | None]:
    """`count` GETs of `path`, each on a new connection; seconds to a 200, or None (no 200 within `timeout`)."""
    results: list[float | None] = []
    request = f"GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode()
    for _ in range(count):
        started = time.monotonic()
        try:
            answer = exchange(base_url, request, timeout=timeout)
            elapsed = time.monotonic() - started
            results.append(elapsed if answer.status == 200 and elapsed <= timeout else None)
        except (OSError, ValueError, IndexError):
            results.append(None)
        time.sleep(pause)
    return results


@dataclass
class HeldConnections:
    """`count` connections of each kind in `kinds`, held open until `close()` (or the `with` block ends).

    A connection the server closes is opened again at once, so the pressure stays constant; `reopened`
    counts those. One background thread trickles a byte to every slow connection each `interval`.
    """

    base_url: str
    count: int
    kinds: tuple[str, ...] = KINDS
    interval: float = 0.5
    connect_timeout: float = 2.0
    reopened: int = 0
    failed_connects: int = 0
    _sockets: list[tuple[str, socket.socket | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> HeldConnections:
        self._sockets = [(kind, self._open(kind)) for kind in self.kinds for _ in range(self.count)]
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def open_count(self) -> int:
        return sum(connection is not None for _, connection in self._sockets)

    def _open(self, kind: str) -> socket.socket | None:
        try:
            connection = socket.create_connection(address(self.base_url), timeout=self.connect_timeout)
            connection.sendall(_OPENING[kind])
            connection.setblocking(False)
            return connection
        except OSError:
            self.failed_connects += 1
            return None

    def _trickle(self) -> None:
        while not self._stop.wait(self.interval):
            for index, (kind, connection) in enumerate(self._sockets):
                if self._stop.is_set():
                    return
                if connection is None or not self._still_open(kind, connection):
                    if connection is not None:
                        connection.close()
                        self.reopened += 1
                    self._sockets[index] = (kind, self._open(kind))

    @staticmethod
    def _still_open(kind: str, connection: socket.socket) -> bool:
        try:
            if connection.recv(65536) == b"":  # the server closed it
                return False
        except BlockingIOError:
            pass  # nothing to read: still open
        except OSError:
            return False
        try:
            if _TRICKLE[kind]:
                connection.send(_TRICKLE[kind])
        except BlockingIOError:
            pass
        except OSError:
            return False
        return True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for _, connection in self._sockets:
            if connection is not None:
                connection.close()
        self._sockets = []


def get_request(target: str, *headers: str) -> bytes:
    """A raw GET with extra header lines, closing the connection after the answer."""
    return "\r\n".join([f"GET {target} HTTP/1.1", "Host: attack", *headers, "Connection: close", "", ""]).encode()


# Requests gunicorn refuses before the app, each with the status and the API error code it must answer.
REFUSED = [
    # (id, raw request, status, error code)
    ("request-line-20KB", get_request("/api/mirror?word=" + "a" * 20_000), 414, "request_line_too_long"),
    ("request-line-70KB", get_request("/api/mirror?word=" + "a" * 70_000), 414, "request_line_too_long"),
    ("header-20KB", get_request("/api/health", "X-Big: " + "a" * 20_000), 431, "headers_too_large"),
    ("200-headers", get_request("/api/health", *(f"X-H{n}: v" for n in range(200))), 431, "headers_too_large"),
    ("body-1MB-declared", b"POST /api/upload-random HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n",
     413, "body_too_large"),
    ("not-http", b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n", 400, "malformed_request"),
    ("bare-lf", b"GET /api/health HTTP/1.1\nHost: a\n\n", 400, "malformed_request"),
    ("length-and-chunked", b"POST /api/upload-random HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "malformed_request"),
    ("unknown-coding", get_request("/api/health", "Transfer-Encoding: gzip"), 400, "malformed_request"),
    ("bad-version", b"GET /api/health HTTP/9.9\r\nHost: a\r\n\r\n", 400, "malformed_request"),
    ("space-in-header-name", get_request("/api/health", "Bad Name: x"), 400, "malformed_request"),
]
