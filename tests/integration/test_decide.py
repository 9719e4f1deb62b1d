"""The decide stage on the real embedded model: second tries decode against the one
hearing of the utterance (agent/decide/), and speech that is not a command, or that the
recogniser doubts, does nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent.asr.base import Capabilities, Hint, ToolCall, Unsupported
from agent.asr.guard import degenerate
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import read_audio
from agent.config import Config
from agent.decide import Decider, Heard
from agent.decide.decider import surface_form
from agent.decide.second import pick_candidate
from agent.dispatch.config import CommandsConfig
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.messages import Hypothesis, KeyAction, Mode, Transcript, TypeAction, Utterance
from agent.paths import data_dir
from tests.integration.fixture_modules import load_fixture


def speak(text: str, folder: Path, voice: str = "en-us") -> bytes:
    """espeak-ng speech as 16 kHz mono s16le."""
    wav = folder / (text.replace(" ", "_")[:40] + voice.replace("+", "_") + ".wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    return read_audio(wav).tobytes()


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    recogniser = WhisperRecogniser(Config())
    recogniser.load()
    return recogniser


@pytest.fixture(scope="module")
def commands():
    return CommandLibrary([data_dir("commands")]).commands


def decider(whisper, commands, **cfg) -> Decider:
    return Decider(whisper, Dispatcher(commands), CommandsConfig(**cfg))


def heard(d: Decider, whisper, pcm: bytes, transcript: Transcript | None = None) -> Heard:
    """The utterance heard once, as the worker does; `transcript` stands for a first pass
    that went wrong (what a noisy session heard)."""
    hint = Hint(tuple(d.dispatcher.vocabulary()), 5)
    hearing = whisper.hear(pcm)
    first = transcript or hearing.decode(hint)
    return Heard(Utterance(pcm, 0.0, len(pcm) / 32000), hearing, first, hint)


def step(hint: Hint) -> str:
    """Which decode a hint asks for: "first" (with the vocabulary), "refocus" (from the
    command's words, key names only), "plain" (no prompt), each "wide" on the full window."""
    kind = "plain" if not hint.phrases else "refocus" if hint.prefix else "first"
    return f"{kind} wide" if hint.thorough else kind


class GivenHearing:
    """A hearing whose readings are given, so that a second try's rule is tested whatever
    words a CPU's numerics make tiny.en give: decode() reads `readings[step(hint)]` (the
    first reading when the step is not listed), score() reads `scores` on the fitted or
    (thorough) the full window; a text not listed scores -30 (explains nothing)."""

    def __init__(self, first: str, readings: dict[str, tuple[str, ...]] | None = None,
                 fitted: dict[str, float] | None = None,
                 full: dict[str, float] | None = None) -> None:
        self.first, self.readings = first, readings or {}
        self.scores = {False: fitted or {}, True: full or {}}
        self.asked: list[str] = []
        """The steps decoded or scored, in order ("score", "score wide" for scores)."""

    def decode(self, hint: Hint) -> Transcript:
        self.asked.append(step(hint))
        texts = self.readings.get(step(hint), (self.first,))
        return Transcript(texts[0], alternatives=tuple(
            Hypothesis(t, -0.2 - 0.1 * i) for i, t in enumerate(texts)), backend="whisper",
                          seconds=0.1)

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        self.asked.append("score wide" if hint.thorough else "score")
        return [self.scores[hint.thorough].get(t, -30.0) for t in texts]

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        raise Unsupported("no intent")


class GivenRecogniser:
    """Hears every piece of audio as `hearing` does (an audio variant as `again`)."""

    name = "whisper"
    capabilities = Capabilities(nbest=True, prefix=True, score=True, peek=True)

    def __init__(self, hearing: GivenHearing, again: GivenHearing | None = None) -> None:
        self.hearing, self.again = hearing, again

    def hear(self, pcm: bytes) -> GivenHearing:
        return self.again or self.hearing


def given(hearing: GivenHearing, commands, again: GivenHearing | None = None,
          **cfg) -> tuple[Decider, Heard]:
    """A decider on `hearing` (an audio variant heard as `again`) and the utterance it
    heard first (one second of silence)."""
    d = Decider(GivenRecogniser(hearing, again), Dispatcher(commands), CommandsConfig(**cfg))
    hint = Hint(tuple(d.dispatcher.vocabulary()), 5)
    first = hearing.decode(hint)
    hearing.asked.clear()
    return d, Heard(Utterance(bytes(32000), 0.0, 1.0), hearing, first, hint)


def test_pick_candidate_needs_the_margin() -> None:
    assert pick_candidate(["new tab", "next tab"], [-6.5, -9.0], -5.8, 1.0) == "new tab"
    assert pick_candidate(["new tab"], [-8.0], -5.8, 1.0) is None
    assert pick_candidate([], [], -5.8, 1.0) is None


@pytest.mark.parametrize(("said", "keys", "voice"), [
    ("press control shift t", "ctrl+shift+t", "en"), ("press control shift t", "ctrl+shift+t",
                                                      "en-us"),
    ("press alt f four", "alt+f4", "en"), ("press letter b", "b", "en-us"),
])
def test_the_key_pressed_is_the_one_said_or_none(whisper, commands, tmp_path, said: str,
                                                 keys: str, voice: str) -> None:
    """espeak-ng's default voice says "press control shift t" so that tiny.en writes "D"
    (issue 17): scored against the hearing with T in its place, D must not win in every
    form, so nothing is pressed rather than a key nobody said; when asked, the said key is
    named."""
    d = decider(whisper, commands)
    found, decision = d.decide(heard(d, whisper, speak(said, tmp_path, voice)))
    assert decision.actions in ((KeyAction(keys),), ()), (found.text, decision)
    if decision.question:
        assert keys in decision.question and not decision.actions, decision


def test_a_near_miss_is_verified_against_the_hearing(whisper, commands, tmp_path) -> None:
    d = decider(whisper, commands, verify_margin=3.0)
    fixed = d.tries.verified(heard(d, whisper, speak("new tab", tmp_path), Transcript("New camp.")))
    assert fixed.text == "new tab"
    # ordinary speech is left alone, whatever the candidates
    said = Transcript("The weather is nice today.")
    kept = d.tries.verified(heard(d, whisper, speak("the weather is nice today", tmp_path), said))
    assert kept is said


def test_a_key_command_is_decoded_again_focused_on_key_names(whisper, commands,
                                                             tmp_path) -> None:
    d = decider(whisper, commands, refocus=True)
    fixed = d.tries.refocused(heard(d, whisper, speak("press tab", tmp_path),
                                    Transcript("Press time.")))
    assert d.dispatcher.dispatch(fixed).actions == (KeyAction("tab"),)
    # a sentence that merely begins like the command is kept as heard: it matches nothing
    said = Transcript("Press the button on the left side firmly.")
    speech = speak("press the button on the left side firmly", tmp_path)
    assert d.tries.refocused(heard(d, whisper, speech, said)) is said


def test_a_key_command_refocused_in_vain_is_refocused_on_the_full_window(commands) -> None:
    """"press alt f four" under white noise, heard "press out at 4,", and refocused on the
    fitted window "Press out F4." (no n-best matches): only the 30 s window hears alt+f4."""
    alone = {"verify_margin": 0.0, "rehear": ()}
    hearing = GivenHearing("press out at 4,", {"refocus": ("Press out F4.", "Press out at 4."),
                                               "refocus wide": ("Press alt F4.",)},
                           fitted={"Press alt F4.": -2.0})  # the key check: F4 clearly
    fitted_only, h = given(hearing, commands, retry_wide=False, **alone)
    kept, nothing = fitted_only.decide(h)
    assert kept is h.transcript and nothing.actions == (), kept.text
    assert hearing.asked == ["refocus"]  # refocus used the fitted window only

    d, h = given(hearing, commands, **alone)
    found, decision = d.decide(h)
    assert decision.actions == (KeyAction("alt+f4"),), found.text
    assert hearing.asked == ["refocus", "refocus wide", "score"]  # score: the key check
    assert found.seconds > h.transcript.seconds  # both decodes are counted


def test_a_near_miss_missed_on_the_fitted_window_is_verified_on_the_full_one(
        commands) -> None:
    """"press backspace" under white noise, heard "Press mark space.": scored on the fitted
    window, "press back space" falls outside the margin; on the full window it is taken."""
    alone = {"refocus": False, "rehear": ()}
    hearing = GivenHearing("Press mark space.", fitted={"press mark space": -4.0,
                                                        "press back space": -9.0},
                           full={"press mark space": -6.0, "press back space": -7.0})
    d, h = given(hearing, commands, **alone)
    assert not d.dispatcher.matches(h.transcript)
    assert d.tries.verified(h) is h.transcript
    assert d.dispatcher.dispatch(d.tries.verified(h, thorough=True)).actions == \
        (KeyAction("backspace"),)
    # in decide(): the full window's try comes after the fitted one's, and only with it on
    hearing.asked.clear()
    found, decision = given(hearing, commands, **alone)[0].decide(h)
    assert decision.actions == (KeyAction("backspace"),), found.text
    assert hearing.asked == ["score", "score wide"]
    kept, nothing = given(hearing, commands, retry_wide=False, **alone)[0].decide(h)
    assert kept is h.transcript and nothing.actions == ()


def test_a_second_try_in_noise_never_presses_a_key_that_was_not_said(whisper,
                                                                    commands) -> None:
    """The real model on the noisy clips above: whatever the first pass and the second tries
    hear (the CPU's business), what is pressed is the key said, or nothing."""
    clips = load_fixture("hard_clips")
    for said, seed, key in (("press alt f four", 1, "alt+f4"), ("press backspace", 2,
                                                                 "backspace")):
        pcm = clips.noisy(said, "white", 20.0, seed=seed).tobytes()
        d = decider(whisper, commands)
        found, decision = d.decide(heard(d, whisper, pcm))
        assert decision.actions in ((), (KeyAction(key),)), (said, found.text)


def test_an_utterance_heard_lower_becomes_the_command_it_was(commands) -> None:
    # espeak's en-gb-x-rp+f3 "press tab" was heard "Press term.", and "Press tab." lower
    hearing, lower = GivenHearing("Press term."), GivenHearing("Press tab.")
    alone = {"refocus": False, "verify_margin": 0.0}
    d, h = given(hearing, commands, lower, rehear=("lower",), **alone)
    assert not d.dispatcher.matches(h.transcript)
    again, decision = d.decide(h)
    assert decision.actions == (KeyAction("tab"),)
    assert lower.asked == ["first"]  # the variant was heard and decoded once
    assert again.seconds > h.transcript.seconds  # both passes are counted
    # at a pause, the same second try finds it, and decide() then takes it as found
    fresh = given(hearing, commands, lower, rehear=("lower",), **alone)[0]
    settled = fresh.settled(h)
    assert settled is not None and fresh.dispatcher.dispatch(settled).actions == \
        (KeyAction("tab"),)
    assert fresh.decide(h)[0] is settled
    assert lower.asked == ["first", "first"]  # decide() did not hear it again
    # with rehearing off, nothing is tried
    kept, nothing = given(hearing, commands, lower, rehear=(), **alone)[0].decide(h)
    assert kept is h.transcript and nothing.actions == ()
    assert lower.asked == ["first", "first"]


def test_speech_heard_again_still_does_nothing(whisper, commands, tmp_path) -> None:
    d = decider(whisper, commands)
    h = heard(d, whisper, speak("my sister lives near the coast", tmp_path,
                                voice="en-gb-x-rp+f3"))
    transcript, decision = d.decide(h)
    assert decision.actions == () and decision.command is None, transcript.text


def test_a_doubted_transcript_never_acts(whisper, commands, tmp_path) -> None:
    d = decider(whisper, commands)
    h = heard(d, whisper, speak("open terminal", tmp_path))
    assert d.decide(h)[1].command == "open terminal"  # heard right, it acts ...
    d.dispatcher.set_mode(Mode.COMMAND)
    doubted = replace(h, transcript=replace(h.transcript, doubt="too few words"))
    _, decision = d.decide(doubted)  # ... but not once it is doubted
    assert decision.actions == () and decision.command is None
    assert decision.note == "doubted: too few words"


def test_unbroken_talk_never_acts_in_command_mode(whisper, commands, tmp_path) -> None:
    # the piece after a cut at max_utterance_s: heard as a command, it is still talk
    d = decider(whisper, commands)
    h = heard(d, whisper, speak("save file", tmp_path))
    assert d.decide(h)[1].command == "save file"
    cut = replace(h, utterance=replace(h.utterance, unbroken=True))
    _, decision = d.decide(cut)
    assert decision.actions == () and decision.note.startswith("doubted: part of unbroken")
    d.dispatcher.set_mode(Mode.DICTATION)  # dictation of a long stretch is still typed
    _, typed = d.decide(cut)
    assert typed.actions and isinstance(typed.actions[0], TypeAction)


def test_free_text_is_taken_from_the_decode_without_the_prompt(commands) -> None:
    # the vocabulary prompt pulls free words toward command words: with it espeak's
    # "type thanks for the update" was heard "type, thanks for a little update."
    hearing = GivenHearing("type, thanks for a little update.",
                           {"plain wide": ("Type thanks for the update.",)})
    prompted, h = given(hearing, commands, free_text="first")
    assert "little" in prompted.decide(h)[1].actions[0].text  # type: ignore[union-attr]
    assert hearing.asked == []
    d = given(hearing, commands, free_text="plain")[0]
    transcript, decision = d.decide(h)
    assert decision.command is not None and decision.command.startswith("type")
    assert decision.actions == (TypeAction("thanks for the update"),), transcript
    assert hearing.asked == ["plain wide"]  # after "Type", without the prompt, on 30 s
    assert transcript.seconds > h.transcript.seconds  # the second decode is counted


def test_free_text_decoded_again_by_the_real_model_is_typed(whisper, commands,
                                                            tmp_path) -> None:
    pcm = speak("type thanks for the update", tmp_path)
    d = decider(whisper, commands, free_text="plain")
    h = heard(d, whisper, pcm)
    transcript, decision = d.decide(h)
    assert decision.command is not None and decision.command.startswith("type"), transcript
    (typed,) = decision.actions
    assert isinstance(typed, TypeAction) and typed.text, decision
    assert not degenerate(typed.text, len(pcm) / 32000)
    assert transcript.seconds > h.transcript.seconds  # the second decode ran


def test_the_plain_decode_keeps_the_command_it_was(whisper, commands, tmp_path) -> None:
    # a formatter's words still come from the prompted decode; only the text follows them
    d = decider(whisper, commands)
    _, decision = d.decide(heard(d, whisper, speak("camel case get value", tmp_path, "en-us")))
    assert decision.command is not None and decision.command.startswith("camel case")


def test_readings_are_compared_by_their_words() -> None:
    assert surface_form("All caps, stop here.") == surface_form("all caps stop here") \
        == "All caps stop here"
    assert surface_form("snake case I'll pass") != surface_form("snake case ill pass")


@pytest.mark.parametrize(("first", "plain", "scores", "typed"), [
    ("All caps, stop here.", "All caps stopped here.",
     {"All caps stop here.": -3.0, "All caps stopped here.": -5.0}, "STOP HERE"),
    ("All caps red, mute.", "All caps read me.",
     {"All caps red mute.": -6.0, "All caps read me.": -3.0}, "READ ME")])
def test_the_best_reading_of_free_text_is_taken(commands, first, plain, scores,
                                                 typed) -> None:
    # espeak's "all caps stop here" was "stopped here" without the prompt, and its "all
    # caps read me" "red, mute" with it: each reading loses one, "best" takes neither
    # loss (bench/free_text.py)
    hearing = GivenHearing(first, {"plain wide": (plain,)}, fitted=scores)
    got = {}
    for how in ("first", "plain", "best"):
        d, h = given(hearing, commands, free_text=how)
        _, decision = d.decide(h)
        assert decision.command is not None and decision.command.startswith("all caps")
        got[how] = decision.actions
    assert got["best"] == (TypeAction(typed),)
    assert (TypeAction(typed),) in (got["first"], got["plain"])
    assert got["first"] != got["plain"]  # one of them lost it


def test_the_real_model_takes_a_reading_of_free_text(whisper, commands, tmp_path) -> None:
    pcm = speak("all caps stop here", tmp_path)
    d = decider(whisper, commands, free_text="best")
    _, decision = d.decide(heard(d, whisper, pcm))
    assert decision.command is not None and decision.command.startswith("all caps")
    (typed,) = decision.actions
    assert isinstance(typed, TypeAction) and typed.text and typed.text == typed.text.upper()


def test_what_may_end_at_a_longer_pause(whisper, commands, tmp_path) -> None:
    """settled(): a command with no free text, as heard or found on a second try, may
    end the utterance at settle_ms; free text, talk, doubt, a cut, dictation and a
    pending yes never do."""
    d = decider(whisper, commands, verify_margin=3.0)
    escape = heard(d, whisper, speak("press escape", tmp_path))
    assert d.settled(escape) is escape.transcript  # a count could follow: still a command
    near = heard(d, whisper, speak("new tab", tmp_path), Transcript("New camp."))
    found = d.settled(near)  # found on a second try (verified against the hearing)
    assert found is not None and d.dispatcher.dispatch(found).command == "new tab"
    d.dispatcher.set_mode(Mode.COMMAND)
    typed = heard(d, whisper, speak("type hello world", tmp_path))
    assert d.dispatcher.matches(typed.transcript) and d.settled(typed) is None
    talk = heard(d, whisper, speak("my sister lives near the coast", tmp_path))
    assert d.settled(talk) is None
    assert d.settled(replace(escape, transcript=replace(escape.transcript, doubt="x"))) is None
    assert d.settled(replace(escape, utterance=replace(escape.utterance, unbroken=True))) \
        is None
    d.dispatcher.set_mode(Mode.DICTATION)
    assert d.settled(escape) is None
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "risky.toml").write_text(
        '[commands]\n"shut it down" = { do = "key ctrl+alt+delete", confirm = true }\n')
    d = Decider(whisper, Dispatcher(CommandLibrary([data_dir("commands"), mine]).commands),
                CommandsConfig())
    asked = d.dispatcher.dispatch(Transcript("Shut it down."))
    assert asked.actions == () and d.dispatcher.awaiting  # it asks first
    assert d.settled(escape) is None  # what comes next is the answer
