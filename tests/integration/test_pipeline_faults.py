"""Failures in the middle of a session, in the real pipeline: a file source, the real
segmenter, the real embedded model and dispatcher.  A recogniser or executor that raises
costs that one utterance, which is still reported with its error; the worker goes on;
only failures in a row stop the pipeline, with one line."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.actions.dryrun import DryRunExecutor
from agent.app import MAX_FAILURES, Pipeline, PipelineError
from agent.asr.base import Capabilities, Hearing, Hint, Recogniser
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import FileSource
from agent.audio.vad import Peek, Segmenter
from agent.build import build, command_library
from agent.config import Config
from agent.decide import Decider
from agent.dispatch.dispatcher import Dispatcher
from agent.listening import Listening
from agent.messages import Action, KeyAction, Outcome, Transcript
from agent.worker import Early, Worker

PHRASES = ["new tab", "copy", "close tab"]
KEYS = {"new tab": "ctrl+t", "copy": "ctrl+c", "close tab": "ctrl+w"}


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    recogniser = WhisperRecogniser(Config())
    recogniser.load()
    return recogniser


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The phrases, each after a second of silence: one utterance each."""
    folder = tmp_path_factory.mktemp("faults")
    silence = folder / "silence.wav"
    subprocess.run(["sox", "-D", "-n", "-r", "22050", "-c", "1", "-b", "16", str(silence),
                    "trim", "0", "1.0"], check=True)
    parts = [silence]
    for i, phrase in enumerate(PHRASES):
        said = folder / f"{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(said), phrase], check=True)
        parts += [said, silence]
    out = folder / "speech.wav"
    subprocess.run(["sox", "-D", *map(str, parts), "-r", "16000", str(out)], check=True)
    return out


class Breaking:
    """The real recogniser, whose hearing raises `error` on the utterances numbered in
    `fail_on` (from 0): a bug, not a RecognitionError."""

    def __init__(self, inner: Recogniser, fail_on: set[int], error: Exception) -> None:
        self.inner, self.fail_on, self.error = inner, fail_on, error
        self.name, self.capabilities = inner.name, inner.capabilities
        self.heard = 0

    def load(self) -> None:
        pass

    def close(self) -> None:
        pass

    def hear(self, pcm: bytes) -> Hearing:
        n, self.heard = self.heard, self.heard + 1
        if n in self.fail_on:
            raise self.error
        return self.inner.hear(pcm)


class BreakingHands(DryRunExecutor):
    """Performs like the dry run, but the first action raises (a lost connection)."""

    def perform(self, action: Action) -> None:
        if not self.performed and not getattr(self, "broke", False):
            self.broke = True
            raise ConnectionResetError("display connection lost")
        super().perform(action)


def _pipeline(speech: Path, recogniser: Any, executor: DryRunExecutor,
              on_outcome: Any, peek_ms: int = 0) -> Pipeline:
    """The real pipeline on `speech`; no early end at pauses unless `peek_ms` (so each
    utterance is heard once, and the counts are the utterances')."""
    cfg = Config()
    listening = Listening(FileSource(speech, cfg.audio.block_ms, fast=True),
                          Segmenter(cfg.vad, cfg.audio.block_ms, peek_ms=peek_ms))
    return build(cfg, executor=executor, listening=listening, on_outcome=on_outcome,
                 recogniser=recogniser).running()


def _keys(outcomes: Sequence[Outcome]) -> list[list[str]]:
    return [[a.keys for a in o.decision.actions if isinstance(a, KeyAction)]
            for o in outcomes]


def test_a_recogniser_that_raises_costs_one_utterance(whisper, speech, caplog) -> None:
    outcomes: list[Outcome] = []
    recogniser = Breaking(whisper, {1}, RuntimeError("decoder exploded"))
    pipeline = _pipeline(speech, recogniser, DryRunExecutor(), outcomes.append)
    pipeline.run()  # returns: one failure is not fatal
    assert recogniser.heard == len(PHRASES)
    assert _keys(outcomes) == [["ctrl+t"], [], ["ctrl+w"]]
    assert outcomes[1].errors == ("RuntimeError: decoder exploded",)
    assert outcomes[1].decision.note.startswith("error:")
    assert pipeline.stats.failures == 1
    logged = [r for r in caplog.records if "decoder exploded" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelname == "ERROR"  # logged once


def test_an_executor_that_raises_costs_one_action(whisper, speech) -> None:
    outcomes: list[Outcome] = []
    hands = BreakingHands()
    _pipeline(speech, whisper, hands, outcomes.append).run()
    assert [o.utterance.index for o in outcomes] == [0, 1, 2]  # nothing dropped
    assert "ConnectionResetError: display connection lost" in outcomes[0].errors[0]
    assert [a.keys for a in hands.performed] == ["ctrl+c", "ctrl+w"]  # the rest went on


def test_a_reporter_that_raises_does_not_stop_the_worker(whisper, speech) -> None:
    reported: list[Outcome] = []

    def report(o: Outcome) -> None:
        reported.append(o)
        if len(reported) == 1:
            raise BrokenPipeError("reader went away")

    pipeline = _pipeline(speech, whisper, DryRunExecutor(), report)
    pipeline.run()
    assert len(reported) == len(PHRASES)
    assert pipeline.stats.failures == 1


def test_failures_in_a_row_stop_the_pipeline_with_one_line(whisper, speech,
                                                           tmp_path) -> None:
    # enough utterances that MAX_FAILURES in a row can happen
    long = tmp_path / "long.wav"
    subprocess.run(["sox", "-D", *[str(speech)] * 3, str(long)], check=True)
    outcomes: list[Outcome] = []
    recogniser = Breaking(whisper, set(range(100)), KeyError("vocabulary"))
    pipeline = _pipeline(long, recogniser, DryRunExecutor(), outcomes.append)
    with pytest.raises(PipelineError) as stopped:
        pipeline.run()
    assert recogniser.heard == MAX_FAILURES  # stopped right there, not at the end
    assert len(outcomes) == MAX_FAILURES  # each one reported
    message = str(stopped.value)
    assert "\n" not in message and f"{MAX_FAILURES} failures in a row" in message
    assert "KeyError" in message


class PeekFails(Worker):
    """The real worker, whose look at a pause raises (a bug in the early end)."""

    peeks = 0

    def consider(self, peek: Peek) -> Early | None:
        self.peeks += 1
        raise RuntimeError("peek exploded")


def test_a_peek_that_fails_leaves_the_utterance_to_its_normal_end(whisper, speech,
                                                                    caplog) -> None:
    outcomes: list[Outcome] = []
    pipeline = _pipeline(speech, whisper, DryRunExecutor(), outcomes.append, peek_ms=90)
    cfg = Config()
    dispatcher = Dispatcher(command_library(cfg).commands)
    pipeline.worker = worker = PeekFails(whisper, Decider(whisper, dispatcher, cfg.commands),
                                         DryRunExecutor())
    pipeline.run()
    assert worker.peeks >= len(PHRASES)  # each utterance was peeked at, and that failed
    assert _keys(outcomes) == [[KEYS[p]] for p in PHRASES]  # yet each acted, once
    assert pipeline.stats.failures == worker.peeks
    assert any("peek exploded" in r.getMessage() for r in caplog.records)


def test_a_hearing_needs_no_dispatcher(whisper) -> None:
    # the recogniser's side of the protocol: declared capabilities, decode on a hearing
    assert whisper.capabilities == Capabilities(nbest=True, prefix=True, score=True, peek=True)
    hearing = whisper.hear(bytes(32000))
    assert isinstance(hearing.decode(Hint()), Transcript)
