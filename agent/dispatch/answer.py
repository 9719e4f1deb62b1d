"""The grammar's answer for one reading: what it matches and how (pure data).

The decide stage (agent/decide/) asks the dispatcher this one question per reading and
chooses from the answers; the dispatcher then acts on the one chosen (Dispatcher.apply).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.dispatch.keydoubt import KeyChoices
from agent.dispatch.matcher import Match
from agent.messages import Mode


@dataclass(frozen=True, slots=True)
class Focus:
    """A command begun but not understood, to decode again: "Press" then key names."""

    prefix: str
    """The command's leading words as the recogniser writes them ("Press")."""
    phrases: tuple[str, ...]
    """The prompt: what may follow."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The grammar's one answer for a reading (a transcript) in the current mode: what it
    matches and how, and, when it matches nothing, what it may have been meant as.  The
    decide stage chooses from it; Dispatcher.apply acts on the one chosen."""

    text: str
    """The transcript's text, stripped."""
    app: str
    """The focused window's class the commands were matched for."""
    mode: Mode
    awaiting: bool
    """A command waits for a spoken yes."""
    yes: bool
    """What was said is a yes (YES in agent/dispatch/held.py)."""
    heard: str = ""
    """The hypothesis (the text or an n-best alternative) that matched; "" when none did."""
    chain: tuple[Match, ...] = ()
    """The command, or chain joined by "then", it matches; () when none."""
    lead: str | None = None
    """Free text (type, formatters): the words heard before it ("Snake case", "Select all
    then type"), for the text to be decoded again after them; else None."""
    keys: KeyChoices | None = None
    """A key in doubt: the reading with each key it may have been (agent/dispatch/keydoubt.py)."""
    focus: Focus | None = None
    """Unmatched: a key command begun but not understood ("press time")."""
    near: tuple[str, ...] = ()
    """Unmatched: near-miss commands, said exactly ("new camp" -> "new tab")."""

    @property
    def matched(self) -> bool:
        """Whether apply() would perform a command (or the yes awaited)."""
        return (self.awaiting and self.yes) or bool(self.chain)

    @property
    def command(self) -> str | None:
        """The command (chain) matched, by name; None when none."""
        return " then ".join(m.command.name for m in self.chain) if self.chain else None

    @property
    def takes_text(self) -> bool:
        """What it matches types free text, which may go on after any pause."""
        return any("text" in m.captures for m in self.chain)


def free_lead(heard: str, chain: list[Match]) -> str | None:
    """When `chain` (matched on `heard`) types free text: the words heard before that text;
    else None."""
    free = [m for m in chain if "text" in m.captures]
    if not free:
        return None
    at = heard.rfind(str(free[-1].captures["text"]))
    return heard[:at].rstrip(" ,;:-") if at > 0 else None
