"""The recogniser falling behind a live source: the queue between capture and recogniser
is bounded, capture never waits for the recogniser, and every utterance that does not
fit is counted and logged.

The source is a real-time (paced) file source marked live, the recogniser the real
Whisper model, held on its first utterance until capture has read the whole file: had
capture waited for the recogniser, the two would wait for each other. (The microphone
callback's own queue is tested in
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

    @property
    def started_at(self) -> float:
        return self.source.started_at

    def frames(self) -> Iterator[AudioFrame]:
        yield from self.source.frames()
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


def test_a_slow_recogniser_drops_counted_utterances_and_never_holds_capture(
        rapid_speech: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config()
    outcomes: list[Outcome] = []
    source = Paced(FileSource(rapid_speech, cfg.audio.block_ms))
    recogniser = HeldRecogniser(load_recogniser(cfg), source.read_all)
    pipeline = build(cfg, executor=_NoActions(), recogniser=recogniser,
                     listening=Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms),
                                         live=True, queue_size=1),
                     on_outcome=outcomes.append).running()
    with caplog.at_level(logging.WARNING, logger="agent.app"):
        pipeline.run()

    # capture read the whole file while the recogniser held its first utterance
    assert recogniser.capture_ran_ahead, "capture waited for the recogniser"
    dropped = pipeline.stats.dropped_utterances
    closed = pipeline.stats.utterances + dropped
    assert closed == len(PHRASES), (closed, [o.decision.text for o in outcomes])
    # at most one utterance in the recogniser and one in the queue: the rest were dropped
    assert pipeline.stats.utterances <= 2 and dropped >= len(PHRASES) - 2, pipeline.stats
    warnings = [r.getMessage() for r in caplog.records if "recogniser behind" in r.getMessage()]
    assert len(warnings) == dropped, warnings  # each drop logged, with the running count
    assert warnings[-1].endswith(f"({dropped} so far)"), warnings
    # what was recognised was recognised right, and in order
    names = [o.decision.command for o in outcomes]
    assert names == [p for p in PHRASES if p in names] and names, names


class _NoActions:
    def perform(self, action: object) -> None:
        pass

    def active_app(self) -> str:
        return ""
