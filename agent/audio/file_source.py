"""Audio from a file: any rate and channel count, converted to 16 kHz mono frames.

Files are decoded block by block (AudioStream): the channels are mixed down and the
rate converted per block (soxr's streaming resampler), so memory does not grow with
the file's length. What cannot be used is said once, in one line naming the file, and
the rest is kept: NaN or infinite samples are read as silence (a few bad samples must
not cost the speech around them); a file cut short (a truncated WAV, a FLAC whose
decoder loses sync) gives what decodes before the damage. A file with no samples at
all is refused as empty.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from agent.messages import SAMPLE_RATE, AudioFrame

log = logging.getLogger(__name__)

CHUNK_FRAMES = 16384
"""Frames decoded per read (0.37 s at 44.1 kHz)."""
_SALVAGE_FRAMES = 1024
"""After a decoding error, the rest before the damage is read again in steps this small."""
_DATA_LENGTH = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
"""libsndfile's log line for a WAV whose data chunk is shorter than its header says."""
_UNKNOWN_LENGTHS = {0, 0xFFFFFFFF, 0x7FFFFFFF}
"""Data lengths a streaming writer puts in a header it cannot go back to."""


class AudioFileError(ValueError):
    """A one-line reason the file cannot be used as audio."""


class AudioStream:
    """One file decoded to mono int16 at SAMPLE_RATE, block by block. Opening checks the
    file (AudioFileError with one line); blocks() may be called more than once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        info = _probe(path)
        self.rate: int = info.samplerate
        self.channels: int = info.channels
        self.frames: int = info.frames
        """Frames the file holds, at its own rate."""
        self._promised = _promised_frames(info)
        self._warned: set[str] = set()

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def blocks(self) -> Iterator[np.ndarray]:
        """int16 mono blocks at SAMPLE_RATE, of varying length, in order."""
        import soxr

        resampler = (soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="float32",
                                          quality="HQ") if self.rate != SAMPLE_RATE else None)
        done = 0
        for chunk in self._decoded():
            mono = self._mixed(chunk, done)
            done += len(chunk)
            out = mono if resampler is None else resampler.resample_chunk(mono)
            if out.size:
                yield _to_int16(out)
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                yield _to_int16(tail)
        if done < self._promised:
            self._warn("cut", f"{self.path}: truncated: it holds {done / self.rate:.2f} s of "
                       f"the {self._promised / self.rate:.2f} s its header promises; "
                       "using what is there")

    def _decoded(self) -> Iterator[np.ndarray]:
        """float32 chunks (frames x channels); a decoding error ends the stream with one
        warning, after what came before it was salvaged."""
        import soundfile

        done = 0
        try:
            with _opened(self.path) as f:
                while True:
                    chunk = f.read(CHUNK_FRAMES, dtype="float32", always_2d=True)
                    if not len(chunk):
                        return
                    done += len(chunk)
                    yield chunk
        except soundfile.LibsndfileError as exc:
            reason = exc.error_string.rstrip(".")
        salvaged = yield from _salvage(self.path, done)
        self._warn("cut", f"{self.path}: damaged or truncated after "
                   f"{(done + salvaged) / self.rate:.2f} s of {self.seconds:.2f} s ({reason}); "
                   "using what decoded before it")

    def _mixed(self, chunk: np.ndarray, at: int) -> np.ndarray:
        """One channel, clipped to full scale; NaN and infinite samples become silence
        (said once)."""
        bad = ~np.isfinite(chunk)
        if bad.any():
            chunk = np.where(bad, np.float32(0.0), chunk)
            first = at + int(np.argmax(bad.any(axis=1)))
            self._warn("nan", f"{self.path}: NaN or infinite samples (the first at "
                       f"{first / self.rate:.2f} s) are read as silence")
        chunk = np.clip(chunk, -1.0, 1.0)  # a float file may hold anything finite
        return chunk.mean(axis=1, dtype=np.float32) if chunk.shape[1] > 1 else chunk[:, 0]

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("%s", message)


def read_audio(path: Path) -> np.ndarray:
    """Decode `path` to mono int16 at SAMPLE_RATE, all in memory (for short clips: the file
    source streams); raise AudioFileError with one line."""
    blocks = list(AudioStream(path).blocks())
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype="<i2")


def _to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples to s16 (16-bit samples at 16 kHz come back exactly as they were)."""
    return np.clip(x * 32768.0, -32768.0, 32767.0).astype("<i2")


def _probe(path: Path) -> Any:
    """soundfile's info on `path`, or AudioFileError with one line."""
    import soundfile

    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    try:
        with path.open("rb") as f:  # libsndfile says only "System error" for a file we may
            if not f.read(1):        # not open
                raise AudioFileError(f"{path}: empty file (0 bytes)")
        info = soundfile.info(str(path))
    except soundfile.LibsndfileError as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc.error_string})") from None
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if info.frames <= 0:
        raise AudioFileError(f"{path}: empty: the file holds no audio samples")
    return info


def _promised_frames(info: Any) -> int:
    """Frames the header promises (a truncated WAV's header promises more than it holds)."""
    m = _DATA_LENGTH.search(info.extra_info or "")
    if m is None or int(m.group(1)) in _UNKNOWN_LENGTHS:
        return info.frames
    frame_bytes = int(m.group(2)) // max(1, info.frames)
    return max(info.frames, int(m.group(1)) // max(1, frame_bytes))


def _opened(path: Path) -> Any:
    import soundfile

    try:
        return soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, OSError) as exc:  # gone or changed since it was probed
        reason = getattr(exc, "error_string", None) or getattr(exc, "strerror", None) or exc
        raise AudioFileError(f"{path}: cannot read: {reason}") from None


def _salvage(path: Path, start: int) -> Iterator[np.ndarray]:
    """After a decoding error at a chunk from `start`: the frames of that chunk that still
    decode, read again in small steps; returns how many."""
    import soundfile

    got = 0
    try:
        with _opened(path) as f:
            f.seek(start)
            while len(chunk := f.read(_SALVAGE_FRAMES, dtype="float32", always_2d=True)):
                got += len(chunk)
                yield chunk
    except (soundfile.LibsndfileError, AudioFileError):
        pass
    return got


class FileSource:
    """Frames from a file, decoded as they are needed, paced in real time unless `fast`."""

    def __init__(self, path: Path, block_ms: int = 30, fast: bool = False,
                 tail_silence_s: float = 1.0) -> None:
        self.path = path
        self._stream = AudioStream(path)
        self._block = SAMPLE_RATE * block_ms // 1000
        self._fast = fast
        self._tail = int(tail_silence_s * SAMPLE_RATE)
        self._stop = threading.Event()
        self.started_at = 0.0
        """time.monotonic() when the first frame was produced (stream time 0)."""

    @property
    def seconds(self) -> float:
        """Length of the file in seconds."""
        return self._stream.seconds

    def frames(self) -> Iterator[AudioFrame]:
        """Yield whole blocks; the last is zero-padded, then a little silence closes speech."""
        self.started_at = time.monotonic()
        sent = 0
        for block in self._blocks():
            if self._stop.is_set():
                return
            start = sent / SAMPLE_RATE
            if not self._fast:
                delay = self.started_at + start + self._block / SAMPLE_RATE - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            sent += self._block
            yield AudioFrame(pcm=block.tobytes(), start=start)

    def _blocks(self) -> Iterator[np.ndarray]:
        """The file cut into blocks of the frame length, then the closing silence."""
        pending = np.zeros(0, dtype="<i2")
        for piece in self._stream.blocks():
            pending = np.concatenate([pending, piece])
            whole = len(pending) - len(pending) % self._block
            for i in range(0, whole, self._block):
                yield pending[i:i + self._block]
            pending = pending[whole:]
        pad = (-(len(pending) + self._tail)) % self._block + self._tail
        rest = np.concatenate([pending, np.zeros(pad, dtype="<i2")])
        for i in range(0, len(rest), self._block):
            yield rest[i:i + self._block]

    def stop(self) -> None:
        self._stop.set()
