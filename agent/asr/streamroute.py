"""The router's streaming tier (voxtral.mode = "realtime"): Voxtral Realtime first, then
file-based Voxtral, then faster-whisper, under the router's one circuit breaker.

`RoutedStream` is what `RouterRecogniser.stream()` returns: the realtime stream while the
breaker lets Voxtral be tried (else none, and the utterance goes straight on).  When the
stream fails mid-utterance (connection lost, an error, no `done` in time) its failure
counts on the breaker and the utterance, from the audio the agent kept, goes down the
router's ordinary path without the realtime tier (file Voxtral while the breaker allows,
then whisper): heard exactly once, since only the transcript returned counts and the
failed stream gives none.  A whole utterance (`hear()`) tries the realtime tier the same way
(`by_realtime`) before file Voxtral.

A stream's failure also counts on the realtime tier's own breaker (`router.streaming`): a
server whose files are answered while its streams never end (no `done`) resets the
router's breaker at every utterance, so only this one sees the streams fail.  After
`failures_to_open` in a row streaming pauses (file Voxtral, else whisper, hears every
utterance: none waits for a stream's timeout) until `probe()`, on the router's prober
thread, streams half a second of silence and gets its `done`: at once once the server was
seen failing and is back, else after the stall backoff (doubled per failed probe).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.asr.base import Hearing, Hint, ModelError, RecognitionError, Stream
from agent.asr.breaker import BreakerState

if TYPE_CHECKING:
    from agent.asr.router import RouterHearing, RouterRecogniser
    from agent.asr.voxtral import VoxtralRecogniser
    from agent.asr.voxtral_realtime import RealtimeRecogniser
    from agent.config import Config
    from agent.messages import Transcript

log = logging.getLogger(__name__)


def served_config(cfg: Config) -> Config:
    """The config whose [voxtral] names the model the server serves (the realtime model
    when voxtral.mode = "realtime")."""
    from agent.asr.config import served

    return replace(cfg, voxtral=served(cfg.voxtral))


def load_realtime(cfg: Config, file: VoxtralRecogniser) -> RealtimeRecogniser | None:
    """Voxtral Realtime on the server `file` attached to or started, its session opening in
    the background; None (said once) when the websockets package is missing."""
    from agent.asr.voxtral_realtime import RealtimeRecogniser
    from agent.asr.voxtral_turn import require_websockets

    try:
        require_websockets()
    except ModelError as exc:
        log.warning("voxtral realtime: not used (%s); file-based voxtral first", exc)
        return None
    realtime = RealtimeRecogniser(cfg, file=file)
    realtime.start()
    return realtime


PROBE_PCM = bytes(16000)
"""What a probe streams: 0.5 s of silence (16 kHz PCM16)."""


def acquire(router: RouterRecogniser) -> bool:
    """Whether this utterance may stream: both breakers let it (see the module doc)."""
    if router.realtime is None or not router.streaming.acquire():
        return False
    if router.breaker.acquire():
        return True
    router.streaming.release()
    return False


def release(router: RouterRecogniser) -> None:
    router.breaker.release()
    router.streaming.release()


def succeeded(router: RouterRecogniser) -> None:
    router.breaker.success()
    router.streaming.success()
    router.stats.realtime += 1


def by_realtime(router: RouterRecogniser, pcm: bytes,
                hint: Hint) -> tuple[Hearing, Transcript] | None:
    """A whole utterance through Voxtral Realtime when the breakers let it; None when it
    was not tried or failed (the failure counted), so the caller goes on down its tiers."""
    if router.realtime is None or not acquire(router):
        return None
    started = time.monotonic()
    try:
        hearing = router.realtime.hear(pcm)
        transcript = hearing.decode(hint)
    except RecognitionError as exc:
        failed(router, exc, started)
        return None
    else:
        succeeded(router)
    finally:
        release(router)
    return hearing, transcript


def failed(router: RouterRecogniser, exc: RecognitionError, started: float) -> None:
    """Count a failed stream on both breakers and say where the utterance goes: a warning,
    but only INFO for the server's refusal of the model, which the session said already."""
    opened = router.breaker.failure()
    paused = router.streaming.failure()
    router.stats.fallbacks += 1
    said = router.realtime is not None and str(exc) == router.realtime.session.refused
    log.log(logging.INFO if said else logging.WARNING, "%s after %.2f s; this utterance "
            "goes to %s%s", exc, time.monotonic() - started,
            "file-based voxtral, else whisper" if router.breaker.allow() else "whisper",
            "; voxtral paused" if opened else "")
    if paused and not opened:
        log.warning("voxtral realtime: %d streams in a row failed; streaming paused "
                    "(file-based voxtral, else whisper, hears every utterance) until a "
                    "probe of the stream is answered", router.streaming.failures)


def probe(router: RouterRecogniser) -> None:
    """While streaming is paused: stream PROBE_PCM once the streaming breaker lets one try
    (and the router's breaker is closed: the server answers); its `done` in time resumes
    streaming, else the pause goes on, doubled."""
    rt = router.realtime
    if rt is None or router.streaming.state is not BreakerState.OPEN:
        return
    if router.breaker.state is not BreakerState.CLOSED:
        router.streaming.probed(False)  # the server failing: probe at once when it is back
        return
    if not router.streaming.probed(True) or not router.streaming.acquire():
        return
    try:
        rt.hear(PROBE_PCM)
    except RecognitionError as exc:
        router.streaming.failure()
        log.info("voxtral realtime: the probe failed (%s); streaming stays paused for "
                 "%.0f s", exc, router.streaming.backoff())
    else:
        router.streaming.success()
        log.warning("voxtral realtime: the probe was answered; streaming again")
    finally:
        router.streaming.release()


class RoutedStream:
    """The router's Stream (see the module doc)."""

    def __init__(self, router: RouterRecogniser, inner: Stream | None) -> None:
        self._router = router
        self._inner = inner
        """The realtime stream; it holds the breaker's permission until it ends."""

    @classmethod
    def begin(cls, router: RouterRecogniser) -> RoutedStream:
        if router.realtime is None or not acquire(router):
            return cls(router, None)
        return cls(router, router.realtime.stream())

    def feed(self, pcm: bytes) -> None:
        if self._inner is not None:
            self._inner.feed(pcm)

    def partial(self) -> str:
        return self._inner.partial() if self._inner is not None else ""

    def cancel(self) -> None:
        if self._inner is not None:
            self._inner.cancel()
            release(self._router)
            self._inner = None

    def finish(self, pcm: bytes) -> RouterHearing:
        inner, self._inner = self._inner, None
        if inner is None:
            return self._router.hear(pcm, realtime=False)
        if self._router.streaming.state is BreakerState.OPEN:
            # streaming paused while this one was in flight: not waited for (it would
            # likely time out too), not counted; heard like those begun after the pause
            inner.cancel()
            release(self._router)
            return self._router.hear(pcm, realtime=False)
        ended = time.monotonic()
        try:
            heard = inner.finish(pcm)
        except RecognitionError as exc:
            failed(self._router, exc, ended)
            return self._router.hear(pcm, realtime=False)
        else:
            succeeded(self._router)
        finally:
            release(self._router)
        return self._router.hear(pcm, heard=heard)
