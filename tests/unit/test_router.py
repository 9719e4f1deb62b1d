"""agent.asr.router: the circuit breaker's states, and per-utterance fallback (with stand-in
backends; the real ones against the vLLM double are in tests/integration)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.asr.base import (
    BACKENDS,
    Capabilities,
    Hint,
    RecognitionError,
    ToolCall,
    Unsupported,
    transcribe,
)
from agent.asr.breaker import Timing
from agent.asr.config import VoxtralConfig
from agent.asr.router import BreakerState, CircuitBreaker, RouterRecogniser
from agent.config import Config
from agent.messages import Transcript


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_n_failures_in_a_row_and_half_opens_on_health() -> None:
    clock = Clock()
    b = CircuitBreaker(3, 30.0, clock)
    assert b.allow() and b.state is BreakerState.CLOSED
    assert not b.failure() and not b.failure()
    b.success()  # a success in between: the count starts again
    assert not b.failure() and not b.failure()
    assert b.failure()  # the third in a row opens it
    assert b.state is BreakerState.OPEN and not b.allow() and not b.acquire()
    clock.now += 12.5
    assert b.open_for() == pytest.approx(12.5)
    assert not b.failure()  # already open: "opened just now" is false
    assert not b.probed(False)  # down: stays open, and is tried as soon as it is back
    assert b.probed(True) and b.state is BreakerState.HALF_OPEN and b.allow()
    assert not b.probed(True)  # only an open breaker half-opens
    assert b.acquire()
    assert b.failure()  # one failure while half-open opens it again
    assert b.trials == 0 and b.backoff() == 30.0  # it had been down: not a stall (yet)
    assert not b.probed(True)  # healthy but failing: now it waits out the backoff
    assert b.restarted()  # a fresh server process: tried at once
    assert b.acquire()
    b.success()
    assert b.state is BreakerState.CLOSED and b.failures == 0 and b.trials == 0
    assert b.open_for() == 0.0


def test_a_stalled_server_waits_out_its_backoff_whatever_health_says() -> None:
    clock = Clock()
    b = CircuitBreaker(1, 30.0, clock)
    assert b.failure()  # a timeout while /health answers
    assert not b.probed(True)  # healthy, but it just failed: not yet
    clock.now += 29.9
    assert not b.probed(True)
    clock.now += 0.1
    assert b.probed(True) and b.state is BreakerState.HALF_OPEN
    assert b.acquire() and not b.acquire()  # half-open lets ONE utterance try
    assert not b.allow()
    assert b.failure()  # still stalled: the wait doubles
    clock.now += 59.0
    assert not b.probed(True)
    clock.now += 1.0
    assert b.probed(True)
    assert b.acquire() and b.failure()
    assert b.backoff() == 120.0
    b.trials = 20
    assert b.backoff() == 600.0  # capped


def test_a_server_that_cannot_be_reached_is_tried_as_soon_as_it_answers() -> None:
    b = CircuitBreaker(2, 30.0, Clock())
    assert not b.failure(down=True) and b.failure(down=True)  # refused twice: open
    assert b.probed(True)  # no backoff: it was down, and answers now
    assert b.acquire() and b.failure()  # but then it fails while up: a stall
    assert not b.probed(True)


def test_a_try_that_ends_in_an_unexpected_error_frees_the_half_open_slot() -> None:
    b = CircuitBreaker(1, 0.0, Clock())
    b.trip()
    assert b.probed(True) and b.acquire() and not b.acquire()
    b.release()
    assert b.acquire()


def test_trip_opens_without_counting() -> None:
    b = CircuitBreaker(2, 30.0, Clock())
    b.trip()
    assert not b.allow() and b.failures == 0
    assert b.probed(True)  # the server was not there: tried as soon as it answers


@dataclass
class Hearing:
    backend: Backend
    pcm: bytes

    def decode(self, hint: Hint) -> Transcript:
        self.backend.heard.append(self.pcm)
        if self.backend.fail:
            raise RecognitionError(f"{self.backend.name}: no answer within 3 s")
        prefix = f"{hint.prefix} " if hint.prefix else ""
        return Transcript(f"{prefix}{self.backend.name} heard {self.pcm.decode()}",
                          backend=self.backend.name)

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        if self.backend.name != "whisper":
            raise Unsupported("no scores")
        return [float(len(t)) for t in texts]

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        self.backend.asked.append(text)
        if self.backend.fail:
            raise RecognitionError(f"{self.backend.name}: no answer within 3 s")
        return (ToolCall("new_tab", "{}"),)


@dataclass
class Backend:
    name: str
    fail: bool = False
    heard: list[bytes] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    capabilities: Capabilities = field(default_factory=Capabilities)

    def hear(self, pcm: bytes) -> Hearing:
        return Hearing(self, pcm)

    def healthy(self) -> bool:
        return not self.fail


def router(failures_to_open: int = 2,
           intent: bool = False) -> tuple[RouterRecogniser, Backend, Backend]:
    cfg = Config(voxtral=VoxtralConfig(command_intent=intent))
    r = RouterRecogniser(cfg, timing=Timing(failures_to_open=failures_to_open))
    vox = Backend("voxtral", capabilities=Capabilities(intent=intent))
    whisper = Backend("whisper", capabilities=Capabilities(nbest=True, prefix=True, score=True))
    r.voxtral, r.whisper = vox, whisper  # type: ignore[assignment]
    return r, vox, whisper


def said(r: RouterRecogniser, pcm: bytes, hint: Hint | None = None) -> Transcript:
    return r.hear(pcm).decode(hint or Hint())


def test_each_utterance_is_recognised_once_by_whoever_could() -> None:
    r, vox, whisper = router(failures_to_open=2)
    assert said(r, b"one").backend == "voxtral"
    vox.fail = True
    second = said(r, b"two")
    assert (second.backend, second.text) == ("whisper", "whisper heard two")  # same utterance
    assert r.breaker.state is BreakerState.CLOSED  # one failure: still trying voxtral
    assert said(r, b"three").backend == "whisper"
    assert r.breaker.state is BreakerState.OPEN
    assert said(r, b"four").backend == "whisper"
    assert vox.heard == [b"one", b"two", b"three"]  # open: voxtral no longer asked
    assert whisper.heard == [b"two", b"three", b"four"]
    vox.fail = False
    r._probe_once()  # healthy, but it failed while healthy: it waits out its backoff
    assert r.breaker.state is BreakerState.OPEN
    r.breaker.trip()  # (as if a probe had seen it down)
    r._probe_once()
    assert r.breaker.state is BreakerState.HALF_OPEN
    assert said(r, b"five").backend == "voxtral"
    assert r.breaker.state is BreakerState.CLOSED
    assert (r.stats.voxtral, r.stats.whisper, r.stats.fallbacks) == (2, 3, 2)
    assert transcribe(r, b"six", Hint()).backend == "voxtral"  # the plain path


def test_one_hearing_is_routed_once_and_scored_and_refocused_by_whisper() -> None:
    r, vox, whisper = router()
    hearing = r.hear(b"x")
    assert hearing.decode(Hint()).backend == "voxtral"
    assert hearing.decode(Hint(alternatives=5)).backend == "voxtral"
    assert hearing.score(["ab", "abcd"], Hint()) == [2.0, 4.0]
    again = hearing.decode(Hint(("tab",), 5, prefix="Press"))
    assert (again.backend, again.text) == ("whisper", "Press whisper heard x")
    assert vox.heard == [b"x", b"x"] and whisper.heard == [b"x"]
    assert r.stats.voxtral == 1 and r.stats.whisper == 0
    assert r.capabilities == Capabilities(nbest=True, prefix=True, score=True)


def test_intent_is_asked_only_of_an_utterance_voxtral_heard() -> None:
    r, vox, _ = router(failures_to_open=1, intent=True)
    heard = r.hear(b"a")
    heard.decode(Hint())
    assert heard.intent("a fresh tab please", [{"type": "function"}]) == \
        (ToolCall("new_tab", "{}"),)
    vox.fail = True
    fell_back = r.hear(b"b")
    assert fell_back.decode(Hint()).backend == "whisper"
    assert fell_back.intent("b", [{"type": "function"}]) == ()
    assert vox.asked == ["a fresh tab please"]
    off, _, _ = router(intent=False)
    with pytest.raises(Unsupported):
        off.hear(b"c").intent("c", [])


def test_a_failed_intent_request_counts_against_the_breaker() -> None:
    r, vox, _ = router(failures_to_open=1, intent=True)
    heard = r.hear(b"a")
    heard.decode(Hint())
    vox.fail = True
    with pytest.raises(RecognitionError):
        heard.intent("a", [{"type": "function"}])
    assert r.breaker.state is BreakerState.OPEN


def test_the_router_and_voxtral_are_registered_backends() -> None:
    assert BACKENDS["auto"] == "agent.asr.router:RouterRecogniser"
    assert BACKENDS["voxtral"] == "agent.asr.voxtral_realtime:voxtral_backend"
    assert Config().recognition.backend == "auto"


def test_voxtral_streams_when_its_mode_is_realtime() -> None:
    from dataclasses import replace

    from agent.asr.base import create
    from agent.asr.config import REALTIME_MODEL
    from agent.asr.voxtral import VoxtralRecogniser
    from agent.asr.voxtral_realtime import RealtimeRecogniser

    assert type(create("voxtral", Config())) is VoxtralRecogniser
    cfg = Config()
    streaming = create("voxtral", replace(cfg, voxtral=replace(cfg.voxtral, mode="realtime")))
    assert isinstance(streaming, RealtimeRecogniser)
    assert (streaming.name, streaming.capabilities.stream) == ("voxtral-realtime", True)
    assert streaming.session.url == "ws://127.0.0.1:8000/v1/realtime"
    assert streaming.session.model == streaming.file.cfg.model == REALTIME_MODEL


def test_a_hint_with_a_forced_prefix_goes_to_whisper() -> None:
    r, vox, whisper = router()
    heard = said(r, b"again", Hint(("tab",), 5, prefix="Press"))
    assert heard.backend == "whisper" and vox.heard == [] and whisper.heard == [b"again"]
    assert said(r, b"next").backend == "voxtral"
