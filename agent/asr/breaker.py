"""The router's circuit breaker: counts Voxtral's failures in a row, opens to leave a
failing server alone, and half-opens to let one utterance try it again (see
agent/asr/router.py for how the router and the streaming tier use it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

MAX_BACKOFF_S = 600.0
"""The longest a stalled server is left alone before one utterance tries it again."""


@dataclass(frozen=True, slots=True)
class Timing:
    """How the router treats a failing server: fixed, not settings (tests shorten them)."""

    failures_to_open: int = 2
    """Failed requests in a row after which Voxtral is left alone (whisper hears all)."""
    probe_interval_s: float = 5.0
    """Seconds between the background /health probes of a server left alone."""
    stall_backoff_s: float = 30.0
    """How long a stalled server (/health answers, requests fail) is left alone before one
    utterance tries it; doubled per failed try, up to MAX_BACKOFF_S. A server seen down
    and back up is tried at once."""


TIMING = Timing()


class BreakerState(StrEnum):
    CLOSED = "closed"
    """Voxtral takes the utterances."""
    OPEN = "open"
    """Voxtral is failing: whisper takes them until a probe lets one try again."""
    HALF_OPEN = "half_open"
    """The server looks usable again: the next utterance (one only) tries Voxtral."""


class CircuitBreaker:
    """Counts failures in a row (pure, with an injectable clock); thread-safe (the worker
    and the probe both use it)."""

    def __init__(self, failures_to_open: int, backoff_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 max_backoff_s: float = MAX_BACKOFF_S) -> None:
        self.failures_to_open = failures_to_open
        self.backoff_s = backoff_s
        """Seconds a stalled server is left alone after the breaker opens."""
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._lock = threading.Lock()
        self.state = BreakerState.CLOSED
        self.failures = 0
        """Failed requests in a row."""
        self.trials = 0
        """Half-open tries that failed in a row (each doubles the backoff)."""
        self.opened_at: float | None = None
        self._down = False
        """Since it opened, the server was seen not answering /health (down, restarting)."""
        self._trying = False
        """A half-open try is out."""

    def allow(self) -> bool:
        """Whether the next utterance would try Voxtral (no change)."""
        with self._lock:
            return self.state is BreakerState.CLOSED or (
                self.state is BreakerState.HALF_OPEN and not self._trying)

    def acquire(self) -> bool:
        """Whether this utterance may try Voxtral; half-open, only the first one may."""
        with self._lock:
            if self.state is BreakerState.HALF_OPEN and not self._trying:
                self._trying = True
                return True
            return self.state is BreakerState.CLOSED

    def release(self) -> None:
        """The try ended without success() or failure() (an unexpected error)."""
        with self._lock:
            self._trying = False

    def success(self) -> None:
        with self._lock:
            self.state, self.failures, self.trials, self.opened_at = \
                BreakerState.CLOSED, 0, 0, None
            self._trying = False

    def failure(self, down: bool = False) -> bool:
        """Count a failed request (`down`: the server could not be reached at all, so it
        is tried again as soon as it answers); whether the breaker opened just now."""
        with self._lock:
            self.failures += 1
            opened = False
            if self.state is BreakerState.HALF_OPEN:
                self.trials += 0 if self._down else 1
                opened = True
            elif self.state is BreakerState.CLOSED and self.failures >= self.failures_to_open:
                opened = True
            if opened:
                self._open(down=False)
            self._down = self._down or down
            return opened

    def trip(self) -> None:
        """Open without a failure (the server is not there yet)."""
        with self._lock:
            self._open(down=True)

    def _open(self, down: bool) -> None:
        self.state, self.opened_at = BreakerState.OPEN, self._clock()
        self._down, self._trying = down, False

    def backoff(self) -> float:
        """Seconds a stalled server is left alone now."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** self.trials)

    def probed(self, healthy: bool) -> bool:
        """A probe's answer while open: half-open if the server answers /health and either
        was seen down since (a restart) or the backoff has passed; whether it half-opened."""
        with self._lock:
            if self.state is not BreakerState.OPEN:
                return False
            if not healthy:
                self._down = True
                return False
            waited = self._clock() - (self.opened_at or 0.0)
            if not self._down and waited < self.backoff():
                return False
            self.state = BreakerState.HALF_OPEN
            return True

    def restarted(self) -> bool:
        """A fresh server process became ready: half-open now; whether that changed it."""
        with self._lock:
            self._down = self._down or self.state is BreakerState.OPEN
        return self.probed(True)

    def open_for(self) -> float:
        with self._lock:
            return 0.0 if self.opened_at is None else self._clock() - self.opened_at
