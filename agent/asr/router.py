"""The recognition router (name "auto"): Voxtral first, faster-whisper as the fallback.

Each utterance goes to Voxtral while its circuit breaker lets it; on an error or a timeout
that same utterance goes to whisper (so none is lost, and none is reported twice: only
the transcript that is returned counts). Every failed request counts against the breaker,
whatever the server's /health says. After `Timing.failures_to_open` failures in a row the
breaker opens and whisper takes every utterance; a background thread probes /health every
`probe_interval_s`. A server that was seen down (refused, restarting) and answers again is
tried at once; one whose /health answered all along is stalled, and is tried again only
after `stall_backoff_s`, doubled per failed try. Half-open lets one utterance try: success
closes the breaker, failure opens it again.

With `[voxtral] mode = "realtime"` Voxtral Realtime comes first (agent/asr/streamroute.py):
streamed utterances (`stream()`, capability `stream`) and whole ones alike try it, then
file-based Voxtral on the same server, then whisper, under the same breaker, and under the
stream's own (`streaming`): streams that fail while files are answered pause streaming.

An answer that is not what vLLM sends (bytes that are not UTF-8, JSON that is not, fields
missing, text longer than the audio could hold) is a failed request like any other.

`hear(pcm)` gives a `RouterHearing`. Its `score()` and decodes with a forced prefix always go
to whisper's own hearing of the utterance, whoever heard it: they need forced decoding,
which only the local model offers, and scoring the same audio with the same model keeps its
margins comparable from one utterance to the next. `intent()` is Voxtral's, and only for an
utterance Voxtral heard.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from agent.asr import streamroute
from agent.asr.base import (
    Capabilities,
    Hearing,
    Hint,
    ModelError,
    Recogniser,
    RecognitionError,
    ToolCall,
    Unsupported,
    create,
)
from agent.asr.breaker import TIMING, BreakerState, CircuitBreaker, Timing
from agent.asr.voxtral_client import Unreachable

if TYPE_CHECKING:
    from agent.asr.voxtral import ServerStarter, VoxtralHearing, VoxtralRecogniser
    from agent.asr.voxtral_realtime import RealtimeRecogniser
    from agent.config import Config
    from agent.messages import Transcript

log = logging.getLogger(__name__)

@dataclass
class RouterStats:
    voxtral: int = 0
    """Utterances Voxtral recognised."""
    whisper: int = 0
    """Utterances whisper recognised (fallbacks included)."""
    fallbacks: int = 0
    """Utterances Voxtral failed on, then whisper recognised."""
    realtime: int = 0
    """Utterances Voxtral Realtime recognised (not counted in `voxtral`)."""


class RouterRecogniser:
    """Voxtral, then whisper, per utterance (see the module's doc)."""

    name = "auto"

    def __init__(self, cfg: Config, clock: Callable[[], float] = time.monotonic,
                 start_server: ServerStarter | None = None, timing: Timing = TIMING) -> None:
        self._cfg = cfg
        self._start_server = start_server
        self.timing = timing
        self.whisper: Recogniser = create("whisper", cfg)
        self.voxtral: VoxtralRecogniser | None = None
        """The Voxtral backend, or None when Voxtral cannot be used at all."""
        self.realtime: RealtimeRecogniser | None = None
        """Voxtral Realtime (voxtral.mode = "realtime") on the same server, or None."""
        self.breaker = CircuitBreaker(timing.failures_to_open, timing.stall_backoff_s, clock)
        self.streaming = CircuitBreaker(timing.failures_to_open, timing.stall_backoff_s, clock)
        """The realtime tier's own breaker: a stream that fails while file Voxtral answers
        (no `done` in time) never opens `breaker`, so this one pauses streaming."""
        self.stats = RouterStats()
        local = self.whisper.capabilities
        realtime = cfg.voxtral.mode == "realtime"
        self._declared = Capabilities(nbest=local.nbest, prefix=local.prefix,
                                      score=local.score, stream=realtime,
                                      intent=cfg.voxtral.command_intent and not realtime)
        self._stop = threading.Event()
        self._prober: threading.Thread | None = None

    @property
    def capabilities(self) -> Capabilities:
        """Whisper's n-best, prefix and scores always; streaming and intent as configured;
        peeks at pauses only while whisper is the one hearing (no Voxtral, or the breaker
        open): a Voxtral server is asked once per utterance, not at every pause."""
        peek = self.voxtral is None or self.breaker.state is BreakerState.OPEN
        return replace(self._declared, peek=peek and not self._declared.stream)

    def load(self) -> None:
        """Whisper first (the fallback must be ready); then Voxtral, without waiting for a
        server that is still starting.  Only whisper failing to load is an error."""
        self.whisper.load()
        try:
            from agent.asr.voxtral import VoxtralRecogniser, WrongModel
            from agent.asr.voxtral_client import require_openai

            require_openai()
        except ModelError as exc:
            log.warning("voxtral: not used (%s); recognising with whisper", exc)
            return
        self.voxtral = VoxtralRecogniser(streamroute.served_config(self._cfg), background=True,
                                          start_server=self._start_server)
        try:
            self.voxtral.load()
        except WrongModel as exc:  # every request would be refused for the same reason
            log.warning("voxtral: not used (%s); recognising with whisper", exc)
            self.voxtral = None
            return
        except ModelError as exc:
            # auto without a server is a normal machine: one quiet line (`voxagent doctor`
            # and the log file show it)
            log.info("voxtral: not used for now (%s); recognising with whisper", exc)
        if not self.voxtral.healthy():
            self.breaker.trip()
        if self.voxtral.server is not None:
            self.voxtral.server.on_ready = self._restarted
        self._prober = threading.Thread(target=self._probe, name="voxtral-probe", daemon=True)
        self._prober.start()
        if self._cfg.voxtral.mode == "realtime":
            self.realtime = streamroute.load_realtime(self._cfg, self.voxtral)

    def stream(self) -> streamroute.RoutedStream:
        """An utterance streamed while it is spoken (see agent/asr/streamroute.py)."""
        return streamroute.RoutedStream.begin(self)

    def _probe(self) -> None:
        interval = self.timing.probe_interval_s
        while not self._stop.wait(interval):
            self._probe_once()

    def _probe_once(self) -> None:
        """While the breaker is open: ask /health, and let the breaker decide; while
        streaming is paused, probe the stream (agent/asr/streamroute.py)."""
        if self.voxtral is not None and self.breaker.state is BreakerState.OPEN and \
                self.breaker.probed(self.voxtral.healthy()):
            log.warning("voxtral: server healthy; trying it for the next utterance")
        streamroute.probe(self)

    def _restarted(self) -> None:
        if self.breaker.restarted():
            log.warning("voxtral: server ready again; trying it for the next utterance")

    def hear(self, pcm: bytes, heard: Hearing | None = None,
             realtime: bool = True) -> RouterHearing:
        """One utterance; it is routed when first decoded (`heard`: Voxtral Realtime
        streamed it already; `realtime` false: a stream of it failed, do not try again)."""
        return RouterHearing(self, pcm, heard, realtime)

    def close(self) -> None:
        self._stop.set()
        if self.realtime is not None:
            self.realtime.close()
        if self.voxtral is not None:
            self.voxtral.close()
        self.whisper.close()


class RouterHearing:
    """One utterance for the router: Voxtral's hearing if it heard it, and whisper's."""

    def __init__(self, router: RouterRecogniser, pcm: bytes, heard: Hearing | None = None,
                 realtime: bool = True) -> None:
        self._router = router
        self._pcm = pcm
        self._voxtral: VoxtralHearing | Hearing | None = heard
        """Set when Voxtral (or, streamed, Voxtral Realtime) heard this utterance."""
        self._whisper: Hearing | None = None
        self._routed = heard is not None
        self._realtime = realtime
        """Voxtral Realtime may still be tried (not after a stream of it failed)."""

    def _local(self) -> Hearing:
        if self._whisper is None:
            self._whisper = self._router.whisper.hear(self._pcm)
        return self._whisper

    def decode(self, hint: Hint) -> Transcript:
        if hint.prefix:  # decoding on from forced words is whisper's (see Hint.prefix)
            return self._local().decode(hint)
        if self._voxtral is not None:
            return self._voxtral.decode(hint)
        if self._routed:
            return self._local().decode(hint)
        self._routed = True
        if self._realtime and self._router.realtime is not None:
            streamed = streamroute.by_realtime(self._router, self._pcm, hint)
            if streamed is not None:
                self._voxtral, transcript = streamed
                return transcript
        heard = self._by_voxtral(hint)
        if heard is not None:
            return heard
        transcript = self._local().decode(hint)
        self._router.stats.whisper += 1
        return transcript

    def _by_voxtral(self, hint: Hint) -> Transcript | None:
        """Voxtral's transcript, if its breaker lets it try and it answers."""
        router = self._router
        if router.voxtral is None or not router.breaker.acquire():
            return None
        started = time.monotonic()
        hearing = router.voxtral.hear(self._pcm)
        try:
            transcript = hearing.decode(hint)
        except RecognitionError as exc:
            opened = router.breaker.failure(down=isinstance(exc, Unreachable))
            router.stats.fallbacks += 1
            log.warning("%s after %.2f s; whisper takes this utterance%s", exc,
                        time.monotonic() - started,
                        f"; voxtral paused (tried again once its server is back, or in "
                        f"{router.breaker.backoff():.0f} s if /health answers)" if opened
                        else "")
            return None
        else:
            router.breaker.success()
        finally:
            router.breaker.release()
        router.stats.voxtral += 1
        self._voxtral = hearing
        return transcript

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        """Always whisper's scores (see the module's doc)."""
        return self._local().score(texts, hint)

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        """Voxtral's tool calls, if Voxtral heard this utterance; else none. A failed
        request counts against the breaker."""
        if not self._router.capabilities.intent:
            raise Unsupported("command intent is off (voxtral.command_intent = false)")
        if self._voxtral is None:
            log.info("command intent: whisper heard %r, so Voxtral is not asked", text)
            return ()
        try:
            return self._voxtral.intent(text, tools)
        except Unsupported:
            raise
        except RecognitionError as exc:
            self._router.breaker.failure(down=isinstance(exc, Unreachable))
            raise
