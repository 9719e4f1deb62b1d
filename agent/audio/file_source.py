"""Audio from a file: any rate and channel count, converted to 16 kHz mono frames."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from agent.messages import SAMPLE_RATE, AudioFrame

log = logging.getLogger(__name__)


class AudioFileError(ValueError):
    """A one-line reason the file cannot be used as audio."""


def read_audio(path: Path) -> np.ndarray:
    """Decode `path` to mono int16 at SAMPLE_RATE; raise AudioFileError with one line."""
    import soundfile

    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    try:
        with path.open("rb"):  # libsndfile says only "System error" for a file we may not open
            pass
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc.error_string})") from None
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return to_pipeline_pcm(data, rate)


def to_pipeline_pcm(data: np.ndarray, rate: int) -> np.ndarray:
    """Float samples (frames x channels) at `rate` -> mono int16 at SAMPLE_RATE."""
    mono = data.mean(axis=1) if data.ndim == 2 else data
    if rate != SAMPLE_RATE and mono.size:
        import soxr

        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return (np.clip(mono, -1.0, 1.0) * 32767.0).astype("<i2")


class FileSource:
    """Frames from a decoded file, paced in real time unless `fast`."""

    def __init__(self, path: Path, block_ms: int = 30, fast: bool = False,
                 tail_silence_s: float = 1.0) -> None:
        self.path = path
        self._pcm = read_audio(path)
        self._block = SAMPLE_RATE * block_ms // 1000
        self._fast = fast
        self._tail = int(tail_silence_s * SAMPLE_RATE)
        self._stop = threading.Event()
        self.started_at = 0.0
        """time.monotonic() when the first frame was produced (stream time 0)."""

    @property
    def seconds(self) -> float:
        """Length of the file in seconds."""
        return len(self._pcm) / SAMPLE_RATE

    def frames(self) -> Iterator[AudioFrame]:
        """Yield whole blocks; the last is zero-padded, then a little silence closes speech."""
        pcm = self._pcm
        pad = (-len(pcm)) % self._block + self._tail
        pcm = np.concatenate([pcm, np.zeros(pad, dtype="<i2")])
        self.started_at = time.monotonic()
        for i in range(0, len(pcm), self._block):
            if self._stop.is_set():
                return
            start = i / SAMPLE_RATE
            if not self._fast:
                delay = self.started_at + start + self._block / SAMPLE_RATE - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            yield AudioFrame(pcm=pcm[i:i + self._block].tobytes(), start=start)

    def stop(self) -> None:
        self._stop.set()
