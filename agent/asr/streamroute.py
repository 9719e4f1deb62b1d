"""The router's streaming tier (voxtral.mode = "realtime"): Voxtral Realtime first, then
file-based Voxtral, then faster-whisper, under the router's one circuit breaker.

`RoutedStream` is what `RouterTranscriber.stream()` returns: the realtime stream while the
breaker lets Voxtral be tried (else none, and the utterance goes straight on).  When the
stream fails mid-utterance (connection lost, an error, no `done` in time) its failure
counts on the breaker and the utterance, from the audio the agent kept, goes down the
router's ordinary path without the realtime tier (file Voxtral while the breaker allows,
then whisper): heard exactly once, since only the transcript returned counts and the
failed stream gives none.  A whole utterance (`hear()`) tries the realtime tier the same way
(`by_realtime`) before file Voxtral.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.asr.base import Hearing, Hint, ModelError, RecognitionError, Stream

if TYPE_CHECKING:
    from agent.asr.router import RouterHearing, RouterTranscriber
    from agent.config import Config
    from agent.messages import Transcript
    from agent.voxtral.backend import VoxtralTranscriber
    from agent.voxtral.realtime import RealtimeTranscriber

log = logging.getLogger(__name__)


def served_config(cfg: Config) -> Config:
    """The config whose [voxtral] names the model the server serves (the realtime model
    when voxtral.mode = "realtime")."""
    from agent.asr.config import served

    return replace(cfg, voxtral=served(cfg.voxtral))


def load_realtime(cfg: Config, file: VoxtralTranscriber) -> RealtimeTranscriber | None:
    """Voxtral Realtime on the server `file` attached to or started, its session opening in
    the background; None (said once) when the websockets package is missing."""
    from agent.voxtral.realtime import RealtimeTranscriber
    from agent.voxtral.realtime_session import require_websockets

    try:
        require_websockets()
    except ModelError as exc:
        log.warning("voxtral realtime: not used (%s); file-based voxtral first", exc)
        return None
    realtime = RealtimeTranscriber(cfg, file=file)
    realtime.start()
    return realtime


def by_realtime(router: RouterTranscriber, pcm: bytes,
                hint: Hint) -> tuple[Hearing, Transcript] | None:
    """A whole utterance through Voxtral Realtime when the breaker lets it; None when it
    was not tried or failed (the failure counted), so the caller goes on down its tiers."""
    if router.realtime is None or not router.breaker.acquire():
        return None
    started = time.monotonic()
    try:
        hearing = router.realtime.hear(pcm)
        transcript = hearing.decode(hint)
    except RecognitionError as exc:
        failed(router, exc, started)
        return None
    else:
        router.breaker.success()
    finally:
        router.breaker.release()
    router.stats.realtime += 1
    return hearing, transcript


def failed(router: RouterTranscriber, exc: RecognitionError, started: float) -> None:
    opened = router.breaker.failure()
    router.stats.fallbacks += 1
    log.warning("%s after %.2f s; this utterance goes to %s%s", exc,
                time.monotonic() - started,
                "file-based voxtral, else whisper" if router.breaker.allow() else "whisper",
                "; voxtral paused" if opened else "")


class RoutedStream:
    """The router's Stream (see the module doc)."""

    def __init__(self, router: RouterTranscriber, inner: Stream | None) -> None:
        self._router = router
        self._inner = inner
        """The realtime stream; it holds the breaker's permission until it ends."""

    @classmethod
    def begin(cls, router: RouterTranscriber) -> RoutedStream:
        if router.realtime is None or not router.breaker.acquire():
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
            self._router.breaker.release()
            self._inner = None

    def finish(self, pcm: bytes) -> RouterHearing:
        from agent.asr.router import RouterHearing

        inner, self._inner = self._inner, None
        if inner is None:
            return RouterHearing(self._router, pcm, realtime=False)
        ended = time.monotonic()
        try:
            heard = inner.finish(pcm)
        except RecognitionError as exc:
            failed(self._router, exc, ended)
            return RouterHearing(self._router, pcm, realtime=False)
        else:
            self._router.breaker.success()
        finally:
            self._router.breaker.release()
        self._router.stats.realtime += 1
        return RouterHearing(self._router, pcm, heard=heard)
