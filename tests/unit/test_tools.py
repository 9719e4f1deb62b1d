"""agent.dispatch.tools: commands as function tools, and tool calls back to actions."""

from __future__ import annotations

import json

import pytest

from agent.asr.base import ToolCall
from agent.dispatch.command import Command
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.tools import (
    ToolCallError,
    command_tools,
    has_controls,
    risk,
    tool_call_match,
    tool_name,
    without_controls,
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
    assert risk(close) == "alt+f4 closes"
    assert risk([tool_call_match(active, "open_terminal", "{}")]) == "launches an app"
    assert risk([tool_call_match(active, "new_tab", "{}")]) == ""
    pending = d.act("shut this window", close, confirm=bool(risk(close)))
    assert (pending.command, pending.actions) == ("close window", ())
    assert "say yes" in pending.note
    done = d.dispatch(Transcript("Yes."))
    assert done.actions == (KeyAction("alt+f4"),)
    launch = [tool_call_match(active, "open_terminal", "{}")]
    d.act("I need a shell", launch, confirm=True)
    assert d.dispatch(Transcript("no")).actions == ()
    assert d.act("x", launch).actions == (LaunchAction("terminal"),)  # unconfirmed path


@pytest.mark.parametrize(("calls", "why"), [
    ([("press_chord_n_times", '{"chord": "backspace", "n": 100}')],
     "presses backspace 100 times"),
    ([("press_chord_n_times", '{"chord": "ctrl+backspace", "n": 50}')],
     "presses ctrl+backspace 50 times"),
    ([("press_chord_n_times", '{"chord": "down", "n": 6}')], "presses down 6 times"),
    ([("press_chord_n_times", '{"chord": "down", "n": 4}'),
      ("press_chord_n_times", '{"chord": "down", "n": 3}')], "presses down 7 times"),
    ([("press_chord", '{"chord": "ctrl+alt+delete"}')], "ctrl+alt+delete deletes"),
    ([("press_chord", '{"chord": "backspace"}')], "backspace deletes"),
    ([("cut", "{}")], "ctrl+x deletes"),
    ([("close_tab", "{}")], "ctrl+w closes"),
    ([("press_chord", '{"chord": "ctrl+q"}')], "ctrl+q closes"),
    ([("select_all", "{}"), ("press_chord", '{"chord": "backspace"}')], "backspace deletes"),
    ([("select_all", "{}"), ("paste", "{}")], "ctrl+v replaces a selection"),
    ([("press_chord", '{"chord": "ctrl+shift+home"}'), ("press_chord", '{"chord": "x"}')],
     "x replaces a selection"),
    ([("select_all", "{}"), ("press_chord", '{"chord": "enter"}')],
     "enter replaces a selection"),
])
def test_a_guess_that_deletes_closes_or_repeats_asks_first(
        builtins: tuple[Command, ...], calls: list[tuple[str, str]], why: str) -> None:
    d = Dispatcher(builtins)
    chain = [tool_call_match(d.active(), name, args) for name, args in calls]
    assert risk(chain) == why
    held = d.intended("well I suppose we could start over",
                      [ToolCall(name, args) for name, args in calls], end=2.0)
    assert held is not None and held.actions == () and held.pending is not None
    assert d.dispatch(Transcript("no"), start=3.0).actions == ()


@pytest.mark.parametrize("calls", [
    [("select_all", "{}"), ("copy", "{}")],
    [("press_chord_n_times", '{"chord": "down", "n": 5}')],
    [("press_chord", '{"chord": "x"}'), ("paste", "{}")],  # nothing was selected first
    [("new_tab", "{}"), ("press_chord", '{"chord": "ctrl+shift+t"}')],
])
def test_a_guess_that_only_moves_copies_or_inserts_is_done(
        builtins: tuple[Command, ...], calls: list[tuple[str, str]]) -> None:
    d = Dispatcher(builtins)
    chain = [tool_call_match(d.active(), name, args) for name, args in calls]
    assert risk(chain) == ""
    done = d.intended("x", [ToolCall(name, args) for name, args in calls])
    assert done is not None and len(done.actions) == len(calls) and done.pending is None


def test_a_held_guess_shows_what_it_would_press(builtins: tuple[Command, ...]) -> None:
    d = Dispatcher(builtins)
    held = d.intended("start over", [ToolCall("select_all", "{}"),
                                     ToolCall("press_chord_n_times",
                                              '{"chord": "backspace", "n": 100}')], end=4.0)
    assert held is not None and held.pending is not None
    assert held.note == "say yes to press ctrl+a, press backspace 100 times"
    assert held.pending.until == 4.0 + d.confirm_timeout_s
    assert d.dispatch(Transcript("Yes."), start=5.0).actions == (
        KeyAction("ctrl+a"), KeyAction("backspace", 100))


def test_intended_performs_a_harmless_call_and_holds_a_risky_one(
        builtins: tuple[Command, ...]) -> None:
    d = Dispatcher(builtins)
    tab = d.intended("a fresh tab please", [ToolCall("new_tab", "{}")])
    assert tab is not None and (tab.command, tab.actions) == ("new tab", (KeyAction("ctrl+t"),))
    close = d.intended("get rid of this window", [ToolCall("close_window", "{}")])
    assert close is not None and close.actions == () and "say yes" in close.note
    assert d.dispatch(Transcript("Yes.")).actions == (KeyAction("alt+f4"),)
    asked = d.intended("a fresh tab", [ToolCall("new_tab", "{}")], confirm_always=True)
    assert asked is not None and asked.actions == ()
    assert d.dispatch(Transcript("no")).cancelled == "new tab"


def test_intended_refuses_what_does_not_fit(builtins: tuple[Command, ...],
                                            caplog: pytest.LogCaptureFixture) -> None:
    d = Dispatcher(builtins)
    assert d.intended("x", []) is None
    with caplog.at_level("WARNING"):
        assert d.intended("x", [ToolCall("rm_everything", "{}")]) is None
    assert "not an active command" in caplog.text
    d.set_mode(Mode.DICTATION)
    assert d.tools() == [] and d.intended("x", [ToolCall("new_tab", "{}")]) is None


def test_intent_never_types_a_newline_without_a_spoken_yes(
        builtins: tuple[Command, ...]) -> None:
    d = Dispatcher(builtins)
    call = ToolCall("type_text", '{"text": "rm -rf ~/Documents\\nexit"}')
    held = d.intended("type my command", [call])
    assert held is not None and held.actions == ()
    assert held.note == "say yes to type 'rm -rf ~/Documents\\nexit' (presses Return)"
    instead = d.dispatch(Transcript("new tab"))  # anything but yes cancels, and is taken
    assert instead.actions == (KeyAction("ctrl+t"),)
    assert instead.cancelled == "type 'rm -rf ~/Documents\\nexit' (presses Return)"
    d.intended("type my command", [call])
    assert d.dispatch(Transcript("Yes.")).actions == (TypeAction("rm -rf ~/Documents\nexit"),)
    plain = d.intended("type hello", [ToolCall("type_text", '{"text": "hello"}')])
    assert plain is not None and plain.actions == ()  # text the model wrote: asked too
    strip = Dispatcher(builtins, controls="strip")
    strip.intended("type my command", [call])
    assert strip.dispatch(Transcript("yes")).actions == (TypeAction("rm -rf ~/Documents exit"),)


@pytest.mark.parametrize("controls", ["confirm", "strip"])
def test_typed_speech_with_control_characters(builtins: tuple[Command, ...],
                                              controls: str) -> None:
    d = Dispatcher(builtins, controls=controls)
    typed = d.dispatch(Transcript("Type ls\nexit"))
    if controls == "strip":
        assert typed.actions == (TypeAction("ls exit"),)
    else:
        assert typed.actions == () and typed.note == "say yes to type 'ls\\nexit' (presses Return)"
        assert d.dispatch(Transcript("yes")).actions == (TypeAction("ls\nexit"),)


def test_control_characters() -> None:
    assert has_controls("a\nb") and has_controls("\x1b[2J") and not has_controls("a b é")
    assert without_controls("rm -rf x\nexit") == "rm -rf x exit"
    assert without_controls(" a \r\n b\n") == " a b"
    assert without_controls("\tindented") == "indented"
    with pytest.raises(ValueError, match="controls must be one of confirm, strip"):
        Dispatcher((), controls="ask")
