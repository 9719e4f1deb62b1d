"""The dry-run executor: performs nothing, remembers what it was asked to do."""

from __future__ import annotations

from agent.actions.base import unregistered
from agent.messages import ACTION_KINDS, Action

_KNOWN = frozenset(ACTION_KINDS.values())


class DryRunExecutor:
    def __init__(self, app: str = "") -> None:
        self.app = app
        """Window class to pretend is focused (to try per-app commands)."""
        self.performed: list[Action] = []

    def perform(self, action: Action) -> None:
        """Remember any registered kind; TypeError for anything else (never dropped)."""
        if type(action) not in _KNOWN:
            raise unregistered(action, "the dry run")
        self.performed.append(action)

    def active_app(self) -> str:
        return self.app
