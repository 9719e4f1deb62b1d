"""agent.asr.router: the circuit breaker's states, and per-utterance fallback (with stand-in
backends; the real ones against the vLLM double are in tests/integration)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from agent.asr.base import BACKENDS, Hint, RecognitionError
from agent.asr.router import BreakerState, CircuitBreaker, RouterTranscriber
from agent.config import Config
from agent.messages import Transcript


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_n_failures_in_a_row_and_half_opens_on_health() -> None:
    clock = Clock()
    b = CircuitBreaker(3, clock)
    assert b.allow() and b.state is BreakerState.CLOSED
    assert not b.failure() and not b.failure()
    b.success()  # a success in between: the count starts again
    assert not b.failure() and not b.failure()
    assert b.failure()  # the third in a row opens it
    assert b.state is BreakerState.OPEN and not b.allow()
    clock.now += 12.5
    assert b.open_for() == pytest.approx(12.5)
    assert not b.failure()  # already open: "opened just now" is false
    assert b.healthy() and b.state is BreakerState.HALF_OPEN and b.allow()
    assert not b.healthy()  # only an open breaker half-opens
    assert b.failure()  # one failure while half-open opens it again
    assert b.healthy()
    b.success()
    assert b.state is BreakerState.CLOSED and b.failures == 0 and b.open_for() == 0.0


def test_trip_opens_without_counting() -> None:
    b = CircuitBreaker(2, Clock())
    b.trip()
    assert not b.allow() and b.failures == 0


@dataclass
class Backend:
    name: str
    fail: bool = False
    heard: list[bytes] = field(default_factory=list)

    def transcribe(self, pcm: bytes, hint: Hint) -> Transcript:
        self.heard.append(pcm)
        if self.fail:
            raise RecognitionError(f"{self.name}: no answer within 3 s")
        return Transcript(f"{self.name} heard {pcm.decode()}", backend=self.name)

    def score(self, pcm: bytes, hint: Hint, texts: list[str]) -> list[float]:
        return [float(len(t)) for t in texts]

    def healthy(self) -> bool:
        return not self.fail


def router(failures_to_open: int = 2) -> tuple[RouterTranscriber, Backend, Backend]:
    cfg = Config()
    cfg = Config(recognition=type(cfg.recognition)(failures_to_open=failures_to_open))
    r = RouterTranscriber(cfg)
    vox, whisper = Backend("voxtral"), Backend("whisper")
    r.voxtral, r.whisper = vox, whisper
    return r, vox, whisper


def test_each_utterance_is_recognised_once_by_whoever_could() -> None:
    r, vox, whisper = router(failures_to_open=2)
    assert r.transcribe(b"one", Hint()).backend == "voxtral"
    vox.fail = True
    second = r.transcribe(b"two", Hint())
    assert (second.backend, second.text) == ("whisper", "whisper heard two")  # same utterance
    assert r.breaker.state is BreakerState.CLOSED  # one failure: still trying voxtral
    assert r.transcribe(b"three", Hint()).backend == "whisper"
    assert r.breaker.state is BreakerState.OPEN
    assert r.transcribe(b"four", Hint()).backend == "whisper"
    assert vox.heard == [b"one", b"two", b"three"]  # open: voxtral no longer asked
    assert whisper.heard == [b"two", b"three", b"four"]
    vox.fail = False
    r._probe_once()
    assert r.breaker.state is BreakerState.HALF_OPEN
    assert r.transcribe(b"five", Hint()).backend == "voxtral"
    assert r.breaker.state is BreakerState.CLOSED
    assert (r.stats.voxtral, r.stats.whisper, r.stats.fallbacks) == (2, 3, 2)


def test_score_always_goes_to_whisper() -> None:
    r, _, _ = router()
    assert r.score(b"x", Hint(), ["ab", "abcd"]) == [2.0, 4.0]


def test_the_router_and_voxtral_are_registered_backends() -> None:
    assert BACKENDS["auto"] == "agent.asr.router:RouterTranscriber"
    assert BACKENDS["voxtral"] == "agent.voxtral.backend:VoxtralTranscriber"
    assert Config().recognition.backend == "auto"


def test_a_hint_with_a_forced_prefix_goes_to_whisper() -> None:
    r, vox, whisper = router()
    heard = r.transcribe(b"again", Hint(("tab",), 5, prefix="Press"))
    assert heard.backend == "whisper" and vox.heard == [] and whisper.heard == [b"again"]
    assert r.transcribe(b"next", Hint()).backend == "voxtral"
