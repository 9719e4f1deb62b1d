"""Is what was heard so far a complete command that nothing more could change? (pure)

Asked at a short pause while someone may still be speaking (early endpointing, issue
11): the utterance may be closed at once only when the hypothesis heard so far
- matches the active commands (one, or a chain joined by "then"/"and") exactly: every
  literal and key name as written, no number heard as a homophone, no repeat dropped
  (a fuzzy near miss or an n-best alternative never closes early);
- has no free text (type, formatters), is not in dictation, and awaits no answer;
- has no count and does not end in a chain joint ("then", "and"), and
- is a strict prefix of no way of saying an active command: "next" of "next tab",
  "save" of "save [file]", "scroll up" of "scroll up <n> [times]", "press down" of
  "press <chord> <n> times" (and "press f" of "press f five").
Anything else waits for the full hangover.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from agent.dispatch.captures import STRICT, Step, chord_steps, key_steps, number_steps
from agent.dispatch.command import Command
from agent.dispatch.grammar import Capture, Element, Literal
from agent.dispatch.matcher import CHAIN_WORDS, Match, Matcher
from agent.dispatch.normalize import Token, tokenize
from agent.dispatch.vocabulary import KEY_FORMS, NUMBER_WORDS, SPOKEN_MODIFIERS
from agent.messages import Mode

_EXACT = 1.0 - 1e-9
_KEY_PREFIXES = frozenset(tuple(form.split()[:i]) for form in KEY_FORMS
                          for i in range(1, len(form.split())))
"""Words that begin a longer key name: "f" (f five), "page" (page up), "down" (down arrow)."""


@dataclass(frozen=True, slots=True)
class Completeness:
    complete: bool
    """The utterance may be closed now: acting on it cannot cut a longer command short."""
    reason: str
    """Why or why not, in a few words (for the log)."""


def completeness(text: str, matcher: Matcher, active: tuple[Command, ...],
                 mode: Mode) -> Completeness:
    """Whether `text` (the hypothesis at a pause) is a complete, exact, unextendable command
    among `active` (the commands live in `mode`), matched with `matcher`."""
    if mode is Mode.DICTATION:
        return Completeness(False, "dictation: every utterance is free text")
    tokens = tokenize(text)
    if not tokens:
        return Completeness(False, "nothing heard")
    if tokens[-1].word in CHAIN_WORDS:
        return Completeness(False, f"ends in '{tokens[-1].word}': a chain goes on")
    chain = matcher.chain(text, active)
    if not chain:
        return Completeness(False, "no command")
    return _judged(tokens, chain, active, matcher)


def _judged(tokens: list[Token], chain: list[Match], active: tuple[Command, ...],
            matcher: Matcher) -> Completeness:
    if any("text" in m.captures for m in chain):
        return Completeness(False, "free text may go on")
    if any(m.score < _EXACT for m in chain) or not _said_exactly(tokens, chain):
        return Completeness(False, "not an exact match")
    if "n" in chain[-1].captures:
        return Completeness(False, "a count may go on")
    longer = _extended_by(tuple(t.word for t in tokens), active, matcher)
    if longer is not None:
        return Completeness(False, f"may go on as '{longer.spoken}'")
    return Completeness(True, "complete: " + " then ".join(m.command.name for m in chain))


def _said_exactly(tokens: list[Token], chain: list[Match]) -> bool:
    """The words heard are the commands' own words (joints aside): no number homophone
    ("to" for two), no repeat the matcher dropped, nothing resplit differently."""
    heard = "".join(t.word for t in tokens if t.word not in CHAIN_WORDS)
    said = "".join(w for m in chain for w in m.said.split() if w not in CHAIN_WORDS)
    return heard == said


def _extended_by(words: tuple[str, ...], active: tuple[Command, ...], matcher: Matcher
                 ) -> Command | None:
    """An active command that could take `words`, or the words after any chain joint in
    them, followed by more words; None if there is none. Only the commands that may
    begin with those words are looked at."""
    starts = [0, *(i + 1 for i, w in enumerate(words[:-1]) if w in CHAIN_WORDS)]
    for start in starts:
        for cmd in matcher.beginning_with(words[start:], active):
            if _goes_on(cmd.pattern, words[start:]):
                return cmd
    return None


def _goes_on(pattern: tuple[Element, ...], words: tuple[str, ...]) -> bool:
    """Whether `words` are a strict beginning of some way of saying `pattern`."""

    @cache
    def go(ei: int, ti: int) -> bool:
        if ti == len(words):
            return ei < len(pattern)  # something more may be said
        if ei == len(pattern):
            return False
        e = pattern[ei]
        if isinstance(e, Literal):
            return _literal_goes_on(e, words[ti:], lambda used: go(ei + 1, ti + used))
        if e.kind == "text":
            return True  # free text takes whatever follows
        for step in _capture_steps(e, words, ti):
            end = ti + step.used
            if (end == len(words) and _capture_goes_on(e.kind, words[ti:end])) \
                    or go(ei + 1, end):
                return True
        return e.kind == "chord" and all(w in SPOKEN_MODIFIERS for w in words[ti:])

    return go(0, 0)


def _literal_goes_on(e: Literal, rest: tuple[str, ...], then: Callable[[int], bool]) -> bool:
    """`rest` ends inside one of the literal's options, or goes on past it (skipped when
    optional) in a way `then(words used)` accepts."""
    if e.optional and then(0):
        return True
    for option in e.options:
        k = len(option)
        if (rest[:k] == option and then(k)) or (len(rest) < k and option[:len(rest)] == rest):
            return True
    return False


def _capture_steps(e: Capture, words: tuple[str, ...], ti: int) -> Iterator[Step]:
    if e.kind == "n":
        return number_steps(words, ti)
    if e.kind == "key":
        return key_steps(words, ti, STRICT)
    return chord_steps(words, ti, STRICT)


def _capture_goes_on(kind: str, taken: tuple[str, ...]) -> bool:
    """A capture that ends the words heard may take more: "twenty" (one), "f" (five)."""
    if kind == "n":
        value = NUMBER_WORDS.get(taken[-1], 0)
        return value >= 20 and value % 10 == 0
    return any(taken[-i:] in _KEY_PREFIXES for i in range(1, len(taken) + 1))
