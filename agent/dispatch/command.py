"""One spoken command as loaded from a command file, and the entry that disables one.

Its own module so that the loader, the matcher and the collision check all import it
from here, without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.dispatch.grammar import ActionTemplate, Element
from agent.dispatch.normalize import normalize
from agent.messages import Mode


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    """Plain name of the spoken form ("maximize window"); what the JSON line reports."""
    pattern: tuple[Element, ...]
    actions: tuple[ActionTemplate, ...]
    mode: Mode = Mode.COMMAND
    app: str = ""
    """Regex the active window's class must match; "" = everywhere."""
    confirm: bool = False
    """Ask for a spoken yes before performing."""
    origin: str = ""
    """`path:line` where it was defined."""
    spoken: str = ""
    """The spoken form as written in the file."""

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity for overriding: normalised name, mode, app."""
        return normalize(self.name), self.mode.value, self.app


@dataclass(frozen=True, slots=True)
class Disable:
    key: tuple[str, str, str]
