"""The processing thread in the real pipeline (a file source, the real segmenter, model
and dispatcher): frames that wait in the queue while something is heard are judged by
the time they arrived, not the time they are processed; audio lost before a frame ends
the open utterance there, never joining speech across the gap; control calls run on the
processing thread."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.actions.dryrun import DryRunExecutor
from agent.asr.base import Hearing, Recogniser
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import FileSource, read_audio
from agent.audio.vad import Segmenter
from agent.build import build
from agent.config import Config
from agent.desktop.gate import Verdict
from agent.listening import Listening
from agent.messages import AudioFrame, ListenStyle, Outcome

HOLD_LIMIT_S = 120.0
"""Only a deadlock takes this long: then the test fails instead of hanging."""


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    recogniser = WhisperRecogniser(Config())
    recogniser.load()
    return recogniser


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second of silence, a long command, a second of silence."""
    folder = tmp_path_factory.mktemp("processing")
    silence, said = folder / "silence.wav", folder / "said.wav"
    subprocess.run(["sox", "-D", "-n", "-r", "22050", "-c", "1", "-b", "16", str(silence),
                    "trim", "0", "1.0"], check=True)
    subprocess.run(["espeak-ng", "-w", str(said), "scroll down five times"],
                   check=True)
    out = folder / "speech.wav"
    subprocess.run(["sox", "-D", str(silence), str(said), str(silence), "-r", "16000", str(out)],
                   check=True)
    return out


class Reading:
    """The file source; `done` is set (at `done_at`) once its last frame was taken."""

    def __init__(self, source: FileSource, skip: tuple[float, float] | None = None) -> None:
        self.source = source
        self.skip = skip
        """Frames starting within this span of stream time are lost (a device overrun)."""
        self.done = threading.Event()
        self.done_at = 0.0

    @property
    def started_at(self) -> float:
        return self.source.started_at

    def frames(self) -> Iterator[AudioFrame]:
        for frame in self.source.frames():
            if self.skip is None or not self.skip[0] <= frame.start < self.skip[1]:
                yield frame
        self.done_at = time.monotonic()
        self.done.set()

    def stop(self) -> None:
        self.source.stop()


class Held:
    """The real recogniser, which hears nothing until the source has been read."""

    def __init__(self, inner: Recogniser, done: threading.Event) -> None:
        self.inner, self.done = inner, done
        self.name, self.capabilities = inner.name, inner.capabilities

    def hear(self, pcm: bytes) -> Hearing:
        assert self.done.wait(HOLD_LIMIT_S), "the source was never read to its end"
        return self.inner.hear(pcm)


class Watching:
    """A gate that takes every frame and notes when it was asked, and for what time."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, float]] = []
        """(the time it was given, the time it was asked), per frame."""

    def verdict(self, now: float) -> Verdict:
        self.asked.append((now, time.monotonic()))
        return Verdict(True, ListenStyle.HANDS_FREE)


def test_the_gate_judges_a_frame_by_when_it_arrived(whisper, speech) -> None:
    cfg = Config()
    source = Reading(FileSource(speech, cfg.audio.block_ms, fast=True))
    gate = Watching()
    outcomes: list[Outcome] = []
    pipeline = build(cfg, executor=DryRunExecutor(), recogniser=Held(whisper, source.done),
                     listening=Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms),
                                         gate=gate),
                     on_outcome=outcomes.append).running()
    pipeline.run()

    assert outcomes, "nothing was heard"
    late = [(given, asked) for given, asked in gate.asked if asked > source.done_at]
    assert late, "no frame waited in the queue while the model was held"
    # every frame arrived before the source was done, and was judged by that time
    assert all(given <= source.done_at for given, _ in gate.asked)


def test_audio_lost_inside_speech_ends_the_utterance_at_the_gap(
        whisper, speech, caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config()
    pcm = read_audio(speech)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 500)
    first, last = loud[0] / 16000, (loud[-1] + 1) / 16000
    gap = (first + (last - first) / 2, first + (last - first) * 3 / 4)  # inside the speech
    source = Reading(FileSource(speech, cfg.audio.block_ms, fast=True), skip=gap)
    outcomes: list[Outcome] = []
    pipeline = build(cfg, executor=DryRunExecutor(), recogniser=whisper,
                     listening=Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms)),
                     on_outcome=outcomes.append).running()
    with caplog.at_level(logging.INFO, logger="agent.audio.vad"):
        pipeline.run()

    frame_s = cfg.audio.block_ms / 1000
    assert outcomes, "the speech before the gap was lost"
    assert outcomes[0].utterance.end <= gap[0] + frame_s, (outcomes[0].utterance, gap)
    for o in outcomes:  # nothing joined across the gap
        assert o.utterance.end <= gap[0] + frame_s or o.utterance.start >= gap[1] - frame_s
    assert any("audio lost at" in r.getMessage() for r in caplog.records)


def test_control_calls_run_on_the_processing_thread_before_the_next_frame(
        whisper, speech) -> None:
    cfg = Config()
    seen: list[tuple[str, int]] = []
    pipeline = build(cfg, executor=DryRunExecutor(), recogniser=whisper,
                     listening=Listening(FileSource(speech, cfg.audio.block_ms, fast=True),
                                         Segmenter(cfg.vad, cfg.audio.block_ms)),
                     on_outcome=lambda o: pipeline.call(
                         lambda: seen.append((threading.current_thread().name,
                                              pipeline.stats.frames)))).running()
    pipeline.call(lambda: seen.append((threading.current_thread().name,
                                       pipeline.stats.frames)))
    pipeline.run()

    assert seen[0] == ("processing", 0)  # before the first frame
    assert len(seen) == 2 and seen[1][0] == "processing"
