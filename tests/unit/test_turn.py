"""The turn policy driven frame by frame: no audio, no model, no threads.  Each frame is
given its verdicts ('#' speech for both webrtcvad and Silero, 'n' noise webrtcvad calls
voiced and Silero does not, '.' silence); hearings are constructed verdicts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.audio.config import VadConfig
from agent.messages import SAMPLE_RATE, AudioFrame
from agent.turn import CONTINUE, End, EndNow, PeekNow, TurnPolicy, TurnState, Verdict
from agent.turn import PEEK_MS as PEEK
from agent.turn import SETTLE_MS as SETTLE
from agent.turn import TAIL_MS as TAIL

FRAME_MS = 30
SILENT = bytes(SAMPLE_RATE * FRAME_MS // 1000 * 2)
"""The policy reads a frame's times, never its audio."""
CFG = VadConfig(early_end_ms=150, end_ms=450, hangover_ms=600, min_speech_ms=150,
                max_utterance_s=25.0)
PEEK_MS, TAIL_MS, SETTLE_MS = 90, 150, 300
"""The policy's timings, given (its constants may change)."""


class Drive:
    """A policy with an open utterance and its frames' stream time (the clock)."""

    def __init__(self, cfg: VadConfig = CFG, silero: bool = True, peek_ms: int = PEEK_MS,
                 settle_ms: int = SETTLE_MS) -> None:
        self.policy = TurnPolicy(cfg, FRAME_MS, silero=silero, peek_ms=peek_ms,
                                 settle_ms=settle_ms, tail_ms=TAIL_MS)
        self.silero = silero
        self.n = 0
        self.policy.open(0.0, [], -1, -1)
        self.said = 0

    def frames(self, pattern: str) -> list[TurnState]:
        states = []
        for ch in pattern:
            frame = AudioFrame(SILENT, self.n * FRAME_MS / 1000)
            said = ch == "#" and self.silero
            self.said += ch == "#"
            states.append(self.policy.feed_frame(frame, ch in "#n", said,
                                                 self.said * FRAME_MS / 1000))
            self.n += 1
        return states

    def peeks(self, pattern: str) -> list[PeekNow]:
        return [s for s in self.frames(pattern) if isinstance(s, PeekNow)]


def ends(states: list[TurnState]) -> list[tuple[int, EndNow]]:
    return [(i, s) for i, s in enumerate(states) if isinstance(s, EndNow)]


def test_a_pause_asks_for_a_peek_at_peek_ms_and_a_whole_one_at_tail_ms() -> None:
    d = Drive()
    states = d.frames("#" * 10 + "." * 6)
    peeks = [(i, s) for i, s in enumerate(states) if isinstance(s, PeekNow)]
    assert [(i, p.id, p.whole) for i, p in peeks] == [(12, 0, False), (14, 1, True)]
    assert all(p.at == 9 and p.end == pytest.approx(0.30) for _, p in peeks)


def test_no_peek_without_enough_speech_or_with_peeks_off() -> None:
    assert Drive().peeks("####" + "." * 10) == []  # 120 ms < min_speech_ms
    assert Drive(peek_ms=0).peeks("#" * 10 + "." * 10) == []


def test_a_complete_command_ends_at_early_end_ms() -> None:
    d = Drive()
    (peek,) = d.peeks("#" * 10 + "...")  # 90 ms of pause
    assert d.policy.feed_hearing(peek.id, Verdict.COMPLETE) is CONTINUE
    assert d.frames(".") == [CONTINUE]  # 120 ms
    (state,) = d.frames(".")  # 150 ms
    assert state == EndNow(9, pytest.approx(0.30), End.COMPLETE, peek.id)
    assert not d.policy.in_turn


def test_a_verdict_on_a_pause_long_enough_ends_at_once() -> None:
    d = Drive()
    first, _ = d.peeks("#" * 10 + "." * 5)
    state = d.policy.feed_hearing(first.id, Verdict.COMPLETE)  # 150 ms of pause already
    assert isinstance(state, EndNow) and (state.why, state.peek) == (End.COMPLETE, first.id)


def test_a_settled_command_ends_at_settle_ms_on_the_whole_peek() -> None:
    d = Drive()
    first, whole = d.peeks("#" * 10 + "." * 5)
    assert d.policy.feed_hearing(first.id, None) is CONTINUE  # the first: not yet
    assert d.policy.feed_hearing(whole.id, Verdict.SETTLED) is CONTINUE  # 150 ms
    states = d.frames("." * 5)
    assert states[:4] == [CONTINUE] * 4
    assert states[4] == EndNow(9, pytest.approx(0.30), End.SETTLED, whole.id)  # 300 ms


def test_anything_else_ends_at_silero_end_ms() -> None:
    d = Drive()
    d.peeks("#" * 10)
    states = d.frames("n" * 20)  # webrtcvad hears noise, Silero no speech
    ((i, end),) = ends(states)
    assert i == 14 and end == EndNow(9, pytest.approx(0.30), End.SILENCE)  # 450 ms


def test_without_silero_webrtcvads_hangover_ends_it() -> None:
    d = Drive(silero=False)
    d.frames("#" * 10)
    ((i, end),) = ends(d.frames("." * 25))
    assert i == 19 and end == EndNow(9, pytest.approx(0.30), End.HANGOVER)  # 600 ms


def test_speech_past_max_utterance_s_is_cut_and_goes_on() -> None:
    d = Drive(replace(CFG, max_utterance_s=1.5))
    ((i, cut),) = ends(d.frames("#" * 60))[:1]
    assert i == 49 and cut.why is End.CUT and cut.end == pytest.approx(1.5)
    assert d.policy.in_turn  # a fresh utterance from the cut


def test_speech_resuming_during_the_wait_drops_the_close() -> None:
    d = Drive()
    (peek,) = d.peeks("#" * 10 + "...")
    d.policy.feed_hearing(peek.id, Verdict.COMPLETE)
    assert d.frames("#") == [CONTINUE]  # a stop consonant's closure, then the word goes on
    assert ends(d.frames("." * 5)) == []  # no close at the old pause
    assert d.policy.feed_hearing(peek.id, Verdict.COMPLETE) is CONTINUE  # stale now
    ((_, end),) = ends(d.frames("." * 20))
    assert end.why is End.SILENCE and end.at == 13


def test_no_new_peek_while_a_close_waits() -> None:
    d = Drive(settle_ms=300)
    first, whole = d.peeks("#" * 10 + "." * 5)
    d.policy.feed_hearing(first.id, None)
    d.policy.feed_hearing(whole.id, Verdict.SETTLED)
    assert not any(isinstance(s, PeekNow) for s in d.frames("...."))


def test_a_stale_peek_is_ignored() -> None:
    d = Drive()
    (old,) = d.peeks("#" * 10 + "...")
    (new,) = d.peeks("#" * 10 + "...")  # speech went on, then a new pause
    assert new.id == old.id + 1
    assert d.policy.feed_hearing(old.id, Verdict.COMPLETE) is CONTINUE
    assert d.policy.feed_hearing(99, Verdict.COMPLETE) is CONTINUE  # unknown
    assert ends(d.frames("..")) == []  # nothing waits
    assert isinstance(d.policy.feed_hearing(new.id, Verdict.COMPLETE), EndNow)


def test_a_peek_answer_arriving_after_the_end_changes_nothing() -> None:
    d = Drive()
    (peek, *_) = d.peeks("#" * 10 + "...")
    ((_, end),) = ends(d.frames("." * 20))  # the hearing took longer than end_ms
    assert end.why is End.SILENCE
    assert d.policy.feed_hearing(peek.id, Verdict.COMPLETE) is CONTINUE
    assert not d.policy.in_turn
    d.policy.open(2.0, [2.03], 0, 0)  # the next utterance: the old peek is no part of it
    d.n = 68
    assert d.policy.feed_hearing(peek.id, Verdict.COMPLETE) is CONTINUE
    assert next(s for s in d.frames("...") if isinstance(s, PeekNow)).id == peek.id + 2


def test_pauses_count_from_silero_not_from_noise_webrtcvad_calls_voiced() -> None:
    d = Drive()
    peeks = d.peeks("#" * 10 + "nnn")  # webrtcvad hears on, Silero has paused
    assert [p.at for p in peeks] == [9]
    without = Drive(silero=False)
    assert without.peeks("#" * 10 + "nnn") == []  # webrtcvad alone: no pause yet



def answered(d: Drive, pattern: str, verdicts: dict[bool, Verdict | None]
             ) -> list[tuple[int, TurnState]]:
    """Feed the pattern as the processing thread does: each peek asked for is heard at
    once (its verdict by whether it is whole) and answered before the next frame; the
    states with the frame each came at, up to the end."""
    states: list[tuple[int, TurnState]] = []
    for i, ch in enumerate(pattern):
        (state,) = d.frames(ch)
        if isinstance(state, PeekNow):
            states.append((i, state))
            state = d.policy.feed_hearing(state.id, verdicts[state.whole])
        states.append((i, state))
        if isinstance(state, EndNow):
            break
    return states


def test_a_complete_first_peek_is_never_followed_by_a_whole_one() -> None:
    """The close at the first peek waits early_end_ms, longer here than TAIL_MS: no whole
    peek is asked for meanwhile (live, hearing one held the close up)."""
    d = Drive(replace(CFG, early_end_ms=240))
    states = answered(d, "#" * 10 + "." * 10, {False: Verdict.COMPLETE, True: None})
    peeks = [s for _, s in states if isinstance(s, PeekNow)]
    assert [p.whole for p in peeks] == [False]
    i, end = states[-1]
    assert isinstance(end, EndNow)
    assert (end.why, end.peek, end.at) == (End.COMPLETE, peeks[0].id, 9)
    assert (i - 9) * FRAME_MS == 240


def test_a_whole_peek_heard_complete_ends_at_once() -> None:
    """The first peek cut a consonant (no verdict); the whole one, at TAIL_MS, is a
    complete command and the pause is already longer than early_end_ms."""
    d = Drive()
    states = answered(d, "#" * 10 + "." * 10, {False: None, True: Verdict.COMPLETE})
    (i, whole), (j, end) = states[-2:]
    assert isinstance(whole, PeekNow) and whole.whole and i == j
    assert isinstance(end, EndNow) and (end.why, end.peek) == (End.COMPLETE, whole.id)


def test_the_policys_own_timings_are_its_constants() -> None:
    d = Drive()
    d.policy = TurnPolicy(CFG, FRAME_MS, silero=True)  # no timings given
    d.policy.open(0.0, [], -1, -1)
    states = answered(d, "#" * 10 + "." * 20, {False: None, True: Verdict.SETTLED})
    asked = [(i - 9) * FRAME_MS for i, s in states if isinstance(s, PeekNow)]
    assert asked == [PEEK, TAIL]  # ms of pause when each peek was asked for
    i, end = states[-1]
    assert isinstance(end, EndNow) and end.why is End.SETTLED
    assert (i - 9) * FRAME_MS == SETTLE


def test_audio_lost_inside_an_utterance_ends_it_before_the_gap() -> None:
    d = Drive()
    d.frames("#" * 10 + "..")
    assert d.policy.lost_before(AudioFrame(SILENT, d.n * FRAME_MS / 1000)) is None  # on time
    later = AudioFrame(SILENT, (d.n + 20) * FRAME_MS / 1000)  # 20 frames never came
    end = d.policy.lost_before(later)
    assert end == EndNow(9, pytest.approx(0.30), End.LOST)
    assert not d.policy.in_turn
    assert d.policy.lost_before(later) is None  # nothing open: nothing to end
