"""What a reading that matched nothing may have been meant as (pure): the key command its
first words begin (focus_of: decoded again from those words) and the commands, said
exactly, that it nearly matches (near_misses: scored against the hearing).  The decide
stage's second tries (agent/decide/second.py) ask for both through Dispatcher.answer."""

from __future__ import annotations

from agent.dispatch.answer import Focus
from agent.dispatch.captures import similarity
from agent.dispatch.command import Command
from agent.dispatch.grammar import Capture
from agent.dispatch.matcher import Matcher
from agent.dispatch.normalize import normalize, tokenize
from agent.dispatch.vocabulary import FOCUS_WORDS
from agent.messages import Hypothesis, Transcript

_CANDIDATE_WORDS = 8
"""Longer utterances are ordinary speech, not a command the recogniser got wrong."""
_LENGTH_RATIO = 0.75
"""A candidate must be about as long as what was heard (letters, both ways)."""

_FOCUS_KINDS = frozenset({"key", "chord"})
_FOCUS_SIMILARITY = 0.75
"""How closely the first words heard must match a key command's leading words."""


def hypotheses(transcript: Transcript) -> tuple[Hypothesis, ...]:
    """The transcript's n-best, or its text as the one hypothesis."""
    return transcript.alternatives or (Hypothesis(transcript.text.strip(), 0.0),)


def focusable(commands: tuple[Command, ...]) -> dict[int, tuple[list[str], str]]:
    """Leading words of the commands that begin with words then a key or chord, by id."""
    return {id(c): lead for c in commands
            if (lead := leading_words(c))[1] in _FOCUS_KINDS and lead[0]}


def focus_of(text: str, live: tuple[Command, ...],
             focusable: dict[int, tuple[list[str], str]]) -> Focus | None:
    """When the first words of `text` begin a key command among `live` (its `focusable`
    leading words) that did not match: its words and the key names."""
    tokens = [t.word for t in tokenize(text)]
    for cmd in live:
        if id(cmd) not in focusable:
            continue
        lead, _ = focusable[id(cmd)]
        if len(tokens) <= len(lead):
            continue
        if similarity(" ".join(tokens[:len(lead)]), " ".join(lead)) >= _FOCUS_SIMILARITY:
            return Focus(" ".join(lead).capitalize(), FOCUS_WORDS)
    return None


def near_misses(transcript: Transcript, loose: Matcher, live: tuple[Command, ...],
                limit: int) -> list[str]:
    """Commands among `live` the speaker may have meant when nothing matched, said exactly,
    as the `loose` matcher finds them (at most `limit`)."""
    heard = len(normalize(transcript.text).replace(" ", ""))
    found: dict[str, None] = {}
    for hyp in hypotheses(transcript)[:3]:
        text = hyp.text.strip()
        tokens = tokenize(text)
        if not tokens or len(tokens) > _CANDIDATE_WORDS:
            continue
        chain = loose.chain(text, live, joints=frozenset())
        if chain and len(chain) > 1:
            found[" then ".join(m.said for m in chain)] = None
        for m in loose.ranked(text, tokens, len(text), live)[:limit]:
            found[m.said] = None
    fits = [c for c in found if heard and _LENGTH_RATIO <= len(c.replace(" ", "")) / heard
            <= 1 / _LENGTH_RATIO]
    return fits[:limit]


def leading_words(cmd: Command) -> tuple[list[str], str]:
    """The words a command begins with (first option of each required literal) and the
    kind of the capture that follows them ("" when none does)."""
    lead: list[str] = []
    for e in cmd.pattern:
        if isinstance(e, Capture):
            return lead, e.kind
        if not e.optional:
            lead.extend(e.options[0])
    return lead, ""
