"""What is heard so far reaches the desktop while the person speaks: the real pipeline
(file source, segmenter, the embedded Whisper model) sends what each peek heard as an
Activity.PARTIAL event before the utterance's outcome, which then carries the final text
(agent/worker.py Worker.consider, agent/app.py Pipeline)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.actions.dryrun import DryRunExecutor
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import FileSource
from agent.audio.vad import Segmenter
from agent.build import build
from agent.config import Config
from agent.listening import Listening
from agent.messages import Activity, ActivityEvent, AudioFrame, Outcome
from tests.integration.test_early_end import said


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    recogniser = WhisperRecogniser(Config())
    recogniser.load()
    return recogniser


def run(path: Path, recogniser: WhisperRecogniser) -> list[ActivityEvent | Outcome]:
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



class Paced(FileSource):
    """The file fast, but after each 1.2 s of it held until the double has made a pass over
    the audio so far (it hears with whisper on a CPU shared with the test, and a pass is what
    makes a delta) and the client holds every word the double sent: a person speaks on while
    the model keeps up, and the deltas arrive while there is audio left to feed."""

    def __init__(self, path: Path, block_ms: int, control: Any,
                 received: Callable[[], int]) -> None:
        super().__init__(path, block_ms, fast=True)
        self._control = control
        self._received = received

    def frames(self) -> Iterator[AudioFrame]:
        from tests.integration.test_voxtral_realtime import until

        passes, since = 0, 0
        for frame in super().frames():
            yield frame
            since += len(frame.pcm)
            if since >= int(1.2 * 32000):  # by now the stream is open and fed: a pass comes
                passes, since = passes + 1, 0
                until(lambda n=passes: self._control.sessions()[0]["passes"] >= n, 120)
                until(lambda: self._received() >= self._control.sessions()[0]["words"], 120)


def test_voxtral_realtime_deltas_arrive_while_the_audio_does(tmp_path: Path) -> None:
    """Voxtral Realtime (the vLLM double's /v1/realtime, hearing with faster-whisper): the
    deltas so far go out as PARTIAL events while the utterance is fed, the last of them
    cleared (on False) before the outcome's final text."""
    from agent.asr.voxtral_realtime import RealtimeRecogniser
    from tests.integration.test_voxtral_realtime import realtime_config
    from tests.integration.vllm_support import REALTIME_MODEL, Control, Double, free_port, speak

    sentence = "the quick brown fox jumps over the lazy dog"
    wav = speak(tmp_path, "fox", f"{sentence}, and {sentence}")
    with Double(free_port(), tmp_path / "vllm.log", model=REALTIME_MODEL) as double:
        cfg = realtime_config(double.port, tmp_path)
        streams: list[Any] = []

        class Kept(RealtimeRecogniser):
            def stream(self) -> Any:
                streams.append(super().stream())
                return streams[-1]

        def received() -> int:
            return len(streams[-1].partial().split()) if streams else 0

        recogniser = Kept(cfg)
        recogniser.load()
        assert recogniser.session.wait_connected(10)
        seen: list[ActivityEvent | Outcome] = []
        try:
            build(cfg, executor=DryRunExecutor(), recogniser=recogniser,
                  listening=Listening(Paced(wav, cfg.audio.block_ms, Control(double.url), received),
                                      Segmenter(cfg.vad, cfg.audio.block_ms)),
                  on_outcome=seen.append, on_event=seen.append).running().run()
        finally:
            recogniser.close()
    [outcome] = [o for o in seen if isinstance(o, Outcome)]
    assert outcome.transcript.backend == "voxtral-realtime", outcome
    before = seen[:seen.index(outcome)]
    shown = partials(before)
    assert shown and "quick" in shown[-1].lower(), seen
    assert all(outcome.transcript.text.lower().startswith(s.lower()) for s in shown), shown
    assert all(b.startswith(a) for a, b in itertools.pairwise(shown)), shown  # they only grow
    last = [e for e in before if isinstance(e, ActivityEvent)
            and e.activity is Activity.PARTIAL][-1]
    assert not last.on  # the utterance closed: what was heard so far is cleared
