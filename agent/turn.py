"""The turn policy: whether the open utterance ends now, waits, or goes on.

One pure object (no threads, no queues, no audio) fed each frame of an open utterance
with its verdicts (webrtcvad behind the noise gate, Silero) and the hearings of peeks at
the speech so far; its clock is the frames' stream time.  The rules it keeps:
- after PEEK_MS of pause it asks for a peek at the speech so far, and again at
  TAIL_MS (a whole peek: all the audio the utterance would have if it closed there);
- a complete command nothing could extend (Verdict.COMPLETE) ends at that pause once it
  has lasted `early_end_ms`, if no speech came since;
- an extendable command, or one found on a second try (Verdict.SETTLED, given on the
  whole peek), ends there once the pause has lasted SETTLE_MS;
- anything else ends at the segmenter's end: Silero's `end_ms` of non-speech, or
  webrtcvad's `hangover_ms` when neither hears speech; speech past `max_utterance_s` is cut;
- audio lost inside an utterance (frames missing from the stream) ends it before the gap;
- streaming recognisers give their verdict on the partial text, the same way.
The segmenter (agent/audio/vad.py) carries the audio and does what the policy says.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from agent.messages import AudioFrame

if TYPE_CHECKING:
    from agent.audio.config import VadConfig

PEEK_MS = 60
"""A pause this long asks for a peek at the speech so far (0: never)."""
TAIL_MS = 150
"""Silence an utterance keeps after its speech; a pause this long asks for the whole peek
(a first peek's audio stops PEEK_MS after the speech, which can cut a final consonant)."""
SETTLE_MS = 300
"""A command more words could extend, or one found on a second try, ends once the pause
has lasted this long: a 200 ms pause inside a command keeps it whole."""


class Verdict(Enum):
    """What a hearing of the speech so far says about ending at its pause."""

    COMPLETE = "complete"
    """A complete, exact command nothing said next could extend: wait early_end_ms."""
    SETTLED = "settled"
    """A command with no free text that more words could extend, or found on a second
    try, heard at a whole peek: wait SETTLE_MS."""


class End(Enum):
    """Why an utterance ends."""

    HANGOVER = "hangover"
    """Neither webrtcvad nor Silero heard speech for hangover_ms."""
    SILENCE = "silence"
    """Silero heard no speech for end_ms."""
    CUT = "cut"
    """Speech went on past max_utterance_s: cut there, and the utterance goes on."""
    LOST = "lost"
    """Audio was lost after it (a full queue, a device overrun): it ends before the gap."""
    COMPLETE = "complete"
    """At a peek heard as a complete command (Verdict.COMPLETE)."""
    SETTLED = "settled"
    """At a peek heard as a settled command (Verdict.SETTLED)."""


@dataclass(frozen=True, slots=True)
class Continue:
    """The utterance goes on (or none is open)."""


CONTINUE = Continue()


@dataclass(frozen=True, slots=True)
class PeekNow:
    """Hear the speech so far: a pause has lasted PEEK_MS (or TAIL_MS, `whole`)."""

    id: int
    """Sequence number of peeks in the stream, from 0; give it back to feed_hearing."""
    at: int
    """Index, in the open utterance's frames, of the last frame of speech."""
    end: float
    """Stream time where that speech ends, in seconds."""
    whole: bool
    """The pause has lasted TAIL_MS: the audio to hear is all the utterance would have
    if it ended at this pause."""


@dataclass(frozen=True, slots=True)
class EndNow:
    """End the utterance at frame `at` (its speech; the segmenter adds TAIL_MS)."""

    at: int
    """Index, in the open utterance's frames, of the last frame of speech kept
    (CUT: the last frame)."""
    end: float
    """Stream time where the utterance's speech ends, in seconds."""
    why: End
    peek: int | None = None
    """The peek it ends at (COMPLETE, SETTLED), whose hearing may be acted on."""


TurnState = Continue | PeekNow | EndNow


@dataclass(frozen=True, slots=True)
class _Pause:
    at: int
    """The frame of speech the pause follows."""
    first: int
    """The id of this pause's first peek."""
    last: int
    """The id of its latest peek."""
    whole: bool
    """Its latest peek was whole (no more peeks in this pause)."""


@dataclass(frozen=True, slots=True)
class _Waiting:
    peek: int
    at: int
    wait_ms: int
    why: End


class TurnPolicy:
    """Decides the end of each utterance the segmenter opens; see the module doc.  The
    timings are the module's constants; tests and benches may give others."""

    def __init__(self, cfg: VadConfig, frame_ms: int, silero: bool, *,
                 peek_ms: int = PEEK_MS, settle_ms: int = SETTLE_MS,
                 tail_ms: int = TAIL_MS) -> None:
        self._cfg = cfg
        self._settle_ms = settle_ms
        self._frame_ms = frame_ms
        self._silero = silero
        """Silero judges the end: pauses count from its speech, not webrtcvad's."""
        self._hangover = max(1, round(cfg.hangover_ms / frame_ms))
        self._end = max(1, round(cfg.end_ms / frame_ms))
        self._peek_after = round(peek_ms / frame_ms)
        self._tail = round(tail_ms / frame_ms)
        self._peeks = 0
        self._ends: list[float] = []
        """Stream time where each frame of the open utterance ends (empty: none open)."""
        self._start = 0.0
        self._open = False
        self.voiced_at = -1
        """Last frame webrtcvad called voiced above the noise gate (-1: none yet)."""
        self.said_at = -1
        """Last frame Silero called speech (-1: none yet, or no Silero)."""
        self._pause: _Pause | None = None
        self._waiting: _Waiting | None = None

    @property
    def in_turn(self) -> bool:
        """True while an utterance is open."""
        return self._open

    def open(self, start: float, ends: list[float], voiced_at: int, said_at: int) -> None:
        """An utterance opens at stream time `start` with frames ending at `ends` (its
        pre-roll and start window), the last voiced and said among them."""
        self._start, self._ends, self._open = start, list(ends), True
        self.voiced_at, self.said_at = voiced_at, said_at
        self._pause = self._waiting = None

    def close(self) -> None:
        """The utterance ended (or was dropped): forget it."""
        self._ends, self._open = [], False
        self.voiced_at = self.said_at = -1
        self._pause = self._waiting = None

    def feed_frame(self, frame: AudioFrame, voiced: bool, said: bool,
                   voiced_s: float) -> TurnState:
        """The next frame of the open utterance: `voiced` by webrtcvad above the noise
        gate, `said` by Silero; `voiced_s` seconds of speech in it so far."""
        self._ends.append(frame.start + frame.duration)
        now = len(self._ends) - 1
        self.voiced_at = now if voiced else self.voiced_at
        self.said_at = now if said else self.said_at
        heard = max(self.voiced_at, self.said_at)  # either still hears speech
        if now - heard >= self._hangover:
            return self._ended(heard, End.HANGOVER)
        if self.said_at >= 0 and now - self.said_at >= self._end:
            return self._ended(self.said_at, End.SILENCE)  # noise webrtcvad calls voiced
        if self._ends[-1] - self._start >= self._cfg.max_utterance_s:
            return self._cut()
        if self._waiting is not None:
            return self._due()  # no more peeks while a close waits
        return self._peek(now, voiced_s)

    def lost_before(self, frame: AudioFrame) -> EndNow | None:
        """Whether audio was lost just before `frame`, the next one (its stream time does
        not follow on): then the open utterance ends at its last speech, and `frame` is
        no part of it; else None, and `frame` goes to feed_frame."""
        if not self._ends or frame.start - self._ends[-1] < frame.duration / 2:
            return None
        return self._ended(max(self.voiced_at, self.said_at), End.LOST)

    def feed_hearing(self, peek: int, verdict: Verdict | None) -> TurnState:
        """What the hearing of peek `peek` says (None: not a command that may end here).
        A peek of a pause speech has since broken, or of an utterance that has ended, is
        stale: nothing changes."""
        pause = self._pause
        if verdict is None or pause is None or not self.in_turn \
                or not pause.first <= peek <= pause.last or self._ref() != pause.at:
            return CONTINUE
        wait, why = (self._cfg.early_end_ms, End.COMPLETE) if verdict is Verdict.COMPLETE \
            else (self._settle_ms, End.SETTLED)
        self._waiting = _Waiting(peek, pause.at, wait, why)
        return self._due()

    def _ref(self) -> int:
        """The frame of speech pauses are counted from (-1: none yet)."""
        return self.said_at if self._silero else self.voiced_at

    def _due(self) -> TurnState:
        """The waiting close: done once the pause has lasted long enough; dropped when
        speech resumed."""
        waiting = self._waiting
        assert waiting is not None
        if self._ref() != waiting.at:
            self._waiting = None
            return CONTINUE
        if (len(self._ends) - 1 - waiting.at) * self._frame_ms < waiting.wait_ms - 1e-6:
            return CONTINUE
        return self._ended(waiting.at, waiting.why, waiting.peek)

    def _peek(self, now: int, voiced_s: float) -> TurnState:
        """A peek when the pause reaches PEEK_MS, a whole one at TAIL_MS (each once)."""
        ref = self._ref()
        if not self._peek_after or ref < 0 or now - ref < self._peek_after \
                or voiced_s < self._cfg.min_speech_ms / 1000:
            return CONTINUE
        same = self._pause if self._pause is not None and self._pause.at == ref else None
        whole = now - ref >= self._tail
        if same is not None and (not whole or same.whole):
            return CONTINUE  # this pause's peeks are out
        peek = PeekNow(self._peeks, ref, self._ends[ref], whole)
        self._peeks += 1
        self._pause = _Pause(ref, peek.id if same is None else same.first, peek.id, whole)
        return peek

    def _ended(self, at: int, why: End, peek: int | None = None) -> EndNow:
        end = self._ends[at] if at >= 0 else self._ends[-1]
        self.close()
        return EndNow(at, end, why, peek)

    def _cut(self) -> EndNow:
        """Cut at max_utterance_s: speech goes on in a fresh utterance from here."""
        at, end = len(self._ends) - 1, self._ends[-1]
        self.open(end, [], -1, -1)
        return EndNow(at, end, End.CUT)
