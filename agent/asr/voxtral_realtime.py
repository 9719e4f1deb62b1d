"""The Voxtral Realtime backend (name "voxtral-realtime"): utterances streamed to vLLM's
`/v1/realtime` WebSocket while they are spoken (`[voxtral] mode = "realtime"`).

The server is the one the file backend attaches to or starts (agent/asr/voxtral.py), serving
voxtral.realtime_model (agent.asr.config.served): attached, started, or remote, with its
health, logs and key handled there.  Streaming goes through one session
(agent/asr/voxtral_session.py) that carries utterance after utterance and reconnects
with backoff.

Per utterance (the Stream protocol of agent/asr/base.py): `feed()` queues audio and never
blocks the processing thread; `partial()` is the text of the deltas so far; `finish(pcm)`
ends the utterance and returns as soon as `transcription.done` arrives, or raises
RecognitionError (connection lost, an error event or a malformed one, no `done` in time,
text longer than the audio fed could hold) so the caller hears
`pcm`, the audio it kept, some other way: the router (agent/asr/router.py) gives it to
file-based Voxtral, then faster-whisper.  The stream hears exactly what was fed; `pcm` is
only for that fallback.  `hear(pcm)` streams a whole recorded utterance at once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agent.asr.base import Capabilities, Hearing, Hint, RecognitionError, Unsupported
from agent.asr.config import served
from agent.asr.guard import overlong
from agent.asr.voxtral_client import api_key
from agent.asr.voxtral_session import Session
from agent.asr.voxtral_turn import BYTES_PER_S, Turn, require_websockets, ws_url
from agent.messages import Hypothesis, Transcript

if TYPE_CHECKING:
    from agent.asr.base import ToolCall
    from agent.asr.voxtral import ServerStarter, VoxtralRecogniser
    from agent.config import Config

log = logging.getLogger(__name__)

NAME = "voxtral-realtime"

RECONNECT_S = 0.5
"""First wait before reconnecting a lost session; doubled per failed attempt, up to 30 s."""


class RealtimeHearing:
    """A streamed utterance's final text (Voxtral Realtime takes no prompt: one reading)."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript

    def decode(self, hint: Hint) -> Transcript:
        if hint.prefix:
            raise Unsupported("voxtral-realtime cannot decode on from forced words")
        return self.transcript

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        raise Unsupported("voxtral-realtime does not score texts")

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        raise Unsupported("voxtral-realtime does not pick commands")


class RealtimeStream:
    """One utterance on the session (the Stream protocol)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._utt: Turn = session.begin()
        self.sha256 = hashlib.sha256()
        """Over every byte fed, in order (what the server must have received)."""
        self.fed = 0
        """Bytes fed."""

    def feed(self, pcm: bytes) -> None:
        self.sha256.update(pcm)
        self.fed += len(pcm)
        self._session.audio(self._utt, pcm)

    def partial(self) -> str:
        """The deltas so far; "" while they are more than the audio fed could hold (a
        runaway is neither shown nor matched against the commands)."""
        text = self._utt.partial()
        return "" if overlong(text, self.fed / BYTES_PER_S) else text

    def finish(self, pcm: bytes) -> Hearing:
        ended = time.monotonic()
        self._session.end(self._utt)
        if not self._session.wait(self._utt):
            raise RecognitionError(self._utt.error or "voxtral realtime: failed")
        text = self._utt.text or ""
        runaway = overlong(text, self.fed / BYTES_PER_S)
        if runaway:  # a failed answer: never typed, the utterance is heard some other way
            raise RecognitionError(f"voxtral realtime: a runaway answer ({runaway} of audio)")
        return RealtimeHearing(Transcript(
            text=text, alternatives=(Hypothesis(text, 0.0),) if text else (), backend=NAME,
            seconds=time.monotonic() - ended))

    def cancel(self) -> None:
        self._session.cancel(self._utt)


class RealtimeRecogniser:
    """Voxtral Realtime through a vLLM server (see the module doc)."""

    name = NAME
    capabilities = Capabilities(stream=True)

    def __init__(self, cfg: Config, background: bool = False,
                 file: VoxtralRecogniser | None = None,
                 start_server: ServerStarter | None = None,
                 reconnect_s: float = RECONNECT_S) -> None:
        """`reconnect_s`: first wait before reconnecting (tests shorten it)."""
        from agent.asr.voxtral import VoxtralRecogniser

        vox = served(replace(cfg.voxtral, mode="realtime"))
        self.owns_file = file is None
        self.file = file if file is not None else VoxtralRecogniser(
            replace(cfg, voxtral=vox), background=background, start_server=start_server)
        """The file backend on the same server: it attaches to or starts the server."""
        self.background = background
        self.session = Session(ws_url(self.file.client.url), vox.model, api_key(vox),
                               vox.request_timeout_s, reconnect_s)

    def load(self) -> None:
        """Attach to or start the server (ModelError, one line), then open the session in
        the background (waiting for it unless `background`)."""
        require_websockets()
        if self.owns_file:
            self.file.load()
        self.start()
        if not self.background and not self.session.wait_connected(
                self.file.cfg.startup_timeout_s if self.file.server else 15.0):
            log.warning("voxtral realtime: no session yet; retrying in the background")

    def start(self) -> None:
        """Open the session in the background (reconnecting with backoff from then on)."""
        self.session.start()

    def healthy(self, timeout: float = 1.0) -> bool:
        return self.file.healthy(timeout)

    def stream(self) -> RealtimeStream:
        return RealtimeStream(self.session)

    def hear(self, pcm: bytes) -> Hearing:
        """A whole recorded utterance, streamed at once."""
        stream = self.stream()
        stream.feed(pcm)
        return stream.finish(pcm)

    def close(self) -> None:
        self.session.close()
        if self.owns_file:
            self.file.close()


def voxtral_backend(cfg: Config, start_server: ServerStarter | None = None) -> Any:
    """`--backend voxtral`: the realtime backend when voxtral.mode = "realtime", else the
    file backend."""
    if cfg.voxtral.mode == "realtime":
        return RealtimeRecogniser(cfg, start_server=start_server)
    from agent.asr.voxtral import VoxtralRecogniser

    return VoxtralRecogniser(cfg, start_server=start_server)
