"""Keys that were not said: a key command whose key another sounds like acts only when the
hearing clearly prefers one (agent/dispatch/keydoubt.py, Decider.key_checked).  The
hearings here are constructed: their readings and scores are given, never a model's."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from agent.asr.base import Capabilities, Hint, RecognitionError, ToolCall, Unsupported
from agent.decide import Decider, Heard
from agent.decide.keys import KEY_MARGIN, in_doubt
from agent.dispatch.config import CommandsConfig
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import Command
from agent.dispatch.vocabulary import KEY_NAMES, confusable_keys
from agent.messages import Decision, Hypothesis, KeyAction, Mode, Outcome, Transcript, Utterance


class Given:
    """A hearing whose reading and scores are given: decode() gives `heard`, score() looks
    each text up in `scores` (a text not given is an error) and notes what it was asked."""

    def __init__(self, heard: str, scores: Mapping[str, float] | None = None,
                 fails: bool = False) -> None:
        self.transcript = Transcript(heard, (Hypothesis(heard, -0.2),), backend="given")
        self.scores = dict(scores or {})
        self.fails = fails
        self.scored: list[list[str]] = []

    def decode(self, hint: Hint) -> Transcript:
        return self.transcript

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        self.scored.append(list(texts))
        if self.fails:
            raise RecognitionError("scoring failed")
        return [self.scores[t] for t in texts]

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        raise Unsupported("no intent")


class Recogniser:
    """Only what the decide stage reads: the name and the capabilities."""

    name = "given"

    def __init__(self, score: bool = True) -> None:
        self.capabilities = Capabilities(nbest=True, prefix=True, score=score)

    def hear(self, pcm: bytes) -> Any:
        raise AssertionError("a command that matched is not heard again")


def decide(builtins: tuple[Command, ...], hearing: Given,
           score: bool = True) -> tuple[Transcript, Decision]:
    d = Decider(Recogniser(score), Dispatcher(builtins), CommandsConfig())
    utt = Utterance(b"\0\0" * 16000, 0.0, 1.0)
    return d.decide(Heard(utt, hearing, hearing.transcript, Hint(("press",), 5)))


def letters(heard: str, **scores: tuple[float, float]) -> dict[str, float]:
    """Scores for `heard` ("Press control shift {}.") with each letter written as a capital
    and as its name: d=(capital's, name's)."""
    names = {"b": "bee", "d": "dee", "m": "em", "n": "en", "p": "pee", "t": "tee"}
    return {heard.format(w): score for key, pair in scores.items()
            for w, score in zip((key.upper(), names[key]), pair, strict=True)}


def test_a_key_the_hearing_clearly_prefers_is_pressed(builtins) -> None:
    """Scored as a capital and as the letter's name: D wins in both, and by the margin."""
    scores = letters("Press control shift {}.", d=(-3.0, -4.0), t=(-3.5, -3.6 - KEY_MARGIN))
    hearing = Given("Press control shift D.", scores)
    _, decision = decide(builtins, hearing)
    assert decision.actions == (KeyAction("ctrl+shift+d"),)
    assert hearing.scored == [["Press control shift D.", "Press control shift dee.",
                               "Press control shift T.", "Press control shift tee."]]


def test_a_confusable_key_that_clearly_wins_is_pressed_instead(builtins) -> None:
    """"alt f four" heard as alt+f1: the same words with F4 explain the audio far better."""
    scores = {f"Press alt F{n}.": -15.0 for n in range(1, 13)}
    scores |= {"Press alt F1.": -6.0, "Press alt F4.": -6.0 + KEY_MARGIN + 0.5}
    found, decision = decide(builtins, Given("Press alt F1.", scores))
    assert decision.actions == (KeyAction("alt+f4"),)
    assert found.text == "Press alt F4." and decision.question == ""


def test_a_near_tie_does_nothing_and_says_what_was_heard(builtins, caplog) -> None:
    caplog.set_level(logging.INFO, "agent.decide")
    hearing = Given("Press control shift D.", letters(
        "Press control shift {}.", d=(-3.0, -5.0), t=(-4.0, -4.0 - KEY_MARGIN / 2)))
    found, decision = decide(builtins, hearing)
    assert (decision.command, decision.actions, decision.mode) == (None, (), Mode.COMMAND)
    assert decision.question == "did you mean ctrl+shift+d or ctrl+shift+t?"
    line = Outcome(Utterance(b"", 0.0, 1.0), found, decision).to_json()
    assert line["actions"] == [] and line["note"] == decision.question
    assert "in doubt" in caplog.text


def test_a_digit_and_the_f_key_of_that_number_are_confusable(builtins) -> None:
    """"alt f four" heard as "alt 4": alt+f4 is scored too, and a tie presses nothing."""
    hearing = Given("Press Alt 4.", {"Press Alt 4.": -4.0, "Press Alt F4.": -4.5})
    _, decision = decide(builtins, hearing)
    assert hearing.scored == [["Press Alt 4.", "Press Alt F4."]]
    assert decision.actions == () and "alt+f4" in decision.question


def test_only_the_key_is_written_again(builtins) -> None:
    """"letter", the modifiers and the count stay as heard."""
    scores = letters("Press letter {} three times.", b=(-3.0, -4.0), p=(-9.0, -5.0))
    hearing = Given("Press letter B three times.", scores)
    _, decision = decide(builtins, hearing)
    assert decision.actions == (KeyAction("b", 3),)
    assert hearing.scored == [list(scores)]


@pytest.mark.parametrize(("heard", "keys"), [
    ("Press escape.", "escape"), ("Press control shift tango.", "ctrl+shift+t"),
    ("press alpha", "a"), ("Press bravo twice.", "b"), ("Press control W.", "ctrl+w"),
    ("New tab.", "ctrl+t"),
])
def test_keys_nothing_sounds_like_and_spelled_letters_are_not_in_doubt(
        builtins, heard: str, keys: str) -> None:
    hearing = Given(heard)
    _, decision = decide(builtins, hearing)
    assert decision.actions[0] == KeyAction(keys, 2 if "twice" in heard else 1)
    assert hearing.scored == []


def test_without_scoring_or_when_it_fails_the_key_heard_is_pressed(builtins, caplog) -> None:
    """A recogniser that cannot score (Voxtral) acts as before; so does a failed scoring,
    with a warning."""
    hearing = Given("Press control shift D.")
    assert decide(builtins, hearing, score=False)[1].actions == (KeyAction("ctrl+shift+d"),)
    assert hearing.scored == []
    failing = Given("Press control shift D.", fails=True)
    assert decide(builtins, failing)[1].actions == (KeyAction("ctrl+shift+d"),)
    assert any(r.levelname == "WARNING" and "could not check the key" in r.getMessage()
               for r in caplog.records)


def test_in_doubt_by_the_margin_or_in_any_form() -> None:
    assert in_doubt([[-3.0], [-9.0], [-4.0]], 2.0) == [0, 2]
    assert in_doubt([[-3.0], [-9.0], [-1.0]], 1.5) == [2]
    assert in_doubt([[-5.0]], 2.0) == [0]
    assert in_doubt([[-1.0, -6.0], [-4.0, -9.0]], 2.0) == [0]  # best in both, by 6 in sum
    assert in_doubt([[-1.0, -9.0], [-5.0, -8.0]], 2.0) == [0, 1]  # by 3, but not as a name


def test_forms_that_disagree_press_nothing(builtins) -> None:
    """espeak's "press control shift t": written as a capital the hearing prefers D, as
    the letter's name "tee"; whatever the sum, nothing is pressed."""
    scores = letters("press control shift {},", d=(-1.0, -9.0), t=(-6.0, -5.0))
    _, decision = decide(builtins, Given("press control shift d,", scores))
    assert decision.actions == () and decision.question == \
        "did you mean ctrl+shift+d or ctrl+shift+t?"


def test_confusable_keys_go_both_ways_but_a_digit_may_be_an_f_key() -> None:
    assert set(confusable_keys("t")) == {"d"} and set(confusable_keys("m")) == {"n"}
    assert "f4" in confusable_keys("f1") and "4" not in confusable_keys("f4")
    assert confusable_keys("4") == ("f4",) and confusable_keys("escape") == ()
    for key in KEY_NAMES:
        for other in confusable_keys(key):
            one_way = key.isdigit() and other == f"f{key}"  # an "f" lost, never one added
            assert other in KEY_NAMES and (one_way or key in confusable_keys(other)), key


def test_the_spelling_alphabet_names_letters(builtins) -> None:
    d = Dispatcher(builtins)
    for said, keys in (("press alpha", "a"), ("press control shift tango", "ctrl+shift+t"),
                       ("Press Alt Foxtrot.", "alt+f"), ("press x ray", "x"),
                       ("press letter mike twice", "m")):
        decision = d.dispatch(Transcript(said))
        assert [a.keys for a in decision.actions if isinstance(a, KeyAction)] == [keys], said


def test_an_f_key_heard_is_not_scored_as_the_bare_digit(builtins) -> None:
    scores = {f"Press F{n}.": -15.0 for n in range(1, 13)} | {"Press F5.": -3.0}
    hearing = Given("Press F5.", scores)
    _, decision = decide(builtins, hearing)
    assert decision.actions == (KeyAction("f5"),)
    assert "Press 5." not in hearing.scored[0]
