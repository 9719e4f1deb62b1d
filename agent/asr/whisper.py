"""faster-whisper on the CPU: n-best hypotheses for short commands, biased by a prompt.

hear() takes one utterance.  Up to 30 s (every command), it is encoded once on a
window fitted to it and decoded, scored and decoded again from that encoder output
straight through CTranslate2 (agent/asr/hearing.py); longer audio goes through
faster-whisper's own segmenting transcribe().  Heavy imports happen in load(),
never when the package is imported.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

import numpy as np

from agent.asr.base import Capabilities, Hint, ModelError, RecognitionError, Stream, Unsupported
from agent.asr.hearing import (
    FULL_WINDOW_S,
    WINDOWS_S,
    Engine,
    LongHearing,
    WhisperHearing,
    build_prompt,
    silence_encoded,
)
from agent.asr.models import loadable, resolve_model
from agent.messages import SAMPLE_RATE

__all__ = ["WhisperRecogniser", "build_prompt"]

if TYPE_CHECKING:
    from agent.config import Config

log = logging.getLogger(__name__)

_PROMPT_TOKENS = 200
COMPUTE_TYPE_ENV = "VOXAGENT_COMPUTE_TYPE"
CPU_THREADS_ENV = "VOXAGENT_CPU_THREADS"


def numerics(compute_type: str, cpu_threads: int) -> tuple[str, int]:
    """The compute type and CPU threads the model is built with: the config's, unless
    VOXAGENT_COMPUTE_TYPE or VOXAGENT_CPU_THREADS say otherwise.  The tests run the real
    model under other numerics with them (int8 kernels differ from one CPU to another)."""
    compute_type = os.environ.get(COMPUTE_TYPE_ENV, "").strip() or compute_type
    raw = os.environ.get(CPU_THREADS_ENV, "").strip()
    if raw:
        if not raw.isdigit():
            raise ModelError(f"{CPU_THREADS_ENV}={raw!r}: not a whole number of threads")
        cpu_threads = int(raw)
    return compute_type, cpu_threads or os.cpu_count() or 1


class WhisperRecogniser:
    """The faster-whisper backend (name "whisper")."""

    name = "whisper"
    capabilities = Capabilities(nbest=True, prefix=True, score=True, peek=True)

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg.whisper
        self._engine: Engine | None = None
        self._prompts: dict[tuple[tuple[str, ...], str], list[int]] = {}
        self.windows: tuple[int, ...] = WINDOWS_S if self._cfg.fit_window else (FULL_WINDOW_S,)
        """Window sizes utterances are fitted to, in seconds ((30,) = always 30 s)."""
        self.model_path = ""

    def load(self) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        path = resolve_model(self._cfg.model, self._cfg.download_root)
        self.model_path = str(path)
        started = time.monotonic()
        compute_type, threads = numerics(self._cfg.compute_type, self._cfg.cpu_threads)
        if os.environ.get(COMPUTE_TYPE_ENV) or os.environ.get(CPU_THREADS_ENV):
            log.info("whisper runs as %s on %d threads (%s, %s)", compute_type, threads,
                     COMPUTE_TYPE_ENV, CPU_THREADS_ENV)
        try:
            with loadable(path) as folder:
                model = WhisperModel(str(folder), device=self._cfg.device,
                                     compute_type=compute_type, cpu_threads=threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load Whisper model {path} as {compute_type}: {exc}") \
                from None
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                              task="transcribe",
                              language=self._cfg.language if model.model.is_multilingual
                              else "en")
        self._prompts.clear()
        self._engine = Engine(model, tokenizer, self._cfg, self._prompt,
                              get_suppressed_tokens(tokenizer, [-1]), silence_encoded(model))
        WhisperHearing(self._engine, np.zeros(2 * SAMPLE_RATE, np.float32), self.name,
                       self.windows).warm_up(Hint(("warm up",), 2))  # the first call is slow
        log.info("whisper model %r loaded and warmed up in %.2f s", self._cfg.model,
                 time.monotonic() - started)

    def close(self) -> None:
        self._engine = None

    def hear(self, pcm: bytes) -> WhisperHearing | LongHearing:
        """One utterance of s16le mono 16 kHz audio; it is encoded on its first use."""
        if self._engine is None:
            raise RecognitionError("whisper model not loaded")
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if len(audio) > FULL_WINDOW_S * SAMPLE_RATE:
            return LongHearing(self._engine, audio, self.name)
        return WhisperHearing(self._engine, audio, self.name, self.windows)

    def stream(self) -> Stream:
        raise Unsupported("whisper hears whole utterances; it does not stream")

    def _prompt(self, phrases: tuple[str, ...], prefix: str = "") -> list[int]:
        """Prompt tokens, then the start of transcript, then the forced prefix (if any)."""
        if (phrases, prefix) not in self._prompts:
            assert self._engine is not None
            eng = self._engine
            text = build_prompt(phrases) if self._cfg.bias_vocabulary else ""
            tokens = eng.tokenizer.encode(" " + text)[-_PROMPT_TOKENS:] if text else []
            self._prompts[phrases, prefix] = eng.model.get_prompt(
                eng.tokenizer, tokens, without_timestamps=True, prefix=prefix or None)
        return self._prompts[phrases, prefix]

