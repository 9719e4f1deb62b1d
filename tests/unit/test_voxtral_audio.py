"""agent.asr.voxtral_audio: WAV in memory, DC removed, peak-normalised, split at quiet points."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from agent.asr import voxtral_audio as audio

RATE = 16_000


def tone(seconds: float, level: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_condition_removes_dc_and_normalises_the_peak() -> None:
    x = tone(1.0, 0.1) + 0.25
    y = audio.condition(x)
    assert abs(float(y.mean())) < 1e-4
    assert float(np.abs(y).max()) == pytest.approx(audio.PEAK, abs=1e-4)
    assert y.dtype == np.float32


def test_silence_is_not_amplified_into_noise() -> None:
    quiet = np.full(RATE, 3e-5, dtype=np.float32)
    assert float(np.abs(audio.condition(quiet)).max()) < 1e-4
    assert audio.condition(np.zeros(0, dtype=np.float32)).size == 0


def test_wav_is_16k_mono_pcm16_in_memory() -> None:
    wav = audio.to_wav(audio.condition(tone(0.5)))
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    info = soundfile.info(io.BytesIO(wav))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (RATE, 1, "PCM_16",
                                                                           RATE // 2)


def test_split_cuts_at_the_quiet_gap() -> None:
    # speech 0-26 s, a 0.5 s pause at 26.0-26.5 s, speech again: the cut lands in the pause
    x = np.concatenate([tone(26.0), np.zeros(RATE // 2, dtype=np.float32), tone(20.0)])
    (cut,) = audio.split_points(x, 30 * RATE)
    assert 26.0 * RATE <= cut <= 26.5 * RATE


def test_chunks_cover_every_sample_once_and_respect_the_limit() -> None:
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(95 * RATE) * 0.2).astype(np.float32)
    x[40 * RATE:40 * RATE + 4000] = 0.0  # one quiet spot
    pieces = audio.chunks(x, 30.0)
    assert len(pieces) == 4
    assert all(len(p) <= 30 * RATE for p in pieces)
    assert np.array_equal(np.concatenate(pieces), x)


def test_short_audio_is_one_piece_and_prepare_makes_wavs() -> None:
    pcm = (tone(2.0) * 32767).astype("<i2").tobytes()
    assert audio.split_points(audio.pcm_to_float(pcm), 30 * RATE) == []
    (wav,) = audio.prepare(pcm, 30.0)
    data, rate = soundfile.read(io.BytesIO(wav))
    assert rate == RATE and len(data) == 2 * RATE
    assert audio.duration(pcm) == pytest.approx(2.0)
    long_pcm = (tone(65.0) * 32767).astype("<i2").tobytes()
    assert len(audio.prepare(long_pcm, 30.0)) == 3
