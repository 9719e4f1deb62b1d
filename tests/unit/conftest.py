"""Shared helpers for the pure-core tests: the built-in command set, and inline files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.actions.launch import app_names
from agent.dispatch.command import Command
from agent.dispatch.loader import CommandLibrary, merge, parse_file
from agent.paths import data_dir


@pytest.fixture(scope="session")
def builtins() -> tuple[Command, ...]:
    lib = CommandLibrary([data_dir("commands")], app_names({}))
    assert lib.errors == []
    return lib.commands


@pytest.fixture
def command_file(tmp_path: Path) -> Callable[[str], tuple[Command, ...]]:
    """Commands from TOML text, as a user's command file would give them."""
    def make(text: str) -> tuple[Command, ...]:
        path = tmp_path / "user.toml"
        path.write_text(text)
        return merge([parse_file(path, app_names({}))])
    return make
