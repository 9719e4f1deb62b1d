"""One acting agent at a time, the log file, and what reaches the terminal, for real:
two `voxagent run` subprocesses on an Xvfb display, the log file they write, and the
native libraries (ALSA, python-xlib) that used to write to stderr themselves."""

from __future__ import annotations

import ctypes.util
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.integration import x11

x_server = x11.x_server
TIMEOUT = 180


def env(tmp: Path, display: str = "") -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    e |= {"VOXAGENT_CONFIG_DIR": str(tmp / "config"), "VOXAGENT_STATE_DIR": str(tmp / "state")}
    return e | ({"DISPLAY": display} if display else {})


def voxagent(tmp: Path, *args: str, display: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", *args], env=env(tmp, display),
                          cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.fixture
def quiet_wav(tmp_path: Path) -> Path:
    """A minute of near silence: `run` without --fast reads it for a minute."""
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(16000 * 60, dtype=np.int16), 16000)
    return path


@pytest.fixture
def new_tab(tmp_path: Path) -> Path:
    path = tmp_path / "new-tab.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "new tab"], check=True, timeout=60)
    return path


def wait_for_holder(lock: Path, pid: int, proc: subprocess.Popen[str]) -> None:
    """Until the lock file names `pid` (the first run has taken the lock)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if lock.is_file() and f"pid {pid}," in lock.read_text():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{lock} never named pid {pid}")


def test_a_second_acting_run_is_refused_and_a_crash_leaves_no_lock(
        tmp_path: Path, x_server: x11.XServer, quiet_wav: Path, new_tab: Path) -> None:
    first = subprocess.Popen([sys.executable, "-m", "agent", "run", "--input", str(quiet_wav)],
                             env=env(tmp_path, x_server.display), cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock = tmp_path / "state" / "voxagent.lock"
        wait_for_holder(lock, first.pid, first)
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
        second = voxagent(tmp_path, "run", "--input", str(new_tab), "--fast",
                          display=x_server.display)
        assert second.returncode == 3, second.stderr
        (line,) = second.stderr.splitlines()
        assert line.startswith(f"voxagent: error: another voxagent is running (pid {first.pid}, "
                               "since "), line
        # a dry run performs nothing, so it may run beside the agent
        dry = voxagent(tmp_path, "run", "--input", str(new_tab), "--fast", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "new tab" in dry.stdout
    finally:
        first.send_signal(signal.SIGKILL)  # a crash: the kernel drops the lock
        first.communicate(timeout=TIMEOUT)
    third = voxagent(tmp_path, "run", "--input", str(new_tab), "--fast", "--json",
                     display=x_server.display)
    assert third.returncode == 0, third.stderr
    assert '"command": "new tab"' in third.stdout


def test_log_file_is_private_and_takes_info(tmp_path: Path, new_tab: Path) -> None:
    result = voxagent(tmp_path, "run", "--input", str(new_tab), "--fast", "--dry-run")
    assert result.returncode == 0, result.stderr
    log = tmp_path / "state" / "voxagent.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    text = log.read_text()
    assert " INFO agent.asr.whisper: whisper model " in text
    assert "whisper model" not in result.stderr  # INFO detail: the file, not the terminal
    assert "voxtral" not in result.stderr  # no server under auto: quiet (the file has it)
    assert " INFO agent.asr.router: voxtral: not used" in text


TERMINAL = """
import logging, sys
from agent.logsetup import setup
setup(int(sys.argv[1]))
logging.getLogger("agent.desktop.session").info("voxagent: listening (hands-free, command mode)")
logging.getLogger("agent.asr.hearing").info("doubted 'x'")
logging.getLogger("agent.audio.mic_source").warning("device gone")
"""


def test_status_lines_are_info_printed_once_cleanly(tmp_path: Path) -> None:
    def run(verbose: str) -> list[str]:
        out = subprocess.run([sys.executable, "-c", TERMINAL, verbose], capture_output=True,
                             text=True, timeout=TIMEOUT, check=True, cwd=tmp_path)
        return out.stderr.splitlines()

    assert run("0") == ["voxagent: listening (hands-free, command mode)",
                        "voxagent: warning: device gone"]
    assert run("1") == ["voxagent: agent.desktop.session: listening (hands-free, command mode)",
                        "voxagent: agent.asr.hearing: doubted 'x'",
                        "voxagent: warning: agent.audio.mic_source: device gone"]


ALSA = """
import ctypes, sys
if sys.argv[1] == "quiet":
    from agent.logsetup import route_native_errors
    route_native_errors()
lib = ctypes.CDLL("libasound.so.2")
handle = ctypes.c_void_p()
print(lib.snd_pcm_open(ctypes.byref(handle), b"voxagent_no_such_pcm", 0, 0))
"""


@pytest.mark.skipif(ctypes.util.find_library("asound") is None, reason="no ALSA library")
def test_alsa_messages_do_not_reach_the_terminal(tmp_path: Path) -> None:
    def stderr(how: str) -> str:
        out = subprocess.run([sys.executable, "-c", ALSA, how], capture_output=True, text=True,
                             timeout=TIMEOUT, check=True, cwd=tmp_path)
        assert int(out.stdout) < 0  # the open failed, so ALSA had something to say
        return out.stderr

    assert "voxagent_no_such_pcm" in stderr("loud")
    assert stderr("quiet") == ""


XLIB = """
import sys
from Xlib import display
if sys.argv[1] == "quiet":
    from agent.logsetup import route_native_errors
    route_native_errors()
d = display.Display()
d.create_resource_object("window", 0x3fffff0).map()  # no such window: BadWindow
d.sync()
print("synced")
"""


def test_xlib_errors_do_not_reach_the_terminal(tmp_path: Path, x_server: x11.XServer) -> None:
    def stderr(how: str) -> str:
        out = subprocess.run([sys.executable, "-c", XLIB, how], capture_output=True, text=True,
                             timeout=TIMEOUT, check=True, cwd=tmp_path,
                             env=env(tmp_path, x_server.display))
        assert out.stdout.strip() == "synced"
        return out.stderr

    assert "BadWindow" in stderr("loud")
    assert stderr("quiet") == ""
