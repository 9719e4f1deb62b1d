"""A command held for a spoken yes: what it holds, the yes that performs it, and the
decision of an utterance that ends it (Dispatcher._ask holds one; any utterance but a yes
within its time ends it)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

from agent.messages import Action, Decision, Pending

log = logging.getLogger(__name__)

YES = frozenset({"yes", "yeah", "yep", "confirm", "do it", "yes do it"})
"""Spoken confirmations of a risky command (normalised)."""


@dataclass(frozen=True, slots=True)
class Held:
    """A command held for a spoken yes."""

    name: str | None
    actions: tuple[Action, ...]
    pending: Pending


def _said(text: str) -> str:
    """What was said, as YES lists it: lower case, letters and spaces."""
    return re.sub(r"[^a-z ]", "", text.lower()).strip()


def is_yes(text: str) -> bool:
    """Whether `text` is a spoken yes."""
    return _said(text) in YES


def ended(decision: Decision, held: Held | None, expired: str) -> Decision:
    """`decision`, with the held command it ended (not a yes) or found expired."""
    if held is not None:
        log.info("not confirmed: %s (heard %r instead of yes)", held.pending.what,
                 decision.text)
        return replace(decision, cancelled=held.pending.what)
    return replace(decision, expired=expired) if expired else decision
