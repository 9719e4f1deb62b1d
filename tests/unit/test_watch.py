"""The command-file watcher: a change (edit, new file, removal) calls back once, after it
held still for a poll; nothing changed, nothing called. Real files in a temporary folder."""

from __future__ import annotations

import threading
from pathlib import Path

from agent.desktop.watch import ChangeWatcher
from agent.dispatch.loader import CommandLibrary, files_stamp


class Polls:
    """Wraps the stamp: counts the watcher's looks, so a test can wait for some."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.cond = threading.Condition()

    def __call__(self) -> object:
        stamp = files_stamp([self.folder])
        with self.cond:
            self.count += 1
            self.cond.notify_all()
        return stamp

    def wait(self, more: int) -> None:
        with self.cond:
            target = self.count + more
            assert self.cond.wait_for(lambda: self.count >= target, timeout=30)


def test_edits_additions_and_removals_each_call_back_once(tmp_path: Path) -> None:
    first = tmp_path / "a.toml"
    first.write_text('[commands]\n"launch rocket" = "key ctrl+alt+r"\n')
    polls = Polls(tmp_path)
    calls: list[int] = []
    called = threading.Semaphore(0)

    def changed() -> None:
        calls.append(polls.count)
        called.release()

    watcher = ChangeWatcher(polls, changed, interval_s=0.02)
    watcher.start()
    try:
        polls.wait(5)
        assert calls == []  # nothing changed, nothing called
        first.write_text('[commands]\n"launch rockets" = "key ctrl+alt+r"\n')
        assert called.acquire(timeout=30)
        (tmp_path / "b.toml").write_text("[commands]\n")
        assert called.acquire(timeout=30)
        first.unlink()
        assert called.acquire(timeout=30)
        (tmp_path / "notes.txt").write_text("not a command file")
        polls.wait(5)
        assert len(calls) == 3, calls  # once each; the .txt file is not watched
    finally:
        watcher.stop()


def test_a_file_still_being_written_is_reloaded_once_it_holds_still(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("")
    turn = threading.Semaphore(0)  # each look waits for the test's turn: lock-step
    looked = threading.Semaphore(0)

    def stamp() -> object:
        turn.acquire()
        try:
            return files_stamp([tmp_path])
        finally:
            looked.release()

    calls: list[bytes] = []
    watcher = ChangeWatcher(stamp, lambda: calls.append(path.read_bytes()), interval_s=0.001)
    turn.release()  # the baseline
    watcher.start()

    def look() -> None:
        turn.release()
        assert looked.acquire(timeout=30)

    try:
        assert looked.acquire(timeout=30)
        for n in range(1, 6):  # grows between every two looks, as a slow writer would
            path.write_text("#" * n)
            look()
        assert calls == []
        look()  # held still since the last look
        look()
        assert calls == [b"#####"], calls
    finally:
        watcher._stop.set()
        turn.release()
        watcher.stop()


def test_library_stamp_follows_its_folders(tmp_path: Path) -> None:
    lib = CommandLibrary([tmp_path / "missing", tmp_path])
    empty = lib.stamp()
    assert empty == ()
    (tmp_path / "a.toml").write_text("[commands]\n")
    assert lib.stamp() != empty and lib.stamp()[0][0] == str(tmp_path / "a.toml")
