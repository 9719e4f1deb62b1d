"""The voice history on real filesystems (agent/desktop/history.py): private modes, what
is kept, rotation by size, and records that stay whole on a full tmpfs and a read-only one,
while the agent (its controller) goes on. Mounting needs root, or else a user and mount
namespace (tests/namespace.py)."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent.config import Config
from agent.desktop.controller import Controller
from agent.desktop.gate import CaptureGate
from agent.desktop.history import History
from agent.desktop.notify import Notifier
from agent.desktop.session import LiveSession
from agent.desktop.sounds import CuePlayer
from agent.desktop.status import Status
from agent.messages import Decision, KeyAction, Mode, Outcome, Transcript, Utterance
from tests import namespace


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def record(i: int, command: str | None = "new tab", text: str = "New tab.") -> dict[str, Any]:
    return {"i": i, "text": text, "command": command}


def records(path: Path) -> list[dict[str, Any]]:
    """Every line of the file, each a whole JSON object (json.loads fails on anything else)."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), data[-80:]
    return [json.loads(line) for line in data.decode().splitlines()]


@contextmanager
def tmpfs(where: Path, size: str = "64k") -> Iterator[Path]:
    """A real, tiny filesystem mounted at `where` (in a test marked `mounts`)."""
    try:
        yield namespace.mount_tmpfs(where, size)
    finally:
        namespace.unmount(where)


def fill(folder: Path) -> Path:
    """Write a file in `folder` until the filesystem has no room left."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 512)
    except OSError as exc:
        assert exc.errno == 28, exc  # ENOSPC
    finally:
        os.close(fd)
    return filler


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --- private, kept, rotated -----------------------------------------------------------------

def test_a_new_history_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        history = History(tmp_path / "state" / "voxagent" / "history.jsonl")
        history.append(record(1))
    finally:
        os.umask(old)
    assert mode(history.path) == 0o600
    assert mode(history.path.parent) == 0o700
    assert records(history.path) == [record(1)]


def test_loose_modes_are_tightened_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    (state / "history.jsonl").write_text(json.dumps(record(1)) + "\n")
    (state / "history.jsonl").chmod(0o644)
    (state / "history.1.jsonl").write_text("")
    (state / "history.1.jsonl").chmod(0o666)
    monkeypatch.setenv("VOXAGENT_STATE_DIR", str(state))
    caplog.set_level(logging.INFO, logger="agent.paths")  # where tighten() says it
    cfg = Config()
    off = replace(cfg, desktop=replace(cfg.desktop, history="off", sounds=False))
    session = LiveSession(off, tray=False)
    assert session.history is None  # nothing more is kept, and what was is private now
    assert (mode(state), mode(state / "history.jsonl"),
            mode(state / "history.1.jsonl")) == (0o700, 0o600, 0o600)
    made_private = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(made_private) == 3 and "0644 -> 0600" in " ".join(made_private)
    kept = LiveSession(replace(off, desktop=replace(off.desktop, history="commands")),
                       tray=False)
    assert kept.history is not None and kept.history.keep == "commands"


def test_commands_keeps_only_commands_and_off_keeps_nothing(tmp_path: Path) -> None:
    for keep, expected in (("all", [1, 2, 3]), ("commands", [1, 3]), ("off", None)):
        history = History(tmp_path / keep / "history.jsonl", keep)
        for r in (record(1), record(2, None, "I said to him yesterday"), record(3)):
            history.append(r)
        if expected is None:
            assert not history.path.exists()
        else:
            assert [r["i"] for r in records(history.path)] == expected


def test_rotation_by_size_keeps_one_private_older_file(tmp_path: Path) -> None:
    history = History(tmp_path / "history.jsonl", max_bytes=1000)
    line = len(json.dumps(record(0), ensure_ascii=False)) + 1
    for i in range(100):
        history.append(record(i))
    newest, older = records(history.path), records(history.rotated)
    assert history.path.stat().st_size <= 1000 and history.rotated.stat().st_size <= 1000
    assert [r["i"] for r in older + newest] == list(range(100 - len(older) - len(newest), 100))
    assert len(older) == 1000 // line
    assert mode(history.rotated) == 0o600


def test_a_line_broken_off_before_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(json.dumps(record(1)).encode() + b"\n" + b'{"i": 2, "te')
    History(path).append(record(3))
    lines = path.read_bytes().splitlines()
    assert json.loads(lines[0]) == record(1) and json.loads(lines[2]) == record(3)


# --- full and read-only filesystems -----------------------------------------------------------

def _outcome(i: int) -> Outcome:
    text = f"New tab {i}. " + "and some more words " * 300  # longer than a page
    return Outcome(Utterance(b"", 1.0, 2.0, closed_at=3.0), Transcript(text, "whisper"),
                   Decision(text, "new tab", (KeyAction("ctrl+t"),), Mode.COMMAND),
                   performed_at=3.5)


def _controller(history: History, tmp_path: Path) -> Controller:
    return Controller(CaptureGate(), Status(), cues=CuePlayer(tmp_path, enabled=False),
                      notifier=Notifier(False), history=history)


@pytest.mark.mounts
def test_a_full_disk_never_leaves_a_partial_record(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent.desktop.history")
    with tmpfs(tmp_path / "fs") as fs:
        history = History(fs / "state" / "history.jsonl")
        history.append(record(1))
        before = history.path.read_bytes()
        assert len(before) % 4096, "the file's last page must have room for part of a record"
        filler = fill(fs)
        ctl = _controller(history, tmp_path)
        for i in range(3):  # each longer than the room left: part of it would go in
            ctl.outcome(_outcome(i), started_at=0.0)
        assert history.path.read_bytes() == before
        (warning,) = warnings_in(caplog)
        assert "cannot write the history" in warning and "taken out again" in warning
        assert ctl.recent[-1] == "new tab" and ctl.status.last_command == "new tab"

        filler.unlink()
        ctl.outcome(_outcome(9), started_at=0.0)
        got = records(history.path)
        assert got[0] == record(1) and got[1]["text"].startswith("New tab 9.")
        assert len(got) == 2
        assert any("written to" in r.getMessage() and "again" in r.getMessage()
                   for r in caplog.records if r.levelno == logging.INFO)


@pytest.mark.mounts
def test_a_read_only_filesystem_is_said_once_and_the_agent_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with tmpfs(tmp_path / "fs") as fs:
        state = fs / "state"
        history = History(state / "history.jsonl")
        history.append(record(1))
        history.path.chmod(0o644)
        namespace.make_read_only(fs)
        history.secure()  # cannot tighten it: said, not raised
        ctl = _controller(history, tmp_path)
        for i in range(3):
            ctl.outcome(_outcome(i), started_at=0.0)
        assert records(history.path) == [record(1)]
        assert ctl.status.last_command == "new tab"
        lines = warnings_in(caplog)
        assert len(lines) == 2, lines
        assert "cannot make" in lines[0] and "Read-only file system" in lines[0]
        assert "cannot write the history" in lines[1] and "Read-only" in lines[1]
