"""Silero VAD as the segmenter's second opinion on where speech ends.

In steady or loud noise webrtcvad keeps calling the noise voiced; Silero tells speech
from noise. `SileroModel` runs the vendored ONNX file (assets/silero) on onnxruntime;
`ModelOpinion` turns its probabilities into the verdict the segmenter takes
(docs/design.md, "Where speech ends in noise").
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from agent.messages import SAMPLE_RATE
from agent.paths import data_dir

log = logging.getLogger(__name__)

CHUNK = 512
"""Samples per Silero chunk at 16 kHz (32 ms)."""
_CONTEXT = 64
"""Samples of the previous chunk the model sees before each new one."""


def model_path() -> Path:
    """The vendored Silero VAD ONNX file."""
    return data_dir("assets") / "silero" / "silero_vad_16k_op15.onnx"


class ChunkModel(Protocol):
    """Speech probability, 0..1, per CHUNK samples of float audio in [-1, 1]; keeps state."""

    def reset(self) -> None: ...

    def __call__(self, chunk: np.ndarray) -> float: ...


class SileroModel:
    """The Silero VAD network on onnxruntime, one thread (it takes ~0.1 ms per chunk)."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(path or model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, _CONTEXT), dtype=np.float32)

    def __call__(self, chunk: np.ndarray) -> float:
        x = np.concatenate([self._context, chunk.reshape(1, CHUNK)], axis=1)
        out, self._state = self._session.run(
            None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = x[:, -_CONTEXT:]
        return float(out[0, 0])


class ModelOpinion:
    """Speech or not, from a chunk model: speech starts at `threshold` and ends below
    threshold - hysteresis (Silero's own rule uses 0.15).  Audio comes in frames of any
    length; the verdict is the one after the last whole chunk heard."""

    def __init__(self, model: ChunkModel, threshold: float = 0.5,
                 hysteresis: float = 0.0) -> None:
        self._model = model
        self._on = threshold
        self._off = max(0.01, threshold - hysteresis)
        self._pending = np.zeros(0, dtype=np.float32)
        self._speaking = False
        self.chunks = 0
        """Chunks run through the model since this opinion was made (for benchmarks)."""

    def reset(self) -> None:
        """A new utterance: forget the audio and the verdict."""
        self._model.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._speaking = False

    def hear(self, pcm: bytes) -> bool:
        """Take s16le mono 16 kHz audio; True while speech goes on."""
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        buf = np.concatenate([self._pending, x]) if self._pending.size else x
        whole = len(buf) - len(buf) % CHUNK
        for i in range(0, whole, CHUNK):
            p = self._model(buf[i:i + CHUNK])
            self.chunks += 1
            self._speaking = p >= self._on if not self._speaking else p >= self._off
        self._pending = buf[whole:].copy()
        return self._speaking


def silero_opinion(threshold: float, path: Path | None = None,
                   hysteresis: float = 0.0) -> ModelOpinion | None:
    """Silero's opinion, or None (with one warning) when the model cannot be loaded."""
    where = path or model_path()
    try:
        return ModelOpinion(SileroModel(where), threshold, hysteresis)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types; we go on
        log.warning("Silero VAD model %s cannot be loaded (%s); ends of speech are found by "
                    "webrtcvad alone", where, str(exc).splitlines()[0] if str(exc) else exc)
        return None
