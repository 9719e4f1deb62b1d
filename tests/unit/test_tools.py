"""agent.dispatch.tools: commands as function tools, and tool calls back to actions."""

from __future__ import annotations

import json

import pytest

from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import Command
from agent.dispatch.tools import (
    ToolCallError,
    command_tools,
    is_risky,
    tool_call_match,
    tool_name,
)
from agent.messages import KeyAction, LaunchAction, Mode, ScrollAction, Transcript, TypeAction


def by_name(tools: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {t["function"]["name"]: t["function"] for t in tools}  # type: ignore[index]


def test_every_active_command_is_a_tool_with_its_captures(builtins: tuple[Command, ...]) -> None:
    active = Dispatcher(builtins).active()
    tools = by_name(command_tools(active))
    assert tools["new_tab"]["parameters"] == {"type": "object", "properties": {},
                                              "required": []}
    press = tools["press_chord_n_times"]["parameters"]
    assert press["required"] == ["chord", "n"]  # type: ignore[index]
    assert tools["snake_case_text"]["parameters"]["required"] == ["text"]  # type: ignore[index]
    assert "ctrl+t" in str(tools["new_tab"]["description"])
    assert all(len(n) <= 64 and n.replace("_", "").isalnum() for n in tools)
    json.dumps(command_tools(active))  # what goes on the wire


def test_tool_names() -> None:
    cmd = Command("maximize window", (), ())
    assert tool_name(cmd) == "maximize_window"


def test_a_tool_call_becomes_the_commands_actions(builtins: tuple[Command, ...]) -> None:
    d = Dispatcher(builtins)
    active = d.active()
    decision = d.act("could you open a new tab", [tool_call_match(active, "new_tab", "{}")])
    assert (decision.command, decision.actions) == ("new tab", (KeyAction("ctrl+t"),))
    m = tool_call_match(active, "press_chord_n_times", '{"chord": "control+shift+T", "n": "3"}')
    assert d.act("x", [m]).actions == (KeyAction("ctrl+shift+t", 3),)
    m = tool_call_match(active, "scroll_down_n_times", '{"n": 4}')
    assert d.act("x", [m]).actions == (ScrollAction("down", 4),)
    m = tool_call_match(active, "snake_case_text", '{"text": "user name"}')
    assert d.act("x", [m]).actions == (TypeAction("user_name"),)


@pytest.mark.parametrize(("name", "args", "why"), [
    ("rm_rf", "{}", "not an active command"),
    ("new_tab", '{"n": 2}', "takes no arguments"),
    ("press_chord_n_times", '{"chord": "ctrl+t"}', "takes chord, n"),
    ("press_chord_n_times", '{"chord": "ctrl+banana", "n": 1}', "bad chord"),
    ("press_chord_n_times", '{"chord": "ctrl+t", "n": 0}', "bad n"),
    ("press_chord_n_times", '{"chord": "ctrl+t", "n": true}', "bad n"),
    ("type_text", '{"text": "  "}', "bad text"),
    ("type_text", "not json", "not JSON"),
    ("type_text", '["a"]', "not a JSON object"),
])
def test_tool_calls_that_do_not_fit_are_refused(builtins: tuple[Command, ...], name: str,
                                                args: str, why: str) -> None:
    with pytest.raises(ToolCallError, match=why) as info:
        tool_call_match(Dispatcher(builtins).active(), name, args)
    assert "\n" not in str(info.value)


def test_only_active_commands_can_be_called(builtins: tuple[Command, ...]) -> None:
    asleep = Dispatcher(builtins, mode=Mode.SLEEP).active()
    with pytest.raises(ToolCallError):
        tool_call_match(asleep, "new_tab", "{}")


def test_risky_guesses_wait_for_a_spoken_yes(builtins: tuple[Command, ...]) -> None:
    d = Dispatcher(builtins)
    active = d.active()
    close = [tool_call_match(active, "close_window", "{}")]
    assert is_risky(close)
    assert is_risky([tool_call_match(active, "open_terminal", "{}")])
    assert not is_risky([tool_call_match(active, "new_tab", "{}")])
    pending = d.act("shut this window", close, confirm=is_risky(close))
    assert (pending.command, pending.actions) == ("close window", ())
    assert "say yes" in pending.note
    done = d.dispatch(Transcript("Yes."))
    assert done.actions == (KeyAction("alt+f4"),)
    launch = [tool_call_match(active, "open_terminal", "{}")]
    d.act("I need a shell", launch, confirm=True)
    assert d.dispatch(Transcript("no")).actions == ()
    assert d.act("x", launch).actions == (LaunchAction("terminal"),)  # unconfirmed path
