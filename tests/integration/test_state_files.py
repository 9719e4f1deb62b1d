"""The state folder and its files on real filesystems (agent/paths.py): links planted in
place of the lock, the log and the history; a folder another user owns and everyone can
write; a full disk under the log; a read-only one. `voxagent` runs as a real subprocess;
"another user" is uid OTHER, and the agent runs as root with every capability dropped
(setpriv), so that the kernel checks its permissions as it does a normal user's. Mounting,
chown and setpriv need root, as the tests run in CI."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.asr.voxtral_client import health
from agent.desktop.history import History
from agent.lock import acquire
from agent.logsetup import add_file
from agent.paths import PrivateError, private_state
from tests import namespace
from tests.integration import pulse
from tests.integration.test_history import fill, tmpfs
from tests.integration.vllm_support import fake_gpu, fake_model, free_port, toml_config

TIMEOUT = 180
OTHER = 61001
"""Another user's uid (it needs no name: only the number is stored and compared)."""
NO_CAPS = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
"""Run as root without any capability: no bypass of file permissions or ownership."""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown, mount and setpriv need root")


def env(tmp: Path, state: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return e | {"VOXAGENT_CONFIG_DIR": str(tmp / "config"), "VOXAGENT_STATE_DIR": str(state)}


def voxagent(tmp: Path, state: Path, *args: str, prefix: tuple[str, ...] = ()
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "agent", *args], env=env(tmp, state),
                          cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def new_tab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "new-tab.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "new tab"], check=True, timeout=60)
    return path


def planted(tmp: Path, name: str, text: str = "theirs\n", mode: int = 0o644) -> Path:
    """A file outside the state folder, as whoever planted the link made it."""
    target = tmp / "outside" / name
    target.parent.mkdir(exist_ok=True)
    target.write_text(text)
    target.chmod(mode)
    return target


def problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "warning" in line or "error" in line]


# --- 8: links in place of the state files ------------------------------------------------

def test_a_linked_lock_refuses_an_acting_run_in_one_line(tmp_path: Path, new_tab: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    target = planted(tmp_path, "lock")
    (state / "voxagent.lock").symlink_to(target)
    result = voxagent(tmp_path, state, "run", "--input", str(new_tab), "--fast")
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"voxagent: error: {state / 'voxagent.lock'} is a symbolic link: "
                           "refused;"), line
    assert target.read_text() == "theirs\n" and oct(target.stat().st_mode)[-3:] == "644"
    assert result.stdout == ""


def test_a_linked_log_file_is_refused_and_the_run_goes_on(tmp_path: Path,
                                                           new_tab: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    target = planted(tmp_path, "log")
    (state / "voxagent.log").symlink_to(target)
    result = voxagent(tmp_path, state, "run", "--input", str(new_tab), "--fast", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert problems(result.stderr) == [f"voxagent: warning: no log file: "
                                       f"{state / 'voxagent.log'} is a symbolic link: refused"]
    assert "new tab" in result.stdout
    assert target.read_text() == "theirs\n"
    assert (state / "voxagent.log").is_symlink()  # left as it is: not ours to remove


def test_doctor_names_a_linked_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "voxagent.log").symlink_to(planted(tmp_path, "log"))
    result = voxagent(tmp_path, state, "doctor")
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = [x for x in result.stdout.splitlines() if " permissions " in x]
    assert line.split()[0] == "WARN", line
    assert f"{state / 'voxagent.log'} is a symbolic link: the agent does not use them" in line


@pytest.mark.parametrize("plant", ["link", "fifo", "hard link", "not ours"])
def test_a_history_that_is_not_a_private_file_is_refused_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, plant: str) -> None:
    if plant == "not ours" and os.geteuid() != 0:
        pytest.skip("chown needs root")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    path = state / "history.jsonl"
    target = planted(tmp_path, "history", mode=0o666)
    if plant == "link":
        path.symlink_to(target)
    elif plant == "hard link":
        os.link(target, path)
    elif plant == "fifo":
        os.mkfifo(path, 0o600)
    else:
        target.rename(path)
        os.chown(path, OTHER, OTHER)
    history = History(path)
    assert history.secure()  # the folder is fine; the file is refused when it is used
    for i in range(3):
        history.append({"i": i, "text": "New tab.", "command": "new tab"})
    assert history.recent() == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    expected = {"link": "is a symbolic link", "fifo": "is not a regular file",
                "hard link": "has 2 names", "not ours": f"belongs to uid {OTHER}, not to you"}
    assert warnings[0].startswith(f"cannot write the history: {path} ")
    assert expected[plant] in warnings[0] and warnings[0].endswith("refused")
    if plant != "fifo":
        written = (path if plant == "not ours" else target)
        assert written.read_text() == "theirs\n"


# --- 9: a state folder someone else owns -----------------------------------------------------

@pytest.fixture
def theirs(tmp_path: Path) -> Iterator[Path]:
    """A 0777 state folder of user OTHER, with links to their 0666 files in place of the
    history and the log, as they would plant them."""
    folder = tmp_path / "theirs"
    folder.mkdir()
    for name in ("history.jsonl", "voxagent.log"):
        target = planted(tmp_path, name, mode=0o666)
        os.chown(target, OTHER, OTHER)
        (folder / name).symlink_to(target)
        os.lchown(folder / name, OTHER, OTHER)
    os.chown(folder, OTHER, OTHER)
    folder.chmod(0o777)
    tmp_path.chmod(0o755)
    yield folder


def _untouched(tmp: Path) -> None:
    for name in ("history.jsonl", "voxagent.log"):
        assert (tmp / "outside" / name).read_text() == "theirs\n", name


@needs_root
def test_a_state_folder_of_another_user_is_refused_in_one_line(
        tmp_path: Path, theirs: Path, new_tab: Path) -> None:
    refused = (f"the state folder {theirs} belongs to uid {OTHER}, not to you")
    dry = voxagent(tmp_path, theirs, "run", "--input", str(new_tab), "--fast", "--dry-run",
                   prefix=tuple(NO_CAPS))
    assert dry.returncode == 0, dry.stderr
    assert problems(dry.stderr) == [f"voxagent: warning: {refused}: no history and no log "
                                    "file are written"]
    assert "new tab" in dry.stdout

    acting = voxagent(tmp_path, theirs, "run", "--input", str(new_tab), "--fast",
                      prefix=tuple(NO_CAPS))
    assert acting.returncode == 2, acting.stderr
    (line,) = acting.stderr.splitlines()
    assert line.startswith(f"voxagent: error: {refused}; an acting run keeps its "
                           "single-instance lock there"), line

    history = subprocess.run(  # the live session's history, as that user
        [*NO_CAPS, sys.executable, "-c", HISTORY_AS_USER], env=env(tmp_path, theirs),
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert history.returncode == 0, history.stderr
    assert history.stdout == "history: None\n"
    assert history.stderr.splitlines() == [  # the session's and the log's check, said once
        f"voxagent: warning: {refused}: no history and no log file are written",
        f"voxagent: warning: cannot write the history: {refused}"]  # a write there, refused
    assert sorted(p.name for p in theirs.iterdir()) == ["history.jsonl", "voxagent.log"]
    _untouched(tmp_path)


HISTORY_AS_USER = """
from dataclasses import replace
from agent.config import Config
from agent.desktop.history import History
from agent.desktop.session import LiveSession
from agent.logsetup import add_file, setup
from agent.paths import state_dir
setup(0)
cfg = Config()
session = LiveSession(replace(cfg, desktop=replace(cfg.desktop, sounds=False)), tray=False)
add_file()
History(state_dir() / "history.jsonl").append({"text": "New tab.", "command": "new tab"})
print("history:", session.history)
"""


@needs_root
def test_an_own_folder_open_to_all_is_made_private_and_links_in_it_refused(
        tmp_path: Path, theirs: Path) -> None:
    os.chown(theirs, 0, 0)  # ours now, still 0777, with their links in it
    for name in ("history.jsonl", "voxagent.log"):
        os.lchown(theirs / name, 0, 0)  # even links we own are not followed
    result = subprocess.run([*NO_CAPS, sys.executable, "-c", HISTORY_AS_USER],
                            env=env(tmp_path, theirs), cwd=tmp_path, capture_output=True,
                            text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr
    assert oct(theirs.stat().st_mode)[-3:] == "700"
    assert result.stdout.startswith("history: <agent.desktop.history.History")
    assert problems(result.stderr) == [
        f"voxagent: warning: no log file: {theirs / 'voxagent.log'} is a symbolic link: refused",
        f"voxagent: warning: cannot write the history: {theirs / 'history.jsonl'} is a "
        "symbolic link: refused"]
    _untouched(tmp_path)


@needs_root
def test_no_vllm_server_starts_with_its_record_in_their_folder(tmp_path: Path,
                                                                theirs: Path) -> None:
    port = free_port()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(toml_config(
        port, tmp_path, f"model = {json.dumps(str(fake_model(tmp_path / 'model')))}\n"))
    gpu = fake_gpu(tmp_path / "gpu")
    result = subprocess.run(
        [*NO_CAPS, sys.executable, "-m", "agent", "server", "start"],
        env=env(tmp_path, theirs) | {"PATH": f"{gpu}{os.pathsep}{os.environ['PATH']}"},
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"voxagent: error: cannot write the server's record {theirs}/vllm-{port}.json: the "
        f"state folder {theirs} belongs to uid {OTHER}, not to you; nothing was started"]
    assert health(f"http://127.0.0.1:{port}/v1", 1.0) is None
    assert sorted(p.name for p in theirs.iterdir()) == ["history.jsonl", "voxagent.log"]


# --- full and read-only filesystems ----------------------------------------------------------

@pytest.mark.mounts
def test_a_full_disk_under_the_log_is_said_once(tmp_path: Path, new_tab: Path) -> None:
    with tmpfs(tmp_path / "fs") as fs:
        state = fs / "state"
        state.mkdir(mode=0o700)
        fill(fs)
        result = voxagent(tmp_path, state, "run", "--input", str(new_tab), "--fast",
                          "--dry-run")
        assert result.returncode == 0, result.stderr
        assert "Logging error" not in result.stderr and "Traceback" not in result.stderr
        (line,) = result.stderr.splitlines()
        assert line == (f"voxagent: warning: cannot write the log file {state / 'voxagent.log'}"
                        ": No space left on device; no more lines go there")
        assert "new tab" in result.stdout


@pytest.mark.mounts
def test_a_read_only_state_folder_is_said_once(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with tmpfs(tmp_path / "fs") as fs:
        state = fs / "state"
        state.mkdir(mode=0o755)
        namespace.make_read_only(fs)
        with pytest.raises(OSError, match="Read-only file system"):
            acquire(state / "voxagent.lock")  # the lock, the log and the history all look
        assert add_file(state / "voxagent.log") is None
        assert History(state / "history.jsonl").secure()
        private_state(state)
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert [x for x in lines if "cannot make" in x] == [
            f"cannot make {state} private (mode 0755): Read-only file system"]
        assert len(lines) == 2 and lines[1].startswith(f"no log file: {state}/voxagent.log: "
                                                       "Read-only"), lines


def test_a_state_folder_that_cannot_be_made_is_said_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a-file").write_text("")
    state = tmp_path / "a-file" / "state"
    assert not History(state / "history.jsonl").secure()  # the live session: history off
    assert add_file(state / "voxagent.log") is None
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith(f"cannot make the state folder {state}: "), line
    assert line.endswith(": no history and no log file are written"), line


def test_a_refused_folder_is_a_private_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    os.chown(folder, OTHER, OTHER)
    with pytest.raises(PrivateError, match=f"belongs to uid {OTHER}, not to you"):
        private_state(folder)


# --- the listening line names the log file only when there is one -------------------------

@pytest.fixture(scope="module")
def mic() -> Iterator[pulse.VirtualMic]:
    with pulse.virtual_microphone() as m:
        yield m


def listening_line(mic: pulse.VirtualMic, state: Path, tmp: Path) -> str:
    """The live run's "listening" line (stderr, read until it comes), then SIGINT."""
    err = tmp / "stderr"
    with err.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--dry-run", "--no-tray"],
                                env=mic.env | {"VOXAGENT_STATE_DIR": str(state),
                                               "VOXAGENT_CONFIG_DIR": str(tmp / "config")},
                                cwd=tmp, stdout=subprocess.DEVNULL, stderr=out, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            lines = [x for x in err.read_text().splitlines() if "listening on the" in x]
            if lines:
                return lines[0]
            assert proc.poll() is None, err.read_text()
            time.sleep(0.05)
        raise AssertionError(f"no listening line:\n{err.read_text()}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_the_listening_line_names_the_log_file_only_when_there_is_one(
        mic: pulse.VirtualMic, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    assert listening_line(mic, state, tmp_path).endswith(
        f"(log file: {state / 'voxagent.log'})")
    (state / "voxagent.log").unlink()
    (state / "voxagent.log").symlink_to(planted(tmp_path, "log"))
    line = listening_line(mic, state, tmp_path)
    assert line.endswith("Ctrl+C to stop (no log file)"), line
    assert "voxagent.log" not in line
