"""The Executor protocol: the only stage that touches the OS."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from agent.messages import ACTION_KINDS, Action


class ActionError(RuntimeError):
    """An action could not be performed (one line)."""


Performers = Mapping[type, Callable[[Any, Any], None]]
"""An executor's dispatch table: action type -> how it performs one (self, action)."""


def checked(performers: Performers, who: str) -> Performers:
    """`performers` if it covers exactly the registered kinds (ACTION_KINDS); TypeError
    naming what is missing or unknown otherwise, so a new kind without a performer fails
    at import, not by being dropped at run time."""
    kinds = set(ACTION_KINDS.values())
    missing = sorted(k.__name__ for k in kinds - performers.keys())
    extra = sorted(k.__name__ for k in performers.keys() - kinds)
    if missing or extra:
        raise TypeError(f"{who} performers do not match the action kinds: "
                        f"missing {missing or 'none'}, not registered {extra or 'none'}")
    return performers


def unregistered(action: object, who: str) -> TypeError:
    """The error for an action whose type is not a registered kind (a bug, not bad input)."""
    return TypeError(f"{who} cannot perform {type(action).__name__}: not a registered action "
                     "kind (" + ", ".join(ACTION_KINDS) + ")")


class Executor(Protocol):
    def perform(self, action: Action) -> None:
        """Carry out one action; raise ActionError."""

    def active_app(self) -> str:
        """The class of the focused window ("" when unknown), for per-app commands."""


class KeyInput(Protocol):
    """One route for keys, text and wheel clicks (XTEST, wtype, uinput, pynput)."""

    def chord(self, names: Sequence[str]) -> None:
        """Press the named keys (KEYS in agent/actions/keynames.py) in order, then release
        them in reverse order; ActionError if it cannot."""

    def type(self, text: str) -> None:
        """Type exactly `text` ("\\n" is the Return key); ActionError if it cannot."""

    def scroll(self, direction: str, count: int) -> None:
        """Click the wheel `count` times: up, down, left or right."""

    def close(self) -> None:
        """Give back what the route holds (called once, also at exit)."""
