"""The real embedded model hearing an utterance once: a fitted window, decodes and scores
on the same encoder output, the fallback to 30 s, and doubt on babble."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from agent.asr import guard
from agent.asr.base import Hint, ModelError, RecognitionError, Unsupported, transcribe
from agent.asr.hearing import FULL_WINDOW_S, WINDOWS_S, LongHearing, WhisperHearing
from agent.asr.whisper import COMPUTE_TYPE_ENV, CPU_THREADS_ENV, WhisperTranscriber, numerics
from agent.audio.file_source import read_audio
from agent.config import Config, WhisperConfig
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.messages import SAMPLE_RATE
from agent.paths import data_dir
from tests.integration.fixture_modules import load_fixture

fl = load_fixture("fixturelib")


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    transcriber = WhisperTranscriber(Config())
    transcriber.load()
    return transcriber


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return Dispatcher(CommandLibrary([data_dir("commands")]).commands)


@pytest.fixture(scope="module")
def said() -> dict[str, bytes]:
    """Commands of the committed espeak-ng session, cut as the segmenter would (300 ms
    before, 450 ms after), by what was said."""
    session = next(s for s in fl.load_manifest(fl.COMMITTED_DIR)
                   if s.file == "dev-full-espeak-us.flac")
    audio = read_audio(session.path(fl.COMMITTED_DIR))
    return {u.say: audio[int((u.start - 0.3) * SAMPLE_RATE):
                         int((u.end + 0.45) * SAMPLE_RATE)].astype("<i2").tobytes()
            for u in session.utterances}


def test_whisper_declares_what_it_offers(whisper) -> None:
    caps = whisper.capabilities
    assert (caps.nbest, caps.prefix, caps.score, caps.intent) == (True, True, True, False)
    with pytest.raises(Unsupported):
        whisper.hear(bytes(SAMPLE_RATE)).intent("open terminal", [])


def test_one_encoding_serves_every_decode_and_score(whisper, dispatcher, said) -> None:
    hint = Hint(tuple(dispatcher.vocabulary()), 5)
    hearing = whisper.hear(said["open terminal"])
    assert isinstance(hearing, WhisperHearing)
    assert hearing.window < FULL_WINDOW_S  # fitted: 1-2 s of speech is not padded to 30 s
    heard = hearing.decode(hint)
    assert dispatcher.matches(heard), heard.text
    assert heard.doubt == "" and heard.backend == "whisper" and heard.seconds > 0
    assert hearing.encoded_windows == (hearing.window,)
    spent = hearing.encode_seconds
    # a second decode (forced prefix), and scoring candidates, reuse the encoder output
    again = hearing.decode(Hint(("terminal", "browser"), 3, prefix="Open"))
    assert all(h.text.startswith("Open") for h in again.alternatives)
    right, wrong = hearing.score(["open terminal", "open browser"], Hint())
    assert right > wrong + 1.0
    assert hearing.encoded_windows == (hearing.window,)
    assert hearing.encode_seconds == spent


def test_a_long_text_is_scored_without_a_prompt_too(whisper, said) -> None:
    # a prompt of two tokens left CTranslate2 too little room for the forced text
    hearing = whisper.hear(said["the quick brown fox jumps over the lazy dog"])
    right, wrong = hearing.score(["The quick brown fox jumps over the lazy dog.",
                                  "The quick brown fox jumps over the lazy frog."], Hint())
    assert right > wrong


def test_the_plain_path_hears_once_and_decodes(whisper, said) -> None:
    pcm = said["volume up"]
    hint = Hint(("volume up", "volume down"), 3)
    assert transcribe(whisper, pcm, hint).text == whisper.hear(pcm).decode(hint).text
    up, down = whisper.hear(pcm).score(["volume up", "volume down"], Hint())
    assert up > down
    with pytest.raises(Unsupported):
        whisper.stream()  # whole utterances only


def test_a_decode_read_twice_on_a_short_window_is_decoded_again_on_30_s(
        whisper, dispatcher, said, caplog) -> None:
    # "select all then copy" on its 5 s window, prompted with the command vocabulary,
    # comes out as "select all men, copy, select all men, copy," (bench/hearing.py --verbose)
    whisper.windows = (5, FULL_WINDOW_S)
    try:
        hearing = whisper.hear(said["select all then copy"])
    finally:
        whisper.windows = WINDOWS_S
    assert hearing.window == 5
    with caplog.at_level(logging.INFO, logger="agent.asr.hearing"):
        # the vocabulary of the commands the clip was found with (before "what can I say")
        vocabulary = tuple(p for p in dispatcher.vocabulary()
                           if p not in ("what can i say", "show commands"))
        heard = hearing.decode(Hint(vocabulary, 5))
    assert not any(guard.said_twice(h.text) for h in heard.alternatives)
    assert "said twice on 5 s" in caplog.text
    assert hearing.encoded_windows == (5, FULL_WINDOW_S)
    assert not guard.said_twice(heard.text) and "copy" in heard.text.lower()
    assert heard.doubt == ""
    # scoring now uses the window the decode settled on: nothing more is encoded
    hearing.score(["select all then copy"], Hint())
    assert hearing.encoded_windows == (5, FULL_WINDOW_S)


def test_babble_heard_as_a_short_phrase_is_doubted(whisper, dispatcher) -> None:
    clips = load_fixture("hard_clips")
    pcm = clips.babble(seed=1, snr_db=-18.0).tobytes()
    heard = whisper.hear(pcm).decode(Hint(tuple(dispatcher.vocabulary()), 5))
    assert len(guard.words(heard.text)) <= 4, heard.text  # "All right."
    assert heard.doubt, heard.text
    # the pipeline's own check says the same of 25 s of voice against those words
    assert guard.coverage_doubt(heard.text, 25.0)


def test_speech_and_commands_are_not_doubted(whisper, dispatcher, said) -> None:
    hint = Hint(tuple(dispatcher.vocabulary()), 5)
    for text in ("the printer on the second floor is broken again", "copy",
                 "press down three times"):
        heard = whisper.hear(said[text]).decode(hint)
        assert heard.doubt == "", (text, heard.text, heard.doubt)


def test_silence_is_doubted_or_empty(whisper) -> None:
    heard = whisper.hear(bytes(2 * SAMPLE_RATE)).decode(Hint(("copy",), 2))
    assert heard.doubt or not heard.text, heard.text  # Whisper says "Thank you." to silence


def test_fit_window_off_hears_on_30_s() -> None:
    plain = WhisperTranscriber(Config(whisper=WhisperConfig(fit_window=False)))
    assert plain.windows == (FULL_WINDOW_S,)
    assert WhisperTranscriber(Config()).windows == WINDOWS_S


def test_an_utterance_over_30_s_takes_the_long_path(whisper) -> None:
    hearing = whisper.hear(np.zeros(31 * SAMPLE_RATE, "<i2").tobytes())
    assert isinstance(hearing, LongHearing)
    with pytest.raises(RecognitionError, match="too long to score"):
        hearing.score(["copy"], Hint())


def test_the_numerics_are_taken_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(COMPUTE_TYPE_ENV, "float32")
    monkeypatch.setenv(CPU_THREADS_ENV, "1")
    assert numerics("int8", 0) == ("float32", 1)
    other = WhisperTranscriber(Config())
    other.load()
    assert other.hear(bytes(SAMPLE_RATE))._engine.model.model.compute_type == "float32"
    monkeypatch.setenv(CPU_THREADS_ENV, "two")
    with pytest.raises(ModelError, match="VOXAGENT_CPU_THREADS='two': not a whole number"):
        WhisperTranscriber(Config()).load()
    monkeypatch.delenv(COMPUTE_TYPE_ENV)
    monkeypatch.delenv(CPU_THREADS_ENV)
    assert numerics("int8_float32", 3) == ("int8_float32", 3)
