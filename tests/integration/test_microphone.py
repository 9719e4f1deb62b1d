"""The microphone path, end to end, on a virtual microphone (tests/integration/pulse.py).

Everything that opens PortAudio runs in a subprocess with the virtual microphone's
environment: PortAudio lists devices once, when a process initialises it.
"""

from __future__ import annotations

import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

from tests.integration import pulse

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("voxagent")
VOXAGENT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "agent"]
PROBE = Path(__file__).with_name("mic_probe.py")
RATE = pulse.RATE
FRAME = 480  # 30 ms at 16 kHz: MicSource's default block


@pytest.fixture(scope="module")
def mic() -> Iterator[pulse.VirtualMic]:
    with pulse.virtual_microphone() as m:
        yield m


class Lines:
    """A subprocess pipe read by a thread: lines with their arrival time."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.seen.append(line)
            self.lines.put((time.monotonic(), line))
        self.lines.put(None)

    def next(self, timeout: float, what: str) -> tuple[float, str]:
        try:
            item = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {what} within {timeout:.0f} s") from None
        if item is None:
            raise AssertionError(f"stream closed while waiting for {what}")
        return item

    def wait_for(self, needle: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            at, line = self.next(max(0.0, deadline - time.monotonic()), repr(needle))
            if needle in line:
                return at

    def text(self) -> str:
        self._thread.join(timeout=5)
        return "".join(self.seen)


def probe(mic: pulse.VirtualMic, out: Path, *args: str) -> tuple[subprocess.Popen[str], float]:
    """Start mic_probe.py; return it and the time.monotonic() its stream started."""
    proc = subprocess.Popen([sys.executable, str(PROBE), str(out), *args], env=mic.env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"mic_probe did not start: {proc.communicate(timeout=5)[1]}")
    return proc, json.loads(line)["started_at"]


def finish(proc: subprocess.Popen[str], out: Path) -> tuple[np.ndarray, dict[str, Any], str]:
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    pcm = np.frombuffer(out.with_suffix(".raw").read_bytes(), dtype="<i2")
    return pcm, json.loads(out.with_suffix(".json").read_text()), err


@pytest.mark.parametrize("device", ["", pulse.SOURCE], ids=["default", "by-name"])
def test_recording_is_bit_exact_in_30ms_frames(mic: pulse.VirtualMic, tmp_path: Path,
                                               device: str) -> None:
    out = tmp_path / "rec"
    proc, started_at = probe(mic, out, "--seconds", "2.5", "--device", device)
    signal_pcm = np.random.default_rng(7).integers(-30000, 30000, RATE, dtype=np.int16)
    clip = mic.say(signal_pcm.astype("<i2").tobytes())
    clip.wait()
    pcm, meta, _ = finish(proc, out)

    assert meta["overruns"] == 0
    assert meta["status_flags"] == 0
    assert set(meta["lengths"]) == {2 * FRAME}
    starts = np.array(meta["starts"])
    assert starts[0] == 0.0
    np.testing.assert_allclose(np.diff(starts), FRAME / RATE, rtol=0, atol=1e-9)

    at = pcm.tobytes().find(signal_pcm.astype("<i2").tobytes())
    assert at >= 0, "the fed signal is not in the recording, bit for bit"
    assert at % 2 == 0
    # everything around it is the feeder's silence: nothing added, nothing lost
    assert not pcm[: at // 2].any()
    assert not pcm[at // 2 + len(signal_pcm):].any()
    # it sits where the stream clock says: stream time ~ wall time since the stream began
    stream_at = at / 2 / RATE
    wall_at = clip.started_at - started_at
    assert abs(stream_at - wall_at) < 0.25, (stream_at, wall_at)


def test_overruns_are_counted_and_reported(mic: pulse.VirtualMic, tmp_path: Path) -> None:
    """A consumer that stalls loses blocks: they are counted, logged, and stream time
    stays true (frames after the gap carry the start of the audio they hold)."""
    out = tmp_path / "stall"
    proc, _ = probe(mic, out, "--seconds", "3.0", "--queue-blocks", "5",
                    "--stall-at", "0.3", "--stall-for", "1.2")
    # a sample counter: every sample tells its own position in the fed audio
    counter = (np.arange(4 * RATE) % 65536).astype(np.uint16).view("<i2")
    clip = mic.say(counter.tobytes())
    pcm, meta, err = finish(proc, out)
    mic.clear()
    assert clip.started_at > 0

    assert meta["overruns"] > 0
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    assert warnings, f"{meta['overruns']} blocks dropped without a warning:\n{err}"
    assert any(f"{meta['overruns']} blocks dropped" in w for w in warnings), warnings

    frames = pcm.view(np.uint16).reshape(-1, FRAME).astype(np.int64)
    starts = np.round(np.array(meta["starts"]) * RATE).astype(np.int64)
    # frames wholly inside the counter: contiguous, and position - stream time is constant
    inside = [i for i, f in enumerate(frames)
              if f.any() and np.all(np.diff(f) % 65536 == 1)]
    assert len(inside) > 40, "too little of the counter was recorded"
    offsets = {int((frames[i][0] - starts[i]) % 65536) for i in inside}
    assert len(offsets) == 1, f"stream time is off after the overrun: {sorted(offsets)}"
    jumps = np.diff(starts[inside])
    assert (jumps > FRAME).any(), "no gap in stream time although blocks were dropped"
    dropped = int((jumps - FRAME)[jumps > FRAME].sum()) // FRAME
    assert dropped == meta["overruns"], (dropped, meta["overruns"])


def _devices(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VOXAGENT, "devices"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=30, check=False)


def test_devices_lists_the_virtual_microphone(mic: pulse.VirtualMic) -> None:
    result = _devices(mic.env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    names = {line[7:].split("  (")[0]: line for line in result.stdout.splitlines()}
    assert mic.source in names, result.stdout
    assert names["default"].startswith("*"), "the default input is not marked"
    index = int(names[mic.source][2:5])

    script = (
        "import json\n"
        "from agent.audio.mic_source import DeviceError, resolve_device\n"
        f"out = {{'name': resolve_device('{mic.source[:4].upper()}'),\n"
        f"       'index': resolve_device('{index}'), 'default': resolve_device('')}}\n"
        "for bad in ('no such microphone', '999'):\n"
        "    try:\n"
        "        resolve_device(bad)\n"
        "    except DeviceError as exc:\n"
        "        out[bad] = str(exc)\n"
        "print(json.dumps(out))\n"
    )
    found = subprocess.run([sys.executable, "-c", script], env=mic.env, cwd=REPO,
                           capture_output=True, text=True, timeout=30, check=True)
    got = json.loads(found.stdout)
    assert got["name"] == index
    assert got["index"] == index
    assert got["default"] is None
    for bad in ("no such microphone", "999"):
        assert bad in got, f"no DeviceError for {bad!r}"
        assert "\n" not in got[bad] and bad in got[bad], got[bad]


def _pactl(mic: pulse.VirtualMic, *args: str) -> list[list[str]]:
    done = subprocess.run(["pactl", *args], env=mic.env, capture_output=True, text=True,
                          timeout=10, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


def test_a_pulseaudio_source_is_listed_and_recorded_by_name(mic: pulse.VirtualMic,
                                                             tmp_path: Path) -> None:
    """PortAudio lists only `pulse` and `default` for a sound server; its sources are
    listed too ("pulse:<name>"), and one picked by name is the one recorded from. The
    null sink's monitor has no ALSA name of its own (unlike the test's voxmic alias)."""
    monitor = "voxnull.monitor"
    listed = _devices(mic.env)
    assert listed.returncode == 0, listed.stderr
    assert f"pulse:{monitor}  (1 ch, 16000 Hz)" in listed.stdout, listed.stdout
    assert f"pulse:{mic.source}  (1 ch, 16000 Hz)" in listed.stdout, listed.stdout

    out = tmp_path / "rec"
    proc, _ = probe(mic, out, "--seconds", "3", "--device", f"pulse:{monitor}")
    try:
        sources = {row[1]: row[0] for row in _pactl(mic, "list", "short", "sources")}
        recorders = [row for row in _pactl(mic, "list", "short", "source-outputs")
                     if row[1] == sources[monitor]]
        tone = (20000 * np.sin(np.arange(RATE) * 2 * np.pi * 440 / RATE)).astype("<i2")
        mic.say(tone.tobytes()).wait()
    finally:
        pcm, meta, err = finish(proc, out)
    assert recorders, "no stream records from the monitor source"
    assert "recording from PulseAudio source voxnull.monitor" in err, err
    assert np.abs(pcm.astype(np.int32)).max() > 5000, "the tone did not reach the recording"
    assert meta["overruns"] == 0


def _no_audio(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    env = pulse.no_audio_env(tmp_path)
    count = ("import sounddevice as sd\n"
             "print(sum(d['max_input_channels'] > 0 for d in sd.query_devices()))")
    seen = subprocess.run([*pulse.NO_AUDIO_PREFIX, sys.executable, "-c", count], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert seen.returncode == 0, f"cannot hide the audio devices: {seen.stderr}"
    assert seen.stdout.strip() == "0", f"input devices still visible: {seen.stdout}"
    return pulse.NO_AUDIO_PREFIX, env


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode not in (0, None), result
    assert result.returncode > 0, f"killed by signal {-result.returncode}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("voxagent: error: ")
    return lines[0]


def test_run_without_input_device_says_use_input(tmp_path: Path) -> None:
    prefix, env = _no_audio(tmp_path)
    result = subprocess.run([*prefix, *VOXAGENT, "run", "--dry-run", "--json"], env=env,
                            cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    line = _one_clear_line(result)
    assert "--input" in line, line
    assert "input device" in line, line
    assert result.stdout == ""


def test_devices_without_input_device_fails_clearly(tmp_path: Path) -> None:
    prefix, env = _no_audio(tmp_path)
    result = subprocess.run([*prefix, *VOXAGENT, "devices"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=30, check=False)
    line = _one_clear_line(result)
    assert "no audio input device" in line, line
    assert result.stdout == ""


def speech(text: str, folder: Path) -> tuple[Path, float, float]:
    """`text` spoken by flite (voice slt) into a WAV file, and where the voice starts and
    ends in it (seconds). (espeak-ng's "then" comes out as "men" for Whisper tiny.en.)"""
    from agent.audio.file_source import read_audio

    assert shutil.which("flite"), "flite is not installed"
    wav = folder / (text.replace(" ", "_") + ".wav")
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(wav)], check=True,
                   timeout=30)
    pcm = read_audio(wav)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 500)
    return wav, loud[0] / RATE, (loud[-1] + 1) / RATE


def test_live_run_dry_run_json(mic: pulse.VirtualMic, tmp_path: Path) -> None:
    new_tab, nt_on, nt_off = speech("new tab", tmp_path)
    select_copy, sc_on, sc_off = speech("select all then copy", tmp_path)
    proc = subprocess.Popen([*VOXAGENT, "run", "--dry-run", "--json"], env=mic.env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        listening = err.wait_for("listening on the microphone", timeout=60)
        mic.silence(0.5)
        first = mic.play_file(new_tab)
        mic.silence(1.5)
        second = mic.play_file(select_copy)
        mic.silence(0.3)
        got = [json.loads(out.next(20, "JSON line")[1]) for _ in range(2)]
        second.wait()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"voxagent run ignored SIGINT for 5 s:\n{err.text()}") from None
    stderr = err.text()
    assert status in (0, 130), stderr
    assert "Traceback" not in stderr, stderr
    assert len(out.text().splitlines()) == 2, f"more lines than utterances:\n{out.text()}"

    assert [u["actions"] for u in got] == [
        [{"action": "key", "keys": "ctrl+t", "count": 1}],
        [{"action": "key", "keys": "ctrl+a", "count": 1},
         {"action": "key", "keys": "ctrl+c", "count": 1}],
    ], got
    assert [u["command"] for u in got] == ["new tab", "select all then copy"]
    assert all(u["mode"] == "command" for u in got)

    # times are stream seconds; the stream began just after the "listening" line
    fed = [(first.started_at + nt_on, first.started_at + nt_off),
           (second.started_at + sc_on, second.started_at + sc_off)]
    for u, (on, off) in zip(got, fed, strict=True):
        assert u["start"] < u["end"]
        assert -0.4 < (on - listening) - u["start"] < 0.4, (u, on - listening)
        assert -0.5 < (off - listening) - u["end"] < 0.5, (u, off - listening)
    gap_fed = fed[1][0] - fed[0][0]
    assert abs((got[1]["start"] - got[0]["start"]) - gap_fed) < 0.15, (got, gap_fed)


def test_live_run_stops_on_sigterm_while_listening(mic: pulse.VirtualMic) -> None:
    proc = subprocess.Popen([*VOXAGENT, "run", "--dry-run", "--json"], env=mic.env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        err.wait_for("listening on the microphone", timeout=60)
        mic.silence(1.0).wait()  # silence only: nothing to report
    finally:
        proc.terminate()
        try:
            status = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"voxagent run ignored SIGTERM for 5 s:\n{err.text()}") from None
    assert status == 143, err.text()  # 128 + SIGTERM, as shells expect
    assert "Traceback" not in err.text(), err.text()
    assert out.text() == ""


def test_virtual_microphone_stayed_healthy(mic: pulse.VirtualMic) -> None:
    """The daemon and the feeder survived all of the above, on time."""
    mic.check()
    assert mic.feeder.late_chunks < 10
    assert (mic.root / "native").is_socket()


def test_virtual_microphone_tears_down_when_a_test_fails() -> None:
    with pytest.raises(ZeroDivisionError), pulse.virtual_microphone() as m:
        root, daemon, feeder = m.root, m.daemon, m.feeder
        m.say(bytes(3200)).wait()
        _ = 1 / 0
    assert daemon.poll() is not None
    assert not feeder.is_alive()
    assert not root.exists()
