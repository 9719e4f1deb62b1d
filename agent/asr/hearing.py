"""One utterance heard by Whisper: the mel computed once, encoded once on a window that
fits it, and every decode and score run on that encoder output.

The short encoder output is spliced into that of a silent 30 s window, so the decoder
sees what it was trained on and does not read the speech twice; a decode that still
looks broken is decoded again on the full window (docs/design.md, "Hearing an
utterance once").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.asr import guard
from agent.asr.base import Hint, RecognitionError, ToolCall, Unsupported
from agent.messages import SAMPLE_RATE, Hypothesis, Transcript

if TYPE_CHECKING:
    from agent.asr.config import WhisperConfig

log = logging.getLogger(__name__)

FULL_WINDOW_S = 30
"""Whisper's own window, in seconds; longer audio takes the long path."""
WINDOWS_S = (8, 10, 15, 20, FULL_WINDOW_S)
"""Window sizes, in seconds, an utterance is padded up to.  The encoder's time grows with
the window (tiny.en: 247 ms on 30 s, 42 ms on 8 s); shorter windows hear worse: on
three noisy dev sessions (bench/hearing.py) a 5 s window got 142 of 201 commands right
where 30 s got 146; 3 s lost two of 70 on the committed fixtures."""
PAD_S = 1.0
"""Silence an utterance keeps after it inside its window, in seconds."""
FRAMES_PER_S = 100
"""Mel frames per second (hop of 160 samples at 16 kHz)."""
SCORE_BATCH = 2
"""Candidate texts scored in one generate() call: each holds its own cross-attention
cache of the 30 s encoder output (about 20 MB for tiny.en), so five at once raised the
agent's peak memory by about 100 MB (bench/memory.py); two keep most of the speed."""
MAX_LENGTH = 448
"""Whisper's decoder context, in tokens (prompt included)."""

Prompt = Callable[[tuple[str, ...], str], list[int]]
"""(phrases, prefix) -> prompt token ids, ending with the start of transcript and prefix."""


@dataclass(frozen=True)
class Engine:
    """What a hearing needs from the loaded model."""

    model: Any
    """faster_whisper.WhisperModel"""
    tokenizer: Any
    """faster_whisper.tokenizer.Tokenizer"""
    cfg: WhisperConfig
    prompt: Prompt
    suppressed: list[int]
    """Token ids never generated (faster-whisper's default set)."""
    silence: np.ndarray
    """The encoder output of a silent FULL_WINDOW_S window, [1, frames / 2, d_model]."""


@dataclass(frozen=True)
class Decoded:
    """One generate() call: the distinct hypotheses and the best one's signals."""

    hypotheses: tuple[Hypothesis, ...]
    avg_logprob: float
    """Average log-probability per token of the best hypothesis (the end included)."""
    no_speech_prob: float
    """Probability of the no-speech token at the start of the transcript (0..1)."""
    hit_cap: bool
    """The best hypothesis reached the token cap without ending."""

    @property
    def text(self) -> str:
        return self.hypotheses[0].text if self.hypotheses else ""


def build_prompt(phrases: tuple[str, ...]) -> str:
    """The vocabulary prompt: the phrases as a comma-separated list."""
    return ", ".join(phrases) + "." if phrases else ""


def fitted_window(seconds: float, windows: Sequence[int] = WINDOWS_S) -> int:
    """The smallest window (seconds) holding `seconds` of audio and PAD_S after it."""
    for window in sorted(windows):
        if seconds + PAD_S <= window:
            return window
    return FULL_WINDOW_S


class WhisperHearing:
    """An utterance of at most FULL_WINDOW_S seconds, as heard by whisper (see module doc).
    `windows` are the window sizes to fit it to; (30,) gives the classic padded window."""

    def __init__(self, engine: Engine, audio: np.ndarray, name: str = "whisper",
                 windows: Sequence[int] = WINDOWS_S) -> None:
        self._engine = engine
        self._audio = audio
        self._name = name
        self.seconds = len(audio) / SAMPLE_RATE
        """Length of the audio, in seconds."""
        self.window = fitted_window(self.seconds, windows)
        """The first window it is encoded on, in seconds."""
        self._decoded_on = self.window
        """The window the last decode settled on; scoring uses it too."""
        self._mel: np.ndarray | None = None
        self._encoded: dict[int, Any] = {}
        self._decodes: dict[tuple[int, Hint], Decoded] = {}
        self.encode_seconds = 0.0
        """Wall time spent in the encoder so far, in seconds."""
        self.last: Decoded | None = None
        """What the last decode settled on, with its signals (for logs and benchmarks)."""

    @property
    def encoded_windows(self) -> tuple[int, ...]:
        """The windows encoded so far, in seconds, in order (two after a fallback)."""
        return tuple(self._encoded)

    def encoded(self, window: int) -> Any:
        """The encoder output for the audio padded to `window` seconds, spliced into the
        silent full window (computed once per window)."""
        from faster_whisper.audio import pad_or_trim

        if window not in self._encoded:
            started = time.monotonic()
            if self._mel is None:
                self._mel = self._engine.model.feature_extractor(self._audio)
            features = pad_or_trim(self._mel, window * FRAMES_PER_S)
            try:
                out = self._engine.model.encode(features)
            except RuntimeError as exc:
                raise RecognitionError(f"whisper failed: {exc}") from None
            self._encoded[window] = out if window >= FULL_WINDOW_S else \
                spliced(self._engine.silence, np.asarray(out))
            self.encode_seconds += time.monotonic() - started
            log.debug("%.1f s encoded on a %d s window in %.0f ms", self.seconds, window,
                      1000 * (time.monotonic() - started))
        return self._encoded[window]

    def decode(self, hint: Hint) -> Transcript:
        started = time.monotonic()
        window = FULL_WINDOW_S if hint.thorough else self.window
        got = self._generate(window, hint)
        if window < FULL_WINDOW_S:
            suspect = self._broken(got) or _twice(got.text)
            if suspect:
                log.info("decoding %.1f s again on %d s: %s on %d s (%r)", self.seconds,
                         FULL_WINDOW_S, suspect, window, got.text)
                window = FULL_WINDOW_S
                got = self._generate(window, hint)
        self._decoded_on, self.last = window, got
        doubt = self._broken(got) or self._doubt(got)
        if doubt:
            log.info("doubted %r: %s", got.text, doubt)
        return Transcript(text=got.text, alternatives=got.hypotheses, backend=self._name,
                          seconds=time.monotonic() - started, doubt=doubt)

    def warm_up(self, hint: Hint) -> None:
        """Encode and decode once, unjudged: the model's first call is slow, and what it
        makes of the warm-up's silence is no one's utterance (no "doubted" line for it)."""
        self._generate(self.window, hint)

    def _broken(self, got: Decoded) -> str:
        return guard.degenerate(got.text, self.seconds, hit_cap=got.hit_cap,
                                no_speech_prob=got.no_speech_prob)

    def _doubt(self, got: Decoded) -> str:
        if not got.text:
            return ""
        return (guard.hallucination_doubt(got.avg_logprob, got.no_speech_prob)
                or guard.coverage_doubt(got.text, self.seconds))

    def _generate(self, window: int, hint: Hint) -> Decoded:
        """The decode of `hint` on `window`, made once per hearing (a second try may ask
        for one made already, e.g. on the full window when that is the fitted one, or
        when the first decode fell back to it: `window` says all Hint.thorough does)."""
        key = window, replace(hint, thorough=False)
        if key not in self._decodes:
            started = time.monotonic()
            self._decodes[key] = self._generated(window, hint)
            log.debug("decoded on a %d s window (%s) in %.0f ms", window,
                      "prompted" if hint.phrases else "no prompt",
                      1000 * (time.monotonic() - started))
        return self._decodes[key]

    def _generated(self, window: int, hint: Hint) -> Decoded:
        eng = self._engine
        tok = eng.tokenizer
        prompt = eng.prompt(hint.phrases, hint.prefix)
        cap = min(guard.token_cap(self.seconds), MAX_LENGTH - len(prompt))
        beam = 1 if hint.quick else eng.cfg.beam_size
        n = max(1, min(hint.alternatives, beam))
        try:
            result = eng.model.model.generate(
                self.encoded(window), [prompt], beam_size=beam,
                num_hypotheses=n, return_scores=True, return_no_speech_prob=True,
                max_length=len(prompt) + cap, suppress_blank=True,
                suppress_tokens=eng.suppressed)[0]
        except RuntimeError as exc:
            raise RecognitionError(f"whisper failed: {exc}") from None
        seen: dict[str, Hypothesis] = {}
        for rank, (ids, score) in enumerate(zip(result.sequences_ids, result.scores,
                                                strict=True)):
            text = tok.decode([t for t in ids if t < tok.eot]).strip()
            # a short window's doubled reading ("cut, cut,") must not reach the matcher as
            # an alternative; the best one is left for decode() to judge
            if text not in seen and not (rank and window < FULL_WINDOW_S
                                         and guard.said_twice(text)):
                seen[text] = Hypothesis(text, float(score))
        best = result.sequences_ids[0] if result.sequences_ids else []
        # the score is the sum over the tokens and the end, divided by the tokens (length
        # penalty 1); Whisper's average is over both (faster-whisper generate_with_fallback)
        avg = float(result.scores[0]) * len(best) / (len(best) + 1) if best else 0.0
        return Decoded(tuple(seen.values()), avg, float(result.no_speech_prob),
                       len(best) >= cap)

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        """log P(text, then end of transcript | audio, prompt) for each text, in one batch:
        how well each candidate explains the utterance (higher is better); on the window
        the last decode settled on, or on the full one when `hint.thorough`."""
        import ctranslate2

        if not texts:
            return []
        eng = self._engine
        encoded = np.asarray(self.encoded(FULL_WINDOW_S if hint.thorough else self._decoded_on))
        prompt = eng.prompt(hint.phrases, "")
        ids = [eng.tokenizer.encode(" " + t.strip()) for t in texts]
        # CTranslate2 counts the forced tokens twice against max_length: with a prompt of
        # a few tokens (no phrases), room for them once cut the last rows of logits off
        scores: list[float] = []
        for at in range(0, len(ids), SCORE_BATCH):
            part = ids[at:at + SCORE_BATCH]
            batch = ctranslate2.StorageView.from_array(
                np.ascontiguousarray(np.repeat(encoded, len(part), axis=0)))
            try:
                results = eng.model.model.generate(
                    batch, [prompt + i for i in part], beam_size=1,
                    max_length=len(prompt) + 2 * max(map(len, part)) + 4,
                    return_logits_vocab=True, suppress_blank=False, suppress_tokens=[])
            except RuntimeError as exc:
                raise RecognitionError(f"whisper scoring failed: {exc}") from None
            scores += [sequence_logprob(i, np.asarray(r.logits[0]), eng.tokenizer.eot)
                       for i, r in zip(part, results, strict=True)]
        return scores

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        raise Unsupported("whisper has no intent")


class LongHearing:
    """An utterance longer than FULL_WINDOW_S: faster-whisper's own segmenting transcribe()
    on each decode; one hypothesis, no scoring."""

    def __init__(self, engine: Engine, audio: np.ndarray, name: str = "whisper") -> None:
        self._engine = engine
        self._audio = audio
        self._name = name

    def decode(self, hint: Hint) -> Transcript:
        started = time.monotonic()
        cfg = self._engine.cfg
        prompt = build_prompt(hint.phrases) if cfg.bias_vocabulary else None
        try:
            segments, _ = self._engine.model.transcribe(
                self._audio, language=cfg.language, beam_size=cfg.beam_size,
                initial_prompt=prompt or None, condition_on_previous_text=False,
                without_timestamps=True, vad_filter=False)
            text = " ".join(s.text.strip() for s in segments).strip()
        except RuntimeError as exc:
            raise RecognitionError(f"whisper failed: {exc}") from None
        seconds = len(self._audio) / SAMPLE_RATE
        doubt = guard.degenerate(text, seconds, no_speech_prob=1.0) \
            or guard.coverage_doubt(text, seconds)
        return Transcript(text=text, alternatives=(Hypothesis(text, 0.0),),
                          backend=self._name, seconds=time.monotonic() - started, doubt=doubt)

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        raise RecognitionError("utterance too long to score")

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        raise Unsupported("whisper has no intent")


def silence_encoded(model: Any) -> np.ndarray:
    """The encoder output of FULL_WINDOW_S of silence, as a faster-whisper model sees it
    (the mel padding is zeros)."""
    mel = np.zeros((model.model.n_mels, FULL_WINDOW_S * FRAMES_PER_S), np.float32)
    return np.array(model.encode(mel))


def spliced(silence: np.ndarray, short: np.ndarray) -> Any:
    """`short` (the encoder output of a short window) over the start of `silence`."""
    import ctranslate2

    out = silence.copy()
    out[:, :short.shape[1]] = short
    return ctranslate2.StorageView.from_array(out)


def _twice(text: str) -> str:
    twice = guard.said_twice(text)
    return f"'{twice}' said twice" if twice else ""


def _log_softmax(row: np.ndarray) -> np.ndarray:
    row = row.astype(np.float64)
    top = row.max()
    return row - (top + np.log(np.exp(row - top).sum()))


def sequence_logprob(ids: list[int], logits: np.ndarray, eot: int) -> float:
    """Sum of log-probabilities of the forced tokens, plus ending right after them.
    Row i of the logits predicts token i; when the model ends the transcript at once
    after the last token, no row follows and that end is taken as certain."""
    total = sum(float(_log_softmax(logits[i])[t]) for i, t in enumerate(ids))
    if logits.shape[0] > len(ids):
        total += float(_log_softmax(logits[len(ids)])[eot])
    return total
