"""The segmenter on synthetic frames: no audio hardware, no webrtcvad."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agent.audio.vad import Segmenter, level_db, webrtc_classifier
from agent.config import VadConfig
from agent.messages import SAMPLE_RATE, AudioFrame, Utterance

FRAME_MS = 30
FRAME = SAMPLE_RATE * FRAME_MS // 1000


def loud(pcm: bytes) -> bool:
    return int(np.abs(np.frombuffer(pcm, dtype="<i2")).max()) > 100


def frames(pattern: str, frame_ms: int = FRAME_MS) -> list[AudioFrame]:
    """'#' = a voiced frame, '.' = silence; frame i starts at i * frame_ms."""
    n = SAMPLE_RATE * frame_ms // 1000
    out = []
    for i, ch in enumerate(pattern):
        value = 3000 if ch == "#" else 0
        out.append(AudioFrame(np.full(n, value, dtype="<i2").tobytes(), i * frame_ms / 1000))
    return out


def run(pattern: str, cfg: VadConfig | None = None, flush: bool = True
        ) -> tuple[list[tuple[int, Utterance]], Segmenter]:
    seg = Segmenter(cfg or VadConfig(), FRAME_MS, classify=loud, clock=lambda: 0.0)
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


def test_flush_closes_speech_open_at_end_of_stream() -> None:
    got, _ = run("." * 10 + "#" * 20)
    assert len(got) == 1
    assert got[0][1].end == pytest.approx(30 * 0.03)


def test_close_now_ends_speech_immediately() -> None:
    seg = Segmenter(VadConfig(), FRAME_MS, classify=loud)
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
    seg = Segmenter(VadConfig(noise_gate_db=gate_db), FRAME_MS, classify=lambda pcm: True)
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
