"""Which reading of dictated free text is typed (`commands.free_text = "best"`,
agent/decide/decider.py): decoder output the test gives (a Hearing whose readings and scores are
set here), so the rule is tested whatever words the model would hear on this CPU."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from agent.actions.dryrun import DryRunExecutor
from agent.asr.base import Capabilities, Hint
from agent.decide import Decider, Heard
from agent.decide.decider import surface_form
from agent.dispatch.config import CommandsConfig
from agent.dispatch.dispatcher import Dispatcher
from agent.messages import Decision, Hypothesis, Mode, Transcript, TypeAction, Utterance
from agent.worker import Worker

PASSWORD = "That is not a valid password."
PASSWORD_AGAIN = "That is not a valid password. Please try again."


@dataclass
class GivenHearing:
    """One utterance as a recogniser might hear it: `first` with the vocabulary prompt,
    `plain` (and its n-best) without; `scores` per surface form, log P(text | audio)."""

    first: Transcript
    plain: Transcript
    scores: dict[str, float]
    scored: list[str] = field(default_factory=list)

    def decode(self, hint: Hint) -> Transcript:
        return self.first if hint.phrases else self.plain

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        self.scored += texts
        return [self.scores[surface_form(t)] for t in texts]

    def intent(self, text, tools):  # pragma: no cover - not asked for
        raise AssertionError("no intent in dictation")


class Recogniser:
    name = "given"
    capabilities = Capabilities(nbest=True, prefix=True, score=True)


def heard_plain(text: str, *nbest: str) -> Transcript:
    return Transcript(text, tuple(Hypothesis(t, -0.5) for t in (text, *nbest)), "given")


def dictated(builtins, hearing: GivenHearing, seconds: float = 4.0) -> Decision:
    """The decision on this hearing in dictation, made as the pipeline makes it."""
    dispatcher = Dispatcher(builtins)
    dispatcher.set_mode(Mode.DICTATION)
    d = Decider(Recogniser(), dispatcher, CommandsConfig(free_text="best"))
    hint = Hint(tuple(dispatcher.vocabulary()), 5)
    pcm = bytes(int(32000 * seconds))
    return d.decide(Heard(Utterance(pcm, 0.0, seconds), hearing, hearing.first, hint))[1]


def typed(builtins, hearing: GivenHearing, seconds: float = 4.0) -> str:
    """What dictation types for this hearing."""
    decision = dictated(builtins, hearing, seconds)
    assert len(decision.actions) == 1 and isinstance(decision.actions[0], TypeAction)
    return decision.actions[0].text


def test_a_reading_that_drops_a_sentence_the_plain_decode_heard_is_not_typed(
        builtins, caplog) -> None:
    # issue 17: the shorter reading's total log-probability was higher (-2.87 > -4.56)
    hearing = GivenHearing(heard_plain(PASSWORD), heard_plain(PASSWORD_AGAIN),
                           {surface_form(PASSWORD): -2.87,
                            surface_form(PASSWORD_AGAIN): -4.56})
    with caplog.at_level(logging.INFO, logger="agent.decide"):
        assert typed(builtins, hearing) == PASSWORD_AGAIN
    assert hearing.scored == []  # the shorter one is left out unscored: nothing to weigh
    assert "3 words fewer than the plain decode" in caplog.text  # ... and the log says why


def test_an_n_best_reading_that_drops_words_is_not_typed_either(builtins) -> None:
    plain = "Send the report to Anna and Bob today."
    hearing = GivenHearing(heard_plain(plain),
                           heard_plain(plain, "Send the report to Anna today."),
                           {surface_form(plain): -5.0,
                            surface_form("Send the report to Anna today."): -1.0})
    assert typed(builtins, hearing) == plain


def test_readings_are_weighed_per_word(builtins) -> None:
    # the plain decode missed "and Bob", which the prompted one heard: its total is lower
    # only because it says more; per word (and the end) the hearing explains it better
    first, plain = "Send it to Anna and Bob.", "Send it to Anna."
    hearing = GivenHearing(heard_plain(first), heard_plain(plain),
                           {surface_form(first): -3.9, surface_form(plain): -3.0})
    assert typed(builtins, hearing) == first
    worse = GivenHearing(heard_plain(first), heard_plain(plain),
                         {surface_form(first): -4.5, surface_form(plain): -3.0})
    assert typed(builtins, worse) == plain  # -4.5 / 7 is worse than -3.0 / 5


def test_a_runaway_reading_never_wins_however_well_it_scores(builtins, caplog) -> None:
    loop = PASSWORD_AGAIN + " Please try again." * 4
    hearing = GivenHearing(heard_plain(PASSWORD), heard_plain(PASSWORD_AGAIN, loop),
                           {surface_form(PASSWORD): -2.87,
                            surface_form(PASSWORD_AGAIN): -4.56,
                            surface_form(loop): -4.6})  # a loop is cheap per word
    with caplog.at_level(logging.INFO, logger="agent.decide"):
        assert typed(builtins, hearing) == PASSWORD_AGAIN
    assert "'please try again' repeated" in caplog.text


@pytest.mark.parametrize("doubt", ["'please try again' repeated",
                                   "low confidence (log-prob -1.70 per token)"])
def test_a_doubted_longer_plain_decode_leaves_the_shorter_reading(builtins, doubt) -> None:
    # the plain decode is the reference for the words the audio holds only while the
    # guard does not doubt it: a doubted one (a runaway, a hallucination) is not taken
    runaway = PASSWORD_AGAIN + " Please try again." * 4
    plain = Transcript(runaway, (Hypothesis(runaway, -0.2),), "given", doubt=doubt)
    hearing = GivenHearing(heard_plain(PASSWORD), plain, {})
    assert typed(builtins, hearing) == PASSWORD
    assert hearing.scored == []


UNLIKELY = "speech unlikely (no-speech 0.64, log-prob -1.35)"


def doubted(text: str, doubt: str = UNLIKELY) -> Transcript:
    return Transcript(text, (Hypothesis(text, -1.35),), "given", doubt=doubt)


def test_a_spelled_letter_doubted_with_the_prompt_is_typed_as_heard_without_it(
        builtins, caplog) -> None:
    # issue 17: a spelled clip typed nothing.  The prompt makes a lone letter look like
    # no speech; the decode without it, which dictation types, is not doubted
    hearing = GivenHearing(doubted("B."), heard_plain("B."), {"B": -2.4})
    with caplog.at_level(logging.INFO, logger="agent.decide"):
        assert typed(builtins, hearing, seconds=0.8) == "B."
    assert f"heard 'B.', doubted ({UNLIKELY}); without the prompt 'B.': not doubted, taken" \
        in caplog.text


@pytest.mark.parametrize(("plain", "why"), [
    (doubted("Beep!", "speech unlikely (no-speech 0.63, log-prob -1.21)"),
     "speech unlikely (no-speech 0.63, log-prob -1.21)"),
    (heard_plain(""), "nothing heard"),
    (heard_plain("Stop dictation."), "heard as a command")])
def test_a_doubted_letter_still_doubted_without_the_prompt_types_nothing_and_says_why(
        builtins, caplog, plain, why) -> None:
    hearing = GivenHearing(doubted("3."), plain, {})
    with caplog.at_level(logging.INFO, logger="agent.decide"):
        decision = dictated(builtins, hearing, seconds=0.8)
    assert decision.actions == () and decision.mode is Mode.DICTATION
    assert decision.note == f"doubted: {UNLIKELY}"
    assert f"doubted too ({why})" in caplog.text


def test_readings_that_differ_only_in_punctuation_are_typed_without_scoring(builtins) -> None:
    # scoring is a forced decode over the whole window: with one surface form there is
    # nothing to choose, and the text is typed without waiting for it (no score is given
    # here: a scoring would fail the test)
    hearing = GivenHearing(heard_plain("Send it today."), heard_plain("send it, today"), {})
    assert typed(builtins, hearing) == "Send it today."
    assert hearing.scored == []


@pytest.mark.parametrize(("mode", "free_text", "wide"), [
    (Mode.DICTATION, "best", True), (Mode.DICTATION, "plain", True),
    (Mode.DICTATION, "first", False), (Mode.COMMAND, "best", False)])
def test_dictation_is_heard_on_the_full_window_when_its_free_text_is_decoded_there(
        builtins, mode, free_text, wide) -> None:
    # the free-text decode and the scoring are on the full window: a first decode on the
    # fitted one would cost one more encoding ("first" makes no second decode)
    asked: list[Hint] = []

    class Spied(Recogniser):
        def hear(self, pcm: bytes) -> GivenHearing:
            hearing = GivenHearing(heard_plain("Send it."), heard_plain("Send it."), {})
            hearing.decode = lambda hint: asked.append(hint) or hearing.first  # type: ignore
            return hearing

    dispatcher = Dispatcher(builtins)
    dispatcher.set_mode(mode)
    decider = Decider(Spied(), dispatcher, CommandsConfig(free_text=free_text))
    Worker(Spied(), decider, DryRunExecutor()).hear(Utterance(bytes(32000), 0.0, 1.0))
    assert [hint.thorough for hint in asked] == [wide]
