"""Fault tests of the recognition router with the real faster-whisper model and the vLLM
double: the server dies mid-session (the utterance in flight and the next go to whisper, and
Voxtral takes over again once the restarted server is healthy); a slow server trips the
timeout and the utterance is still transcribed; and `voxagent run --backend auto` reports
"voxtral" while the double answers and "whisper" once it is gone.

No test depends on how fast whisper is: where the double hears with it, the request timeout
is far beyond any decode; the timeout test uses a double that answers at once."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from agent.asr.base import Hint, transcribe
from agent.asr.breaker import Timing
from agent.asr.router import BreakerState, RouterRecogniser
from agent.config import Config
from agent.voxtral.server import Supervision, start_local
from tests.integration.vllm_support import (
    Control,
    Double,
    config,
    fake_gpu,
    fake_model,
    free_port,
    pcm_of,
    speak,
    toml_config,
    wait_down,
)

TIMEOUT = 180
TRANSCRIPTIONS = "/v1/audio/transcriptions"
HINT = Hint(("scroll down", "go to sleep", "open terminal"), 3)


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("said")
    return {"scroll": speak(folder, "scroll", "scroll down"),
            "sleep": speak(folder, "sleep", "go to sleep"),
            "terminal": speak(folder, "terminal", "open terminal")}


PATIENT_S = 120.0
"""Request timeout where none is meant to happen: the double hears with the real whisper
model, which may take seconds on a loaded machine."""


def make_router(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request_timeout_s: float,
                ears: str = "whisper") -> RouterRecogniser:
    """auto, with a managed double (a stand-in nvidia-smi lists a GPU) that restarts 0.2 s
    after a crash and then takes 4 s to load again (so what happens while it is down can be
    seen, however slow whisper is on a loaded machine), a breaker that opens after 2
    failures and probes every 0.2 s.  `ears`: the double's VLLM_DOUBLE_ASR."""
    monkeypatch.setenv("PATH", f"{fake_gpu(tmp_path / 'gpu')}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VLLM_DOUBLE_COUNTER", str(tmp_path / "starts"))
    monkeypatch.setenv("VLLM_DOUBLE_RESTART_S", "4")
    monkeypatch.setenv("VLLM_DOUBLE_ASR", ears)
    monkeypatch.setenv("VOXAGENT_STATE_DIR", str(tmp_path / "state"))
    vox = config(free_port(), tmp_path, model=str(fake_model(tmp_path / "model")),
                 request_timeout_s=request_timeout_s)
    quick = Supervision(restart_backoff_s=0.2, stop_grace_s=3.0)
    r = RouterRecogniser(replace(Config(), voxtral=vox),
                          start_server=partial(start_local, supervision=quick),
                          timing=Timing(failures_to_open=2, probe_interval_s=0.2))
    r.load()
    return r


@pytest.fixture
def router(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RouterRecogniser]:
    """A router whose requests never time out while the double answers."""
    r = make_router(tmp_path, monkeypatch, PATIENT_S)
    yield r
    r.close()


@pytest.fixture
def hasty_router(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[RouterRecogniser]:
    """A 2 s request timeout, and a double that answers at once (it only measures the
    audio), so only a server that does not answer trips the timeout."""
    r = make_router(tmp_path, monkeypatch, 2.0, ears="echo")
    yield r
    r.close()


def until(check: object, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - started < timeout
        time.sleep(0.02)
    return time.monotonic() - started


def test_server_dies_mid_session_then_recovers(router: RouterRecogniser,
                                               said: dict[str, Path]) -> None:
    server = router.voxtral.server
    assert server is not None
    until(router.breaker.allow)  # started in the background; whisper would take utterances
    control = Control(router.voxtral.client.url)
    first = transcribe(router, pcm_of(said["scroll"]), HINT)
    assert (first.backend, first.text) == ("voxtral", "Scroll down.")
    control.fail(TRANSCRIPTIONS, "die")  # the engine dies while this utterance is in flight
    in_flight = transcribe(router, pcm_of(said["sleep"]), HINT)
    assert (in_flight.backend, in_flight.text) == ("whisper", "Go to sleep.")
    next_one = transcribe(router, pcm_of(said["terminal"]), HINT)  # server still restarting
    assert next_one.backend == "whisper" and "terminal" in next_one.text.lower()
    assert router.breaker.state is BreakerState.OPEN
    skipped = transcribe(router, pcm_of(said["scroll"]), HINT)  # open: straight to whisper
    assert skipped.backend == "whisper"
    assert router.stats.fallbacks == 2  # voxtral was not even tried for it
    until(router.breaker.allow)  # restarted; the probe half-opens the breaker
    assert server.starts == 2
    back = transcribe(router, pcm_of(said["scroll"]), HINT)
    assert (back.backend, back.text) == ("voxtral", "Scroll down.")
    assert router.breaker.state is BreakerState.CLOSED
    assert (router.stats.voxtral, router.stats.whisper, router.stats.fallbacks) == (2, 3, 2)


def test_a_server_that_does_not_answer_trips_the_timeout_and_whisper_transcribes(
        hasty_router: RouterRecogniser, said: dict[str, Path],
        caplog: pytest.LogCaptureFixture) -> None:
    router = hasty_router
    until(router.breaker.allow)
    assert transcribe(router, pcm_of(said["scroll"]), HINT).backend == "voxtral"
    assert router.breaker.state is BreakerState.CLOSED
    control = Control(router.voxtral.client.url)
    control.fail(TRANSCRIPTIONS, "hang", seconds=600.0)  # held, never answered
    with caplog.at_level(logging.WARNING, logger="agent.asr.router"):
        late = transcribe(router, pcm_of(said["sleep"]), HINT)  # the timeout, then whisper
    assert (late.backend, late.text) == ("whisper", "Go to sleep.")
    assert control.hits() == [{"path": TRANSCRIPTIONS, "mode": "hang"}]
    assert router.stats.fallbacks == 1
    notes = [r.getMessage() for r in caplog.records]
    assert any("whisper takes this utterance" in n for n in notes), notes
    assert router.breaker.state is BreakerState.CLOSED  # one failure does not open it
    assert transcribe(router, pcm_of(said["scroll"]), HINT).backend == "voxtral"


def test_run_reports_which_backend_heard_each_utterance(tmp_path: Path,
                                                        said: dict[str, Path]) -> None:
    port = free_port()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(  # no timeout while the double hears
        toml_config(port, tmp_path, request_timeout_s=120.0))
    recording = tmp_path / "session.wav"
    subprocess.run(["sox", "-D", str(said["scroll"]), str(said["sleep"]), str(recording)],
                   check=True, timeout=60)
    env = {**os.environ, "VOXAGENT_CONFIG_DIR": str(tmp_path / "config"),
           "VOXAGENT_STATE_DIR": str(tmp_path / "state")}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent", "run", "--input", str(recording),
                               "--dry-run", "--json", "--fast", "--backend", "auto"],
                              env=env, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False, cwd=tmp_path)

    with Double(port, tmp_path / "double.log") as double:
        heard = run()
        assert heard.returncode == 0, heard.stderr
        lines = [json.loads(line) for line in heard.stdout.splitlines()]
        assert [(x["backend"], x["command"]) for x in lines] == [
            ("voxtral", "scroll down"), ("voxtral", "go to sleep")]
        assert len(Control(double.url).requests()) == 2
    wait_down(f"http://127.0.0.1:{port}/v1")
    after = run()  # nothing answers: no GPU or vLLM here, so none is started either
    assert after.returncode == 0, after.stderr
    lines = [json.loads(line) for line in after.stdout.splitlines()]
    assert [(x["backend"], x["command"]) for x in lines] == [
        ("whisper", "scroll down"), ("whisper", "go to sleep")]
    # no server here is the ordinary case: said once at INFO (the log file, -v), never a
    # warning on the terminal
    notes = [line for line in after.stderr.splitlines() if "voxtral" in line]
    assert notes == [], after.stderr


class Clock:
    """The breaker's clock, moved by hand (the backoff is 10 minutes of it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_server_healthy_but_stalled_is_left_alone_for_its_backoff(
        tmp_path: Path, said: dict[str, Path]) -> None:
    """/health answers 200 while transcriptions hang: two utterances pay the timeout and
    open the breaker; then the probe's healthy answers do not reopen it, and utterances go
    straight to whisper (the double is not asked) until the backoff has passed; then ONE
    utterance tries, and once the server answers again Voxtral is back."""
    port = free_port()
    clock = Clock()
    vox = config(port, tmp_path, request_timeout_s=15.0, manage_server=False)
    cfg = replace(Config(), voxtral=vox)
    with Double(port, tmp_path / "double.log") as double:
        router = RouterRecogniser(cfg, clock, timing=Timing(
            failures_to_open=2, probe_interval_s=600.0, stall_backoff_s=600.0))
        router.load()
        try:
            control = Control(double.url)
            control.fail(TRANSCRIPTIONS, "hang", times=99, seconds=60.0)
            for name in ("scroll", "sleep"):
                assert router.hear(pcm_of(said[name])).decode(HINT).backend == "whisper"
            assert router.breaker.state is BreakerState.OPEN and len(control.hits()) == 2
            router._probe_once()  # healthy, yet known to be stalled: stays open
            assert router.breaker.state is BreakerState.OPEN
            for name in ("terminal", "scroll"):
                heard = router.hear(pcm_of(said[name])).decode(HINT)
                assert heard.backend == "whisper"
            assert len(control.hits()) == 2  # not asked: nobody waited on it
            clock.now += 600.0
            router._probe_once()
            assert router.breaker.state is BreakerState.HALF_OPEN
            assert router.hear(pcm_of(said["sleep"])).decode(HINT).backend == "whisper"
            assert len(control.hits()) == 3 and router.breaker.state is BreakerState.OPEN
            assert router.breaker.backoff() == 600.0  # doubled, then capped
            control.clear()  # the engine answers again
            clock.now += 600.0
            router._probe_once()
            back = router.hear(pcm_of(said["scroll"])).decode(HINT)
            assert (back.backend, back.text) == ("voxtral", "Scroll down.")
            assert router.breaker.state is BreakerState.CLOSED
            assert (router.stats.voxtral, router.stats.whisper, router.stats.fallbacks) == \
                (1, 5, 3)
        finally:
            router.close()
