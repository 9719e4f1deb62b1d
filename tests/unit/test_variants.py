"""agent.audio.variants: the lower and slower copies of an utterance recognised again."""

from __future__ import annotations

import numpy as np
import pytest

from agent.audio.variants import VARIANTS, time_scaled, variant
from agent.dispatch.config import REHEAR_VARIANTS
from agent.messages import SAMPLE_RATE


def tone(hz: float, seconds: float, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return level * np.sin(2 * np.pi * hz * t)


def pcm(x: np.ndarray) -> bytes:
    return (x * 32767).astype("<i2").tobytes()


def samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0


def pitch(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)[np.argmax(spectrum)])


def test_the_config_offers_exactly_the_variants_there_are() -> None:
    assert set(REHEAR_VARIANTS) == set(VARIANTS)


@pytest.mark.parametrize(("name", "length", "hz"), [
    ("lower", 2.0, 220 * 2 ** (-2 / 12)),   # two semitones down, same length
    ("slower", 2.0 / 0.85, 220.0),           # 85% speed, same pitch
    ("deeper", 2.0 / 0.9, 220 * 0.9),        # a tape at 90%: lower and longer
])
def test_each_variant_changes_pitch_and_length_as_documented(name: str, length: float,
                                                             hz: float) -> None:
    out = samples(variant(name, pcm(tone(220, 2.0))))
    assert len(out) / SAMPLE_RATE == pytest.approx(length, abs=0.01)
    assert pitch(out) == pytest.approx(hz, abs=1.0)


def test_time_scaling_keeps_a_tone_continuous() -> None:
    # slowed to 80%, frames 240 samples apart in the output are read 192 apart: for a
    # 96-sample period that is half a cycle, and plain overlap-add would cancel the tone
    # in every overlap (its peaks fall to 0.3).  WSOLA moves each frame to where it
    # continues the waveform, so every period keeps its full height.
    period = 96
    out = time_scaled(tone(SAMPLE_RATE / period, 1.0), 0.8)
    body = out[period * 20:period * 70]
    peaks = np.abs(body).reshape(-1, period).max(axis=1)
    assert peaks.min() > 0.45


@pytest.mark.parametrize("name", ["lower", "deeper"])
def test_a_loud_utterance_is_clipped_at_full_scale_not_wrapped_around(name: str) -> None:
    # a full-scale square wave (speech clipped by a hot microphone) rings past full scale
    # when resampled; in 16 bits those peaks must stay at full scale, not wrap to the
    # opposite sign (a click of full amplitude the recogniser would hear)
    loud = pcm(0.999 * np.sign(tone(200, 1.0, level=1.0)))
    ringing = VARIANTS[name](samples(loud))
    assert np.abs(ringing).max() > 1.1  # the case is really exercised
    out = samples(variant(name, loud))
    expected = np.clip(ringing, -1.0, 32767 / 32768)
    assert len(out) == len(expected)
    assert np.abs(out - expected).max() <= 1 / 32768 + 1e-12
    over = ringing > 1.0
    assert over.any() and (out[over] == 32767 / 32768).all()


def test_silence_stays_silent() -> None:
    assert not samples(variant("slower", bytes(2 * SAMPLE_RATE))).any()


def test_audio_shorter_than_a_frame_comes_back_unchanged_in_length() -> None:
    short = pcm(tone(200, 0.01))
    assert len(variant("slower", short)) == len(short)
