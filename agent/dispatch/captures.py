"""How the words of a transcript fill one element of a spoken form (pure).

Each way is a Step: how many words it takes, its weighted similarity, what it
captured, and the words it stands for in canonical form ("back space" for a
heard "backspace") so a candidate command can be said back to the recogniser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from rapidfuzz.distance import Indel

from agent.dispatch.grammar import Literal
from agent.dispatch.vocabulary import (
    COUNT_WORDS,
    KEY_FORMS,
    MAX_KEY_WORDS,
    NUMBER_HOMOPHONES,
    NUMBER_WORDS,
    SPOKEN_MODIFIERS,
    canonical_chord,
    number_words,
)

Captured = tuple[tuple[str, str | int], ...]


@dataclass(frozen=True, slots=True)
class Step:
    used: int
    """Words taken."""
    num: float
    """Similarity times weight."""
    den: float
    """Weight (characters of spoken form)."""
    caps: Captured = ()
    said: str = ""
    """The canonical words this step stands for."""


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far heard words may stray from the spoken form."""

    literal: float = 0.6
    """A literal part below this similarity rules the command out."""
    short: float = 0.75
    """The same for a literal of five letters or fewer ("twice" is not "time")."""
    resplit: float = 0.95
    """Heard as more or fewer words ("selectall", "un do"): letters must agree this well."""
    key: float = 0.8
    """Each word of a key name at least this similar ("escaped" -> escape)."""


STRICT = Tolerance()
"""What acts: small slips only."""
LOOSE = Tolerance(literal=0.4, short=0.4, resplit=0.8, key=0.5)
"""What is worth asking the recogniser about: candidates, never acted on unverified."""

_CHORD_FILLERS = frozenset({"and", "plus"})
_MODIFIER_WORDS = {"ctrl": "control", "alt": "alt", "shift": "shift", "super": "super"}


def similarity(a: str, b: str) -> float:
    """Character similarity in 0..1 (normalised Indel)."""
    return Indel.normalized_similarity(a, b)


def literal_steps(e: Literal, words: tuple[str, ...], ti: int, tol: Tolerance) -> Iterator[Step]:
    """Each way the literal can cover the next k-1..k+1 words, with its similarity."""
    if e.optional:
        yield Step(0, 0.0, 0.0)
    left = len(words) - ti
    for option in e.options:
        target = "".join(option)
        k = len(option)
        for n in range(max(1, k - 1), min(k + 1, left) + 1):
            sim = similarity(target, "".join(words[ti:ti + n]))
            floor = tol.literal if len(target) > 5 else max(tol.literal, tol.short)
            if sim >= (floor if n == k else tol.resplit):
                yield Step(n, sim * len(target), float(len(target)), (), " ".join(option))


def text_steps(words: tuple[str, ...], ti: int, last: bool) -> Iterator[Step]:
    """Free text: one word or more; all the rest when it ends the spoken form."""
    for end in [len(words)] if last else range(ti + 1, len(words) + 1):
        if end > ti:
            yield Step(end - ti, 0.0, 0.0, (("text", ti), ("text_end", end)),
                       " ".join(words[ti:end]))


def number_steps(words: tuple[str, ...], ti: int) -> Iterator[Step]:
    """A count from 1 to 99: "three", "3", "twice", "twenty one", "to" (for two)."""
    if ti >= len(words):
        return
    w = words[ti]
    value = int(w) if w.isdigit() else (
        NUMBER_WORDS.get(w) or COUNT_WORDS.get(w) or NUMBER_HOMOPHONES.get(w))
    if not value or not 1 <= value <= 100:
        return
    said = w if w in COUNT_WORDS else number_words(value)
    yield Step(1, 0.0, 0.0, (("n", value),), said)
    if value >= 20 and value % 10 == 0 and ti + 1 < len(words):
        unit = NUMBER_WORDS.get(words[ti + 1], 0)
        if 1 <= unit <= 9:
            yield Step(2, 0.0, 0.0, (("n", value + unit),), number_words(value + unit))


def _forms_by_length() -> dict[int, list[tuple[tuple[str, ...], str]]]:
    table: dict[int, list[tuple[tuple[str, ...], str]]] = {}
    for form, key in KEY_FORMS.items():
        words = tuple(form.split())
        table.setdefault(len(words), []).append((words, key))
    return table


_FORMS_BY_LENGTH = _forms_by_length()


def _word_similarity(heard: str, form: str, key: str) -> float:
    """Letters, digits and short words must be exact; longer words may slip a little."""
    if heard == form:
        return 1.0
    if len(key) == 1 or len(form) < 4:
        return 0.0
    return similarity(heard, form)


@cache
def fuzzy_key(phrase: tuple[str, ...], floor: float) -> tuple[str, float, str] | None:
    """(key, similarity, canonical form) for the key these words name, word by word."""
    joined = " ".join(phrase)
    if joined in KEY_FORMS:
        return KEY_FORMS[joined], 1.0, joined
    best: tuple[str, float, str] | None = None
    for form, key in _FORMS_BY_LENGTH.get(len(phrase), ()):
        sims = [_word_similarity(h, f, key) for h, f in zip(phrase, form, strict=True)]
        if min(sims) < floor:
            continue
        sim = sum(s * len(f) for s, f in zip(sims, form, strict=True)) / sum(map(len, form))
        if best is None or sim > best[1]:
            best = (key, sim, " ".join(form))
    return best


def key_steps(words: tuple[str, ...], ti: int, tol: Tolerance) -> Iterator[Step]:
    for n in range(1, min(MAX_KEY_WORDS, len(words) - ti) + 1):
        hit = fuzzy_key(words[ti:ti + n], tol.key)
        if hit:
            weight = float(sum(map(len, words[ti:ti + n])))
            yield Step(n, hit[1] * weight, weight,
                       (("key", hit[0]), ("key_at", ti), ("key_end", ti + n)), hit[2])


def chord_steps(words: tuple[str, ...], ti: int, tol: Tolerance) -> Iterator[Step]:
    """Zero or more modifiers (with "and"/"plus" between), then one key."""
    mods: list[str] = []
    i = ti
    while True:
        said = " ".join(_MODIFIER_WORDS[m] for m in mods)
        for step in key_steps(words, i, tol):
            key = step.caps[0][1]
            if key not in mods:
                yield Step(i - ti + step.used, step.num, step.den,
                           (("chord", canonical_chord([*mods, str(key)])), *step.caps[1:]),
                           f"{said} {step.said}".strip())
        if i < len(words) and words[i] in _CHORD_FILLERS and mods:
            i += 1
            continue
        mod = SPOKEN_MODIFIERS.get(words[i]) if i < len(words) else None
        if mod is None or mod in mods:
            return
        mods.append(mod)
        i += 1
