"""Action kinds live in one registry (agent/messages.py ACTION_KINDS): every kind parses
from a command file, writes the contract's JSON and has a performer in every executor;
an action type outside the registry is refused loudly, never dropped."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from agent.actions.base import checked
from agent.actions.dryrun import DryRunExecutor
from agent.actions.keyboard import DesktopExecutor
from agent.desktop.session import SessionExecutor
from agent.dispatch.grammar import parse_action
from agent.messages import ACTION_KINDS, HelpAction, KeyAction

SAMPLES = {
    # kind: (command-file action, captures, the contract's JSON for what it builds)
    "key": ("key ctrl+shift+t", {}, '{"action": "key", "keys": "ctrl+shift+t", "count": 1}'),
    "type": ("type <text:snake>", {"text": "user name"},
             '{"action": "type", "text": "user_name"}'),
    "scroll": ("scroll down * <n>", {"n": 3},
               '{"action": "scroll", "direction": "down", "count": 3}'),
    "launch": ("launch terminal", {}, '{"action": "launch", "app": "terminal"}'),
    "mode": ("mode sleep", {}, '{"action": "mode", "mode": "sleep"}'),
    "listen": ("listen push_to_talk", {}, '{"action": "listen", "style": "push_to_talk"}'),
    "help": ("help commands", {}, '{"action": "help", "commands": []}'),
    "edit": ("edit scratch", {}, '{"action": "edit", "edit": "scratch"}'),
    "word": ("word <text>", {"text": "vox agent as voxagent."},
             '{"action": "word", "spoken": "vox agent", "written": "voxagent"}'),
}


@dataclass(frozen=True)
class JumpAction:
    """An action type nobody registered."""

    height: int = 1


def test_the_samples_cover_every_registered_kind() -> None:
    assert set(SAMPLES) == set(ACTION_KINDS)


@pytest.mark.parametrize("kind", list(ACTION_KINDS))
def test_every_kind_parses_builds_its_type_and_writes_contract_json(kind: str) -> None:
    line, caps, expected = SAMPLES[kind]
    action = parse_action(line, frozenset({"terminal"})).build(caps)
    assert type(action) is ACTION_KINDS[kind]
    assert json.dumps(action.to_json()) == expected


@pytest.mark.parametrize("kind", list(ACTION_KINDS))
def test_every_kind_has_a_performer_in_every_executor(kind: str) -> None:
    assert ACTION_KINDS[kind] in DesktopExecutor._performers
    line, caps, _ = SAMPLES[kind]
    action = parse_action(line, frozenset({"terminal"})).build(caps)
    dry = DryRunExecutor()
    dry.perform(action)
    assert dry.performed == [action]


def test_a_table_missing_a_kind_or_holding_a_stranger_fails_at_once() -> None:
    table = dict.fromkeys(ACTION_KINDS.values(), lambda ex, a: None)
    assert checked(table, "test") is table
    del table[HelpAction]
    with pytest.raises(TypeError, match=r"test performers .* missing \['HelpAction'\]"):
        checked(table, "test")
    table[HelpAction] = table[JumpAction] = lambda ex, a: None
    with pytest.raises(TypeError, match=r"not registered \['JumpAction'\]"):
        checked(table, "test")


def test_an_unregistered_action_type_is_refused_not_dropped() -> None:
    dry = DryRunExecutor()
    with pytest.raises(TypeError, match="cannot perform JumpAction: not a registered"):
        dry.perform(JumpAction())  # type: ignore[arg-type]
    assert dry.performed == []


def test_the_session_passes_unregistered_types_on_to_be_refused() -> None:
    dry = DryRunExecutor()
    session = SessionExecutor(dry, controller=None)  # type: ignore[arg-type]
    session.perform(KeyAction("ctrl+c"))
    with pytest.raises(TypeError, match="JumpAction"):
        session.perform(JumpAction())  # type: ignore[arg-type]
    assert dry.performed == [KeyAction("ctrl+c")]


@pytest.mark.parametrize("module", ["agent.dispatch.grammar", "agent.actions.keyboard"])
def test_a_kind_registered_without_parser_or_performer_stops_the_import(module: str) -> None:
    """A new kind on the registry line alone: the grammar and the executor refuse to load."""
    program = ("import agent.messages as m\n"
               "class JumpAction: pass\n"
               "m.ACTION_KINDS['jump'] = JumpAction\n"
               f"import {module}\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("TypeError: ")
    assert "jump" in done.stderr.lower()
