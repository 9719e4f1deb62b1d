"""The dry-run executor: performs nothing, remembers what it was asked to do."""

from __future__ import annotations

from agent.messages import Action


class DryRunExecutor:
    def __init__(self, app: str = "") -> None:
        self.app = app
        """Window class to pretend is focused (to try per-app commands)."""
        self.performed: list[Action] = []

    def perform(self, action: Action) -> None:
        self.performed.append(action)

    def active_app(self) -> str:
        return self.app
