"""Whether this worker should receive traffic: not while it drains, not while the bucket is unreachable.

Draining starts when the worker gets SIGTERM (gunicorn's master sends it on its own SIGTERM): gunicorn
stops accepting connections but still answers requests on connections it holds, and from then on
/api/ready answers 503 so a load balancer that probes the pod directly takes it out of rotation.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mirror_service.storage import StorageError

READY_CACHE_SECONDS = 3.0


@dataclass(frozen=True)
class ReadinessStatus:
    ready: bool
    code: str = ""
    message: str = ""


class Readiness:
    """The readiness answer, with the bucket check cached for a few seconds.

    Probes come from several places at once (kubelet, load balancer, people); one thread refreshes the
    check while the others answer from the last result instead of piling up on a slow endpoint.
    """

    def __init__(self, check_bucket: Callable[[], None], cache_seconds: float = READY_CACHE_SECONDS):
        self._check_bucket = check_bucket
        self._cache_seconds = cache_seconds
        self._draining = threading.Event()
        self._refresh_lock = threading.Lock()
        self._last: ReadinessStatus | None = None
        self._last_checked = 0.0

    def begin_draining(self) -> None:
        self._draining.set()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def status(self) -> ReadinessStatus:
        if self.draining:
            return ReadinessStatus(False, "shutting_down", "The service is shutting down.")
        if self._fresh():
            return self._last  # type: ignore[return-value] - fresh implies set
        # Only the very first check is waited for; later ones answer from the last result meanwhile.
        if self._refresh_lock.acquire(blocking=self._last is None):
            try:
                if not self._fresh():
                    self._last = self._check()
                    self._last_checked = time.monotonic()
            finally:
                self._refresh_lock.release()
        return self._last  # type: ignore[return-value] - set by us or by the thread that held the lock

    def _fresh(self) -> bool:
        return self._last is not None and time.monotonic() - self._last_checked < self._cache_seconds

    def _check(self) -> ReadinessStatus:
        try:
            self._check_bucket()
        except StorageError as error:
            code = error.code if error.code in _READINESS_MESSAGES else "storage_unavailable"  # e.g. timed out
            return ReadinessStatus(False, code, _READINESS_MESSAGES[code])
        return ReadinessStatus(True)


_READINESS_MESSAGES = {
    "storage_not_configured": "No bucket is configured (S3_BUCKET).",
    "storage_unavailable": "The bucket cannot be reached right now.",
    "storage_rejected": "The bucket refused access or does not exist.",
}


def drain_on_sigterm(readiness: Readiness) -> None:
    """Flag draining when this process gets SIGTERM, then let the previous handler (gunicorn's) run.

    Call in the worker after gunicorn installed its handlers (the `post_worker_init` hook).
    """
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        raise TypeError("drain_on_sigterm() chains to the worker's own SIGTERM handler; none is installed")

    def on_sigterm(signum, frame) -> None:
        readiness.begin_draining()
        previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    # signal.signal() makes the signal interrupt system calls again; gunicorn turns that off so that
    # SIGTERM does not break the reads and writes of requests in flight.
    signal.siginterrupt(signal.SIGTERM, False)
