"""Spoken forms that collide: two definitions that the same words would match (pure).

Two commands collide when they live in the same mode and window context and
- they are the same spoken form after normalising, written twice in one file
  ("copy it" and "Copy  It!"), or
- one of them takes a way of saying the other exactly and at least as well (the
  same score and weight, with captures where the other has them): "copy [it]" and
  "copy it", or "press <chord>" and "press escape".  The matcher ranks such a tie by
  load order, so which one acts would depend on file names.
A command that merely takes more specific words than a general pattern is no
collision ("type my address" beats "type <text>" on its own words).  The same
form in a later file is an override, not a collision (agent/dispatch/loader.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice, product

from agent.dispatch.grammar import Capture, Element, Literal
from agent.dispatch.loader import Command
from agent.dispatch.matcher import CHAIN_WORDS, Match, Matcher
from agent.dispatch.normalize import tokenize

SAMPLES = {"key": "a", "chord": "a", "n": "three", "text": "hello world"}
"""What stands for a capture in a form said to the other command."""
MAX_FORMS = 32
"""Ways of saying one command that are tried (alternatives times optional words)."""
_EXACT = 1.0 - 1e-9


@dataclass(frozen=True, slots=True)
class Collision:
    kept: Command
    """The first definition: it stays."""
    dropped: Command
    """The later one: not loaded."""
    said: str
    """Words both would take."""

    def message(self) -> str:
        hint = "" if file_of(self.kept) == file_of(self.dropped) else \
            f'; to replace it, disable it first: "{self.kept.spoken}" = false'
        return (f"{self.dropped.origin}: '{self.dropped.spoken}' collides with "
                f"'{self.kept.spoken}' at {self.kept.origin} (both take \"{self.said}\"); "
                f"the first is kept{hint}")


def file_of(cmd: Command) -> str:
    """The file part of a command's `path:line` origin."""
    return cmd.origin.rpartition(":")[0]


def forms(pattern: tuple[Element, ...]) -> list[str]:
    """Ways of saying a pattern: every alternative, with and without optional words,
    captures filled with SAMPLES (at most MAX_FORMS)."""
    choices: list[list[tuple[str, ...]]] = []
    for e in pattern:
        if isinstance(e, Capture):
            choices.append([(SAMPLES[e.kind],)])
        else:
            choices.append([*e.options, *([()] if e.optional else [])])
    said = (" ".join(w for part in combo for w in part) for combo in product(*choices))
    return list(islice(dict.fromkeys(said), MAX_FORMS))


def _needed(pattern: tuple[Element, ...]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The letters of the leading literal's options (if the pattern starts with a required
    literal), and those of every required literal's options."""
    required = [tuple("".join(o) for o in e.options) for e in pattern
                if isinstance(e, Literal) and not e.optional]
    lead = pattern[0]
    first = required[0] if isinstance(lead, Literal) and not lead.optional else ()
    return first, tuple(required)


class Overlaps:
    """Finds collisions among a fixed set of commands (the ones being merged)."""

    def __init__(self, commands: tuple[Command, ...]) -> None:
        self._matcher = Matcher(commands, _EXACT)
        self._forms = {id(c): forms(c.pattern) for c in commands}
        self._needs = {id(c): _needed(c.pattern) for c in commands}

    def clash(self, entry: Command, table: Mapping[tuple[str, str, str], Command]
              ) -> Collision | None:
        """The collision `entry` would make with a command already in `table`, if any."""
        same = table.get(entry.key)
        if same is not None and file_of(same) == file_of(entry):
            return Collision(same, entry, " ".join(w.word for w in tokenize(entry.name)))
        for kept in table.values():
            if kept.key == entry.key or kept.mode is not entry.mode or kept.app != entry.app:
                continue
            said = self._covered(kept, entry) or self._covered(entry, kept)
            if said:
                return Collision(kept, entry, said)
        return None

    def _covered(self, own: Command, other: Command) -> str:
        """A way of saying `own` that `other` takes exactly and at least as well; "" if none."""
        for said in self._forms.get(id(own), ()):
            if CHAIN_WORDS & set(said.split()) or not self._may_take(other, said):
                continue
            mine, theirs = self._match(said, own), self._match(said, other)
            if mine and theirs and theirs.weight >= mine.weight \
                    and len(theirs.captures) >= len(mine.captures):
                return said
        return ""

    def _may_take(self, cmd: Command, said: str) -> bool:
        """Cheap and sound: an exact match needs the letters of each required literal
        in the words said (and those of a leading literal at their start)."""
        letters = said.replace(" ", "")
        first, rest = self._needs.get(id(cmd), ((), ()))
        return (not first or any(letters.startswith(o) for o in first)) and all(
            any(o in letters for o in options) for options in rest)

    def _match(self, said: str, cmd: Command) -> Match | None:
        return self._matcher.best(said, tokenize(said), len(said), (cmd,))
