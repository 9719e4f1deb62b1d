"""Spelled letters dictated one by one, on the real model (issue 17: "M I S D N" typed
nothing).  With the vocabulary prompt a lone letter often looks like no speech; what is
asserted is the behaviour, whatever this CPU's model hears: each letter is typed, or
nothing is because the decode without the prompt, which dictation types, is doubted too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.asr.base import Hint
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import read_audio
from agent.config import Config
from agent.decide import Decider, Heard
from agent.dispatch.config import CommandsConfig
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.messages import Mode, TypeAction, Utterance
from agent.paths import data_dir
from agent.worker import Worker

VOICES = ("en-us", "en-us+m7", "en-gb-scotland")


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    recogniser = WhisperRecogniser(Config())
    recogniser.load()
    return recogniser


def letter(name: str, voice: str, folder: Path) -> bytes:
    """espeak-ng saying one letter slowly, with 0.3 s of silence either side."""
    said, padded = folder / f"{name}{voice}.wav", folder / f"{name}{voice}-padded.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "120", "-w", str(said), name], check=True)
    subprocess.run(["sox", "-D", str(said), "-r", "16000", "-c", "1", str(padded), "pad", "0.3",
                    "0.3"], check=True)
    return read_audio(padded).tobytes()


@pytest.mark.parametrize("voice", VOICES)
def test_each_spelled_letter_is_typed_unless_the_plain_decode_doubts_it(whisper, tmp_path,
                                                                        voice) -> None:
    dispatcher = Dispatcher(CommandLibrary([data_dir("commands")]).commands)
    dispatcher.set_mode(Mode.DICTATION)
    decider = Decider(whisper, dispatcher, CommandsConfig())
    hint = Hint(tuple(dispatcher.vocabulary()), Config().whisper.alternatives)
    for name in "MISDN":
        pcm = letter(name, voice, tmp_path)
        utt = Utterance(pcm, 0.3, len(pcm) / 32000 - 0.3, voiced=len(pcm) / 32000 - 0.6)
        hearing = whisper.hear(pcm)
        heard = Heard(utt, hearing, Worker._checked(utt, hearing.decode(hint)), hint)
        transcript, decision = decider.decide(heard)
        if decision.actions:
            assert isinstance(decision.actions[0], TypeAction) and transcript.text.strip()
            assert not transcript.doubt, (name, transcript)
        else:  # typed nothing: the decode dictation types was doubted too, and says why
            plain = hearing.decode(Hint((), hint.alternatives, thorough=True))
            assert plain.doubt and decision.note.startswith("doubted: "), (name, plain)
        assert decision.mode is Mode.DICTATION
