"""The segmenter on synthetic frames: no audio hardware, no webrtcvad, no Silero
(the speech classifier and the end-of-speech opinion are injected)."""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent.audio.config import VadConfig
from agent.audio.dc import DcBlocker
from agent.audio.endpoint import CHUNK, ModelOpinion, silero_opinion
from agent.audio.vad import (
    Peek,
    Segmenter,
    level_db,
    webrtc_classifier,
)
from agent.config import ConfigError, load_config
from agent.messages import SAMPLE_RATE, AudioFrame, Utterance
from agent.turn import TAIL_MS, Verdict

FRAME_MS = 30
FRAME = SAMPLE_RATE * FRAME_MS // 1000


def loud(pcm: bytes) -> bool:
    return int(np.abs(np.frombuffer(pcm, dtype="<i2")).max()) > 100


def frames(pattern: str, frame_ms: int = FRAME_MS) -> list[AudioFrame]:
    """'#' = speech, 'n' = noise the VAD calls voiced but is not speech, '.' = silence;
    frame i starts at i * frame_ms. Sound swings both ways (a steady value would be a DC
    offset, which the segmenter takes out)."""
    n = SAMPLE_RATE * frame_ms // 1000
    swing = np.where(np.arange(n) % 2, -1, 1)
    out = []
    for i, ch in enumerate(pattern):
        value = {"#": 3000, "n": 1000}.get(ch, 0)
        out.append(AudioFrame((swing * value).astype("<i2").tobytes(), i * frame_ms / 1000))
    return out


def plain(cfg: VadConfig | None = None) -> VadConfig:
    """webrtcvad's part alone (end_model none): the segmenter as it was before Silero."""
    return replace(cfg or VadConfig(), end_model="none")


def run(pattern: str, cfg: VadConfig | None = None, flush: bool = True
        ) -> tuple[list[tuple[int, Utterance]], Segmenter]:
    seg = Segmenter(plain(cfg), FRAME_MS, classify=loud, clock=lambda: 0.0)
    got = []
    for i, f in enumerate(frames(pattern)):
        utt = seg.feed(f)
        if utt is not None:
            got.append((i, utt))
    if flush:
        last = seg.flush()
        if last is not None:
            got.append((len(pattern), last))
    return got, seg


def test_silence_yields_nothing() -> None:
    got, seg = run("." * 200)
    assert got == []
    assert not seg.in_speech


def test_one_utterance_with_pre_roll_tail_and_stream_times() -> None:
    # 20 silent frames (0.6 s), 1.0 s of speech, then silence
    got, _ = run("." * 20 + "#" * 34 + "." * 40, flush=False)
    assert len(got) == 1
    closed_at_frame, utt = got[0]
    assert utt.start == pytest.approx(0.60)
    assert utt.end == pytest.approx(0.60 + 34 * 0.03)
    # closed after hangover_ms (450 ms = 15 frames) of silence, not before
    assert closed_at_frame == 20 + 34 + 15 - 1
    # audio = pre-roll (300 ms) + speech + tail (150 ms)
    assert utt.duration == pytest.approx(0.30 + 34 * 0.03 + 0.15)
    assert utt.index == 0


def test_a_click_does_not_start_speech() -> None:
    got, seg = run("." * 10 + "#" + "." * 30 + "#" + "." * 30)
    assert got == []
    assert seg.discarded == 0


def test_short_burst_is_counted_as_noise_not_speech() -> None:
    got, seg = run("." * 10 + "####" + "." * 30)  # 120 ms < min_speech_ms 150
    assert got == []
    assert seg.discarded == 1


def test_pause_shorter_than_hangover_keeps_one_utterance() -> None:
    got, _ = run("." * 10 + "#" * 20 + "." * 10 + "#" * 20 + "." * 30)
    assert len(got) == 1
    assert got[0][1].start == pytest.approx(0.30)
    assert got[0][1].end == pytest.approx(0.30 + 50 * 0.03)


def test_pause_longer_than_hangover_splits_in_order() -> None:
    got, _ = run("." * 10 + "#" * 20 + "." * 20 + "#" * 20 + "." * 30)
    assert [u.index for _, u in got] == [0, 1]
    first, second = got[0][1], got[1][1]
    assert first.end == pytest.approx(0.30 + 20 * 0.03)
    assert second.start == pytest.approx((10 + 20 + 20) * 0.03)
    assert first.end < second.start


def test_start_is_first_voiced_frame_of_the_trigger_window() -> None:
    # isolated voiced frame, gap, then speech: the trigger window holds only the speech
    got, _ = run("." * 20 + "#" + "." * 12 + "#" * 30 + "." * 30)
    assert got[0][1].start == pytest.approx(33 * 0.03)


def test_long_speech_is_cut_at_max_length_without_losing_audio() -> None:
    cfg = VadConfig(max_utterance_s=1.5)
    got, _ = run("." * 10 + "#" * 120 + "." * 30, cfg)
    utts = [u for _, u in got]
    assert len(utts) == 3
    assert utts[0].start == pytest.approx(0.30)
    for a, b in itertools.pairwise(utts):
        assert b.start == pytest.approx(a.end)
    assert utts[-1].end == pytest.approx((10 + 120) * 0.03)
    assert sum(u.end - u.start for u in utts) == pytest.approx(120 * 0.03)


def test_speech_past_max_length_is_marked_unbroken_until_a_pause() -> None:
    cfg = VadConfig(max_utterance_s=1.5)
    got, _ = run("." * 10 + "#" * 60 + "." * 30 + "#" * 20 + "." * 30, cfg)
    utts = [u for _, u in got]
    # the cut piece and what followed it are unbroken; after a real pause, a fresh one
    assert [u.unbroken for u in utts] == [True, True, False]
    short, _ = run("." * 10 + "#" * 20 + "." * 30, cfg)
    assert [u.unbroken for _, u in short] == [False]


def test_flush_closes_speech_open_at_end_of_stream() -> None:
    got, _ = run("." * 10 + "#" * 20)
    assert len(got) == 1
    assert got[0][1].end == pytest.approx(30 * 0.03)


def test_close_now_ends_speech_immediately() -> None:
    seg = Segmenter(plain(), FRAME_MS, classify=loud)
    for f in frames("." * 5 + "#" * 10 + "..."):
        assert seg.feed(f) is None
    utt = seg.close_now()
    assert utt is not None
    assert utt.end == pytest.approx(18 * 0.03)
    assert seg.close_now() is None


def test_hangover_setting_changes_when_speech_ends() -> None:
    fast = VadConfig(hangover_ms=150)
    got, _ = run("." * 10 + "#" * 20 + "." * 8 + "#" * 20 + "." * 30, fast, flush=False)
    assert len(got) == 2
    assert got[0][0] == 10 + 20 + 5 - 1


def test_webrtc_classifier_hears_silence_as_silence() -> None:
    classify = webrtc_classifier(3)
    assert classify(bytes(FRAME * 2)) is False


def noisy(pattern: str) -> list[AudioFrame]:
    """'#' = speech at amplitude 3000 over noise, '.' = noise alone (amplitude ~300)."""
    rng = np.random.default_rng(7)
    out = []
    for i, ch in enumerate(pattern):
        noise = rng.normal(0, 300, FRAME)
        tone = 3000 * np.sin(np.arange(FRAME) * 0.3) if ch == "#" else 0
        out.append(AudioFrame((noise + tone).astype("<i2").tobytes(), i * FRAME_MS / 1000))
    return out


@pytest.mark.parametrize(("gate_db", "expected"), [(0.0, 1), (6.0, 2)])
def test_noise_gate_keeps_steady_noise_from_joining_utterances(gate_db, expected) -> None:
    # a VAD that takes the noise for speech, as webrtcvad does with loud pink noise
    seg = Segmenter(plain(VadConfig(noise_gate_db=gate_db)), FRAME_MS,
                    classify=lambda pcm: True)
    got = [u for f in noisy("." * 40 + "#" * 30 + "." * 40 + "#" * 30 + "." * 40)
           if (u := seg.feed(f))]
    got += [u] if (u := seg.flush()) else []
    assert len(got) == expected
    if expected == 2:
        assert got[0].end == pytest.approx(70 * 0.03)
        assert got[1].start == pytest.approx(110 * 0.03, abs=0.1)


def test_level_db_of_full_scale_and_silence() -> None:
    full = np.full(FRAME, 32767, dtype="<i2").tobytes()
    assert level_db(full) == pytest.approx(0.0, abs=0.01)
    assert level_db(bytes(FRAME * 2)) == pytest.approx(-120.0)


# ---------------------------------------------------------------- the end-of-speech opinion

class Opinion:
    """An end-of-speech opinion that tells speech (amplitude 3000) from noise (1000)."""

    def __init__(self) -> None:
        self.resets = 0
        self.heard = 0

    def reset(self) -> None:
        self.resets += 1

    def hear(self, pcm: bytes) -> bool:
        self.heard += 1
        return int(np.abs(np.frombuffer(pcm, dtype="<i2")).max()) > 2000


NOISY = VadConfig(noise_gate_db=0.0, end_model="silero", end_ms=240)
"""The gate off: the VAD calls the noise voiced, as webrtcvad does in loud noise."""
END = 8
"""end_ms in frames."""


def drive(pattern: str, cfg: VadConfig = NOISY, opinion: Opinion | None = None,
          peek_ms: int = 90
          ) -> tuple[list[tuple[int, Utterance]], list[tuple[int, Peek]], Segmenter]:
    """Feed the pattern; the utterances and peeks with the frame that produced them."""
    seg = Segmenter(cfg, FRAME_MS, classify=loud, clock=lambda: 7.0,
                    opinion=opinion or Opinion(), peek_ms=peek_ms)
    utts, peeks = [], []
    for i, f in enumerate(frames(pattern)):
        if (utt := seg.feed(f)) is not None:
            utts.append((i, utt))
        if (peek := seg.take_peek()) is not None:
            peeks.append((i, peek))
    return utts, peeks, seg


def test_opinion_ends_the_utterance_while_the_vad_still_calls_the_noise_voiced() -> None:
    pattern = "." * 10 + "#" * 30 + "n" * 60 + "." * 30
    utts, _, _ = drive(pattern)
    assert [i for i, _ in utts] == [10 + 30 + END - 1]
    assert utts[0][1].end == pytest.approx(40 * 0.03)
    assert utts[0][1].closed_at == 7.0
    # webrtcvad alone waits until the noise stops, then the hangover
    alone, _ = run(pattern, replace(NOISY, end_model="none"), flush=False)
    assert [i for i, _ in alone] == [10 + 30 + 60 + 15 - 1]


@pytest.mark.parametrize("dip", range(1, END))
def test_never_ends_before_the_speech_does(dip: int) -> None:
    pattern = "." * 10 + "#" * 12 + "n" * dip + "#" * 12 + "n" * 40
    utts, _, _ = drive(pattern)
    assert len(utts) == 1
    closed_at, utt = utts[0]
    last_speech = 10 + 12 + dip + 12 - 1
    assert closed_at == last_speech + END
    assert utt.end == pytest.approx((last_speech + 1) * 0.03)


def test_noise_that_starts_before_the_speech_is_held_then_ended_by_the_opinion() -> None:
    pattern = "." * 10 + "n" * 17 + "#" * 30 + "n" * 33 + "." * 30
    utts, _, seg = drive(pattern)
    assert [i for i, _ in utts] == [10 + 17 + 30 + END - 1]
    assert utts[0][1].start == pytest.approx(10 * 0.03)  # it opened on the noise
    # the noise after it reopens an utterance, which holds no speech: dropped
    seg.flush()
    assert seg.discarded == 1


def test_noise_alone_is_dropped_even_at_max_length() -> None:
    cfg = replace(NOISY, max_utterance_s=1.5)
    utts, _, seg = drive("." * 10 + "n" * 120 + "." * 30, cfg)
    assert utts == []
    assert seg.discarded >= 2


def test_the_opinion_runs_only_while_an_utterance_is_open() -> None:
    opinion = Opinion()
    drive("." * 300, opinion=opinion)
    assert opinion.heard == 0
    drive("." * 20 + "#" * 10 + "." * 20 + "#" * 10 + "." * 200, opinion=opinion)
    assert opinion.resets == 2  # afresh for each utterance
    assert opinion.heard < 2 * (20 + 10 + END)  # the pre-roll, the speech, the end run


# ---------------------------------------------------------------- peeks at pauses

PEEK = 3
"""peek_ms (90, given) in frames."""
TAIL = round(TAIL_MS / FRAME_MS)
"""TAIL_MS in frames."""


@pytest.mark.parametrize("cfg", [NOISY, plain()], ids=["opinion", "vad"])
def test_two_peeks_per_pause_with_the_speech_so_far(cfg: VadConfig) -> None:
    gap = "." if cfg.end_model == "none" else "n"
    pattern = "." * 10 + "#" * 20 + gap * 5 + "#" * 20 + "." * 30
    utts, peeks, _ = drive(pattern, cfg)
    # at peek_ms (3 frames) into each pause, then whole at tail_ms (5 frames)
    assert [i for i, _ in peeks] == [30 + PEEK - 1, 30 + TAIL - 1, 55 + PEEK - 1, 55 + TAIL - 1]
    first, whole, second = peeks[0][1], peeks[1][1], peeks[2][1]
    assert [p.id for _, p in peeks] == [0, 1, 2, 3]
    assert [p.whole for _, p in peeks] == [False, True, False, True]
    assert first.utterance == second.utterance == 0
    assert first.start == second.start == pytest.approx(0.30)
    assert first.end == whole.end == pytest.approx(30 * 0.03)
    assert second.end == pytest.approx(55 * 0.03)
    # pre-roll (10 frames) + speech + the pause so far (3 frames); whole: up to tail_ms
    assert len(first.pcm) == (10 + 20 + PEEK) * FRAME * 2
    assert len(whole.pcm) == (10 + 20 + TAIL) * FRAME * 2 and whole.pcm.startswith(first.pcm)
    assert first.voiced == pytest.approx(20 * 0.03)
    assert len(utts) == 1
    assert utts[0][1].end == second.end


COMPLETE = Verdict.COMPLETE


def test_a_complete_verdict_closes_at_the_peek() -> None:
    seg = Segmenter(NOISY, FRAME_MS, classify=loud, clock=lambda: 3.0, opinion=Opinion())
    peek = None
    for f in frames("." * 10 + "#" * 20 + "n" * PEEK):
        assert seg.feed(f) is None
        peek = seg.take_peek() or peek
    assert peek is not None
    for f in frames("n" * 4):  # noise after the peek is no speech
        assert seg.feed(f) is None
    utt = seg.hear(peek.id, COMPLETE)  # the pause has lasted early_end_ms
    assert utt is not None
    assert (utt.start, utt.end, utt.voiced) == (peek.start, peek.end, peek.voiced)
    assert utt.peek == peek.id
    # its audio goes on past the peek's, up to tail_ms (5 frames) after the speech
    assert utt.pcm.startswith(peek.pcm)
    assert len(utt.pcm) == (10 + 20 + 5) * FRAME * 2 > len(peek.pcm)
    assert (utt.index, utt.closed_at) == (0, 3.0)
    assert not seg.in_speech
    assert seg.hear(peek.id, COMPLETE) is None  # once
    assert seg.take_peek() is None


def test_a_verdict_after_speech_resumed_closes_nothing() -> None:
    seg = Segmenter(NOISY, FRAME_MS, classify=loud, opinion=Opinion())
    peeks: list[Peek] = []
    pattern = "." * 10 + "#" * 20 + "n" * PEEK + "#" * 10
    for f in frames(pattern):
        assert seg.feed(f) is None
        peeks += [p] if (p := seg.take_peek()) else []
    assert len(peeks) == 1
    assert seg.hear(peeks[0].id, COMPLETE) is None  # overtaken
    assert seg.in_speech
    utt = None
    for f in frames("n" * END)[: END]:
        utt = seg.feed(AudioFrame(f.pcm, f.start + len(pattern) * 0.03)) or utt
    assert utt is not None
    assert utt.end == pytest.approx(len(pattern) * 0.03)  # the whole speech, both parts


def test_a_verdict_on_a_stale_or_unknown_peek_does_nothing() -> None:
    seg = Segmenter(NOISY, FRAME_MS, classify=loud, opinion=Opinion())
    assert seg.hear(0, COMPLETE) is None  # nothing open
    peeks: list[Peek] = []
    for f in frames("." * 10 + "#" * 10 + "n" * PEEK + "#" * 10 + "n" * PEEK):
        seg.feed(f)
        peeks += [p] if (p := seg.take_peek()) else []
    assert [p.id for p in peeks] == [0, 1]
    assert seg.hear(0, COMPLETE) is None  # the first peek was overtaken by the second
    assert seg.hear(7, COMPLETE) is None
    assert seg.hear(1, None) is None  # not a command: it goes on
    assert seg.in_speech
    for f in frames("n" * 2):  # early_end_ms after the speech
        seg.feed(f)
    assert seg.hear(1, COMPLETE) is not None


def test_no_peek_for_a_burst_too_short_to_be_speech() -> None:
    _, peeks, _ = drive("." * 10 + "####" + "n" * 20 + "." * 20)
    assert peeks == []


def test_peeks_off() -> None:
    _, peeks, _ = drive("." * 10 + "#" * 20 + "n" * 5 + "#" * 20 + "." * 30, peek_ms=0)
    assert peeks == []


# ---------------------------------------------------------------- the model opinion

class Script:
    """A chunk model that answers a scripted probability per chunk."""

    def __init__(self, probs: list[float]) -> None:
        self.probs = list(probs)
        self.seen: list[int] = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def __call__(self, chunk: np.ndarray) -> float:
        self.seen.append(len(chunk))
        return self.probs.pop(0)


def test_model_opinion_without_hysteresis_ends_below_the_threshold() -> None:
    opinion = ModelOpinion(Script([0.6, 0.45, 0.55, 0.5]), threshold=0.5)
    frame = bytes(CHUNK * 2)
    assert [opinion.hear(frame) for _ in range(4)] == [True, False, True, True]


def test_model_opinion_cuts_frames_into_chunks_and_keeps_hysteresis() -> None:
    model = Script([0.2, 0.6, 0.4, 0.3, 0.45])
    opinion = ModelOpinion(model, threshold=0.5, hysteresis=0.15)
    frame = bytes(FRAME * 2)  # 480 samples: a chunk is 512
    verdicts = [opinion.hear(frame) for _ in range(5)]
    # chunks end inside frames 2, 3, 4 and 5 (480 * k // 512 chunks after k frames)
    assert model.seen == [CHUNK] * 4
    assert verdicts == [False, False, True, True, False]  # on at 0.6, held at 0.4, off at 0.3
    opinion.reset()
    assert model.resets == 1
    assert opinion.hear(frame) is False  # the half chunk was forgotten
    assert len(model.seen) == 4


def test_a_missing_model_is_one_warning_and_no_opinion(tmp_path: Path, caplog) -> None:
    missing = tmp_path / "nowhere.onnx"
    with caplog.at_level(logging.WARNING):
        assert silero_opinion(0.5, missing) is None
    assert len(caplog.records) == 1
    assert str(missing) in caplog.records[0].getMessage()
    assert "webrtcvad alone" in caplog.records[0].getMessage()


def test_end_model_config_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[vad]\nend_model = "rnnoise"\n')
    with pytest.raises(ConfigError, match=r"'vad.end_model'.*'silero', 'none'"):
        load_config(path)
    path.write_text("[vad]\nend_ms = -5\n")
    with pytest.raises(ConfigError, match=r"'vad\.end_ms'"):
        load_config(path)


def test_a_retired_setting_is_one_warning_and_ignored(tmp_path: Path, caplog) -> None:
    """An old config file still loads: each key that is a constant now gets one warning
    line naming the file and the key; the rest of the file applies."""
    path = tmp_path / "config.toml"
    path.write_text("[audio]\nqueue_blocks = 300\n[vad]\npeek_ms = 60\nsettle_ms = 5\n"
                    "tail_ms = 1\nend_hysteresis = 0.1\nend_ms = 300\n")
    with caplog.at_level(logging.WARNING, logger="agent.config"):
        cfg = load_config(path)
    assert cfg.vad.end_ms == 300
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5, lines
    for key in ("audio.queue_blocks", "vad.peek_ms", "vad.settle_ms", "vad.tail_ms",
                "vad.end_hysteresis"):
        (line,) = [x for x in lines if f"'{key}'" in x]
        assert line.startswith(f"{path}: ") and "\n" not in line, line
    path.write_text("[vad]\npeek_mss = 60\n")  # a typo is still an error
    with pytest.raises(ConfigError, match=r"'vad\.peek_mss'"):
        load_config(path)


def test_an_early_close_waits_for_the_pause_to_last() -> None:
    cfg = replace(plain(VadConfig(early_end_ms=180)), hangover_ms=600)
    seg = Segmenter(cfg, FRAME_MS, classify=loud, clock=lambda: 0.0, peek_ms=90)
    peeks = []
    for f in frames("." * 10 + "#" * 20 + "." * 3):
        assert seg.feed(f) is None
        peeks += [p] if (p := seg.take_peek()) else []
    (peek,) = peeks
    assert seg.hear(peek.id, COMPLETE) is None  # 90 ms of pause so far
    for f in frames("." * 2):
        assert seg.feed(f) is None  # 150 ms
    closed = seg.feed(frames(".")[0])  # 180 ms: closed at the peek
    assert isinstance(closed, Utterance) and closed.end == peek.end
    assert not seg.in_speech


def test_speech_during_the_wait_overtakes_the_early_close() -> None:
    # a stop consonant: a short closure inside a word, then the word goes on
    cfg = replace(plain(VadConfig(early_end_ms=180)), hangover_ms=600)
    seg = Segmenter(cfg, FRAME_MS, classify=loud, clock=lambda: 0.0, peek_ms=90)
    peeks = []
    for f in frames("." * 10 + "#" * 20 + "..."):
        seg.feed(f)
        peeks += [p] if (p := seg.take_peek()) else []
    assert seg.hear(peeks[0].id, COMPLETE) is None
    assert seg.feed(frames("#")[0]) is None  # the word goes on
    for f in frames("." * 6):
        assert seg.feed(f) is None  # the close was dropped: no close at the old peek
    assert seg.in_speech


def test_the_dc_blocker_takes_out_an_offset_and_leaves_clean_audio_alone() -> None:
    rng = np.random.default_rng(5)
    tone = (8000 * np.sin(np.arange(SAMPLE_RATE) * 2 * np.pi * 220 / SAMPLE_RATE)
            + rng.normal(0, 300, SAMPLE_RATE)).astype(np.int16)
    frames = [AudioFrame(tone[i:i + 480].tobytes(), i / SAMPLE_RATE)
              for i in range(0, SAMPLE_RATE, 480)]
    clean = DcBlocker(0.03)
    assert [clean.remove(f) for f in frames] == frames  # bit for bit
    offset = 0.3 * 32768
    shifted = [AudioFrame((np.frombuffer(f.pcm, "<i2") + offset).astype("<i2").tobytes(),
                          f.start) for f in frames]
    blocker = DcBlocker(0.03)
    out = np.concatenate([np.frombuffer(blocker.remove(f).pcm, "<i2") for f in shifted])
    assert abs(float(out.mean())) < 0.01 * 32768
    assert np.abs(out.astype(np.int32) - tone).max() < 0.02 * 32768  # -34 dBFS at worst


def test_audio_lost_inside_speech_closes_before_the_gap_and_starts_afresh() -> None:
    seg = Segmenter(plain(), FRAME_MS, classify=loud, clock=lambda: 0.0)
    before, after = frames("." * 10 + "#" * 20), frames("." * 80 + "#" * 20 + "." * 30)[60:]
    assert all(seg.feed(f) is None for f in before)
    closed = seg.feed(after[0])  # 1.5 s of audio never came (30 frames)
    assert isinstance(closed, Utterance)
    assert closed.end == pytest.approx(0.90) and closed.start == pytest.approx(0.30)
    assert len(closed.pcm) <= 30 * len(before[0].pcm)  # nothing from after the gap
    rest = [u for f in after[1:] if (u := seg.feed(f)) is not None]
    assert [(u.start, u.end) for u in rest] == [(pytest.approx(2.4), pytest.approx(3.0))]
