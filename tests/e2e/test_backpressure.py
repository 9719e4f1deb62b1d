"""Processing falling behind a live source: the frame queue between capture and
processing is bounded, capture never waits for processing, and every frame that does not
fit is counted and logged (once per run of drops).

The source is a real-time (paced) file source marked live, the recogniser the real
Whisper model, held on its first hearing (a peek or an utterance) until capture has read
the whole file: had capture waited for processing, the two would wait for each other.
(The microphone callback's own queue is tested in
tests/integration/test_microphone.py::test_overruns_are_counted_and_reported.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.asr.base import Hearing, Recogniser
from agent.audio.file_source import FileSource
from agent.audio.vad import Segmenter
from agent.build import build, load_recogniser
from agent.config import Config
from agent.listening import Listening
from agent.messages import AudioFrame, Outcome
from tests.e2e.rig import spoken

PHRASES = ("new tab", "close tab", "copy", "paste", "undo", "redo", "find")
HOLD_LIMIT_S = 120.0
"""Only a deadlock takes this long, counted once for the whole test (not per utterance):
then the test fails instead of hanging."""


class HeldRecogniser:
    """The real recogniser, which does not return until capture has read the whole file."""

    def __init__(self, inner: Recogniser, read_all: threading.Event) -> None:
        self.inner = inner
        self.name, self.capabilities = inner.name, inner.capabilities
        self.read_all = read_all
        self.capture_ran_ahead = True
        self.deadline = time.monotonic() + HOLD_LIMIT_S

    def hear(self, pcm: bytes) -> Hearing:
        if not self.read_all.wait(max(0.0, self.deadline - time.monotonic())):
            self.capture_ran_ahead = False
        return self.inner.hear(pcm)


class Paced:
    """The file source; sets `read_all` once its last frame reached the capture thread."""

    def __init__(self, source: FileSource) -> None:
        self.source = source
        self.read_all = threading.Event()
        self.count = 0

    @property
    def started_at(self) -> float:
        return self.source.started_at

    def frames(self) -> Iterator[AudioFrame]:
        for frame in self.source.frames():
            self.count += 1
            yield frame
        self.read_all.set()

    def stop(self) -> None:
        self.source.stop()


@pytest.fixture(scope="module")
def rapid_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven commands, 0.7 s apart: far faster than the slowed recogniser."""
    import numpy as np
    import soundfile

    from agent.audio.file_source import read_audio

    out = tmp_path_factory.mktemp("rapid") / "rapid.wav"
    gap = np.zeros(int(0.7 * 16000), dtype=np.int16)
    pcm = np.concatenate([part for phrase in PHRASES
                          for part in (read_audio(spoken(phrase).path), gap)])
    soundfile.write(str(out), pcm, 16000, subtype="PCM_16")
    return out


def test_a_slow_recogniser_drops_counted_frames_and_never_holds_capture(
        rapid_speech: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config()
    outcomes: list[Outcome] = []
    source = Paced(FileSource(rapid_speech, cfg.audio.block_ms))
    recogniser = HeldRecogniser(load_recogniser(cfg), source.read_all)
    room = 80  # 2.4 s of frames: the rest of the file does not fit
    pipeline = build(cfg, executor=_NoActions(), recogniser=recogniser,
                     listening=Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms),
                                         live=True, queue_size=room),
                     on_outcome=outcomes.append).running()
    with caplog.at_level(logging.WARNING, logger="agent.app"):
        pipeline.run()

    # capture read the whole file while the recogniser held its first hearing
    assert recogniser.capture_ran_ahead, "capture waited for the recogniser"
    stats = pipeline.stats
    assert stats.frames + stats.dropped_frames == source.count, stats  # none unaccounted
    before = 100  # at most, frames processed before the first hearing: the first command
    assert stats.dropped_frames >= source.count - room - before, stats  # the queue was full
    warnings = [r.getMessage() for r in caplog.records if "processing behind" in r.getMessage()]
    assert len(warnings) == 1, warnings  # one run of drops, logged once, with the count
    assert warnings[0].endswith(f"({stats.dropped_frames} frames so far)"), warnings
    # what was recognised was recognised right, and in order; the dropped audio is lost
    names = [o.decision.command for o in outcomes]
    assert names == [p for p in PHRASES if p in names] and names, names
    assert len(names) < len(PHRASES), names


class _NoActions:
    def perform(self, action: object) -> None:
        pass

    def active_app(self) -> str:
        return ""
