"""Audio files read block by block (agent/audio/file_source.py), on real files made here:
the stream gives what a whole-file read gives, bad samples and damaged files are said once
and what decodes is kept, and an empty file is refused in one line."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from agent.audio.file_source import (
    CHUNK_FRAMES,
    AudioFileError,
    AudioStream,
    FileSource,
    read_audio,
)
from agent.messages import SAMPLE_RATE


def tone(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A 440 Hz tone with a little noise, frames x channels, float32 in -0.5..0.5."""
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(0, 0.05, (len(t), channels))
    x = 0.4 * np.sin(2 * np.pi * 440 * t)[:, None] + noise
    return x.astype(np.float32)


def warnings_about(caplog: pytest.LogCaptureFixture, path: Path) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and str(path) in r.getMessage()]


def test_the_stream_is_the_whole_file_resampled(tmp_path: Path) -> None:
    path = tmp_path / "stereo-44k.wav"
    data = tone(3.0, 44100, 2)  # several read chunks long
    soundfile.write(path, data, 44100, subtype="FLOAT")
    assert len(data) > 5 * CHUNK_FRAMES
    whole = soxr.resample(data.mean(axis=1), 44100, SAMPLE_RATE, quality="HQ")
    expected = np.clip(whole * 32768, -32768, 32767).astype("<i2")
    got = read_audio(path)
    assert len(got) == len(expected)
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_file_source_frames_are_whole_blocks_in_order(tmp_path: Path) -> None:
    path = tmp_path / "mono-16k.wav"
    data = tone(1.234, SAMPLE_RATE)
    soundfile.write(path, data, SAMPLE_RATE, subtype="PCM_16")
    frames = list(FileSource(path, block_ms=30, fast=True, tail_silence_s=1.0).frames())
    block = SAMPLE_RATE * 30 // 1000
    assert {len(f.pcm) for f in frames} == {2 * block}
    assert [f.start for f in frames] == [i * block / SAMPLE_RATE for i in range(len(frames))]
    pcm = np.frombuffer(b"".join(f.pcm for f in frames), dtype="<i2")
    assert np.array_equal(pcm[:len(data)], soundfile.read(path, dtype="int16")[0])
    assert not pcm[len(data):].any() and len(pcm) >= len(data) + SAMPLE_RATE


def test_nan_and_inf_samples_are_silence_said_once(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bad-samples.wav"
    data = tone(2.0, 22050, 2)
    data[11025:11100, 0] = np.nan
    data[30000, 1] = np.inf
    data[40000:40010] = -np.inf
    data[41000, 0] = data[41000, 1] = 3e38  # finite, but their sum is not
    soundfile.write(path, data, 22050, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        got = read_audio(path)
    clean = np.clip(np.where(np.isfinite(data), data, 0), -1, 1).mean(axis=1)
    resampled = soxr.resample(clean, 22050, SAMPLE_RATE, quality="HQ")
    expected = np.clip(resampled * 32768, -32768, 32767).astype("<i2")
    assert np.abs(got.astype(int) - expected).max() <= 1
    (line,) = warnings_about(caplog, path)
    assert "NaN or infinite" in line and "0.50 s" in line


def test_a_truncated_wav_keeps_what_is_there_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    whole = tmp_path / "whole.wav"
    data = tone(3.0, SAMPLE_RATE)
    soundfile.write(whole, data, SAMPLE_RATE, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    raw = whole.read_bytes()
    cut.write_bytes(raw[:44 + 2 * SAMPLE_RATE])  # the header and the first second
    got = read_audio(cut)
    assert np.array_equal(got, soundfile.read(whole, dtype="int16")[0][:SAMPLE_RATE])
    (line,) = warnings_about(caplog, cut)
    assert "truncated" in line and "1.00 s" in line and "3.00 s" in line


def test_a_truncated_flac_keeps_what_decodes_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    whole = tmp_path / "whole.flac"
    data = tone(6.0, SAMPLE_RATE)
    soundfile.write(whole, data, SAMPLE_RATE, subtype="PCM_16")
    cut = tmp_path / "cut.flac"
    raw = whole.read_bytes()
    cut.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.read(cut)  # libsndfile alone gives nothing
    got = read_audio(cut)
    reference = soundfile.read(whole, dtype="int16")[0]
    assert 2.5 * SAMPLE_RATE < len(got) < 3.5 * SAMPLE_RATE  # about half of it
    assert np.array_equal(got, reference[:len(got)])  # lossless: exactly the start
    (line,) = warnings_about(caplog, cut)
    assert "damaged or truncated" in line and "6.00 s" in line


def test_empty_audio_is_refused_in_one_line(tmp_path: Path) -> None:
    header_only = tmp_path / "header-only.wav"
    soundfile.write(header_only, np.zeros((0, 1), np.float32), SAMPLE_RATE)
    no_bytes = tmp_path / "no-bytes.flac"
    no_bytes.write_bytes(b"")
    for path, says in ((header_only, "empty: the file holds no audio samples"),
                       (no_bytes, "empty file (0 bytes)")):
        with pytest.raises(AudioFileError) as info:
            AudioStream(path)
        assert str(info.value) == f"{path}: {says}"
