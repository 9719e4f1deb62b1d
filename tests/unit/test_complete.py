"""The early-endpoint grammar rule (agent/dispatch/complete.py, Dispatcher.complete): a
hypothesis heard at a short pause closes the utterance early only when it is a complete,
exact command that nothing more could extend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.dispatch.command import Command
from agent.dispatch.complete import Completeness, completeness
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.matcher import Matcher
from agent.messages import Mode, Transcript


def verdict(commands: tuple[Command, ...], text: str, mode: Mode = Mode.COMMAND
            ) -> Completeness:
    d = Dispatcher(commands, mode=mode)
    return d.complete(text)


@pytest.mark.parametrize(("text", "reason"), [
    ("copy", "complete: copy"),
    ("Copy.", "complete: copy"),
    ("New tab!", "complete: new tab"),
    ("next tab", "complete: next tab"),
    ("page up", "complete: page up"),
    ("save file", "complete: save file"),
    ("open terminal", "complete: open terminal"),
    ("go to sleep", "complete: go to sleep"),
    ("select all then copy", "complete: select all then copy"),
    ("copy and paste", "complete: copy then paste"),
])
def test_complete_commands_close_early(builtins, text: str, reason: str) -> None:
    assert verdict(builtins, text) == Completeness(True, reason)


@pytest.mark.parametrize(("text", "reason"), [
    # a count, or a place for one
    ("press down", "may go on as"),              # "... five times"
    ("press escape", "may go on as"),
    ("press f", "may go on as"),                 # "press f five": a longer key name
    ("scroll up", "may go on as 'scroll up <n> [times]'"),
    ("scroll down three", "a count may go on"),  # "three times", or "thirty"
    ("press down five times", "a count may go on"),
    # a chain going on
    ("select all then", "ends in 'then'"),
    ("copy and", "ends in 'and'"),
    # the command's own optional words
    ("save", "may go on as 'save [file]'"),
    # free text, with and without a formatter
    ("type hello", "free text may go on"),
    ("snake case user name", "free text may go on"),
    # not exact: a slip, a number heard as a homophone, a repeat the matcher dropped
    ("close tag", "not an exact match"),
    ("press tab to times", "not an exact match"),
    ("new tab new tab", "not an exact match"),
    # not a command (yet)
    ("next", "no command"),
    ("open", "no command"),
    ("select all then next", "no command"),
    ("", "nothing heard"),
])
def test_what_could_go_on_or_is_not_exact_waits(builtins, text: str, reason: str) -> None:
    got = verdict(builtins, text)
    assert not got.complete and reason in got.reason, got


def test_a_command_that_begins_a_longer_one_waits(
        command_file: Callable[[str], tuple[Command, ...]]) -> None:
    commands = command_file("""
[commands]
"next" = "key ctrl+n"
"next tab" = "key ctrl+tab"
"open" = "key ctrl+o"
"open terminal" = "launch terminal"
"page" = "key page_down"
"page (up|back)" = "key page_up"
"close" = "key ctrl+w"
"copy" = "key ctrl+c"
""")
    for text, longer in (("next", "next tab"), ("open", "open terminal"),
                         ("page", "page (up|back)"), ("copy then next", "next tab")):
        got = verdict(commands, text)
        assert got == Completeness(False, f"may go on as '{longer}'"), (text, got)
    for text in ("next tab", "open terminal", "page back", "close", "copy then next tab"):
        assert verdict(commands, text).complete, text


def test_dictation_never_closes_early(builtins) -> None:
    for text in ("stop dictation", "hello there", "copy"):
        got = verdict(builtins, text, Mode.DICTATION)
        assert got == Completeness(False, "dictation: every utterance is free text"), text


def test_asleep_only_wake_up_is_complete(builtins) -> None:
    assert verdict(builtins, "wake up", Mode.SLEEP) == Completeness(True, "complete: wake up")
    for text in ("new tab", "copy", "go to sleep"):
        assert verdict(builtins, text, Mode.SLEEP) == Completeness(False, "no command"), text


def test_a_command_that_asks_first_awaits_its_answer(
        command_file: Callable[[str], tuple[Command, ...]]) -> None:
    d = Dispatcher(command_file('[commands]\n"quit app" = { do = "key ctrl+q", '
                                'confirm = true }\n'))
    assert d.complete("quit app").complete
    assert d.dispatch(Transcript("quit app")).note == "say yes to quit app"
    assert d.complete("yes") == Completeness(False, "awaiting a spoken yes")


def test_per_app_commands_count_only_in_their_app(
        command_file: Callable[[str], tuple[Command, ...]], builtins) -> None:
    firefox = command_file('[context]\napp = "firefox"\n[commands]\n'
                           '"new tab group" = "key ctrl+alt+g"\n')
    d = Dispatcher(builtins + firefox)
    assert d.complete("new tab", app="xterm").complete
    assert d.complete("new tab", app="firefox") == Completeness(
        False, "may go on as 'new tab group'")


def test_the_pure_function_takes_any_command_set_and_mode(builtins) -> None:
    live = tuple(c for c in builtins if c.mode is Mode.COMMAND)
    assert completeness("undo", Matcher(live), live, Mode.COMMAND).complete
    assert not completeness("undo", Matcher(live), live, Mode.DICTATION).complete
