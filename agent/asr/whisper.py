"""faster-whisper on the CPU: n-best hypotheses for short commands, biased by a prompt.

Utterances up to 30 s (every command) are decoded in one window straight
through CTranslate2, which gives n-best hypotheses with scores; longer ones go
through faster-whisper's own segmenting transcribe().  Heavy imports happen
in load(), never when the package is imported.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np

from agent.asr.base import Hint, ModelError, RecognitionError
from agent.asr.models import loadable, resolve_model
from agent.config import Config
from agent.messages import SAMPLE_RATE, Hypothesis, Transcript

log = logging.getLogger(__name__)

_WINDOW_S = 30
_MAX_NEW_TOKENS = 120
_PROMPT_TOKENS = 200


def build_prompt(phrases: tuple[str, ...]) -> str:
    """The vocabulary prompt: the phrases as a comma-separated list."""
    return ", ".join(phrases) + "." if phrases else ""


class WhisperTranscriber:
    """The faster-whisper backend (name "whisper")."""

    name = "whisper"

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg.whisper
        self._model: Any = None
        self._tokenizer: Any = None
        self._prompts: dict[tuple[tuple[str, ...], str], list[int]] = {}
        self._encoded: tuple[bytes, Any] | None = None
        """The last utterance and its encoder output, reused by score()."""
        self.model_path = ""

    def load(self) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        path = resolve_model(self._cfg.model, self._cfg.download_root)
        self.model_path = str(path)
        started = time.monotonic()
        try:
            with loadable(path) as folder:
                self._model = WhisperModel(
                    str(folder), device=self._cfg.device, compute_type=self._cfg.compute_type,
                    cpu_threads=self._cfg.cpu_threads or os.cpu_count() or 1)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load Whisper model {path}: {exc}") from None
        model = self._model
        self._tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                                    task="transcribe",
                                    language=self._cfg.language if model.model.is_multilingual
                                    else "en")
        self.transcribe(bytes(SAMPLE_RATE), Hint(("warm up",), 2))  # first call is slow
        log.info("whisper model %s loaded and warm in %.2f s", path.name,
                 time.monotonic() - started)

    def close(self) -> None:
        self._model = None

    def transcribe(self, pcm: bytes, hint: Hint) -> Transcript:
        if self._model is None:
            raise RecognitionError("whisper model not loaded")
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        started = time.monotonic()
        try:
            if len(audio) <= _WINDOW_S * SAMPLE_RATE:
                hyps = self._nbest(audio, hint)
            else:
                hyps = (Hypothesis(self._long(audio, hint), 0.0),)
        except RuntimeError as exc:
            raise RecognitionError(f"whisper failed: {exc}") from None
        return Transcript(text=hyps[0].text if hyps else "", alternatives=hyps,
                          backend=self.name, seconds=time.monotonic() - started)

    def _prompt(self, phrases: tuple[str, ...], prefix: str = "") -> list[int]:
        """Prompt tokens, then the start of transcript, then the forced prefix (if any)."""
        if (phrases, prefix) not in self._prompts:
            text = build_prompt(phrases) if self._cfg.bias_vocabulary else ""
            tokens = self._tokenizer.encode(" " + text)[-_PROMPT_TOKENS:] if text else []
            self._prompts[phrases, prefix] = self._model.get_prompt(
                self._tokenizer, tokens, without_timestamps=True, prefix=prefix or None)
        return self._prompts[phrases, prefix]

    def _nbest(self, audio: np.ndarray, hint: Hint) -> tuple[Hypothesis, ...]:
        from faster_whisper.transcribe import get_suppressed_tokens

        model, tok = self._model, self._tokenizer
        prompt = self._prompt(hint.phrases, hint.prefix)
        n = max(1, min(hint.alternatives, self._cfg.beam_size))
        result = model.model.generate(
            self._encode(audio), [prompt], beam_size=self._cfg.beam_size,
            num_hypotheses=n, return_scores=True, max_length=len(prompt) + _MAX_NEW_TOKENS,
            suppress_blank=True, suppress_tokens=get_suppressed_tokens(tok, [-1]),
        )[0]
        seen: dict[str, Hypothesis] = {}
        for ids, score in zip(result.sequences_ids, result.scores, strict=True):
            text = tok.decode([t for t in ids if t < tok.eot]).strip()
            if text not in seen:
                seen[text] = Hypothesis(text, float(score))
        return tuple(seen.values())

    def _encode(self, audio: np.ndarray) -> Any:
        from faster_whisper.audio import pad_or_trim

        pcm = audio.tobytes()
        if self._encoded is None or self._encoded[0] != pcm:
            features = pad_or_trim(self._model.feature_extractor(audio))
            self._encoded = (pcm, self._model.encode(features))
        return self._encoded[1]

    def score(self, pcm: bytes, hint: Hint, texts: list[str]) -> list[float]:
        """log P(text, then end of transcript | audio, prompt) for each text, in one batch:
        how well each candidate explains the utterance (higher is better)."""
        import ctranslate2

        if self._model is None or not texts:
            return []
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if len(audio) > _WINDOW_S * SAMPLE_RATE:
            raise RecognitionError("utterance too long to score")
        encoded = np.asarray(self._encode(audio))
        prompt = self._prompt(hint.phrases)
        tok = self._tokenizer
        ids = [tok.encode(" " + t.strip()) for t in texts]
        batch = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(encoded, len(texts), axis=0)))
        try:
            results = self._model.model.generate(
                batch, [prompt + i for i in ids], beam_size=1,
                max_length=len(prompt) + max(map(len, ids)) + 4, return_logits_vocab=True,
                suppress_blank=False, suppress_tokens=[])
        except RuntimeError as exc:
            raise RecognitionError(f"whisper scoring failed: {exc}") from None
        return [_sequence_logprob(i, np.asarray(r.logits[0]), tok.eot)
                for i, r in zip(ids, results, strict=True)]

    def _long(self, audio: np.ndarray, hint: Hint) -> str:
        prompt = build_prompt(hint.phrases) if self._cfg.bias_vocabulary else None
        segments, _ = self._model.transcribe(
            audio, language=self._cfg.language, beam_size=self._cfg.beam_size,
            initial_prompt=prompt or None, condition_on_previous_text=False,
            without_timestamps=True, vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()


def _log_softmax(row: np.ndarray) -> np.ndarray:
    row = row.astype(np.float64)
    top = row.max()
    return row - (top + np.log(np.exp(row - top).sum()))


def _sequence_logprob(ids: list[int], logits: np.ndarray, eot: int) -> float:
    """Sum of log-probabilities of the forced tokens, plus ending right after them.
    Row i of the logits predicts token i; when the model ends the transcript at once
    after the last token, no row follows and that end is taken as certain."""
    total = sum(float(_log_softmax(logits[i])[t]) for i, t in enumerate(ids))
    if logits.shape[0] > len(ids):
        total += float(_log_softmax(logits[len(ids)])[eot])
    return total
