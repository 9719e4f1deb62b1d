"""Voxtral Realtime against the vLLM double's /v1/realtime WebSocket (a real server on
127.0.0.1 in a subprocess), with the real segmenter feeding the stream the way the capture
thread does: frames go to the socket while the person speaks, in real time; the final text
comes with transcription.done.  Faults: the connection dropped or the server dying
mid-utterance (the utterance is heard once, by file Voxtral or whisper), a server that never
sends done, slow deltas, reconnection after the server comes back, an unknown model, a
wrong key.  The double's running sha256 proves no chunk was lost or reordered."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.asr import voxtral_session as realtime_session
from agent.asr.base import Hint, RecognitionError, Stream, transcribe
from agent.asr.breaker import Timing
from agent.asr.router import RouterRecogniser
from agent.asr.voxtral_realtime import RealtimeRecogniser, RealtimeStream
from agent.asr.voxtral_session import Session
from agent.audio.file_source import FileSource
from agent.audio.vad import Segmenter
from agent.config import Config
from agent.messages import Transcript
from tests.integration.vllm_support import (
    REALTIME_MODEL,
    Control,
    Double,
    config,
    free_port,
    pcm_of,
    speak,
)

TIMEOUT = 180
HINT = Hint(("scroll down", "go to sleep", "open terminal"), 3)


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("said")
    scroll = speak(folder, "scroll", "scroll down")
    sleep = speak(folder, "sleep", "go to sleep")
    session = folder / "session.wav"
    subprocess.run(["sox", "-D", str(scroll), str(sleep), str(session)], check=True, timeout=60)
    return {"scroll": scroll, "sleep": sleep, "session": session,
            "fox": speak(folder, "fox", "the quick brown fox jumps over the lazy dog")}


@pytest.fixture(scope="module")
def hearing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    """Serves the realtime model and hears with faster-whisper."""
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", model=REALTIME_MODEL) as d:
        yield d


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    """Serves the realtime model, echoes durations, and wants the key k3y."""
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", env={"VLLM_DOUBLE_ASR": "echo"},
                flags=["--api-key", "k3y"], model=REALTIME_MODEL) as d:
        yield d


def realtime_config(port: int, tmp: Path, **changes: Any) -> Config:
    """[voxtral] mode = "realtime", attached to the double on `port`; done may take up to
    20 s (the double hears on a CPU shared with the test)."""
    vox = config(port, tmp, mode="realtime", manage_server=False,
                 **{"request_timeout_s": 20.0, **changes})
    return replace(Config(), voxtral=vox)


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RealtimeRecogniser]:
    """The realtime backend attached to the double named by the test's `double` param."""
    double: Double = request.getfixturevalue(request.param)
    Control(double.url).clear()
    made = RealtimeRecogniser(realtime_config(double.port, tmp_path, api_key="k3y"))
    made.load()
    yield made
    made.close()


@dataclass
class Streamed:
    """One utterance as the driver streamed it."""

    transcript: Transcript | None
    error: str
    fed: bytes
    partials: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.fed).hexdigest()


def drive(recogniser: Any, path: Path, fast: bool = False,
          before_finish: Any = None) -> list[Streamed]:
    """What the capture thread does: every frame goes to the segmenter; when speech starts
    a stream begins with the frames the segmenter may have kept (pre-roll and the start
    window), then every frame goes to the stream as it arrives (paced in real time unless
    `fast`); the utterance the segmenter closes is finished with its audio (a noise burst is
    cancelled)."""
    cfg = Config()
    seg = Segmenter(cfg.vad, cfg.audio.block_ms)
    ring: deque[bytes] = deque(maxlen=(cfg.vad.pre_roll_ms + 300) // cfg.audio.block_ms + 1)
    stream: Stream | None = None
    fed = bytearray()
    partials: list[str] = []
    done: list[Streamed] = []
    for frame in FileSource(path, cfg.audio.block_ms, fast=fast).frames():
        if stream is not None:
            stream.feed(frame.pcm)
            fed += frame.pcm
            partials.append(stream.partial())
        else:
            ring.append(frame.pcm)
        utt = seg.feed(frame)
        if stream is None and seg.in_speech:
            stream = recogniser.stream()
            for pcm in ring:
                stream.feed(pcm)
                fed += pcm
            ring.clear()
        elif stream is not None and not seg.in_speech:
            if utt is None:
                stream.cancel()
            else:
                if before_finish is not None:
                    before_finish(len(done))
                done.append(finish(stream, utt.pcm, bytes(fed), partials))
            stream, fed, partials = None, bytearray(), []
    return done


def finish(stream: Stream, pcm: bytes, fed: bytes, partials: list[str]) -> Streamed:
    try:
        transcript = stream.finish(pcm).decode(HINT)
    except RecognitionError as exc:
        return Streamed(None, str(exc), fed, partials)
    partials.append(stream.partial())
    return Streamed(transcript, "", fed, partials)


def realtime_records(double: Double) -> list[dict[str, Any]]:
    return [r for r in Control(double.url).requests() if r["path"] == "/v1/realtime"]


# --- streaming --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["hearing"], indirect=True)
def test_utterances_streamed_in_real_time_on_one_session(backend: RealtimeRecogniser,
                                                         hearing: Double,
                                                         said: dict[str, Path]) -> None:
    heard = drive(backend, said["session"])
    assert all(s.transcript for s in heard), [s.error for s in heard]
    assert [(s.transcript.backend, s.transcript.text) for s in heard if s.transcript] == [
        ("voxtral-realtime", "Scroll down."), ("voxtral-realtime", "Go to sleep.")]
    records = realtime_records(hearing)
    assert [(r["bytes"], r["sha256"]) for r in records] == [(len(s.fed), s.sha256)
                                                           for s in heard]
    assert all(r["deltas"] >= len(s.fed) // 2560 for r, s in zip(records, heard, strict=True))
    assert [s.partials[-1] for s in heard] == ["Scroll down.", "Go to sleep."]
    (session,) = Control(hearing.url).sessions()  # one session carried both
    everything = b"".join(s.fed for s in heard)
    assert (session["bytes"], session["sha256"]) == (len(everything),
                                                    hashlib.sha256(everything).hexdigest())
    assert (session["utterances"], session["dropped_bytes"], session["errors"]) == (2, 0, [])
    assert session["model"] == REALTIME_MODEL
    assert backend.session.connects == 1


@pytest.mark.parametrize("backend", ["hearing"], indirect=True)
def test_partial_text_comes_while_the_audio_arrives(backend: RealtimeRecogniser,
                                                    hearing: Double,
                                                    said: dict[str, Path]) -> None:
    pcm = pcm_of(said["fox"])
    stream = backend.stream()
    control = Control(hearing.url)
    second = int(16000 * 1.2) * 2
    for n, part in enumerate((pcm[:second], pcm[second:2 * second]), start=1):
        stream.feed(part)  # then wait until the double has heard it (it is slow here)
        until(lambda n=n: control.sessions()[0]["passes"] >= n, 120)
    # and until the words that pass sent have arrived (they go out after it is counted)
    until(lambda: len(stream.partial().split()) >= control.sessions()[0]["words"], 120)
    partial = stream.partial()
    stream.feed(pcm[2 * second:])
    final = stream.finish(pcm).decode(Hint()).text
    (record,) = realtime_records(hearing)
    assert partial and record["words_at"] is not None and record["words_at"] < len(pcm)
    assert final.lower().startswith(partial.lower()) and "lazy dog" in final.lower()
    assert stream.partial() == final == record["text"]


@pytest.mark.parametrize("backend", ["echo"], indirect=True)
def test_backpressure_loses_and_reorders_nothing(backend: RealtimeRecogniser,
                                                 echo: Double) -> None:
    Control(echo.url).fail("/v1/realtime", "slow", seconds=0.01)  # slow deltas
    pcm = np.random.default_rng(7).integers(-3000, 3000, 16000 * 4, dtype="<i2").tobytes()
    stream = backend.stream()
    for i in range(0, len(pcm), 320):  # 400 chunks of 10 ms, as fast as they come
        stream.feed(pcm[i:i + 320])
    transcript = stream.finish(pcm).decode(Hint())
    assert transcript.text == "4.00 seconds of audio"
    (record,) = realtime_records(echo)
    assert (record["bytes"], record["sha256"]) == (len(pcm), hashlib.sha256(pcm).hexdigest())
    assert record["appends"] < 400  # the backlog went out coalesced, in order
    assert stream.partial() == transcript.text


@pytest.mark.parametrize("backend", ["echo"], indirect=True)
def test_a_server_that_never_sends_done(backend: RealtimeRecogniser, echo: Double) -> None:
    backend.session.final_timeout = 1.0
    Control(echo.url).fail("/v1/realtime", "no_done")
    with pytest.raises(RecognitionError, match=r"no transcription.done within 1 s"):
        backend.hear(bytes(32000))
    assert backend.session.wait_connected(10)  # a fresh session: a late done is not taken
    assert transcribe(backend, bytes(16000), Hint()).text == "0.50 seconds of audio"
    assert backend.session.connects == 2


@pytest.mark.parametrize("backend", ["echo"], indirect=True)
def test_the_key_reaches_the_double(backend: RealtimeRecogniser, echo: Double,
                                    caplog: pytest.LogCaptureFixture) -> None:
    assert transcribe(backend, bytes(32000), Hint()).text == "1.00 seconds of audio"
    assert [s["utterances"] for s in Control(echo.url).sessions()] == [1]
    wrong = Session(f"ws://127.0.0.1:{echo.port}/v1/realtime", REALTIME_MODEL, "wrong",
                    1.0, 0.05)
    with caplog.at_level(logging.WARNING):
        wrong.start()
        try:
            until(lambda: wrong.attempts >= 3)
        finally:
            wrong.close()
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert lines == [f"voxtral realtime: ws://127.0.0.1:{echo.port}/v1/realtime refused the "
                     "connection (HTTP 401 Unauthorized): check voxtral.api_key; retrying in "
                     "the background"]  # once, although retried
    assert len(Control(echo.url).sessions()) == 1


@pytest.mark.parametrize("backend", ["echo"], indirect=True)
def test_an_unknown_model_is_refused(backend: RealtimeRecogniser, echo: Double) -> None:
    other = Session(f"ws://127.0.0.1:{echo.port}/v1/realtime", "x/y", "k3y", 1.0, 0.05)
    other.start()
    try:
        assert other.wait_connected(10)
        # The server answers the session's model at once, before anyone speaks (the test
        # used to start a turn at once too, and whether the refusal or the turn came first
        # was a race): from then on a turn fails at once and sends nothing.
        until(lambda: other.refused)
        before = sum(s["bytes"] for s in Control(echo.url).sessions())
        stream = RealtimeStream(other)
        stream.feed(bytes(3200))
        with pytest.raises(RecognitionError, match=r"The model `x/y` does not exist\. "
                                                   r"\(model_not_found\)"):
            stream.finish(bytes(3200))
        again = RealtimeStream(other)
        again.feed(bytes(3200))
        with pytest.raises(RecognitionError, match="model_not_found"):  # at once, no audio
            again.finish(bytes(3200))
        assert sum(s["bytes"] for s in Control(echo.url).sessions()) == before
    finally:
        other.close()
    assert not realtime_records(echo)
    assert all(s["model"] is None for s in Control(echo.url).sessions()[1:])


@pytest.mark.parametrize("backend", ["echo"], indirect=True)
def test_an_error_during_a_turn_fails_it_and_drops_the_session(
        backend: RealtimeRecogniser, echo: Double, monkeypatch: pytest.MonkeyPatch) -> None:
    """A turn started on a session whose model was refused (the refusal forgotten at once
    here): the server's "model_not_validated" fails it, and the session, out of step now,
    is dropped for a new one."""
    monkeypatch.setattr(realtime_session, "REFUSAL_S", 0.0)
    other = Session(f"ws://127.0.0.1:{echo.port}/v1/realtime", "x/y", "k3y", 1.0, 0.05)
    other.start()
    try:
        assert other.wait_connected(10)
        until(lambda: other.refused)
        stream = RealtimeStream(other)
        stream.feed(bytes(3200))
        with pytest.raises(RecognitionError, match=r"\(model_not_validated\)"):
            stream.finish(bytes(3200))
        until(lambda: not Control(echo.url).sessions()[1]["open"])
        until(lambda: len(Control(echo.url).sessions()) > 2)  # and opened again
    finally:
        other.close()


def until(check: Any, timeout: float = 180.0) -> None:
    import time

    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout
        time.sleep(0.02)


def test_reconnects_after_the_server_comes_back(tmp_path: Path) -> None:
    port = free_port()
    first = Double(port, tmp_path / "a.log", env={"VLLM_DOUBLE_ASR": "echo"},
                   model=REALTIME_MODEL).start()
    rt = RealtimeRecogniser(realtime_config(port, tmp_path), reconnect_s=0.05)
    try:
        rt.load()
        assert transcribe(rt, bytes(32000), Hint()).text == "1.00 seconds of audio"
        first.stop()
        with pytest.raises(RecognitionError, match=r"connection lost|not connected"):
            transcribe(rt, bytes(32000), Hint())
        with Double(port, tmp_path / "b.log", env={"VLLM_DOUBLE_ASR": "echo"},
                    model=REALTIME_MODEL) as second:
            assert rt.session.wait_connected(30)
            assert transcribe(rt, bytes(16000), Hint()).text == "0.50 seconds of audio"
            assert len(realtime_records(second)) == 1
        assert rt.session.connects == 2 and rt.session.attempts > 2  # backoff while down
    finally:
        rt.close()
        first.stop()


# --- the router: realtime, then file Voxtral, then whisper -----------------------------------


@pytest.fixture
def router(echo: Double, tmp_path: Path) -> Iterator[RouterRecogniser]:
    Control(echo.url).clear()
    made = RouterRecogniser(realtime_config(echo.port, tmp_path, api_key="k3y"),
                             timing=Timing(failures_to_open=3, probe_interval_s=0.2))
    made.load()
    assert made.realtime is not None and made.realtime.session.wait_connected(10)
    yield made
    made.close()


def test_connection_dropped_mid_utterance_file_voxtral_hears_it_once(
        router: RouterRecogniser, echo: Double, said: dict[str, Path]) -> None:
    assert router.capabilities.stream
    Control(echo.url).fail("/v1/realtime", "drop")
    heard = drive(router, said["session"], fast=True)
    assert [(s.transcript.backend, s.transcript.text[-16:]) for s in heard if s.transcript] \
        == [("voxtral", "seconds of audio"), ("voxtral-realtime", "seconds of audio")]
    paths = [r["path"] for r in Control(echo.url).requests()]
    assert paths == ["/v1/audio/transcriptions", "/v1/realtime"]  # each heard once
    assert (router.stats.realtime, router.stats.voxtral, router.stats.fallbacks) == (1, 1, 1)
    assert router.stats.whisper == 0


def test_server_dies_mid_utterance_whisper_hears_it_once(said: dict[str, Path],
                                                         tmp_path: Path) -> None:
    port = free_port()
    dying = Double(port, tmp_path / "dying.log", env={"VLLM_DOUBLE_ASR": "echo"},
                   model=REALTIME_MODEL).start()
    r = RouterRecogniser(realtime_config(port, tmp_path),
                          timing=Timing(failures_to_open=3, probe_interval_s=60.0))
    try:
        r.load()
        assert r.realtime is not None and r.realtime.session.wait_connected(10)

        def kill_second(index: int) -> None:  # taken by the next utterance's generation
            if index == 0:
                Control(dying.url).fail("/v1/realtime", "die")
        with_fault = drive(r, said["session"], before_finish=kill_second)
    finally:
        r.close()
        dying.stop()
    assert [(s.transcript.backend, s.transcript.text) for s in with_fault if s.transcript] \
        [1:] == [("whisper", "Go to sleep.")]
    assert with_fault[0].transcript is not None
    assert with_fault[0].transcript.backend == "voxtral-realtime"
    assert (r.stats.realtime, r.stats.voxtral, r.stats.whisper, r.stats.fallbacks) == \
        (1, 0, 1, 2)
