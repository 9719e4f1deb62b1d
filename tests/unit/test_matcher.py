"""The matcher: tolerant of case, punctuation, numbers and small slips; strict about
leftover words, so ordinary speech is not a command."""

from __future__ import annotations

import pytest

from agent.dispatch.command import Command
from agent.dispatch.matcher import Matcher
from agent.messages import Mode


def match(commands: tuple[Command, ...], text: str, threshold: float = 0.8):
    live = tuple(c for c in commands if c.mode is Mode.COMMAND)
    chain = Matcher(live, threshold).chain(text, live)
    if chain is None:
        return None
    return [(m.command.name, {k: v for k, v in m.captures.items()}) for m in chain]


@pytest.mark.parametrize(("heard", "name", "caps"), [
    ("New tab.", "new tab", {}),
    ("NEW TAB!", "new tab", {}),
    ("new-tab", "new tab", {}),
    ("close tag", "close tab", {}),
    ("Same file.", "save file", {}),
    ("Selectall.", "select all", {}),
    ("un do", "undo", {}),
    ("Maximise window", "maximize window", {}),
    ("refresh page", "reload page", {}),
    ("press escape", "press <chord>", {"chord": "escape"}),
    ("Press F5.", "press <chord>", {"chord": "f5"}),
    ("press f five", "press <chord>", {"chord": "f5"}),
    ("Press letter B.", "press <chord>", {"chord": "b"}),
    ("press page down", "press <chord>", {"chord": "page_down"}),
    ("Press Ctrl+Shift+T.", "press <chord>", {"chord": "ctrl+shift+t"}),
    ("press shift control t", "press <chord>", {"chord": "ctrl+shift+t"}),
    ("Press, control, and shift T.", "press <chord>", {"chord": "ctrl+shift+t"}),
    ("press alt f four", "press <chord>", {"chord": "alt+f4"}),
    ("Press alt F4.", "press <chord>", {"chord": "alt+f4"}),
    ("press down three times", "press <chord> <n> times", {"chord": "down", "n": 3}),
    ("Press down 3 times.", "press <chord> <n> times", {"chord": "down", "n": 3}),
    ("press tab twice", "press <chord> twice", {"chord": "tab"}),
    ("press tab to times", "press <chord> <n> times", {"chord": "tab", "n": 2}),
    ("press enter twenty one times", "press <chord> <n> times", {"chord": "enter", "n": 21}),
    ("scroll down 4 times", "scroll down <n> times", {"n": 4}),
    ("Type hello world.", "type <text>", {"text": "hello world"}),
    ("Type Hello, World!", "type <text>", {"text": "Hello, World!"}),
    ("type version 2.5", "type <text>", {"text": "version 2.5"}),
    ("Snake case, user name.", "snake case <text>", {"text": "user name"}),
])
def test_commands_are_recognised(builtins, heard, name, caps) -> None:
    assert match(builtins, heard) == [(name, caps)]


@pytest.mark.parametrize("heard", [
    "What's the weather like today?",
    "I think we should order pizza tonight.",
    "press alt tab four",
    "Press enter B.",
    "Press letter mid.",
    "Press tone.",
    "Press F down.",
    "press, open tab,",
    "copy it",
    "undo that change",
    "please copy this for me",
    "but",
    "tab",
    "press",
    "press the big red button",
    "Thank you.",
    "",
    "...",
])
def test_speech_that_is_not_a_command_matches_nothing(builtins, heard) -> None:
    assert match(builtins, heard) is None


def test_threshold_decides_how_far_a_slip_may_go(builtins) -> None:
    assert match(builtins, "next time") is None
    assert match(builtins, "next time", threshold=0.6) == [("next tab", {})]


def test_chains_split_on_then(builtins) -> None:
    assert match(builtins, "Select all, then copy.") == [("select all", {}), ("copy", {})]
    assert match(builtins, "select all and then copy") == [("select all", {}), ("copy", {})]
    assert match(builtins, "new tab then type hello then press enter") == [
        ("new tab", {}), ("type <text>", {"text": "hello"}), ("press <chord>", {"chord": "enter"})]


def test_text_that_contains_then_stays_text_when_the_rest_is_no_command(builtins) -> None:
    assert match(builtins, "type this then that") == [("type <text>", {"text": "this then that"})]


def test_a_chain_with_a_part_that_is_no_command_is_no_command(builtins) -> None:
    assert match(builtins, "copy then sing a song") is None


def test_a_longer_key_name_beats_a_letter_and_a_count(builtins) -> None:
    assert match(builtins, "press f five") == [("press <chord>", {"chord": "f5"})]


def test_user_commands_with_alternatives_and_optional_words(command_file) -> None:
    cmds = command_file('[commands]\n"(open|show) [the] (calendar|agenda) [please]" = '
                        '"key super+c"\n')
    for heard in ("open calendar", "Show the agenda, please.", "open the calendar"):
        assert match(cmds, heard) == [("open the calendar please", {})], heard
    assert match(cmds, "open the the calendar") is None


def test_and_joins_commands_only_when_every_part_is_one(builtins) -> None:
    assert match(builtins, "copy and paste") == [("copy", {}), ("paste", {})]
    assert match(builtins, "type salt and pepper") == [("type <text>", {"text": "salt and pepper"})]
    assert match(builtins, "type salt and pepper then press enter") == [
        ("type <text>", {"text": "salt and pepper"}), ("press <chord>", {"chord": "enter"})]
    assert match(builtins, "press control and shift t") == [
        ("press <chord>", {"chord": "ctrl+shift+t"})]


def test_alt_is_often_heard_as_old(builtins) -> None:
    assert match(builtins, "press old f4") == [("press <chord>", {"chord": "alt+f4"})]


def test_a_whole_utterance_written_twice_counts_once(builtins) -> None:
    assert match(builtins, "copy copy") == [("copy", {})]
    assert match(builtins, "select all men copy, select all men copy,") == [
        ("select all", {}), ("copy", {})]
    assert match(builtins, "Type hello. Type hello.") == [("type <text>", {"text": "hello"})]
    assert match(builtins, "copy copy copy") is None


def test_a_match_says_its_command_in_canonical_words(builtins) -> None:
    live = tuple(c for c in builtins if c.mode is Mode.COMMAND)
    said = [m.said for m in Matcher(live).chain("Press Ctrl+Shift+T, then press F5 3 times.",
                                                 live)]
    assert said == ["press control shift t", "press f five three times"]
    assert Matcher(live).chain("Close tag.", live)[0].said == "close tab"
