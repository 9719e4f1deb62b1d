"""An utterance made a little lower or slower, to be recognised again (agent/decide/second.py).

Small models mishear some voices, synthetic and fast ones most, in ways that
change when the same audio is heard a little lower or slower.  Each variant is
a pure function of s16le mono 16 kHz PCM:

  lower    two semitones lower, same length (resampled, then time-scaled back)
  slower   spoken at 85% of the speed, same pitch (time-scaled)
  deeper   played at 90% speed: both lower and slower, like a slowed tape
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agent.messages import SAMPLE_RATE

_FRAME = 480
"""WSOLA analysis frame: 30 ms at 16 kHz."""
_HOP = _FRAME // 2
_SEEK = 160
"""How far (samples, 10 ms) WSOLA may move a frame to keep the waveform continuous."""


def resampled(x: np.ndarray, factor: float) -> np.ndarray:
    """Played at `factor` times the speed: 0.9 = longer by 1/0.9, and lower."""
    import soxr

    return soxr.resample(x, SAMPLE_RATE, SAMPLE_RATE / factor, quality="HQ")


def time_scaled(x: np.ndarray, rate: float) -> np.ndarray:
    """Waveform-similarity overlap-add (WSOLA): duration divided by `rate`, pitch kept."""
    out_len = int(len(x) / rate)
    if out_len < _FRAME or len(x) < _FRAME:
        return x.copy()
    window = np.hanning(_FRAME)
    padded = np.concatenate([np.zeros(_SEEK), x, np.zeros(2 * (_FRAME + _SEEK))])
    out = np.zeros(out_len + _FRAME)
    weight = np.zeros(out_len + _FRAME)
    taken = 0  # where (in x) the previous output frame was read
    for start in range(0, out_len, _HOP):
        nominal = int(start * rate)
        if start:
            natural = padded[_SEEK + taken + _HOP:_SEEK + taken + _HOP + _FRAME]
            region = padded[nominal:nominal + _FRAME + 2 * _SEEK]
            taken = nominal - _SEEK + int(np.argmax(np.correlate(region, natural, "valid")))
        else:
            taken = 0
        out[start:start + _FRAME] += padded[_SEEK + taken:_SEEK + taken + _FRAME] * window
        weight[start:start + _FRAME] += window
    return (out / np.maximum(weight, 1e-3))[:out_len]


def _lower(x: np.ndarray) -> np.ndarray:
    factor = 2 ** (-2 / 12)
    return time_scaled(resampled(x, factor), 1 / factor)


VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "lower": _lower,
    "slower": lambda x: time_scaled(x, 0.85),
    "deeper": lambda x: resampled(x, 0.9),
}
"""Variant name -> float samples in, float samples out (16 kHz)."""


def variant(name: str, pcm: bytes) -> bytes:
    """`pcm` (s16le mono 16 kHz) as the variant `name`, same format."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    y = VARIANTS[name](x)
    return (np.clip(y, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()
