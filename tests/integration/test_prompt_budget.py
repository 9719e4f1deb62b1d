"""The vocabulary prompt with many commands (issue 18 item 12). Whisper's prompt keeps
the last 200 tokens of the vocabulary; the user's own phrases come first in it, so a
thousand of them no longer push the built-ins ("copy") and the words for captures
("control", "escape") out, as they did when the built-ins came first. On the embedded
model's own tokenizer."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from agent.actions.launch import app_names
from agent.asr.whisper import WhisperRecogniser
from agent.config import Config
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.paths import data_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import commands_scale


def vocabulary(count: int) -> tuple[str, ...]:
    with tempfile.TemporaryDirectory() as tmp:
        commands_scale.write_commands(Path(tmp), commands_scale.generated(count))
        library = CommandLibrary([data_dir("commands"), Path(tmp)], app_names({}))
    return tuple(Dispatcher(library.commands).vocabulary())


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    transcriber = WhisperRecogniser(Config())
    transcriber.load()
    return transcriber


@pytest.mark.parametrize("count", [0, 50, 1000])
def test_the_builtins_and_capture_words_stay_in_the_prompt(whisper: WhisperRecogniser,
                                                           count: int) -> None:
    builtins = vocabulary(0)
    phrases = vocabulary(count)
    assert phrases[-len(builtins):] == builtins  # the user's own come first
    tokenizer = whisper._engine.tokenizer  # type: ignore[union-attr]
    kept = tokenizer.decode(whisper._prompt(phrases)).split(", ")
    for phrase in ("copy", "paste", "new tab", "press", "control", "escape"):
        assert phrase in kept or phrase + "." in kept[-1:], (phrase, kept)
