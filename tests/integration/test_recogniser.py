"""The real embedded model: n-best recognition, scoring candidates against the audio,
and the second tries of agent/recovery.py when nothing matched."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.asr.base import Hint
from agent.asr.whisper import WhisperTranscriber
from agent.audio.file_source import read_audio
from agent.config import CommandsConfig, Config
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.messages import KeyAction, Transcript, Utterance
from agent.paths import data_dir
from agent.recovery import Recovery, pick_candidate


def speak(text: str, folder: Path, voice: str = "en-us") -> bytes:
    """espeak-ng speech as 16 kHz mono s16le."""
    wav = folder / (text.replace(" ", "_") + ".wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    return read_audio(wav).tobytes()


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    transcriber = WhisperTranscriber(Config())
    transcriber.load()
    return transcriber


@pytest.fixture(scope="module")
def commands():
    return CommandLibrary([data_dir("commands")]).commands


def test_nbest_hypotheses_are_distinct_and_best_first(whisper, tmp_path) -> None:
    heard = whisper.transcribe(speak("open terminal", tmp_path), Hint(("open terminal",), 5))
    texts = [h.text for h in heard.alternatives]
    assert heard.text == texts[0]
    assert len(texts) == len(set(texts)) >= 2
    scores = [h.score for h in heard.alternatives]
    assert scores == sorted(scores, reverse=True)
    assert "terminal" in heard.text.lower()
    assert heard.backend == "whisper" and heard.seconds > 0


def test_the_words_said_explain_the_audio_best(whisper, tmp_path) -> None:
    pcm = speak("volume up", tmp_path)
    said, *others = whisper.score(pcm, Hint(), ["volume up", "volume down", "new tab",
                                                "volume", "volume up please"])
    assert all(said > other + 1.0 for other in others)


def test_scoring_counts_the_end_of_the_transcript(whisper, tmp_path) -> None:
    # a prefix of what was said must not score as well as all of it
    full, prefix = whisper.score(speak("select all then copy", tmp_path), Hint(),
                                 ["select all then copy", "select all"])
    assert full > prefix + 1.0  # without the end-of-transcript term the prefix wins


def test_pick_candidate_needs_the_margin() -> None:
    assert pick_candidate(["new tab", "next tab"], [-6.5, -9.0], -5.8, 1.0) == "new tab"
    assert pick_candidate(["new tab"], [-8.0], -5.8, 1.0) is None
    assert pick_candidate([], [], -5.8, 1.0) is None


def test_pipeline_verifies_a_near_miss_against_the_audio(whisper, commands, tmp_path) -> None:
    pcm = speak("new tab", tmp_path)
    recovery = Recovery(whisper, Dispatcher(commands), CommandsConfig(verify_margin=3.0))
    utt = Utterance(pcm, 0.0, 1.0)
    fixed = recovery.verified(utt, Hint(), Transcript("New camp."))
    assert fixed.text == "new tab"
    # ordinary speech is left alone, whatever the candidates
    speech = speak("the weather is nice today", tmp_path)
    kept = recovery.verified(Utterance(speech, 0.0, 2.0), Hint(),
                             Transcript("The weather is nice today."))
    assert kept.text == "The weather is nice today."


def test_a_forced_prefix_begins_the_transcript(whisper, tmp_path) -> None:
    heard = whisper.transcribe(speak("press escape", tmp_path),
                               Hint(("escape", "enter"), 3, prefix="Press"))
    assert all(h.text.startswith("Press") for h in heard.alternatives)
    assert "escape" in heard.text.lower()


def test_pipeline_decodes_a_key_command_again_focused_on_key_names(
        whisper, commands, tmp_path) -> None:
    recovery = Recovery(whisper, Dispatcher(commands), CommandsConfig(refocus=True))
    # what a first pass heard for "press tab" in a noisy dev session
    utt = Utterance(speak("press tab", tmp_path), 0.0, 1.0)
    fixed = recovery.refocused(utt, Transcript("Press time."))
    assert recovery.dispatcher.dispatch(fixed).actions == (KeyAction("tab"),)
    # a sentence that merely begins like the command is kept as heard: it matches nothing
    speech = speak("press the button on the left side firmly", tmp_path)
    kept = recovery.refocused(Utterance(speech, 0.0, 2.0),
                              Transcript("Press the button on the left side firmly."))
    assert kept.text == "Press the button on the left side firmly."


def test_an_utterance_heard_lower_becomes_the_command_it_was(whisper, commands,
                                                             tmp_path) -> None:
    recovery = Recovery(whisper, Dispatcher(commands),
                        CommandsConfig(refocus=False, verify_margin=0.0, rehear=("lower",)))
    pcm = speak("press tab", tmp_path, voice="en-gb-x-rp+f3")
    hint = Hint(tuple(recovery.dispatcher.vocabulary()), 5)
    first = whisper.transcribe(pcm, hint)
    assert not recovery.dispatcher.matches(first), first.text  # "Press term."
    again = recovery.recover(Utterance(pcm, 0.0, 1.0), hint, first)
    assert recovery.dispatcher.dispatch(again).actions == (KeyAction("tab"),)
    assert again.seconds > first.seconds  # both passes are counted
    # with rehearing off, nothing is tried
    off = Recovery(whisper, Dispatcher(commands),
                   CommandsConfig(refocus=False, verify_margin=0.0, rehear=()))
    assert off.recover(Utterance(pcm, 0.0, 1.0), hint, first) is first


def test_speech_heard_again_still_does_nothing(whisper, commands, tmp_path) -> None:
    recovery = Recovery(whisper, Dispatcher(commands), CommandsConfig(verify_margin=0.0))
    pcm = speak("my sister lives near the coast", tmp_path, voice="en-gb-x-rp+f3")
    hint = Hint(tuple(recovery.dispatcher.vocabulary()), 5)
    first = whisper.transcribe(pcm, hint)
    assert recovery.recover(Utterance(pcm, 0.0, 2.0), hint, first) is first
