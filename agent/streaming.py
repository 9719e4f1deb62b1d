"""The streams of a streaming recogniser (Voxtral Realtime): one stream per open
utterance, fed on the processing thread frame by frame.

When speech starts, a stream opens and gets what the segmenter kept (pre-roll and the
start window); each later frame follows as it is processed; when the utterance closes,
the stream is handed on with it, and the worker finishes it (agent/worker.py); when the
segmenter drops the speech as noise, the stream is cancelled.  The partial text goes
out as Activity.PARTIAL events, and decides the early end at pauses.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.asr.base import Recogniser, Stream
from agent.audio.vad import Segmenter
from agent.messages import Activity, AudioFrame, Utterance


class Streamer:
    """Streams of one pipeline (all on its processing thread)."""

    def __init__(self, recogniser: Recogniser,
                 emit: Callable[[Activity, bool, str], None]) -> None:
        self.on = recogniser.capabilities.stream
        self._recogniser = recogniser
        self._emit = emit
        self._open: Stream | None = None
        self._closed: dict[int, Stream] = {}
        """Streams of closed utterances, by Utterance.index, for the worker to finish."""
        self.partial = ""
        """The open utterance's text so far (read at a peek)."""

    def frame(self, segmenter: Segmenter, frame: AudioFrame | None,
              utt: Utterance | None) -> None:
        """After the segmenter took `frame` (None: it closed `utt` at a peek)."""
        if not self.on:
            return
        if utt is not None and self._open is not None:
            self._closed[utt.index] = self._open
            self._end()
        elif self._open is None and segmenter.in_speech:
            self._open = self._recogniser.stream()
            self._open.feed(segmenter.open_pcm())
        elif self._open is not None and not segmenter.in_speech:
            self._open.cancel()
            self._end()
        elif self._open is not None and frame is not None:
            self._open.feed(frame.pcm)
            if (text := self._open.partial()) != self.partial:
                self.partial = text
                self._emit(Activity.PARTIAL, True, text)

    def take(self, utt: Utterance) -> Stream | None:
        """The stream `utt` was heard on, if any."""
        return self._closed.pop(utt.index, None)

    def _end(self) -> None:
        self._open, self.partial = None, ""
        self._emit(Activity.PARTIAL, False, "")
