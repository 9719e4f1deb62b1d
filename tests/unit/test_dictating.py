"""Dictation through the dispatcher on given hearings: joined text, editing by voice, and
when what was typed is forgotten (agent/dispatch/dictating.py)."""

from __future__ import annotations

import pytest

from agent.dispatch.dictating import (
    FORGET_AFTER_S,
    Field,
    corrected,
    ending,
    rendered,
    typed_by,
)
from agent.dispatch.dispatcher import Dispatcher
from agent.messages import Action, KeyAction, Mode, ModeAction, Transcript, TypeAction


def field_text(actions: list[Action]) -> str:
    """What a plain text field holds after `actions` (typed text, Return, BackSpace)."""
    text = ""
    for a in actions:
        if isinstance(a, TypeAction):
            text += a.text
        elif isinstance(a, KeyAction) and a.keys == "enter":
            text += "\n" * a.count
        elif isinstance(a, KeyAction) and a.keys == "backspace":
            text = text[:len(text) - a.count]
        elif not isinstance(a, ModeAction):
            raise AssertionError(f"unexpected {a}")
    return text


def dictate(d: Dispatcher, *heard: str, app: str = "") -> list[Action]:
    out: list[Action] = []
    for text in heard:
        out += d.dispatch(Transcript(text), app).actions
    return out


@pytest.fixture
def d(builtins) -> Dispatcher:
    return Dispatcher(builtins, mode=Mode.DICTATION)


def test_two_sentences_join_with_one_space_and_a_fragment_runs_on(d: Dispatcher) -> None:
    got = dictate(d, "So I think.", "We should go.", "Then we left.")
    assert field_text(got) == "So I think we should go. Then we left."


def test_scratch_that_deletes_exactly_the_last_utterance(d: Dispatcher) -> None:
    got = dictate(d, "Hello there.", "How are you?")
    dec = d.dispatch(Transcript("Scratch that."))
    assert dec.actions == (KeyAction("backspace", len(" How are you?")),)
    assert field_text(got + list(dec.actions)) == "Hello there."


def test_scratch_twice_goes_one_further_back(d: Dispatcher) -> None:
    got = dictate(d, "Hello there.", "How are you?", "Scratch that.", "Undo that.")
    assert field_text(got) == ""
    assert d.dispatch(Transcript("Scratch that.")).actions == ()  # nothing left
    assert field_text(got + dictate(d, "Good morning.")) == "Good morning."


def test_after_scratch_the_next_utterance_joins_the_text_left(d: Dispatcher) -> None:
    got = dictate(d, "So I think.", "We should stay.", "Scratch that.", "We should go.")
    assert field_text(got) == "So I think we should go."


def test_new_paragraph_presses_return_and_starts_a_sentence(d: Dispatcher) -> None:
    got = dictate(d, "First part.", "New paragraph.", "second part.")
    assert KeyAction("enter", 2) in got
    assert field_text(got) == "First part.\n\nSecond part."
    got += dictate(d, "Scratch that.", "Scratch that.")
    assert field_text(got) == "First part."


def test_new_line_at_the_end_of_an_utterance(d: Dispatcher) -> None:
    got = dictate(d, "Dear Sam, new line.", "Thanks.")
    assert field_text(got) == "Dear Sam,\nThanks."
    got += dictate(d, "We should go new paragraph.", "So I think newline.", "Fine.")
    assert field_text(got) == "Dear Sam,\nThanks. We should go.\n\nSo I think\nFine."


def test_editing_commands_are_commands_of_dictation_mode(d: Dispatcher) -> None:
    dec = d.dispatch(Transcript("Scratch that!"))
    assert dec.command == "scratch that" and dec.actions == ()  # nothing typed yet
    assert "new paragraph" in d.sayable() and "new paragraph" in d.vocabulary()
    assert d.dispatch(Transcript("New paragraph.")).command == "new paragraph"


@pytest.mark.parametrize(("heard", "want"), [
    (("So I think", "Comma."), "So I think,"),
    (("We went home comma.",), "We went home,"),
    (("Are you there. Question mark.",), "Are you there?"),
    (("We went home.", "Question mark."), "We went home?"),
    (("It is done period.",), "It is done."),
    (("Put a comma.",), "Put a comma."),
    (("It ends after the trial period.",), "It ends after the trial period."),
    (("Write it on a new line.",), "Write it on a new line."),
])
def test_spoken_marks_alone_or_at_the_end(d: Dispatcher, heard: tuple[str, ...],
                                          want: str) -> None:
    assert field_text(dictate(d, *heard)) == want


def test_a_mark_said_alone_is_scratched_back_to_what_it_replaced(d: Dispatcher) -> None:
    got = dictate(d, "We went home.", "Question mark.", "Scratch that.")
    assert field_text(got) == "We went home."


def test_stop_dictation_at_the_end_types_the_sentence_first(d: Dispatcher) -> None:
    dec = d.dispatch(Transcript("That is all. Stop dictation."))
    assert dec.actions == (TypeAction("That is all."), ModeAction(Mode.COMMAND))
    assert d.dispatch(Transcript("start dictation")).mode is Mode.DICTATION
    dec = d.dispatch(Transcript("That is all stop dictation."))  # the model's stop moves
    assert dec.actions == (TypeAction("That is all."), ModeAction(Mode.COMMAND))
    assert dec.mode is Mode.COMMAND and d.mode is Mode.COMMAND
    assert d.dispatch(Transcript("new tab")).actions == (KeyAction("ctrl+t"),)


def test_stop_dictation_alone_still_just_stops(d: Dispatcher) -> None:
    dec = d.dispatch(Transcript("Stop dictation."))
    assert dec.actions == (ModeAction(Mode.COMMAND),) and d.mode is Mode.COMMAND


def test_select_that_selects_the_words_and_forgets_the_stack(d: Dispatcher) -> None:
    dictate(d, "One.", "Two three.")
    assert d.dispatch(Transcript("Select that.")).actions == \
        (KeyAction("shift+left", len("Two three.")),)
    assert d.dispatch(Transcript("Scratch that.")).actions == ()
    # what is typed next replaces the selection, after the joining space
    assert dictate(d, "Four.") == [TypeAction("Four.")]


def test_replace_within_the_last_utterance(d: Dispatcher) -> None:
    got = dictate(d, "Hello there.", "Meet me at noon today.")
    dec = d.dispatch(Transcript("Replace noon with three."))
    assert dec.actions == (KeyAction("backspace", len("noon today.")),
                           TypeAction("three today."))
    assert field_text(got + list(dec.actions)) == "Hello there. Meet me at three today."
    got += list(dec.actions) + dictate(d, "Scratch that.")
    assert field_text(got) == "Hello there."


def test_replace_heard_with_a_comma_after_it_is_still_the_edit(d: Dispatcher) -> None:
    """Whisper writes a comma after the spoken verb ("Replace, walk with drive." from
    flite's voice): the edit all the same, not words typed."""
    got = dictate(d, "We should go for a walk.")
    dec = d.dispatch(Transcript("Replace, walk with drive."))
    assert dec.actions == (KeyAction("backspace", len("walk.")), TypeAction("drive."))
    assert field_text(got + list(dec.actions)) == "We should go for a drive."


def test_replace_cases_the_new_words_for_where_they_go(builtins) -> None:
    """The joining's capitals hold for the words put in: a capital at a sentence start,
    none mid-sentence (Whisper capitalises as it likes)."""
    d = Dispatcher(builtins, mode=Mode.DICTATION)
    got = dictate(d, "Hello there.", "Hello there.", "Replace hello with goodbye.")
    assert field_text(got) == "Hello there. Goodbye there."
    d = Dispatcher(builtins, mode=Mode.DICTATION)
    got = dictate(d, "We should go for a walk.", "Replace walk with Drive.")
    assert field_text(got) == "We should go for a drive."


def test_replace_not_found_is_dictated_text(builtins) -> None:
    """Not in the last utterance: the words were dictation, and none of them is lost."""
    d = Dispatcher(builtins, mode=Mode.DICTATION)
    got = dictate(d, "Hello there.", "Meet me at noon.")
    got += dictate(d, "Replace Hello with bye.")
    assert field_text(got) == "Hello there. Meet me at noon. Replace Hello with bye."
    fresh = Dispatcher(builtins, mode=Mode.DICTATION)
    assert field_text(dictate(fresh, "Replace the filter with a new one.")) == \
        "Replace the filter with a new one."


def test_no_space_modifier_alone_and_before_words(d: Dispatcher) -> None:
    got = dictate(d, "We like to.", "No space.", "Day.")
    assert field_text(got) == "We like today."
    assert field_text(got + dictate(d, "No space, ly.")) == "We like today.Ly."


def test_a_command_between_forgets_what_was_typed(builtins) -> None:
    d = Dispatcher(builtins)
    got = dictate(d, "type hello there", "type we should go")
    assert got == [TypeAction("hello there"), TypeAction("we should go")]  # as heard
    assert dictate(d, "select all") == [KeyAction("ctrl+a")]
    assert dictate(d, "type fresh") == [TypeAction("fresh")]  # no space: cursor unknown
    dictate(d, "start dictation", "Some words.")
    dictate(d, "stop dictation", "start dictation")
    assert dictate(d, "Scratch that.") == []  # a mode change forgets the stack


def test_another_window_forgets_and_a_long_gap_forgets_the_stack(builtins) -> None:
    d = Dispatcher(builtins, mode=Mode.DICTATION)
    d.dispatch(Transcript("In the editor."), "editor", start=1.0, end=2.0)
    assert d.dispatch(Transcript("Scratch that."), "browser", start=3.0).actions == ()
    d.dispatch(Transcript("Words."), "browser", start=4.0, end=5.0)
    late = 5.0 + FORGET_AFTER_S + 1
    assert d.dispatch(Transcript("Scratch that."), "browser", start=late).actions == ()
    assert d.dispatch(Transcript("More."), "browser", start=late + 1).actions == \
        (TypeAction(" More."),)  # joining goes on: a space too many is the worst case


def test_type_in_command_mode_types_as_heard(builtins) -> None:
    """The contract: `type TEXT` types TEXT as heard; between commands the cursor may
    have moved anywhere, so nothing is joined to the one before."""
    d = Dispatcher(builtins)
    d.dispatch(Transcript("type hello"), start=1.0, end=2.0)
    assert d.dispatch(Transcript("Type There."), start=3.0, end=4.0).actions == \
        (TypeAction("There"),)


def test_a_newline_the_recogniser_wrote_is_not_a_return(d: Dispatcher) -> None:
    assert dictate(d, "One\ntwo.") == [TypeAction("One two.")]


def test_ending_peels_commands_off_the_end() -> None:
    assert ending("All done period new paragraph stop dictation.") == \
        ("All done", ".\n\n", True)
    assert ending("A new line") == ("A new line", "", False)


def test_rendered_types_text_and_presses_return_for_newlines() -> None:
    assert rendered(" a\n\nb") == (TypeAction(" a"), KeyAction("enter", 2), TypeAction("b"))


def test_field_starts_unknown() -> None:
    assert Field().type_text("Hello.") == "Hello."


def test_typed_by_is_the_text_typed_or_none_for_anything_else() -> None:
    assert typed_by((TypeAction(" a"), KeyAction("enter", 2), TypeAction("b"))) == " a\n\nb"
    assert typed_by(()) == ""
    assert typed_by((TypeAction("a"), KeyAction("backspace"))) is None
    assert typed_by((TypeAction("a"), ModeAction(Mode.COMMAND))) is None


@pytest.mark.parametrize(("typed", "final", "keys"), [
    (" He was not an old-sposed man.", " He was not an ill-disposed man.",
     (KeyAction("backspace", len("old-sposed man.")), TypeAction("ill-disposed man."))),
    (" Rear center.", " Rear, center.",
     (KeyAction("backspace", len(" center.")), TypeAction(", center."))),
    (" Please send the report", " Please send the report before noon.",
     (TypeAction(" before noon."),)),  # nothing to delete: only what was missing
    (" The end. And more.", " The end.", (KeyAction("backspace", len(" And more.")),)),
    (" Same words.", " Same words.", ()),
    (" One", " One\nTwo", (KeyAction("enter"), TypeAction("Two"))),
])
def test_corrected_deletes_and_retypes_only_the_differing_tail(
        typed: str, final: str, keys: tuple[Action, ...]) -> None:
    fix = corrected(typed, rendered(final))
    assert fix == keys
    assert field_text([*rendered("Before."), *rendered(typed), *fix]) == "Before." + final


def test_corrected_deletes_all_it_typed_before_anything_but_typing() -> None:
    then = (KeyAction("backspace", 3), ModeAction(Mode.COMMAND))  # "scratch that", stopped
    assert corrected(" Scratch dat.", then) == \
        (KeyAction("backspace", len(" Scratch dat.")), *then)


def test_a_restored_dispatcher_is_as_if_the_early_typing_never_was(builtins) -> None:
    early, late = Dispatcher(builtins, mode=Mode.DICTATION), \
        Dispatcher(builtins, mode=Mode.DICTATION)
    for d in (early, late):
        d.dispatch(Transcript("Hello there."), "editor", start=1.0, end=2.0)
        d.dispatch(Transcript("No space."), "editor", start=3.0, end=3.5)
    saved = early.saved()
    first = early.dispatch(Transcript("You all."), "editor", start=4.0, end=5.0).actions
    early.restore(saved)
    final = early.dispatch(Transcript("Yall."), "editor", start=4.0, end=5.0).actions
    assert final == late.dispatch(Transcript("Yall."), "editor", start=4.0, end=5.0).actions
    assert final == (TypeAction("Yall."),)  # "no space" still holds for the final reading
    fix = corrected(typed_by(first) or "", final)
    # scratch that deletes what the final reading typed: the field holds just that
    scratch = early.dispatch(Transcript("Scratch that."), "editor", start=6.0).actions
    assert scratch == (KeyAction("backspace", len("Yall.")),)
    assert field_text([TypeAction("Hello there."), *first, *fix, *scratch]) == "Hello there."
