"""The VAD segmenter: a pure state machine from frames to utterances.

`feed(frame) -> Utterance | None`; no threads, no devices.  Speech starts when
enough voiced audio falls in a short window (clicks do not start it), keeps a
pre-roll, and ends after a hangover of silence.  Times are stream time.

While an utterance is open, a second opinion (`EndOpinion`, Silero VAD by default,
agent/audio/endpoint.py) tells speech from noise: the utterance closes after
`end_ms` of what it calls non-speech even when webrtcvad still calls steady noise
voiced.  An utterance in which it heard no speech at all is dropped as noise.

When an utterance ends is the turn policy's to say (agent/turn.py): at a pause it
asks for a peek, which `take_peek()` hands out with the speech so far; the hearing's
verdict on it goes back through `hear(peek.id, verdict)`, and the utterance may then
close exactly at that pause.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from agent.audio.dc import DcBlocker
from agent.messages import SAMPLE_RATE, AudioFrame, Utterance
from agent.turn import PEEK_MS, TAIL_MS, End, EndNow, PeekNow, TurnPolicy, TurnState, Verdict

if TYPE_CHECKING:
    from agent.audio.config import VadConfig

log = logging.getLogger(__name__)

SpeechClassifier = Callable[[bytes], bool]
"""Tells whether one frame of s16le mono SAMPLE_RATE audio is voiced."""



class EndOpinion(Protocol):
    """Whether speech goes on, run only while an utterance is open."""

    def reset(self) -> None:
        """A new utterance opens: forget what came before."""
        ...

    def hear(self, pcm: bytes) -> bool:
        """Take the next s16le mono SAMPLE_RATE frame; True while speech goes on."""
        ...


@dataclass(frozen=True, slots=True)
class Peek:
    """A look at the open utterance at a short pause: the speech so far."""

    pcm: bytes
    """Audio so far: s16le mono SAMPLE_RATE, pre-roll and up to TAIL_MS of the pause."""
    start: float
    """Stream time where speech starts, in seconds (pre-roll excluded)."""
    end: float
    """Stream time where the speech before the pause ends, in seconds."""
    id: int
    """Sequence number of peeks in the stream, from 0; pass it to hear()."""
    utterance: int
    """Index the utterance will have when it closes."""
    voiced: float
    """Seconds of audio the VAD called voiced between start and now."""
    whole: bool = False
    """Its audio goes on TAIL_MS after the speech: all the audio the utterance would
    have if it closed at this pause (the first peek's stops PEEK_MS after it)."""


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


def _configured_opinion(cfg: VadConfig) -> EndOpinion | None:
    if cfg.end_model == "none":
        return None
    from agent.audio.endpoint import silero_opinion

    return silero_opinion(cfg.end_threshold)


class Segmenter:
    """Cuts a frame stream into utterances.  Feed frames of one fixed length.

    `opinion` overrides the one the config names (end_model); `clock` stamps closed_at;
    `peek_ms` (0: no peeks) is for tests and benches."""

    def __init__(self, cfg: VadConfig, frame_ms: int = 30,
                 classify: SpeechClassifier | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 opinion: EndOpinion | None = None, peek_ms: int = PEEK_MS) -> None:
        self._cfg = cfg
        self._frame_s = frame_ms / 1000
        self._classify = classify or webrtc_classifier(cfg.aggressiveness)
        self._opinion = opinion if opinion is not None else _configured_opinion(cfg)
        self._gate = NoiseGate(cfg.noise_gate_db, self._frame_s) if cfg.noise_gate_db else None
        self._dc = DcBlocker(self._frame_s)
        self._clock = clock
        self._pre_roll = round(cfg.pre_roll_ms / frame_ms)
        self._start_frames = max(1, round(cfg.start_ms / frame_ms))
        self._window = max(self._start_frames, round(_START_WINDOW_MS / frame_ms))
        self._ring: deque[tuple[AudioFrame, bool, bool]] = deque(
            maxlen=self._pre_roll + self._window)
        """Recent frames while idle: (frame, voiced by the VAD, above the noise gate)."""
        self._tail = round(TAIL_MS / frame_ms)
        self.turn = TurnPolicy(cfg, frame_ms, silero=self._opinion is not None,
                               peek_ms=peek_ms)
        """Decides when the open utterance ends."""
        self._frames: list[AudioFrame] = []
        self._speech_start: float | None = None
        self._heard = 0
        """Frames the VAD called voiced in the open utterance (noise gate aside)."""
        self._said = 0
        """Frames the opinion called speech in the open utterance."""
        self._peeks: dict[int, Peek] = {}
        """The peeks of the open utterance's latest pause, by id."""
        self._offered: Peek | None = None
        self._count = 0
        self._after_cut = False
        """The open utterance continues speech cut at max_utterance_s (or is that cut)."""
        self.discarded = 0
        """Bursts shorter than min_speech_ms, or without speech for the opinion, dropped."""

    @property
    def in_speech(self) -> bool:
        """True while an utterance is open."""
        return self._speech_start is not None

    def open_pcm(self) -> bytes:
        """The open utterance's audio so far, pre-roll included (b"" when none is open):
        what a streaming recogniser is sent first."""
        return b"".join(f.pcm for f in self._frames) if self._speech_start is not None else b""

    @property
    def has_opinion(self) -> bool:
        """True when a second opinion (Silero) judges the end of speech."""
        return self._opinion is not None

    def feed(self, frame: AudioFrame) -> Utterance | None:
        """Take one frame; return an utterance when this frame closes one."""
        self._offered = None
        frame = self._dc.remove(frame)
        voiced = self._classify(frame.pcm)
        loud = self._gate is None or self._gate.passes(frame.pcm)
        if self._speech_start is not None and (lost := self.turn.lost_before(frame)):
            return self._lost(lost, frame, voiced, loud)
        if self._speech_start is None:
            return self._idle(frame, voiced, loud)
        self._heard += voiced
        said = self._opinion is not None and self._opinion.hear(frame.pcm)
        self._said += said
        self._frames.append(frame)
        # steady noise the VAD calls speech (below the gate) does not hold it open
        return self._do(self.turn.feed_frame(frame, voiced and loud, said, self._voiced_s()))

    def _lost(self, state: EndNow, frame: AudioFrame, voiced: bool, loud: bool
              ) -> Utterance | None:
        """Audio was lost before `frame`: close before the gap; `frame` starts afresh."""
        log.info("audio lost at %.2f-%.2f s: the open utterance ends there",
                 self._frames[-1].start + self._frames[-1].duration, frame.start)
        utt = self._do(state)
        self._ring.clear()  # no pre-roll from before the gap
        self._idle(frame, voiced, loud)
        return utt

    def take_peek(self) -> Peek | None:
        """The peek the last feed() made at a pause, if any (each is handed out once)."""
        peek, self._offered = self._offered, None
        return peek

    def hear(self, peek_id: int, verdict: Verdict | None) -> Utterance | None:
        """The hearing's verdict on peek `peek_id` (None: not a command that may end
        there), for the turn policy; the utterance when it closes at once (else a later
        feed() may return it)."""
        if self._speech_start is None:
            return None
        return self._do(self.turn.feed_hearing(peek_id, verdict))

    def _do(self, state: TurnState) -> Utterance | None:
        """What the turn policy said, done."""
        if isinstance(state, PeekNow):
            self._offer_peek(state)
        elif isinstance(state, EndNow):
            if state.why is End.CUT:
                return self._cut()
            return self._close(state.at) if state.peek is None else self._close_at(state)
        return None

    def _close_at(self, state: EndNow) -> Utterance:
        """Close where the peek `state.peek` was taken: the utterance has the peek's times,
        and its audio up to TAIL_MS after the speech (the peek's may stop sooner)."""
        assert state.peek is not None
        peek = self._peeks[state.peek]
        pcm = b"".join(f.pcm for f in self._frames[: state.at + 1 + self._tail])
        self._release(state.at)
        utt = Utterance(pcm=pcm, start=peek.start, end=peek.end, index=self._count,
                        closed_at=self._clock(), voiced=peek.voiced, unbroken=self._after_cut,
                        peek=peek.id)
        self._count += 1
        self._after_cut = False
        return utt

    def flush(self) -> Utterance | None:
        """End of stream: close the open utterance, if any."""
        return self._close() if self._speech_start is not None else None

    def close_now(self) -> Utterance | None:
        """Close whatever is open now (push-to-talk release), voiced or not."""
        if self._speech_start is None:
            return None
        return self._close(len(self._frames) - 1, min_check=False)

    def reset(self) -> None:
        """Forget everything buffered."""
        self._ring.clear()
        self._frames = []
        self._speech_start = None
        self._peeks, self._offered = {}, None
        self._after_cut = False
        self.turn.close()

    def _offer_peek(self, state: PeekNow) -> None:
        """The peek the policy asked for: the speech so far, up to TAIL_MS after it."""
        assert self._speech_start is not None
        keep = self._frames[: state.at + 1 + self._tail]
        peek = Peek(pcm=b"".join(f.pcm for f in keep), start=self._speech_start,
                    end=state.end, id=state.id, utterance=self._count,
                    voiced=self._voiced_s(), whole=state.whole)
        if any(p.end != peek.end for p in self._peeks.values()):
            self._peeks = {}  # a new pause
        self._peeks[peek.id] = peek
        self._offered = peek

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
        voiced_at = max(i for i, (_, v, lo) in enumerate(ring[keep_from:]) if v and lo)
        self._heard = sum(v for _, v, _ in ring[offset:])
        self._ring.clear()
        self._peeks = {}
        said_at, self._said = -1, 0
        if self._opinion is not None:  # it hears the pre-roll too, to settle
            self._opinion.reset()
            for i, f in enumerate(self._frames):
                if self._opinion.hear(f.pcm):
                    said_at, self._said = i, self._said + 1
        self.turn.open(self._speech_start, [f.start + f.duration for f in self._frames],
                       voiced_at, said_at)
        return None

    def _voiced_s(self) -> float:
        """Seconds of speech in the open utterance: what the opinion called speech when
        there is one (webrtcvad calls loud noise voiced), else what the VAD called voiced."""
        frames = self._said if self._opinion is not None else self._heard
        return round(frames * self._frame_s, 3)

    def _release(self, ref: int) -> None:
        """Leave the open utterance: the frames after `ref` go back to the idle ring."""
        leftover = self._frames[ref + 1:]
        self._speech_start, self._frames, self._peeks, self._offered = None, [], {}, None
        self.turn.close()
        self._ring.extend((f, False, False) for f in leftover)

    def _close(self, ref: int | None = None, min_check: bool = True) -> Utterance | None:
        """Close at frame `ref` (default: the last voiced one), keeping TAIL_MS after it."""
        assert self._speech_start is not None
        ref = self.turn.voiced_at if ref is None else ref
        if ref < 0:  # a cut at max length left only silence behind
            self._speech_start, self._frames, self._peeks = None, [], {}
            self.turn.close()
            return None
        end = self._frames[ref].start + self._frames[ref].duration
        keep = self._frames[: ref + 1 + self._tail]
        start = self._speech_start
        self._release(ref)
        if min_check and self._voiced_s() < self._cfg.min_speech_ms / 1000:
            self.discarded += 1
            log.debug("noise burst %.2f-%.2f s: less speech than min_speech_ms", start, end)
            return None
        utt = self._emit(keep, start, end)
        self._after_cut = False
        return utt

    def _cut(self) -> Utterance | None:
        """Max length reached: emit what is open and go on (noise alone is dropped)."""
        assert self._speech_start is not None
        last = self._frames[-1]
        end = last.start + last.duration
        noise = self._opinion is not None and self._said == 0
        self.discarded += noise
        self._after_cut = True
        utt = None if noise else self._emit(self._frames, self._speech_start, end)
        self._speech_start = end
        self._frames = []  # the policy counts the next frames as a fresh utterance
        self._heard = self._said = 0
        self._peeks = {}
        return utt

    def _emit(self, frames: list[AudioFrame], start: float, end: float) -> Utterance:
        utt = Utterance(pcm=b"".join(f.pcm for f in frames), start=start, end=end,
                        index=self._count, closed_at=self._clock(), voiced=self._voiced_s(),
                        unbroken=self._after_cut)
        self._count += 1
        return utt
