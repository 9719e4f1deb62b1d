"""The recognition router (name "auto"): Voxtral first, faster-whisper as the fallback.

Each utterance goes to Voxtral while its circuit breaker lets it; on an error or a timeout
that same utterance goes to whisper (so none is lost, and none is reported twice: only
the transcript that is returned counts).  After `failures_to_open` failures in a row the
breaker opens and whisper takes every utterance; a background thread probes the server's
/health every `probe_interval_s`, and when it answers 200 the next utterance tries Voxtral
again (half-open): success closes the breaker, failure opens it again.

`score()` (the verification of near-miss commands) always goes to whisper, whoever heard
the utterance: it needs forced decoding, which only the local model offers, and scoring
the same audio with the same model keeps its margins comparable from one utterance to
the next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from agent.asr.base import Hint, ModelError, RecognitionError, Transcriber, create
from agent.messages import Decision, Transcript

if TYPE_CHECKING:
    from agent.config import Config
    from agent.dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    """Voxtral takes the utterances."""
    OPEN = "open"
    """Voxtral is failing: whisper takes them until a probe finds the server healthy."""
    HALF_OPEN = "half_open"
    """The server looks healthy again: the next utterance tries Voxtral."""


class CircuitBreaker:
    """Counts failures in a row; thread-safe (the worker and the probe both use it)."""

    def __init__(self, failures_to_open: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_to_open = failures_to_open
        self._clock = clock
        self._lock = threading.Lock()
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at: float | None = None

    def allow(self) -> bool:
        with self._lock:
            return self.state is not BreakerState.OPEN

    def success(self) -> None:
        with self._lock:
            self.state, self.failures, self.opened_at = BreakerState.CLOSED, 0, None

    def failure(self) -> bool:
        """Count a failure; whether the breaker opened just now."""
        with self._lock:
            self.failures += 1
            if self.state is BreakerState.HALF_OPEN or self.failures >= self.failures_to_open:
                opened = self.state is not BreakerState.OPEN
                self.state, self.opened_at = BreakerState.OPEN, self._clock()
                return opened
            return False

    def trip(self) -> None:
        """Open without a failure (the server is not there yet)."""
        with self._lock:
            self.state, self.opened_at = BreakerState.OPEN, self._clock()

    def healthy(self) -> bool:
        """A probe found the server healthy: open -> half-open; whether that changed it."""
        with self._lock:
            if self.state is not BreakerState.OPEN:
                return False
            self.state = BreakerState.HALF_OPEN
            return True

    def open_for(self) -> float:
        with self._lock:
            return 0.0 if self.opened_at is None else self._clock() - self.opened_at


@dataclass
class RouterStats:
    voxtral: int = 0
    """Utterances Voxtral recognised."""
    whisper: int = 0
    """Utterances whisper recognised (fallbacks included)."""
    fallbacks: int = 0
    """Utterances Voxtral failed on, then whisper recognised."""


class RouterTranscriber:
    """Voxtral, then whisper, per utterance (see the module's doc)."""

    name = "auto"

    def __init__(self, cfg: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self._cfg = cfg
        self.whisper: Transcriber = create("whisper", cfg)
        self.voxtral: Any = None
        """The VoxtralTranscriber, or None when Voxtral cannot be used at all."""
        self.breaker = CircuitBreaker(cfg.recognition.failures_to_open, clock)
        self.stats = RouterStats()
        self._stop = threading.Event()
        self._prober: threading.Thread | None = None

    def load(self) -> None:
        """Whisper first (the fallback must be ready); then Voxtral, without waiting for a
        server that is still starting.  Only whisper failing to load is an error."""
        self.whisper.load()
        try:
            from agent.voxtral.backend import VoxtralTranscriber
            from agent.voxtral.client import require_openai

            require_openai()
        except ModelError as exc:
            log.warning("voxtral: not used (%s); recognising with whisper", exc)
            return
        self.voxtral = VoxtralTranscriber(self._cfg, background=True)
        try:
            self.voxtral.load()
        except ModelError as exc:
            log.warning("voxtral: not used for now (%s); recognising with whisper", exc)
        if not self.voxtral.healthy():
            self.breaker.trip()
        if self.voxtral.server is not None:
            self.voxtral.server.on_ready = self._probed
        self._prober = threading.Thread(target=self._probe, name="voxtral-probe", daemon=True)
        self._prober.start()

    def _probe(self) -> None:
        interval = self._cfg.recognition.probe_interval_s
        while not self._stop.wait(interval):
            self._probe_once()

    def _probe_once(self) -> None:
        """While the breaker is open: half-open it if the server answers /health."""
        if not self.breaker.allow() and self.voxtral.healthy():
            self._probed()

    def _probed(self) -> None:
        if self.breaker.healthy():
            log.warning("voxtral: server healthy; trying it for the next utterance")

    def transcribe(self, pcm: bytes, hint: Hint) -> Transcript:
        if hint.prefix:  # decoding on from forced words is whisper's (see Hint.prefix)
            return self.whisper.transcribe(pcm, hint)
        if self.voxtral is not None and self.breaker.allow():
            started = time.monotonic()
            try:
                transcript = self.voxtral.transcribe(pcm, hint)
            except RecognitionError as exc:
                opened = self.breaker.failure()
                self.stats.fallbacks += 1
                log.warning("%s after %.2f s; whisper takes this utterance%s", exc,
                            time.monotonic() - started,
                            "; voxtral paused until its server is healthy" if opened else "")
            else:
                self.breaker.success()
                self.stats.voxtral += 1
                return transcript
        transcript = self.whisper.transcribe(pcm, hint)
        self.stats.whisper += 1
        return transcript

    def score(self, pcm: bytes, hint: Hint, texts: list[str]) -> list[float]:
        """Always whisper's scores (see the module's doc)."""
        score = getattr(self.whisper, "score", None)
        return [] if score is None else score(pcm, hint, texts)

    def intent(self, pcm: bytes, transcript: Transcript, dispatcher: Dispatcher,
               app: str) -> Decision | None:
        """Command intent through Voxtral, only while its breaker is closed."""
        if self.voxtral is None or self.breaker.state is not BreakerState.CLOSED:
            return None
        decision: Decision | None = self.voxtral.intent(pcm, transcript, dispatcher, app)
        return decision

    def close(self) -> None:
        self._stop.set()
        if self.voxtral is not None:
            self.voxtral.close()
        self.whisper.close()
