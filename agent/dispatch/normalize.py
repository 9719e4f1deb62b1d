"""Transcript text -> normalised word tokens that remember where they came from.

Lower case, punctuation dropped, letter-digit runs split ("F5" -> "f five"),
letters of any script kept ("העתק", "コピー"),
numbers up to 99 written as words, so the matcher compares like with like.
Each token keeps its span in the original text, so free-text captures can be
typed exactly as heard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent.dispatch.vocabulary import number_words

_CHUNK = re.compile(r"(?:[^\W_]|['.,])+")
"""Letters (any that Unicode calls letters: Hebrew, Japanese, ...), digits, and the
apostrophes, full stops and commas inside a word."""
_SPLIT_ALNUM = re.compile(r"\d+|(?:[^\W\d_]|')+")


@dataclass(frozen=True, slots=True)
class Token:
    word: str
    """Normalised word: lower case letters, no punctuation."""
    start: int
    """Offset of the source text this token came from."""
    end: int
    """End offset (exclusive) in the source text."""


def tokenize(text: str) -> list[Token]:
    """Normalised tokens of `text` with their source spans."""
    tokens: list[Token] = []
    for m in _CHUNK.finditer(text):
        for part in _SPLIT_ALNUM.finditer(m.group()):
            s, e = m.start() + part.start(), m.start() + part.end()
            raw = part.group().lower().replace("'", "")
            if not raw:
                continue
            if raw.isdigit():
                words = number_words(int(raw)).split() if len(raw) <= 2 else [raw]
            else:
                words = [raw]
            tokens.extend(Token(w, s, e) for w in words)
    return tokens


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """The normalised words of `text`, joined by single spaces (remembered: loading
    thousands of commands normalises the same words again and again)."""
    return " ".join(t.word for t in tokenize(text))


def source_span(text: str, first: Token, stop: int) -> str:
    """Source text from `first` up to offset `stop`, as heard: inner punctuation kept,
    trailing full stops, commas and colons dropped (question and exclamation marks stay)."""
    return text[first.start: stop].strip().rstrip(".,;:").rstrip()
