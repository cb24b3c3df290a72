"""A steady stream of HTTP requests for the cluster tests, from this host to a Service's ClusterIP (kube-proxy's
iptables rules pick a pod for every new connection), and a record of each request's fate.

Standard library only (no wrk on these machines): `threads` threads, each paced to `rate / threads` requests per
second. By default every request opens its own connection, so each one is balanced by kube-proxy afresh and a pod
that has left the Service's endpoints gets no new request; `keepalive=True` reuses one connection per thread (a
pooled client: more requests per CPU second, for the HPA's load), reopening it whenever the server closed it.
A request counts as failed when it gets no answer (refused, reset, timed out) or an answer other than 200.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outcome:
    sent: float  # time.monotonic() when the request started
    took: float
    status: int | None  # HTTP status, None when no answer came
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Load:
    host: str
    port: int
    path: str = "/api/mirror?word=fOoBar25"
    rate: float = 40.0  # requests per second, all threads together; 0: as fast as each thread can
    threads: int = 4
    timeout: float = 5.0
    keepalive: bool = False
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(index,), name=f"load-{index}", daemon=True)
                         for index in range(self.threads)]
        self.started = self.stopped = 0.0

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            for worker in self._workers:
                worker.join(self.timeout + 5)
            self.stopped = time.monotonic()

    def _run(self, index: int) -> None:
        interval = self.threads / self.rate if self.rate else 0.0
        upcoming = time.monotonic() + interval * index / self.threads  # the threads' requests interleave
        connection = None
        while not self._stop.is_set():
            if interval:
                delay = upcoming - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                upcoming = max(upcoming + interval, time.monotonic() - interval)  # no burst after a stall
            if connection is None:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            sent = time.monotonic()
            try:
                connection.request("GET", self.path, headers={} if self.keepalive else {"Connection": "close"})
                response = connection.getresponse()
                response.read()
                outcome = Outcome(sent, time.monotonic() - sent, response.status)
                if not self.keepalive or response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                outcome = Outcome(sent, time.monotonic() - sent, None, f"{type(error).__name__}: {error}")
                connection.close()
                connection = None
            with self._lock:
                self.outcomes.append(outcome)
        if connection is not None:
            connection.close()

    # --- what happened ----------------------------------------------------------------------------------------
    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.snapshot() if not outcome.ok]

    def summary(self) -> str:
        outcomes = self.snapshot()
        failed = [outcome for outcome in outcomes if not outcome.ok]
        seconds = (self.stopped or time.monotonic()) - self.started
        kinds = Counter(outcome.error.split(":")[0] if outcome.error else f"HTTP {outcome.status}" for outcome in failed)
        slowest = max((outcome.took for outcome in outcomes), default=0.0)
        return (f"{len(outcomes)} requests in {seconds:.1f} s ({len(outcomes) / max(seconds, 1e-9):.0f}/s), "
                f"{len(outcomes) - len(failed)} answered 200, {len(failed)} failed"
                + (f" ({', '.join(f'{count} {kind}' for kind, count in kinds.most_common())})" if failed else "")
                + f"; slowest {slowest * 1000:.0f} ms")

    def failure_lines(self, since: float | None = None, limit: int = 20) -> str:
        origin = self.started if since is None else since
        return "\n".join(f"  t={outcome.sent - origin:+.2f} s: {outcome.error or f'HTTP {outcome.status}'}"
                         for outcome in self.failures[:limit])
