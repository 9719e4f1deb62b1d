"""The VAD segmenter: a pure state machine from frames to utterances.

`feed(frame) -> Utterance | None`; no threads, no devices.  Speech starts when
enough voiced audio falls in a short window (clicks do not start it), keeps a
pre-roll, and ends after a hangover of silence.  Times are stream time.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from agent.config import VadConfig
from agent.messages import SAMPLE_RATE, AudioFrame, Utterance

log = logging.getLogger(__name__)

SpeechClassifier = Callable[[bytes], bool]
"""Tells whether one frame of s16le mono SAMPLE_RATE audio is voiced."""

_START_WINDOW_MS = 300


def webrtc_classifier(aggressiveness: int) -> SpeechClassifier:
    """webrtcvad on 10, 20 or 30 ms frames."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    return lambda pcm: vad.is_speech(pcm, SAMPLE_RATE)


class Segmenter:
    """Cuts a frame stream into utterances.  Feed frames of one fixed length."""

    def __init__(self, cfg: VadConfig, frame_ms: int = 30,
                 classify: SpeechClassifier | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._cfg = cfg
        self._frame_s = frame_ms / 1000
        self._classify = classify or webrtc_classifier(cfg.aggressiveness)
        self._clock = clock
        self._pre_roll = round(cfg.pre_roll_ms / frame_ms)
        self._start_frames = max(1, round(cfg.start_ms / frame_ms))
        self._window = max(self._start_frames, round(_START_WINDOW_MS / frame_ms))
        self._ring: deque[tuple[AudioFrame, bool]] = deque(maxlen=self._pre_roll + self._window)
        self._hangover = max(1, round(cfg.hangover_ms / frame_ms))
        self._tail = round(cfg.tail_ms / frame_ms)
        self._frames: list[AudioFrame] = []
        self._speech_start: float | None = None
        self._last_voiced = -1
        self._count = 0
        self.discarded = 0
        """Bursts shorter than min_speech_ms that were not treated as speech."""

    @property
    def in_speech(self) -> bool:
        """True while an utterance is open."""
        return self._speech_start is not None

    def feed(self, frame: AudioFrame) -> Utterance | None:
        """Take one frame; return an utterance when this frame closes one."""
        voiced = self._classify(frame.pcm)
        if self._speech_start is None:
            return self._idle(frame, voiced)
        self._frames.append(frame)
        if voiced:
            self._last_voiced = len(self._frames) - 1
        if len(self._frames) - 1 - self._last_voiced >= self._hangover:
            return self._close()
        if frame.start + frame.duration - self._speech_start >= self._cfg.max_utterance_s:
            return self._cut()
        return None

    def flush(self) -> Utterance | None:
        """End of stream: close the open utterance, if any."""
        return self._close() if self._speech_start is not None else None

    def close_now(self) -> Utterance | None:
        """Close whatever is open now (push-to-talk release), voiced or not."""
        if self._speech_start is None:
            return None
        self._last_voiced = len(self._frames) - 1
        return self._close(min_check=False)

    def reset(self) -> None:
        """Forget everything buffered."""
        self._ring.clear()
        self._frames = []
        self._speech_start = None

    def _idle(self, frame: AudioFrame, voiced: bool) -> None:
        self._ring.append((frame, voiced))
        recent = list(self._ring)[-self._window:]
        if sum(v for _, v in recent) < self._start_frames:
            return None
        first = next(i for i, (_, v) in enumerate(recent) if v)
        offset = len(self._ring) - len(recent) + first
        keep_from = max(0, offset - self._pre_roll)
        ring = list(self._ring)
        self._speech_start = ring[offset][0].start
        self._frames = [f for f, _ in ring[keep_from:]]
        self._last_voiced = max(i for i, (_, v) in enumerate(ring[keep_from:]) if v)
        self._ring.clear()
        return None

    def _close(self, min_check: bool = True) -> Utterance | None:
        assert self._speech_start is not None
        if self._last_voiced < 0:  # a cut at max length left only silence behind
            self._speech_start, self._frames = None, []
            return None
        voiced_end = self._frames[self._last_voiced]
        end = voiced_end.start + voiced_end.duration
        keep = self._frames[: self._last_voiced + 1 + self._tail]
        leftover = self._frames[self._last_voiced + 1:]
        start, self._speech_start = self._speech_start, None
        self._frames = []
        self._ring.extend((f, False) for f in leftover)
        if min_check and end - start < self._cfg.min_speech_ms / 1000:
            self.discarded += 1
            log.debug("noise burst %.2f-%.2f s shorter than min_speech_ms", start, end)
            return None
        return self._emit(keep, start, end)

    def _cut(self) -> Utterance:
        assert self._speech_start is not None
        last = self._frames[-1]
        end = last.start + last.duration
        utt = self._emit(self._frames, self._speech_start, end)
        self._speech_start = end
        self._frames = []
        self._last_voiced = -1
        return utt

    def _emit(self, frames: list[AudioFrame], start: float, end: float) -> Utterance:
        utt = Utterance(pcm=b"".join(f.pcm for f in frames), start=start, end=end,
                        index=self._count, closed_at=self._clock())
        self._count += 1
        return utt
