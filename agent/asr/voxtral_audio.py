"""Audio for Voxtral (pure): 16 kHz mono WAV in memory, DC removed, peak-normalised, and
audio longer than a chunk split at its quietest points.

Nothing here touches the disk: the WAV is built in a BytesIO and sent as the request body.
"""

from __future__ import annotations

import io

import numpy as np

from agent.messages import SAMPLE_RATE

PEAK = 0.89
"""Peak level after normalisation (about -1 dBFS): loud enough, never clipping."""
_SILENT = 1e-4
"""Below this peak the audio is silence: left as it is, not amplified into noise."""
_FRAME_S = 0.02
"""Loudness is measured in frames of this length when looking for a quiet cut."""
_SEARCH = 0.25
"""A cut is looked for in the last quarter of each chunk."""


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """s16le mono samples -> float32 in [-1, 1]."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def condition(audio: np.ndarray) -> np.ndarray:
    """DC offset removed, then scaled so the peak is PEAK (silence stays as it is)."""
    if audio.size == 0:
        return audio.astype(np.float32)
    centred = audio.astype(np.float64) - float(np.mean(audio))
    peak = float(np.max(np.abs(centred)))
    if peak < _SILENT:
        return centred.astype(np.float32)
    return (centred * (PEAK / peak)).astype(np.float32)


def to_wav(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """Float samples -> a 16-bit PCM mono WAV file, in memory."""
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, np.clip(audio, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def split_points(audio: np.ndarray, max_samples: int, rate: int = SAMPLE_RATE) -> list[int]:
    """Where to cut `audio` so no piece is longer than `max_samples`: each cut at the
    quietest frame in the last quarter of the piece it ends (a pause between words rather
    than the middle of one).  Returns the cut offsets, in samples, in order."""
    if max_samples <= 0:
        raise ValueError("max_samples must be positive")
    frame = max(1, int(_FRAME_S * rate))
    cuts: list[int] = []
    start = 0
    while len(audio) - start > max_samples:
        end = start + max_samples
        lo = end - max(frame, int(max_samples * _SEARCH))
        cuts.append(_quietest(audio, max(lo, start + frame), end, frame))
        start = cuts[-1]
    return cuts


def _quietest(audio: np.ndarray, lo: int, hi: int, frame: int) -> int:
    """The middle of the quietest whole frame within [lo, hi) (energy per frame)."""
    if hi - lo < frame:
        return hi
    n = (hi - lo) // frame
    window = audio[lo:lo + n * frame].astype(np.float64).reshape(n, frame)
    energy = (window * window).sum(axis=1)
    best = int(np.argmin(energy[::-1]))  # the latest of equally quiet frames: longer chunks
    return lo + (n - 1 - best) * frame + frame // 2


def chunks(audio: np.ndarray, max_seconds: float, rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """`audio` cut at quiet points into pieces of at most `max_seconds`; every sample is in
    exactly one piece, in order."""
    cuts = split_points(audio, int(max_seconds * rate), rate)
    return [audio[a:b] for a, b in zip([0, *cuts], [*cuts, len(audio)], strict=True)]


def prepare(pcm: bytes, max_seconds: float) -> list[bytes]:
    """Pipeline audio (s16le mono 16 kHz) -> WAV files of at most `max_seconds` each, each
    conditioned on its own."""
    return [to_wav(condition(piece)) for piece in chunks(pcm_to_float(pcm), max_seconds)]


def duration(pcm: bytes) -> float:
    """Seconds of s16le mono SAMPLE_RATE audio."""
    return len(pcm) / (2 * SAMPLE_RATE)
