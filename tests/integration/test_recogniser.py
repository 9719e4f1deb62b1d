"""The real embedded model: n-best recognition, scoring candidates against the audio, a
forced prefix (the second tries that use them are in test_decide.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.asr.base import Hint
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import read_audio
from agent.config import Config
from agent.dispatch.loader import CommandLibrary
from agent.paths import data_dir


def speak(text: str, folder: Path, voice: str = "en-us") -> bytes:
    """espeak-ng speech as 16 kHz mono s16le."""
    wav = folder / (text.replace(" ", "_") + ".wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    return read_audio(wav).tobytes()


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    transcriber = WhisperRecogniser(Config())
    transcriber.load()
    return transcriber


@pytest.fixture(scope="module")
def commands():
    return CommandLibrary([data_dir("commands")]).commands


def test_nbest_hypotheses_are_distinct_and_best_first(whisper, tmp_path) -> None:
    heard = whisper.hear(speak("open terminal", tmp_path)).decode(Hint(("open terminal",), 5))
    texts = [h.text for h in heard.alternatives]
    assert heard.text == texts[0]
    assert len(texts) == len(set(texts)) >= 2
    scores = [h.score for h in heard.alternatives]
    assert scores == sorted(scores, reverse=True)
    assert "terminal" in heard.text.lower()
    assert heard.backend == "whisper" and heard.seconds > 0


def test_the_words_said_explain_the_audio_best(whisper, tmp_path) -> None:
    pcm = speak("volume up", tmp_path)
    said, *others = whisper.hear(pcm).score(["volume up", "volume down", "new tab",
                                             "volume", "volume up please"], Hint())
    assert all(said > other + 1.0 for other in others)


def test_scoring_counts_the_end_of_the_transcript(whisper, tmp_path) -> None:
    # a prefix of what was said must not score as well as all of it
    full, prefix = whisper.hear(speak("select all then copy", tmp_path)).score(
        ["select all then copy", "select all"], Hint())
    assert full > prefix + 1.0  # without the end-of-transcript term the prefix wins


def test_a_forced_prefix_begins_the_transcript(whisper, tmp_path) -> None:
    heard = whisper.hear(speak("press escape", tmp_path)).decode(
        Hint(("escape", "enter"), 3, prefix="Press"))
    assert all(h.text.startswith("Press") for h in heard.alternatives)
    assert "escape" in heard.text.lower()
