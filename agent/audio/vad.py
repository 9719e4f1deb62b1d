"""The VAD segmenter: a pure state machine from frames to utterances.

`feed(frame) -> Utterance | None`; no threads, no devices.  Speech starts when
enough voiced audio falls in a short window (clicks do not start it), keeps a
pre-roll, and ends after a hangover of silence.  Times are stream time.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from agent.config import VadConfig
from agent.messages import SAMPLE_RATE, AudioFrame, Utterance

log = logging.getLogger(__name__)

SpeechClassifier = Callable[[bytes], bool]
"""Tells whether one frame of s16le mono SAMPLE_RATE audio is voiced."""

_START_WINDOW_MS = 300
_FLOOR_RISE_DB_PER_S = 3.0
"""How fast the noise-floor estimate may climb (it falls at once)."""
_FLOOR_MIN_DB = -90.0


def level_db(pcm: bytes) -> float:
    """RMS level of s16le samples in dB relative to full scale (>= -120)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    return 10.0 * math.log10(float(np.mean(x * x)) + 1e-12) if x.size else -120.0


class NoiseGate:
    """Tracks the background level; a frame counts as speech only this far above it."""

    def __init__(self, gate_db: float, frame_s: float) -> None:
        self.gate_db = gate_db
        self.floor_db: float | None = None
        self._rise = _FLOOR_RISE_DB_PER_S * frame_s

    def passes(self, pcm: bytes) -> bool:
        level = level_db(pcm)
        floor = level if self.floor_db is None else min(level, self.floor_db + self._rise)
        self.floor_db = max(floor, _FLOOR_MIN_DB)
        return level >= self.floor_db + self.gate_db


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
        self._gate = NoiseGate(cfg.noise_gate_db, self._frame_s) if cfg.noise_gate_db else None
        self._clock = clock
        self._pre_roll = round(cfg.pre_roll_ms / frame_ms)
        self._start_frames = max(1, round(cfg.start_ms / frame_ms))
        self._window = max(self._start_frames, round(_START_WINDOW_MS / frame_ms))
        self._ring: deque[tuple[AudioFrame, bool, bool]] = deque(
            maxlen=self._pre_roll + self._window)
        """Recent frames while idle: (frame, voiced by the VAD, above the noise gate)."""
        self._hangover = max(1, round(cfg.hangover_ms / frame_ms))
        self._tail = round(cfg.tail_ms / frame_ms)
        self._frames: list[AudioFrame] = []
        self._speech_start: float | None = None
        self._last_voiced = -1
        self._heard = 0
        """Frames the VAD called voiced in the open utterance (noise gate aside)."""
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
        loud = self._gate is None or self._gate.passes(frame.pcm)
        if self._speech_start is None:
            return self._idle(frame, voiced, loud)
        self._heard += voiced
        voiced = voiced and loud  # steady noise the VAD calls speech does not hold it open
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

    def _idle(self, frame: AudioFrame, voiced: bool, loud: bool) -> None:
        """Start when the VAD hears enough in the window and some of it clears the gate;
        speech starts at the first such frame, and the pre-roll before it is kept."""
        self._ring.append((frame, voiced, loud))
        recent = list(self._ring)[-self._window:]
        if sum(v for _, v, _ in recent) < self._start_frames \
                or not any(v and lo for _, v, lo in recent):
            return None
        ring = list(self._ring)
        offset = next(i for i in range(len(ring) - len(recent), len(ring))
                      if ring[i][1] and ring[i][2])
        keep_from = max(0, offset - self._pre_roll)
        self._speech_start = ring[offset][0].start
        self._frames = [f for f, _, _ in ring[keep_from:]]
        self._last_voiced = max(i for i, (_, v, lo) in enumerate(ring[keep_from:]) if v and lo)
        self._heard = sum(v for _, v, _ in ring[offset:])
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
        self._ring.extend((f, False, False) for f in leftover)
        if min_check and self._heard * self._frame_s < self._cfg.min_speech_ms / 1000:
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
        self._heard = 0
        return utt

    def _emit(self, frames: list[AudioFrame], start: float, end: float) -> Utterance:
        utt = Utterance(pcm=b"".join(f.pcm for f in frames), start=start, end=end,
                        index=self._count, closed_at=self._clock(),
                        voiced=round(self._heard * self._frame_s, 3))
        self._count += 1
        return utt
