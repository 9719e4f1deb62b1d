"""The joining rules (agent/dispatch/joining.py) on given texts: spacing, capitals, full
stops and the spoken modifiers, as the recogniser writes each utterance."""

from __future__ import annotations

import pytest

from agent.dispatch.joining import (
    cased,
    joined,
    keeps_capital,
    modified,
    no_space,
    sentence_ended,
    settle_stop,
    spaced,
)


def typed(*heard: str) -> str:
    """What a run of utterances types, joined one after another from an empty field."""
    out = ""
    for text in heard:
        out += joined(text, out[-8:])
    return out


@pytest.mark.parametrize(("heard", "want"), [
    (("So I think.", "We should go."), "So I think we should go."),
    (("Hello there.", "How are you?"), "Hello there. How are you?"),
    (("I went home and.", "Then I slept."), "I went home and then I slept."),
    (("Call me on.", "Monday."), "Call me on Monday."),
    (("I think.", "I know."), "I think I know."),
    (("We use the.", "NASA data."), "We use the NASA data."),
    (("Wait...", "What was that?"), "Wait what was that?"),
    (("Stop here!", "then go."), "Stop here! Then go."),
    (("One.", "2 more."), "One. 2 more."),
])
def test_utterances_join_up(heard: tuple[str, ...], want: str) -> None:
    assert typed(*heard) == want


@pytest.mark.parametrize(("text", "before", "want"), [
    (", and more", "word", ", and more"),
    ("? ", "word", "? "),
    ("next", "end.", " next"),
    ("next", "line\n", "next"),
    ("next", "(", "next"),
    ("next", "word ", "next"),
    ("next", "", "next"),
])
def test_one_space_between_none_before_punctuation(text: str, before: str, want: str) -> None:
    assert spaced(text, before) == want


def test_no_space_when_told() -> None:
    assert spaced("ing", "walk", space=False) == "ing"


@pytest.mark.parametrize(("before", "ended"), [
    ("", True), ("Done.", True), ("Really?", True), ('He said "stop."', True),
    ("Wow! ", True), ("line\n", True), ("so I think", False), ("one,", False),
])
def test_sentence_end(before: str, ended: bool) -> None:
    assert sentence_ended(before) is ended


@pytest.mark.parametrize(("text", "before", "want"), [
    ("We should go.", "so I think", "we should go."),
    ("I should go.", "so", "I should go."),
    ("I'm late.", "so", "I'm late."),
    ("OpenAI said so.", "and", "OpenAI said so."),
    ("Friday then.", "on", "Friday then."),
    ("the end", "Done.", "The end"),
    ("iPhone sales.", "Done.", "iPhone sales."),
    ('"Quoted" words', "said", '"quoted" words'),
    ("42 apples", "has", "42 apples"),
    ("hello there", "", "hello there"),
    ("Hello there", "", "Hello there"),
])
def test_capital_only_where_a_sentence_begins(text: str, before: str, want: str) -> None:
    assert cased(text, before) == want


@pytest.mark.parametrize(("word", "keeps"), [
    ("I", True), ("NASA", True), ("McDonald", True), ("Monday", True),
    ("The", False), ("We", False), ("May", False),
])
def test_words_that_keep_their_capital(word: str, keeps: bool) -> None:
    assert keeps_capital(word) is keeps


@pytest.mark.parametrize(("text", "want"), [
    ("So I think.", "So I think"),
    ("Go to the.", "Go to the"),
    ("We should.", "We should"),
    ("We should go.", "We should go."),
    ("Thank you.", "Thank you."),
    ("Is it and?", "Is it and?"),
    ("I was going to...", "I was going to"),
    ("Well\u2026", "Well"),
    ("Version 2.", "Version 2."),
])
def test_the_models_full_stop_kept_only_on_a_sentence(text: str, want: str) -> None:
    assert settle_stop(text) == want


@pytest.mark.parametrize(("text", "want"), [
    ("this is all caps very important, ok", "this is VERY IMPORTANT, ok"),
    ("All caps usb.", "USB."),
    ("meet cap paris there", "meet Paris there"),
    ("cap, john said", "John said"),
    ("a capital idea", "a capital idea"),
    ("all caps", "all caps"),
])
def test_spoken_modifiers(text: str, want: str) -> None:
    assert modified(text) == want


def test_no_space_modifier() -> None:
    assert no_space("No space, ing.") == ("ing.", True)
    assert no_space("Nothing to see") == ("Nothing to see", False)


def test_modifiers_through_the_whole_rule() -> None:
    assert joined("Cap paris is nice.", "we think") == " Paris is nice."
    assert joined("All caps nasa rocks.", "") == "NASA ROCKS."
