"""Fuzzy matching of a transcript against spoken forms (pure).

Every token of the transcript must be accounted for: either by a literal word
of the spoken form (compared by character similarity, so "close tag" still
means "close tab"), or by a capture.  The score is the similarity of the
literal parts, weighted by their length; a match needs at least the threshold.
Speech with words left over is not a command.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from rapidfuzz.distance import Indel

from agent.dispatch.grammar import Element, Literal
from agent.dispatch.loader import Command
from agent.dispatch.normalize import Token, source_span, tokenize
from agent.dispatch.vocabulary import (
    COUNT_WORDS,
    KEY_FORMS,
    MAX_KEY_WORDS,
    NUMBER_HOMOPHONES,
    NUMBER_WORDS,
    SPOKEN_MODIFIERS,
    canonical_chord,
)

_LITERAL_FLOOR = 0.6
"""A literal part scoring below this rules the command out, whatever the rest."""
_RESPLIT_FLOOR = 0.95
"""Heard as more or fewer words ("selectall", "un do"): the letters must agree this well."""
_KEY_FLOOR = 0.8
"""Fuzzy key names must be at least this similar ("escaped" -> escape)."""
_CHORD_FILLERS = frozenset({"and", "plus"})
CHAIN_WORDS = frozenset({"then", "than", "them", "den", "men", "and"})
"""Words that join commands: "select all then copy", "copy and paste"."""

Captured = tuple[tuple[str, str | int], ...]
_Step = tuple[int, float, float, Captured]
"""Tokens consumed, weighted similarity, weight, captures."""


def similarity(a: str, b: str) -> float:
    """Character similarity in 0..1 (normalised Indel)."""
    return Indel.normalized_similarity(a, b)


@dataclass(frozen=True, slots=True)
class Match:
    command: Command
    score: float
    """Weighted similarity of the literal parts, 0..1."""
    captures: dict[str, str | int]
    weight: float
    """Characters of spoken form matched; more is more specific."""


def _compile(pattern: tuple[Element, ...]) -> tuple[Element, ...]:
    """Join runs of plain words into one literal, so "select all" may be heard as one word."""
    out: list[Element] = []
    for e in pattern:
        plain = isinstance(e, Literal) and not e.optional and len(e.options) == 1
        prev = out[-1] if out else None
        if plain and isinstance(prev, Literal) and not prev.optional and len(prev.options) == 1:
            out[-1] = Literal((prev.options[0] + e.options[0],))
        else:
            out.append(e)
    return tuple(out)


class Matcher:
    """Matches token spans against a fixed list of commands."""

    def __init__(self, commands: tuple[Command, ...], threshold: float = 0.8) -> None:
        self.commands = commands
        self.threshold = threshold
        self._compiled = {id(c): _compile(c.pattern) for c in commands}

    def best(self, text: str, tokens: list[Token], stop: int,
             candidates: tuple[Command, ...]) -> Match | None:
        """The best command for all of `tokens` (source text ends at offset `stop`)."""
        best: Match | None = None
        for cmd in candidates:
            m = self._match(cmd, text, tokens, stop)
            if m and m.score >= self.threshold and (
                best is None or (m.score, m.weight) > (best.score, best.weight)
            ):
                best = m
        return best

    def chain(self, text: str, candidates: tuple[Command, ...]) -> list[Match] | None:
        """Match `text` as one command or as commands joined by "then" / "and"; None if
        it is neither.  Every part of a chain must be a command; more parts win."""
        text = _drop_repeat(text)
        tokens = tokenize(text)
        n = len(tokens)
        seps = _separators(tokens)

        @cache
        def segment(i: int, j: int) -> Match | None:
            stop = tokens[j].start if j < n else len(text)
            return self.best(text, tokens[i:j], stop, candidates)

        @cache
        def parse(i: int) -> tuple[Match, ...] | None:
            best: tuple[Match, ...] | None = None
            for j in [*(j for j in seps if j > i), n]:
                head = segment(i, j)
                rest = () if j == n else parse(seps[j])
                if head is None or rest is None:
                    continue
                found = (head, *rest)
                if best is None or _rank(found) > _rank(best):
                    best = found
            return best

        found = parse(0) if tokens else None
        return list(found) if found else None

    def _match(self, cmd: Command, text: str, tokens: list[Token], stop: int) -> Match | None:
        elems = self._compiled[id(cmd)]
        words = tuple(t.word for t in tokens)

        @cache
        def go(ei: int, ti: int) -> tuple[float, float, Captured] | None:
            if ei == len(elems):
                return (0.0, 0.0, ()) if ti == len(words) else None
            best: tuple[float, float, Captured] | None = None
            for used, num, den, caps in self._steps(elems[ei], words, ti, ei == len(elems) - 1):
                rest = go(ei + 1, ti + used)
                if rest is None:
                    continue
                total = (num + rest[0], den + rest[1], caps + rest[2])
                if best is None or _ratio(total) > _ratio(best):
                    best = total
            return best

        found = go(0, 0)
        if found is None or found[1] == 0:
            return None
        caps = dict(found[2])
        if "text" in caps:
            first = tokens[int(caps["text"])]
            end_tok = int(caps.pop("text_end"))
            end = tokens[end_tok].start if end_tok < len(tokens) else stop
            caps["text"] = source_span(text, first, end)
        return Match(cmd, found[0] / found[1], caps, found[1])

    def _steps(self, e: Element, words: tuple[str, ...], ti: int, last: bool) -> Iterator[_Step]:
        if isinstance(e, Literal):
            yield from _literal_steps(e, words, ti)
        elif e.kind == "text":
            for end in [len(words)] if last else range(ti + 1, len(words) + 1):
                if end > ti:
                    yield end - ti, 0.0, 0.0, (("text", ti), ("text_end", end))
        elif e.kind == "n":
            for n, value in _numbers(words, ti):
                yield n, 0.0, 0.0, (("n", value),)
        elif e.kind == "key":
            for n, key, sim, weight in _keys(words, ti):
                yield n, sim * weight, weight, (("key", key),)
        else:
            yield from _chords(words, ti)


def _literal_steps(e: Literal, words: tuple[str, ...], ti: int) -> Iterator[_Step]:
    """Each way the literal can cover the next 1..k+1 words, with its similarity."""
    if e.optional:
        yield 0, 0.0, 0.0, ()
    left = len(words) - ti
    for option in e.options:
        target = "".join(option)
        k = len(option)
        for n in range(max(1, k - 1), min(k + 1, left) + 1):
            sim = similarity(target, "".join(words[ti:ti + n]))
            if sim >= (_LITERAL_FLOOR if n == k else _RESPLIT_FLOOR):
                yield n, sim * len(target), float(len(target)), ()


def _drop_repeat(text: str) -> str:
    """"select all, select all." -> "select all,": the recogniser's habit of writing a
    short utterance twice (a spoken repeat of a whole command is far rarer)."""
    tokens = tokenize(text)
    half = len(tokens) // 2
    if half and len(tokens) % 2 == 0 and \
            [t.word for t in tokens[:half]] == [t.word for t in tokens[half:]]:
        return text[: tokens[half].start]
    return text


def _separators(tokens: list[Token]) -> dict[int, int]:
    """Token index of each possible chain joint -> index where the next command starts."""
    seps: dict[int, int] = {}
    for i in range(1, len(tokens) - 1):
        if tokens[i].word in CHAIN_WORDS:
            double = tokens[i].word == "and" and tokens[i + 1].word in CHAIN_WORDS
            seps[i] = i + 2 if double and i + 2 < len(tokens) else i + 1
    return seps


def _rank(parts: tuple[Match, ...]) -> tuple[int, float]:
    return len(parts), sum(m.score for m in parts) / len(parts)


def _ratio(t: tuple[float, float, Captured]) -> float:
    return t[0] / t[1] if t[1] else 1.0


def _numbers(words: tuple[str, ...], ti: int) -> Iterator[tuple[int, int]]:
    if ti >= len(words):
        return
    w = words[ti]
    value = NUMBER_WORDS.get(w) or COUNT_WORDS.get(w) or NUMBER_HOMOPHONES.get(w)
    if w.isdigit():
        value = int(w)
    if value and 1 <= value <= 100:
        yield 1, value
        if value >= 20 and value % 10 == 0 and ti + 1 < len(words):
            unit = NUMBER_WORDS.get(words[ti + 1], 0)
            if 1 <= unit <= 9:
                yield 2, value + unit


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
def _fuzzy_key(phrase: tuple[str, ...]) -> tuple[str, float] | None:
    """The key these words name, word by word (never absorbing an extra word)."""
    joined = " ".join(phrase)
    if joined in KEY_FORMS:
        return KEY_FORMS[joined], 1.0
    best: tuple[str, float] | None = None
    for form, key in _FORMS_BY_LENGTH.get(len(phrase), ()):
        sims = [_word_similarity(h, f, key) for h, f in zip(phrase, form, strict=True)]
        if min(sims) < _KEY_FLOOR:
            continue
        sim = sum(s * len(f) for s, f in zip(sims, form, strict=True)) / sum(map(len, form))
        if best is None or sim > best[1]:
            best = (key, sim)
    return best


def _keys(words: tuple[str, ...], ti: int) -> Iterator[tuple[int, str, float, float]]:
    for n in range(1, min(MAX_KEY_WORDS, len(words) - ti) + 1):
        hit = _fuzzy_key(words[ti:ti + n])
        if hit:
            yield n, hit[0], hit[1], float(sum(map(len, words[ti:ti + n])))


def _chords(words: tuple[str, ...], ti: int) -> Iterator[_Step]:
    """Zero or more modifiers (with "and"/"plus" between), then one key."""
    mods: list[str] = []
    i = ti
    while True:
        for n, key, sim, weight in _keys(words, i):
            if key not in mods:
                yield i - ti + n, sim * weight, weight, (("chord", canonical_chord([*mods, key])),)
        if i < len(words) and words[i] in _CHORD_FILLERS and mods:
            i += 1
            continue
        mod = SPOKEN_MODIFIERS.get(words[i]) if i < len(words) else None
        if mod is None or mod in mods:
            return
        mods.append(mod)
        i += 1
