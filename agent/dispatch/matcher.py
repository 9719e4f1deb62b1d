"""Fuzzy matching of a transcript against spoken forms (pure).

Every word of the transcript must be accounted for: either by a literal word
of the spoken form (compared by character similarity, so "close tag" still
means "close tab"), or by a capture.  The score is the similarity of the
literal parts, weighted by their length; a match needs at least the threshold.
Speech with words left over is not a command.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from agent.dispatch.captures import (
    STRICT,
    Captured,
    Step,
    Tolerance,
    chord_steps,
    key_steps,
    literal_steps,
    number_steps,
    text_steps,
)
from agent.dispatch.command import Command
from agent.dispatch.grammar import Element, Literal
from agent.dispatch.leads import LeadIndex
from agent.dispatch.normalize import Token, source_span, tokenize

CHAIN_WORDS = frozenset({"then", "than", "them", "den", "men", "and"})
"""Words that join commands: "select all then copy", "copy and paste"."""
_Found = tuple[float, float, Captured, tuple[str, ...]]
"""Weighted similarity, weight, captures, canonical words: the best way to match a rest."""
_INDEXED_FROM = 32
"""Fewer candidates than this are all matched; more are first narrowed by their leading
words (agent/dispatch/leads.py)."""


@dataclass(frozen=True, slots=True)
class Match:
    command: Command
    score: float
    """Weighted similarity of the literal parts, 0..1."""
    captures: dict[str, str | int]
    weight: float
    """Characters of spoken form matched; more is more specific."""
    said: str = ""
    """The command as it would be said exactly ("press back space three times")."""
    key_span: tuple[int, int] | None = None
    """Where the key of a <key> or <chord> capture was heard: start and end offsets in
    the matched text (modifiers excluded), to write another key in its place."""


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

    def __init__(self, commands: tuple[Command, ...], threshold: float = 0.8,
                 tolerance: Tolerance = STRICT) -> None:
        self.commands = commands
        self.threshold = threshold
        self.tolerance = tolerance
        self._compiled = {id(c): _compile(c.pattern) for c in commands}
        self._leads = LeadIndex(self._compiled.items())
        self._places: dict[int, tuple[tuple[Command, ...], dict[int, int]]] = {}
        self._first_words: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        """By the first word a command's spoken form may begin with: (its id, the words
        that must come first, as far as they are fixed)."""
        self._first_free: set[int] = set()
        """Commands that begin with a capture or optional words."""
        for c in commands:
            starts = _fixed_starts(c.pattern)
            if not starts:
                self._first_free.add(id(c))
            for words in starts:
                self._first_words.setdefault(words[0], []).append((id(c), words))

    def loosened(self, threshold: float, tolerance: Tolerance) -> Matcher:
        """The same commands with another threshold and tolerance (sharing their index)."""
        other = copy.copy(self)
        other.threshold, other.tolerance = threshold, tolerance
        other._places = {}  # its own: the copy may be asked about other candidates
        return other

    def beginning_with(self, words: tuple[str, ...], candidates: tuple[Command, ...]
                       ) -> list[Command]:
        """The candidates some way of saying which begins with `words` exactly (or with
        its fixed words, when they are fewer), or with a capture or optional words, in
        their order."""
        at = self._positions(candidates)
        fits = (*{key for key, fixed in self._first_words.get(words[0], ())
                  if words[:len(fixed)] == fixed[:len(words)]}, *self._first_free)
        return [candidates[i] for i in sorted(at[key] for key in fits if key in at)]

    def compiled(self, cmd: Command) -> tuple[Element, ...]:
        """`cmd`'s pattern as matched: runs of plain words joined into one literal."""
        return self._compiled[id(cmd)]

    def ranked(self, text: str, tokens: list[Token], stop: int,
               candidates: tuple[Command, ...]) -> list[Match]:
        """Every command that matches all of `tokens`, best first."""
        found = [m for cmd in self._plausible(tokens, candidates)
                 if (m := self._match(cmd, text, tokens, stop)) and m.score >= self.threshold]
        return sorted(found, key=lambda m: (m.score, m.weight), reverse=True)

    def _plausible(self, tokens: list[Token], candidates: tuple[Command, ...]
                   ) -> tuple[Command, ...] | list[Command]:
        """The candidates whose first words `tokens` could begin, in their order."""
        if len(candidates) < _INDEXED_FROM or not tokens:
            return candidates
        fits = self._leads.plausible(tuple(t.word for t in tokens), self.tolerance,
                                     self.threshold)
        at = self._positions(candidates)
        places = sorted(at[key] for key in (*fits, *self._leads.free) if key in at)
        return [candidates[i] for i in places]

    def _positions(self, candidates: tuple[Command, ...]) -> dict[int, int]:
        """Command id -> its place in `candidates` (the same few tuples are asked about
        again and again: the dispatcher's active commands)."""
        held = self._places.get(id(candidates))
        if held is None or held[0] is not candidates:
            if len(self._places) > 16:
                self._places.clear()
            held = self._places[id(candidates)] = (
                candidates, {id(c): i for i, c in enumerate(candidates)})
        return held[1]

    def best(self, text: str, tokens: list[Token], stop: int,
             candidates: tuple[Command, ...]) -> Match | None:
        """The best command for all of `tokens` (source text ends at offset `stop`)."""
        ranked = self.ranked(text, tokens, stop, candidates)
        return ranked[0] if ranked else None

    def chain(self, text: str, candidates: tuple[Command, ...],
              joints: frozenset[str] = CHAIN_WORDS) -> list[Match] | None:
        """Match `text` as one command or as commands joined by "then" / "and"; None if
        it is neither.  Every part of a chain must be a command; more parts win."""
        text = _drop_repeat(text)
        tokens = tokenize(text)
        n = len(tokens)
        seps = _separators(tokens, joints)

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
        def go(ei: int, ti: int) -> _Found | None:
            if ei == len(elems):
                return (0.0, 0.0, (), ()) if ti == len(words) else None
            best: _Found | None = None
            for step in self._steps(elems[ei], words, ti, ei == len(elems) - 1):
                rest = go(ei + 1, ti + step.used)
                if rest is None:
                    continue
                said = (step.said, *rest[3]) if step.said else rest[3]
                total = (step.num + rest[0], step.den + rest[1], step.caps + rest[2], said)
                if best is None or _ratio(total) > _ratio(best):
                    best = total
            return best

        found = go(0, 0)
        if found is None or found[1] == 0:
            return None
        caps = dict(found[2])
        key_span = None
        if "key_at" in caps:
            at, end = int(caps.pop("key_at")), int(caps.pop("key_end"))
            key_span = (tokens[at].start, tokens[end - 1].end)
        if "text" in caps:
            first = tokens[int(caps["text"])]
            end_tok = int(caps.pop("text_end"))
            end = tokens[end_tok].start if end_tok < len(tokens) else stop
            caps["text"] = source_span(text, first, end)
        return Match(cmd, found[0] / found[1], caps, found[1], " ".join(found[3]), key_span)

    def _steps(self, e: Element, words: tuple[str, ...], ti: int, last: bool) -> Iterator[Step]:
        if isinstance(e, Literal):
            return literal_steps(e, words, ti, self.tolerance)
        if e.kind == "text":
            return text_steps(words, ti, last)
        if e.kind == "n":
            return number_steps(words, ti)
        if e.kind == "key":
            return key_steps(words, ti, self.tolerance)
        return chord_steps(words, ti, self.tolerance)


def _fixed_starts(pattern: tuple[Element, ...]) -> list[tuple[str, ...]]:
    """The words a pattern's ways of saying must begin with: each option of a leading
    literal with alternatives, or the run of plain words it begins with; [] when it
    begins with a capture or optional words."""
    lead = pattern[0] if pattern else None
    if not isinstance(lead, Literal) or lead.optional:
        return []
    if len(lead.options) > 1:
        return list(lead.options)
    words: list[str] = []
    for e in pattern:
        if not isinstance(e, Literal) or e.optional or len(e.options) > 1:
            break
        words.extend(e.options[0])
    return [tuple(words)]


def _drop_repeat(text: str) -> str:
    """"select all, select all." -> "select all,": the recogniser's habit of writing a
    short utterance twice (a spoken repeat of a whole command is far rarer)."""
    tokens = tokenize(text)
    half = len(tokens) // 2
    if half and len(tokens) % 2 == 0 and \
            [t.word for t in tokens[:half]] == [t.word for t in tokens[half:]]:
        return text[: tokens[half].start]
    return text


def _separators(tokens: list[Token], joints: frozenset[str]) -> dict[int, int]:
    """Token index of each possible chain joint -> index where the next command starts.
    An empty `joints` makes every inner word a possible joint (for loose candidates)."""
    seps: dict[int, int] = {}
    for i in range(1, len(tokens) - 1):
        if not joints or tokens[i].word in joints:
            double = tokens[i].word == "and" and tokens[i + 1].word in CHAIN_WORDS
            seps[i] = i + 2 if double and i + 2 < len(tokens) else i + 1
    return seps


def _rank(parts: tuple[Match, ...]) -> tuple[int, float]:
    return len(parts), sum(m.score for m in parts) / len(parts)


def _ratio(t: _Found) -> float:
    return t[0] / t[1] if t[1] else 1.0
