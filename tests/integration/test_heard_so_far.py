"""What is heard so far reaches the desktop while the person speaks: the real pipeline
(file source, segmenter, the embedded Whisper model) sends what each peek heard as an
Activity.PARTIAL event before the utterance's outcome, which then carries the final text
(agent/worker.py Worker.consider, agent/app.py Pipeline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.actions.dryrun import DryRunExecutor
from agent.asr.whisper import WhisperTranscriber
from agent.audio.file_source import FileSource
from agent.audio.vad import Segmenter
from agent.build import build
from agent.config import Config
from agent.listening import Listening
from agent.messages import Activity, ActivityEvent, Outcome
from tests.integration.test_early_end import said


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    recogniser = WhisperTranscriber(Config())
    recogniser.load()
    return recogniser


def run(path: Path, recogniser: WhisperTranscriber) -> list[ActivityEvent | Outcome]:
    """Every activity event and outcome of the pipeline over `path`, in order."""
    cfg = Config()
    seen: list[ActivityEvent | Outcome] = []
    build(cfg, executor=DryRunExecutor(), recogniser=recogniser,
          listening=Listening(FileSource(path, cfg.audio.block_ms, fast=True,
                                         tail_silence_s=1.0),
                              Segmenter(cfg.vad, cfg.audio.block_ms)),
          on_outcome=seen.append, on_event=seen.append).running().run()
    return seen


def partials(seen: list[ActivityEvent | Outcome]) -> list[str]:
    return [e.detail for e in seen if isinstance(e, ActivityEvent)
            and e.activity is Activity.PARTIAL and e.on]


def test_what_a_peek_heard_arrives_before_the_final_text(whisper, tmp_path) -> None:
    seen = run(said(tmp_path, "type the quick brown fox", 0.25,
                    "jumps over the lazy dog"), whisper)
    [outcome] = [o for o in seen if isinstance(o, Outcome)]
    shown = partials(seen[:seen.index(outcome)])
    assert shown, seen  # the peeks at the short pause and at the end's pause
    assert all(text.strip() == text and text for text in shown), shown
    assert any("quick" in text.lower() for text in shown), shown
    # it grows as the speech goes on: the last is the whole peek, all of the utterance
    assert "lazy" in shown[-1].lower() and len(shown[-1].split()) > len(shown[0].split())
    assert "lazy" in outcome.transcript.text.lower() and outcome.decision.actions
    assert not partials(seen[seen.index(outcome):])


def test_no_partial_text_while_asleep(whisper, tmp_path) -> None:
    seen = run(said(tmp_path, "go to sleep", 1.0, "the quick brown fox jumps over the lazy dog"),
               whisper)
    outcomes = [o for o in seen if isinstance(o, Outcome)]
    assert [o.decision.mode.value for o in outcomes] == ["sleep", "sleep"]
    assert not partials(seen[seen.index(outcomes[0]):])  # asleep: no peek is heard
