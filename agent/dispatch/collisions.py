"""Spoken forms that collide: two definitions that the same words would match (pure).

Such a tie would be broken by load order, so which command acts would depend on file
names; `commands --check` and the loader report it. Only commands whose leading letters
could be said together are compared, so many commands load fast (docs/commands.md,
"Collisions, in detail").
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice, product

from agent.dispatch.command import Command
from agent.dispatch.grammar import Capture, Element, Literal
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


@dataclass
class _Leads:
    """The commands of one mode and window context, by the letters of their leading
    literal's options; those that begin otherwise (a capture, optional words) are wild."""

    exact: dict[str, list[Command]] = field(default_factory=dict)
    starts: list[str] = field(default_factory=list)
    """Every leading option's letters, sorted; `owners` in parallel."""
    owners: list[Command] = field(default_factory=list)
    wild: list[Command] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    """The lengths of the leading letters in `exact`, shortest first."""
    every: list[Command] = field(default_factory=list)

    def near(self, lead: tuple[str, ...] | None) -> list[Command]:
        """Commands that could take words a command leading with `lead` takes, or the
        other way round: leading letters that begin one another (None: all of them)."""
        if lead is None:
            return self.every
        found = {id(c): c for c in self.wild}
        for letters in lead:
            for n in self.lengths:
                if n > len(letters):
                    break
                for c in self.exact.get(letters[:n], ()):
                    found[id(c)] = c
            at = bisect_left(self.starts, letters)
            while at < len(self.starts) and self.starts[at].startswith(letters):
                found[id(self.owners[at])] = self.owners[at]
                at += 1
        return list(found.values())


class Overlaps:
    """Finds collisions among a fixed set of commands (the ones being merged)."""

    def __init__(self, commands: tuple[Command, ...]) -> None:
        self._matcher = Matcher(commands, _EXACT)
        self._forms: dict[int, list[str]] = {}
        """Ways of saying each command, made when first needed."""
        self._needs: dict[int, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {}
        self._keys = {id(c): c.key for c in commands}
        self._order = {id(c): i for i, c in enumerate(commands)}
        self._leads = {id(c): self._lead(c) for c in commands}
        self._groups: dict[tuple[str, str], _Leads] = {}
        pairs: dict[tuple[str, str], list[tuple[str, Command]]] = {}
        for c in commands:
            group = self._groups.setdefault((c.mode.value, c.app), _Leads())
            group.every.append(c)
            lead = self._leads[id(c)]
            if lead is None:
                group.wild.append(c)
                continue
            for letters in lead:
                group.exact.setdefault(letters, []).append(c)
                pairs.setdefault((c.mode.value, c.app), []).append((letters, c))
        for where, found in pairs.items():
            found.sort(key=lambda p: p[0])
            self._groups[where].starts = [letters for letters, _ in found]
            self._groups[where].owners = [c for _, c in found]
            self._groups[where].lengths = sorted({len(letters) for letters, _ in found})

    def _lead(self, cmd: Command) -> tuple[str, ...] | None:
        """The letters a way of saying `cmd` begins with, one per option of its leading
        literal; None when it begins with a capture or optional words."""
        pattern = self._matcher.compiled(cmd)
        lead = pattern[0] if pattern else None
        if not isinstance(lead, Literal) or lead.optional:
            return None
        return tuple("".join(option) for option in lead.options)

    def key(self, cmd: Command) -> tuple[str, str, str]:
        """cmd.key, normalised once."""
        return self._keys.get(id(cmd)) or cmd.key

    def clash(self, entry: Command, table: Mapping[tuple[str, str, str], Command]
              ) -> Collision | None:
        """The collision `entry` would make with a command already in `table`, if any."""
        key = self.key(entry)
        same = table.get(key)
        if same is not None and file_of(same) == file_of(entry):
            return Collision(same, entry, " ".join(w.word for w in tokenize(entry.name)))
        group = self._groups.get((entry.mode.value, entry.app))
        near = group.near(self._leads.get(id(entry))) if group else list(table.values())
        for kept in sorted(near, key=lambda c: self._order.get(id(c), -1)):
            kept_key = self.key(kept)
            if kept_key == key or table.get(kept_key) is not kept \
                    or kept.mode is not entry.mode or kept.app != entry.app:
                continue
            said = self._covered(kept, entry) or self._covered(entry, kept)
            if said:
                return Collision(kept, entry, said)
        return None

    def _covered(self, own: Command, other: Command) -> str:
        """A way of saying `own` that `other` takes exactly and at least as well; "" if none."""
        if id(own) not in self._forms:
            self._forms[id(own)] = forms(own.pattern)
        for said in self._forms[id(own)]:
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
        if id(cmd) not in self._needs:
            self._needs[id(cmd)] = _needed(cmd.pattern)
        first, rest = self._needs[id(cmd)]
        return (not first or any(letters.startswith(o) for o in first)) and all(
            any(o in letters for o in options) for options in rest)

    def _match(self, said: str, cmd: Command) -> Match | None:
        return self._matcher.best(said, tokenize(said), len(said), (cmd,))
