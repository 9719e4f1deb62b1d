"""A Voxtral server that answers badly, through the real pipeline (`voxagent run --input
FILE --dry-run --json --backend auto`, the real whisper model as the fallback) and the
router, against the vLLM double (issue 18, items 5-7): an answer that is not UTF-8, not
JSON, without its text, or far longer than the audio (3,000 words, 1 MB) is a failed
answer: the utterance goes to whisper, the breaker counts it and opens after
Timing.failures_to_open.  A realtime stream that never sends `done` pauses streaming after
that many timeouts (file Voxtral hears the rest, none waits) until a probe of the stream
is answered.  A model the server does not serve is said in one warning."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent.asr import voxtral_session as realtime_session
from agent.asr.base import Hint, RecognitionError, transcribe
from agent.asr.breaker import Timing
from agent.asr.router import BreakerState, RouterRecogniser
from agent.asr.voxtral_realtime import RealtimeStream
from agent.asr.voxtral_session import Session
from agent.config import Config
from tests.integration.vllm_support import (
    REALTIME_MODEL,
    Control,
    Double,
    config,
    free_port,
    speak,
    toml_config,
)

TIMEOUT = 240
TRANSCRIPTIONS = "/v1/audio/transcriptions"
SAID = (("scroll", "scroll down"), ("terminal", "open terminal"), ("tab", "new tab"))
COMMANDS = [command for _, command in SAID]


@pytest.fixture(scope="module")
def session_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three commands, one after another."""
    folder = tmp_path_factory.mktemp("said")
    out = folder / "session.wav"
    subprocess.run(["sox", "-D", *(str(speak(folder, name, words)) for name, words in SAID),
                    str(out)], check=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def file_double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    """Serves the file model, echoes durations (it answers at once)."""
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", env={"VLLM_DOUBLE_ASR": "echo"}) as d:
        yield d


@pytest.fixture(scope="module")
def realtime_double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    """Serves the realtime model, echoes durations."""
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", env={"VLLM_DOUBLE_ASR": "echo"},
                model=REALTIME_MODEL) as d:
        yield d


def run(home: Path, port: int, wav: Path, extra: str = "",
        **timeout: float) -> subprocess.CompletedProcess[str]:
    """`voxagent run --input wav --dry-run --json --fast --backend auto` attached to the
    double on `port`; the breaker opens after 2 failures (its fixed Timing)."""
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "config.toml").write_text(
        toml_config(port, home, f"manage_server = false\n{extra}", **timeout))
    env = {**os.environ, "VOXAGENT_CONFIG_DIR": str(home / "config"),
           "VOXAGENT_STATE_DIR": str(home / "state")}
    return subprocess.run([sys.executable, "-m", "agent", "run", "--input", str(wav),
                           "--dry-run", "--json", "--fast", "--backend", "auto"],
                          env=env, cwd=home, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def heard(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str | None]]:
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(x["text"] and "error" not in x for x in lines), lines  # none lost
    return [(x["backend"], x["command"]) for x in lines]


def warnings(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("voxagent: warning")]


# --- file Voxtral: malformed and runaway answers ---------------------------------------------

MALFORMED = {
    "not-utf8": (b'{"text": "Scroll down caf\xe9 \xff"}', "the answer is not UTF-8"),
    "not-json": (b'{"text": "Scroll down.', "the answer is not JSON"),
    "no-text": (b'{"usage": {"type": "duration", "seconds": 2}}', '"text" is missing'),
    "text-not-a-string": (b'{"text": ["Scroll", "down"]}', '"text" is a list'),
    "3000-words": (json.dumps({"text": " ".join(["word"] * 3000)}).encode(),
                   r"a runaway answer (3000 words in "),
    "1-mb": (json.dumps({"text": "copy " * 200_000}).encode(),
             "the answer is longer than 256 KiB"),
}


@pytest.mark.parametrize("fault", list(MALFORMED))
def test_a_malformed_answer_goes_to_whisper_and_opens_the_breaker(
        fault: str, file_double: Double, session_wav: Path, tmp_path: Path) -> None:
    body, why = MALFORMED[fault]
    control = Control(file_double.url)
    control.clear()
    control.answer(TRANSCRIPTIONS, body, times=99)
    result = run(tmp_path, file_double.port, session_wav)
    assert heard(result) == [("whisper", command) for command in COMMANDS]
    assert len(control.hits()) == 2  # two failures opened the breaker: not asked again
    said = warnings(result)
    assert len(said) == 2 and all(why in line for line in said), said
    assert "voxtral paused" in said[1] and "voxtral paused" not in said[0]


# --- Voxtral Realtime: a stream that never ends ------------------------------------------------


def test_a_stream_without_done_pauses_streaming(realtime_double: Double, session_wav: Path,
                                                tmp_path: Path) -> None:
    """Each stream waits for its `done` in vain: after two, streaming pauses and file
    Voxtral (which answers) hears every utterance without waiting for a stream."""
    control = Control(realtime_double.url)
    control.clear()
    control.fail("/v1/realtime", "no_done", times=99)
    result = run(tmp_path, realtime_double.port, session_wav, 'mode = "realtime"\n',
                 request_timeout_s=1.0)
    # file Voxtral heard each (the double echoes durations: no command to compare)
    assert [backend for backend, _ in heard(result)] == ["voxtral"] * len(SAID)
    said = warnings(result)
    waited = [line for line in said if "no transcription.done within 1 s" in line]
    assert len(waited) == 2, said  # only Timing.failures_to_open utterances waited
    assert sum("streaming paused" in line for line in said) == 1, said
    assert len([r for r in control.requests() if r["path"] == TRANSCRIPTIONS]) >= 3


@pytest.fixture
def router(realtime_double: Double, tmp_path: Path) -> Iterator[RouterRecogniser]:
    """Realtime first; both breakers open after 2 failures; a paused stream is probed at
    once (no backoff), every 0.1 s."""
    Control(realtime_double.url).clear()
    vox = config(realtime_double.port, tmp_path, mode="realtime", manage_server=False,
                 request_timeout_s=1.0)
    made = RouterRecogniser(replace(Config(), voxtral=vox), timing=Timing(
        failures_to_open=2, probe_interval_s=0.1, stall_backoff_s=0.0))
    made.load()
    assert made.realtime is not None and made.realtime.session.wait_connected(10)
    yield made
    made.close()


def realtime_records(double: Double) -> list[dict[str, Any]]:
    return [r for r in Control(double.url).requests() if r["path"] == "/v1/realtime"]


def until(check: Any, timeout: float = 60.0) -> None:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout
        time.sleep(0.02)


def test_streaming_resumes_once_a_probe_is_answered(router: RouterRecogniser,
                                                    realtime_double: Double) -> None:
    control = Control(realtime_double.url)
    control.fail("/v1/realtime", "no_done", times=999)
    for _ in range(2):
        assert transcribe(router, bytes(32000), Hint()).backend == "voxtral"
    assert router.streaming.state is not BreakerState.CLOSED  # paused (probes may run)
    assert router.breaker.state is BreakerState.CLOSED  # file Voxtral answers
    until(lambda: router.streaming.trials >= 1)  # a probe failed: still paused
    assert transcribe(router, bytes(32000), Hint()).backend == "voxtral"
    control.clear()  # the stream ends again
    until(lambda: router.streaming.state is BreakerState.CLOSED)
    back = transcribe(router, bytes(32000), Hint())
    assert (back.backend, back.text) == ("voxtral-realtime", "1.00 seconds of audio")
    probes = [r for r in realtime_records(realtime_double) if r["bytes"] == 16000]
    assert probes, realtime_records(realtime_double)  # the probe that resumed streaming


@pytest.mark.parametrize(("fault", "why"), [("runaway", "words in 1.0 s of audio"),
                                            ("bad_done", "'text' is a int")])
def test_a_bad_final_text_fails_the_stream(router: RouterRecogniser, realtime_double: Double,
                                           fault: str, why: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    Control(realtime_double.url).fail("/v1/realtime", fault)
    with caplog.at_level(logging.WARNING, logger="agent.asr.streamroute"):
        fallback = transcribe(router, bytes(32000), Hint())
    assert (fallback.backend, fallback.text) == ("voxtral", "1.00 seconds of audio")
    assert any(why in r.getMessage() for r in caplog.records), caplog.text
    assert router.realtime is not None and router.realtime.session.wait_connected(10)
    assert transcribe(router, bytes(16000), Hint()).backend == "voxtral-realtime"
    if fault == "runaway":  # its deltas are not shown or matched either
        Control(realtime_double.url).fail("/v1/realtime", fault)
        stream = router.realtime.stream()
        stream.feed(bytes(32000))
        with pytest.raises(RecognitionError, match="a runaway answer"):
            stream.finish(bytes(32000))
        assert stream.partial() == ""


# --- a model the server does not serve: one warning --------------------------------------------


def test_a_model_not_served_is_one_warning(realtime_double: Double, session_wav: Path,
                                           tmp_path: Path) -> None:
    Control(realtime_double.url).clear()
    result = run(tmp_path, realtime_double.port, session_wav,
                 'mode = "realtime"\nrealtime_model = "acme/other"\n')
    assert heard(result) == [("whisper", command) for command in COMMANDS]
    assert warnings(result) == [
        f"voxagent: warning: voxtral: not used (the server at http://127.0.0.1:"
        f"{realtime_double.port}/v1 serves {REALTIME_MODEL}, not acme/other "
        "(voxtral.realtime_model)); recognising with whisper"]
    assert not Control(realtime_double.url).requests()


def test_a_refused_session_is_said_once(realtime_double: Double,
                                       monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """The server refuses the session's model (after the agent checked it): one warning,
    although each turn fails on it and each new session is refused again."""
    monkeypatch.setattr(realtime_session, "REFUSAL_S", 0.0)  # every turn tries again
    session = Session(f"ws://127.0.0.1:{realtime_double.port}/v1/realtime", "x/y", "EMPTY",
                      1.0, 0.05)
    with caplog.at_level(logging.INFO, logger="agent.asr.voxtral_session"):
        session.start()
        try:
            for _ in range(3):
                until(lambda: session.refused and session.connected)
                stream = RealtimeStream(session)
                stream.feed(bytes(3200))
                with pytest.raises(RecognitionError, match="model_not"):
                    stream.finish(bytes(3200))
        finally:
            session.close()
    refusals = [r for r in caplog.records if "model_not" in r.getMessage()]
    assert len(refusals) >= 3
    assert [r.levelno for r in refusals].count(logging.WARNING) == 1, caplog.text
