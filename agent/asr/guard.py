"""Pure checks on a decoded transcript: degenerate output and signs of hallucination.

Two kinds of verdict, each a short reason ("" = fine):
- `degenerate()`: the decoder went wrong (repetition, a runaway, nothing at all where
  speech was likely). The whisper hearing decodes again on a longer window.
- `hallucination_doubt()` and `coverage_doubt()`: the text may not have been said.
  The transcript carries the reason in Transcript.doubt and the decide stage does not
  act on it.

No model, no numpy: every function here takes plain numbers and text.
"""

from __future__ import annotations

import re
import zlib

COMPRESSION_RATIO_MAX = 2.4
"""gzip compression ratio above which text is repetitive: Whisper's own threshold
(openai/whisper transcribe.py, faster-whisper's compression_ratio_threshold)."""
COMPRESSION_MIN_CHARS = 40
"""Shorter text is not judged by compression: zlib's header alone keeps its ratio below 1."""
REPEAT_TIMES = 4
"""An n-gram said this many times in a row is a decoder loop ("you you you you"); three is
still a plausible command ("tab then tab then tab")."""
REPEAT_LONGEST = 6
"""Longest n-gram (in words) looked at for repetition."""
MAX_WORDS_FLOOR = 6
MAX_WORDS_PER_S = 6.0
"""More words than FLOOR + PER_S x seconds cannot have been said: the fastest read speech
is about 5 words/s (auctioneers, 300 wpm), so this leaves room for short words."""
MAX_CHARS_PER_WORD = 24
"""Characters allowed per word that could have been said (spaces and punctuation
included): long words and spelled-out numbers fit; a run of letters without spaces,
which counts as one word, does not."""
TOKENS_FLOOR = 16
TOKENS_PER_S = 8
"""New tokens allowed for an utterance: FLOOR + PER_S x seconds. English speech at
5 words/s is about 7 tokens/s with punctuation (tiny.en on the dev set: 1.3 tokens per
word); a decode that reaches the cap did not end, which is itself degenerate."""
NO_SPEECH_MIN = 0.6
"""Whisper's no-speech threshold (faster-whisper's no_speech_threshold default)."""
LOGPROB_MIN = -1.0
"""Whisper's average log-probability threshold (faster-whisper's log_prob_threshold)."""
LOGPROB_FLOOR = -1.5
"""Below this average log-probability per token a transcript is doubted whatever the
no-speech probability (whisper tiny.en on spoken commands in 12-20 dB noise: correct
commands have rarely been seen below -1.2; see bench/hearing.py)."""
COVERAGE_SLACK_S = 2.0
"""Voiced seconds that need no words: noise around a short command, a held vowel."""
COVERAGE_WORDS_PER_S = 0.5
"""Words expected per voiced second beyond the slack: a quarter of slow speech
(120 wpm = 2 words/s), so pauses, long words and spelled keys are all covered."""

_WORD = re.compile(r"[\w']+")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, punctuation dropped."""
    return _WORD.findall(text.lower())


def compression_ratio(text: str) -> float:
    """Length of `text` over its zlib-compressed length (as Whisper computes it)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def repeated(seq: list[str], times: int = REPEAT_TIMES, longest: int = REPEAT_LONGEST) -> str:
    """The n-gram (n <= longest) that `seq` repeats `times` times in a row, else ""."""
    for n in range(1, longest + 1):
        for start in range(len(seq) - n * times + 1):
            gram = seq[start:start + n]
            if all(seq[start + k * n:start + (k + 1) * n] == gram for k in range(1, times)):
                return " ".join(gram)
    return ""


def said_twice(text: str) -> str:
    """The phrase `text` consists of, said two or more times over ("Open terminal. Open
    terminal."), else "".  A short window makes Whisper read the speech twice; on the
    full window the same text is taken as said."""
    said = words(text)
    for n in range(1, len(said) // 2 + 1):
        if len(said) % n == 0 and said == said[:n] * (len(said) // n):
            return " ".join(said[:n])
    return ""


def token_cap(seconds: float) -> int:
    """How many new tokens a decode of `seconds` of audio may produce."""
    return TOKENS_FLOOR + int(TOKENS_PER_S * max(0.0, seconds))


def degenerate(text: str, seconds: float, *, hit_cap: bool = False,
               no_speech_prob: float = 0.0) -> str:
    """Why the decode of `seconds` of audio looks broken, or "".  Empty text is broken
    only when the model did not think the audio was speechless (`no_speech_prob`)."""
    said = words(text)
    if hit_cap:
        return "the decoder did not stop"
    if not said:
        return "" if no_speech_prob >= NO_SPEECH_MIN else "nothing decoded from speech"
    loop = repeated(said)
    if loop:
        return f"'{loop}' repeated"
    if len(text) >= COMPRESSION_MIN_CHARS and compression_ratio(text) > COMPRESSION_RATIO_MAX:
        return f"repetitive (compression ratio {compression_ratio(text):.1f})"
    return overlong(text, seconds, said)


def overlong(text: str, seconds: float, said: list[str] | None = None) -> str:
    """Why `text` is longer than `seconds` of speech could hold, or "": more words than
    MAX_WORDS_FLOOR + MAX_WORDS_PER_S x seconds, or more than MAX_CHARS_PER_WORD
    characters for each of them.  Any backend's runaway answer is caught by it."""
    most = MAX_WORDS_FLOOR + MAX_WORDS_PER_S * max(0.0, seconds)
    said = words(text) if said is None else said
    if len(said) > most:
        return f"{len(said)} words in {seconds:.1f} s"
    if len(text) > MAX_CHARS_PER_WORD * most:
        return f"{len(text)} characters in {seconds:.1f} s"
    return ""


def hallucination_doubt(avg_logprob: float, no_speech_prob: float) -> str:
    """Why a non-empty transcript decoded with this average log-probability per token
    and this no-speech probability may not have been said, or ""."""
    if no_speech_prob >= NO_SPEECH_MIN and avg_logprob < LOGPROB_MIN:
        return f"speech unlikely (no-speech {no_speech_prob:.2f}, log-prob {avg_logprob:.2f})"
    if avg_logprob < LOGPROB_FLOOR:
        return f"low confidence (log-prob {avg_logprob:.2f} per token)"
    return ""


def coverage_doubt(text: str, voiced_s: float) -> str:
    """Why `text` cannot account for `voiced_s` seconds of voiced audio, or "": babble
    heard as a short command ("25 s of voiced audio against two words")."""
    said = len(words(text))
    if not said:
        return ""
    needed = (voiced_s - COVERAGE_SLACK_S) * COVERAGE_WORDS_PER_S
    if said < needed:
        return f"{said} word{'s' if said != 1 else ''} for {voiced_s:.1f} s of voiced audio"
    return ""
