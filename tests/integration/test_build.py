"""build() (agent/build.py): the one assembly of the agent that run, transcribe, the
live session, the benches and these tests share; the real model and command files."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from agent.actions.dryrun import DryRunExecutor
from agent.asr.base import RecognitionError
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import FileSource
from agent.audio.vad import Segmenter
from agent.build import build
from agent.config import Config
from agent.listening import Listening
from agent.messages import KeyAction, Outcome


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    recogniser = WhisperRecogniser(Config())
    recogniser.load()
    return recogniser


def _config() -> Config:
    """[commands] settings away from the Dispatcher's own defaults, so a part built
    without the config would show."""
    cfg = Config()
    return replace(cfg, commands=replace(cfg.commands, typed_controls="strip",
                                         confirm_timeout_s=3.0))


def test_one_dispatcher_from_the_config_is_shared_by_every_stage(whisper) -> None:
    cfg = _config()
    agent = build(cfg, executor=DryRunExecutor(), recogniser=whisper)
    assert agent.recogniser is whisper and agent.worker.recogniser is whisper
    assert agent.worker.decider is agent.decider
    assert agent.decider.dispatcher is agent.dispatcher is agent.worker.dispatcher
    assert (agent.dispatcher.controls, agent.dispatcher.confirm_timeout_s) == ("strip", 3.0)
    names = {c.name for c in agent.library.commands}
    assert "new tab" in names  # the built-in sets, loaded through the library
    assert agent.pipeline is None
    with pytest.raises(ValueError, match="without listening"):
        agent.running()


def test_a_pipeline_needs_both_what_to_hear_and_where_outcomes_go(whisper, tmp_path) -> None:
    cfg = Config()
    source = FileSource(_spoken(tmp_path, "new tab"), cfg.audio.block_ms, fast=True)
    listening = Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms))
    with pytest.raises(ValueError, match="both"):
        build(cfg, executor=DryRunExecutor(), listening=listening, recogniser=whisper)
    with pytest.raises(ValueError, match="both"):
        build(cfg, executor=DryRunExecutor(), on_outcome=print, recogniser=whisper)


def test_the_built_pipeline_hears_decides_and_acts_through_the_executor(
        whisper, tmp_path) -> None:
    cfg = Config()
    outcomes: list[Outcome] = []
    executor = DryRunExecutor()
    source = FileSource(_spoken(tmp_path, "new tab"), cfg.audio.block_ms, fast=True)
    agent = build(cfg, executor=executor, recogniser=whisper, on_outcome=outcomes.append,
                  listening=Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms)))
    pipeline = agent.running()
    assert pipeline.worker is agent.worker and pipeline.source is source
    pipeline.run()
    keys = [a.keys for o in outcomes for a in o.decision.actions if isinstance(a, KeyAction)]
    assert keys == ["ctrl+t"]


def _spoken(folder: Path, phrase: str) -> Path:
    said = folder / "said.wav"
    subprocess.run(["espeak-ng", "-w", str(said), phrase], check=True)
    return said


def test_a_recogniser_loaded_by_build_is_closed_when_the_rest_fails(
        monkeypatch, tmp_path) -> None:
    """build() owns the model it loaded: a failure after the load (here the pipeline
    refusing a negative queue) releases it rather than leaking it to the caller."""
    cfg = replace(Config(), recognition=replace(Config().recognition, backend="whisper"))
    made: list[WhisperRecogniser] = []

    def create(backend: str, config: Config, start_server: object = None) -> WhisperRecogniser:
        made.append(WhisperRecogniser(config))
        return made[-1]

    monkeypatch.setattr("agent.build.create", create)
    source = FileSource(_spoken(tmp_path, "copy"), cfg.audio.block_ms, fast=True)
    broken = Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms), queue_size=-1)
    with pytest.raises(ValueError):
        build(cfg, executor=DryRunExecutor(), listening=broken, on_outcome=print)
    assert len(made) == 1
    with pytest.raises(RecognitionError, match="not loaded"):
        made[0].hear(b"\0\0" * 1600)


def test_a_given_recogniser_stays_the_callers_when_build_fails(whisper, tmp_path) -> None:
    cfg = Config()
    source = FileSource(_spoken(tmp_path, "copy"), cfg.audio.block_ms, fast=True)
    broken = Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms), queue_size=-1)
    with pytest.raises(ValueError):
        build(cfg, executor=DryRunExecutor(), listening=broken, on_outcome=print,
              recogniser=whisper)
    assert whisper.hear(b"\0\0" * 1600) is not None  # still loaded
