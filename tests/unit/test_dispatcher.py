"""The dispatcher: modes, chaining, n-best alternatives, confirmation, per-app context."""

from __future__ import annotations

import pytest

from agent.dispatch.dispatcher import ALT_MARGIN, Dispatcher
from agent.messages import (
    Hypothesis,
    KeyAction,
    Mode,
    ModeAction,
    Pending,
    Transcript,
    TypeAction,
)


def say(d: Dispatcher, text: str, app: str = ""):
    return d.dispatch(Transcript(text), app)


def test_command_gives_actions_and_keeps_command_mode(builtins) -> None:
    dec = say(Dispatcher(builtins), "New tab.")
    assert (dec.command, dec.actions, dec.mode) == ("new tab", (KeyAction("ctrl+t"),),
                                                     Mode.COMMAND)


def test_not_a_command_does_nothing(builtins) -> None:
    dec = say(Dispatcher(builtins), "I think we should order pizza.")
    assert (dec.command, dec.actions, dec.mode) == (None, (), Mode.COMMAND)
    assert dec.note == "not a command"


def test_sleep_gates_everything_but_wake_up(builtins) -> None:
    d = Dispatcher(builtins)
    dec = say(d, "Go to sleep.")
    assert dec.actions == (ModeAction(Mode.SLEEP),) and dec.mode is Mode.SLEEP
    for text in ("New tab.", "start dictation", "type hello", "go to sleep"):
        dec = say(d, text)
        assert (dec.actions, dec.mode) == ((), Mode.SLEEP), text
    dec = say(d, "Wake up!")
    assert dec.actions == (ModeAction(Mode.COMMAND),) and dec.mode is Mode.COMMAND
    assert say(d, "new tab").actions == (KeyAction("ctrl+t"),)


def test_dictation_types_every_utterance_until_stop(builtins) -> None:
    d = Dispatcher(builtins)
    assert say(d, "Start dictation.").mode is Mode.DICTATION
    first = say(d, "Hello there.")
    second = say(d, "New tab.")  # a command in command mode, text in dictation
    assert first.actions == (TypeAction("Hello there."),)
    assert second.actions == (TypeAction(" New tab."),)  # spaced from the previous text
    assert (first.command, first.mode) == (None, Mode.DICTATION)
    stop = say(d, "Stop dictation.")
    assert stop.actions == (ModeAction(Mode.COMMAND),) and stop.mode is Mode.COMMAND
    assert say(d, "new tab").actions == (KeyAction("ctrl+t"),)
    say(d, "start dictation")
    assert say(d, "Again.").actions == (TypeAction("Again."),)  # no space in a new session


def test_empty_transcript_does_nothing_in_dictation(builtins) -> None:
    d = Dispatcher(builtins, mode=Mode.DICTATION)
    assert say(d, "  ").actions == ()


def test_chain_runs_commands_in_order(builtins) -> None:
    dec = say(Dispatcher(builtins), "select all then copy")
    assert dec.command == "select all then copy"
    assert dec.actions == (KeyAction("ctrl+a"), KeyAction("ctrl+c"))


def test_chain_can_change_mode(builtins) -> None:
    d = Dispatcher(builtins)
    dec = say(d, "copy then go to sleep")
    assert dec.actions == (KeyAction("ctrl+c"), ModeAction(Mode.SLEEP))
    assert d.mode is Mode.SLEEP


def test_a_close_alternative_can_carry_the_command(builtins) -> None:
    heard = Transcript("select tall name copy", (
        Hypothesis("select tall name copy", -0.8),
        Hypothesis("select all then copy", -1.0),
    ))
    dec = Dispatcher(builtins).dispatch(heard)
    assert dec.actions == (KeyAction("ctrl+a"), KeyAction("ctrl+c"))
    assert dec.text == "select all then copy"


def test_a_far_alternative_is_ignored(builtins) -> None:
    heard = Transcript("the meeting is at noon", (
        Hypothesis("the meeting is at noon", -0.3),
        Hypothesis("new tab", -0.3 - ALT_MARGIN - 0.01),
    ))
    dec = Dispatcher(builtins).dispatch(heard)
    assert (dec.command, dec.actions) == (None, ())
    assert dec.text == "the meeting is at noon"


def test_risky_command_waits_for_yes(command_file) -> None:
    cmds = command_file('[commands]\n"shut it down" = { do = "key ctrl+alt+delete", '
                        'confirm = true }\n')
    d = Dispatcher(cmds)
    ask = say(d, "Shut it down.")
    assert ask.actions == () and ask.note == "say yes to shut it down" \
        and ask.command == "shut it down"
    yes = say(d, "Yes.")
    assert yes.actions == (KeyAction("ctrl+alt+delete"),)
    say(d, "shut it down")
    no = say(d, "no")
    assert no.actions == () and no.cancelled == "shut it down"
    say(d, "shut it down")
    assert say(d, "shut it down").actions == ()  # repeating is not confirming


CLOSE = '[commands]\n"close window" = { do = "key alt+f4", confirm = true }\n'


def test_a_held_command_waits_for_its_yes_only_so_long(command_file,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """The clock is the utterances' stream times: the asking one's end, the answer's start."""
    d = Dispatcher(command_file(CLOSE), confirm_timeout_s=8.0)
    ask = d.dispatch(Transcript("Close window."), start=0.5, end=1.5)
    assert ask.pending == Pending("close window", 9.5) and ask.note == "say yes to close window"
    assert ask.actions == () and d.awaiting
    with caplog.at_level("INFO"):
        late = d.dispatch(Transcript("Yes."), start=9.51, end=10.0)
    assert (late.actions, late.expired, late.cancelled, late.pending) == ((), "close window",
                                                                         "", None)
    assert "no yes within 8 s: close window not done" in caplog.text
    assert not d.awaiting and d.dispatch(Transcript("Yes."), start=10.5).expired == ""
    d.dispatch(Transcript("Close window."), start=600.0, end=601.0)
    assert d.dispatch(Transcript("Yes."), start=609.0, end=609.4).actions == (
        KeyAction("alt+f4"),)  # just in time
    d.dispatch(Transcript("Close window."), start=700.0, end=701.0)
    assert d.dispatch(Transcript("Yes."), start=1301.8).actions == ()  # 600 s later


def test_any_utterance_but_yes_ends_a_held_command_and_is_taken(command_file,
                                                               builtins) -> None:
    d = Dispatcher(builtins + command_file(CLOSE.replace("close window", "quit app")))
    d.dispatch(Transcript("Quit app."), start=0.0, end=1.0)
    doubted = d.ignore("And in the news tonight", "doubted: unbroken", start=2.0)
    assert (doubted.actions, doubted.cancelled, doubted.note) == ((), "quit app",
                                                                  "doubted: unbroken")
    assert d.dispatch(Transcript("Yes."), start=3.0).actions == ()  # yes to nothing
    d.dispatch(Transcript("Quit app."), start=10.0, end=11.0)
    other = d.dispatch(Transcript("New tab."), start=12.0, end=13.0)
    assert (other.actions, other.cancelled) == ((KeyAction("ctrl+t"),), "quit app")
    d.dispatch(Transcript("Quit app."), start=20.0, end=21.0)
    talk = d.dispatch(Transcript("I think so."), start=22.0, end=23.0)
    assert (talk.actions, talk.cancelled, talk.note) == ((), "quit app", "not a command")
    d.dispatch(Transcript("Quit app."), start=30.0, end=31.0)
    assert d.ignore("", "error: the server went away", start=32.0).cancelled == "quit app"
    assert not d.awaiting


def test_only_a_yes_counts_as_the_answer_in_matches(command_file) -> None:
    d = Dispatcher(command_file(CLOSE))
    d.dispatch(Transcript("Close window."))
    assert d.matches(Transcript("Yes.")) and d.matches(Transcript("Close window"))
    assert not d.matches(Transcript("the weather today"))
    d.set_mode(Mode.COMMAND)  # the tray's menu drops it
    assert not d.awaiting and not d.matches(Transcript("Yes."))


@pytest.mark.parametrize("controls", ["confirm", "strip"])
def test_dictated_line_breaks_are_typed_as_spaces(builtins, controls: str) -> None:
    """A recogniser's newline is its layout, not a spoken "new line": never held, never
    lost, and the next sentence is typed too."""
    d = Dispatcher(builtins, mode=Mode.DICTATION, controls=controls)
    first = d.dispatch(Transcript("Dear team,\nthe report is attached."), start=0, end=2)
    assert first.actions == (TypeAction("Dear team, the report is attached."),)
    assert first.pending is None and not d.awaiting
    second = d.dispatch(Transcript("Please review it\r\n\tbefore Friday."), start=3, end=5)
    assert second.actions == (TypeAction(" Please review it before Friday."),)
    assert d.dispatch(Transcript("\n")).actions == ()


def test_per_app_commands_apply_only_in_their_app(builtins, command_file) -> None:
    user = command_file('[context]\napp = "^firefox$"\n\n[commands]\n'
                        '"new tab" = "key ctrl+alt+t"\n"reader view" = "key f9"\n')
    d = Dispatcher(builtins + user)
    assert say(d, "new tab", app="Firefox").actions == (KeyAction("ctrl+alt+t"),)
    assert say(d, "new tab", app="xterm").actions == (KeyAction("ctrl+t"),)
    assert say(d, "reader view", app="firefox").actions == (KeyAction("f9"),)
    assert say(d, "reader view", app="").actions == ()


def test_vocabulary_follows_the_mode(builtins) -> None:
    d = Dispatcher(builtins)
    words = d.vocabulary()
    assert "new tab" in words and "press" in words and "wake up" not in words
    say(d, "go to sleep")
    assert d.vocabulary() == ["wake up"]


def test_reloaded_commands_keep_the_mode(builtins, command_file) -> None:
    d = Dispatcher(builtins)
    say(d, "go to sleep")
    d.set_commands(builtins + command_file('[commands]\n"launch rocket" = "key ctrl+r"\n'))
    assert d.mode is Mode.SLEEP
    say(d, "wake up")
    assert say(d, "launch rocket").actions == (KeyAction("ctrl+r"),)


def test_vocabulary_names_the_keys_captures_expect(builtins) -> None:
    words = Dispatcher(builtins).vocabulary()
    assert {"control", "shift", "escape", "page down"} <= set(words)
    assert "times" not in words  # it made "press tab twice" come out as "press times twice"
    assert "letter b" not in {w.lower() for w in words}  # no particular key favoured
    assert len(set(words)) == len(words)


def test_candidates_say_near_miss_commands_exactly(builtins) -> None:
    d = Dispatcher(builtins)
    assert d.candidates(Transcript("New camp."))[0] == "new tab"
    assert "select all then copy" in d.candidates(Transcript("select, tall, end, copy."))
    assert "press page down" in d.candidates(Transcript("Press page now."))
    assert d.candidates(Transcript("I think we should order pizza tonight.")) == []
    assert not d.matches(Transcript("New camp.")) and d.matches(Transcript("new tab"))


def test_candidates_follow_the_mode(builtins) -> None:
    d = Dispatcher(builtins, mode=Mode.SLEEP)
    assert d.candidates(Transcript("Wake out.")) == ["wake up"]
    assert d.candidates(Transcript("New camp.")) == []


def test_focus_names_a_key_command_begun_but_not_understood(builtins) -> None:
    d = Dispatcher(builtins)
    focus = d.focus(Transcript("Press time."))
    assert focus is not None and focus.prefix == "Press"
    assert {"tab", "enter", "F5", "letter", "control"} <= set(focus.phrases)
    assert d.focus(Transcript("press control, shift you.")) is not None


def test_focus_leaves_other_speech_and_other_modes_alone(builtins) -> None:
    d = Dispatcher(builtins)
    assert d.focus(Transcript("Press.")) is None  # nothing after the command's words
    assert d.focus(Transcript("Please leave the door open.")) is None
    assert d.focus(Transcript("New time.")) is None  # "new tab" has no key to capture
    assert d.focus(Transcript("snake case use our name")) is None  # free text: no focus
    assert Dispatcher(builtins, mode=Mode.DICTATION).focus(Transcript("Press time.")) is None


def test_every_scroll_direction_takes_a_count(builtins) -> None:
    """The README lists scroll up/down/left/right (N times); left and right had no count."""
    from agent.messages import ScrollAction

    for direction in ("up", "down", "left", "right"):
        dec = say(Dispatcher(builtins), f"Scroll {direction} three times.")
        assert dec.actions == (ScrollAction(direction, 3),), (direction, dec)
        assert say(Dispatcher(builtins), f"scroll {direction} 2").actions == (
            ScrollAction(direction, 2),)


def test_what_can_i_say_lists_the_commands_active_here(command_file) -> None:
    from agent.messages import HelpAction

    d = Dispatcher(command_file(
        '[commands]\n"what can I say" = "help commands"\n"new tab" = "key ctrl+t"\n'
        '"press <key> <n> times" = "key <key> * <n>"\n'))
    dec = say(d, "What can I say?")
    (help_,) = dec.actions
    assert isinstance(help_, HelpAction) and dec.command == "what can I say"
    assert help_.commands == ("what can I say", "new tab", "press <key> <n> times")
    assert help_.to_json() == {"action": "help", "commands": list(help_.commands)}


def test_what_can_i_say_puts_the_focused_apps_commands_first(builtins, command_file) -> None:
    from agent.messages import HelpAction

    firefox = command_file('[context]\napp = "firefox"\n[commands]\n"reader view" = "key f9"\n')
    d = Dispatcher(builtins + firefox)
    (in_firefox,) = say(d, "what can I say", app="firefox").actions
    (elsewhere,) = say(d, "what can I say", app="xterm").actions
    assert isinstance(in_firefox, HelpAction) and isinstance(elsewhere, HelpAction)
    assert in_firefox.commands[0] == "reader view"
    assert "reader view" not in elsewhere.commands
    assert {"new tab", "go to sleep", "what can I say"} <= set(elsewhere.commands)
    assert "wake up" not in elsewhere.commands  # sleep mode's, not active in command mode
    say(d, "go to sleep")
    assert say(d, "what can I say").actions == ()  # asleep: only "wake up" acts


def test_a_capture_inside_longer_typed_text_is_filled_in(command_file) -> None:
    """The README's example: the heard words replace <text:snake>, the rest is typed as is
    (it used to type the placeholder itself)."""
    commands = command_file('[commands]\n'
                            '"function <text>" = ["type def <text:snake>():", "key left * 3"]\n')
    dec = say(Dispatcher(commands), "Function user name.")
    assert dec.command == "function <text>"
    assert dec.actions == (TypeAction("def user_name():"), KeyAction("left", 3))
