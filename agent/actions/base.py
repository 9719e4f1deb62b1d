"""The Executor protocol: the only stage that touches the OS."""

from __future__ import annotations

from typing import Protocol

from agent.messages import Action


class ActionError(RuntimeError):
    """An action could not be performed (one line)."""


class Executor(Protocol):
    def perform(self, action: Action) -> None:
        """Carry out one action; raise ActionError."""

    def active_app(self) -> str:
        """The class of the focused window ("" when unknown), for per-app commands."""
