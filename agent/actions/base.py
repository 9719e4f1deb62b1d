"""The Executor protocol: the only stage that touches the OS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agent.messages import Action


class ActionError(RuntimeError):
    """An action could not be performed (one line)."""


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
