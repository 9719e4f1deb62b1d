"""The utterance history: one JSON object per line in <state dir>/history.jsonl.

Private (0600 in a 0700 folder), kept as `keep` says ("all", "commands", "off"), moved
to history.1.jsonl past `max_bytes`; each record is one whole-line write that a full
disk never leaves half-written (docs/desktop.md, "How the desktop parts work").
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.messages import Outcome
from agent.paths import (
    FILE_MODE,
    FOLDER_MODE,
    PrivateError,
    open_private,
    private_folder,
    private_state,
    tighten,
    usable_state,
)

__all__ = ["FILE_MODE", "FOLDER_MODE", "History", "private_folder", "tighten"]

log = logging.getLogger(__name__)

ROTATE_BYTES = 5_000_000
KEEP = ("all", "commands", "off")


def latency(o: Outcome, started_at: float | None) -> dict[str, float]:
    """Seconds from end of speech to: utterance closed, transcript ready, action performed,
    and the recogniser's time. Only the last when the audio was not paced by a clock
    (`started_at` None: a file read as fast as possible)."""
    if started_at is None:
        return {"recognised": round(o.transcript.seconds, 3)}
    speech_end = started_at + o.utterance.end
    parts = {
        "closed": round(o.utterance.closed_at - speech_end, 3),
        "recognised": round(o.transcript.seconds, 3),
        "performed": round(o.performed_at - speech_end, 3),
    }
    if o.recognised_at:
        parts["transcribed"] = round(o.recognised_at - speech_end, 3)
    return parts


def history_record(o: Outcome, started_at: float | None, now: datetime | None = None
                   ) -> dict[str, Any]:
    when = (now or datetime.now().astimezone()).isoformat(timespec="milliseconds")
    return {"time": when, "text": o.decision.text, "command": o.decision.command,
            "actions": [a.to_json() for a in o.decision.actions], "mode": o.decision.mode.value,
            "backend": o.transcript.backend, "errors": list(o.errors),
            "latency": latency(o, started_at)}


class History:
    """Appends records; a failure to write is logged once (until a write succeeds again)
    and the agent goes on."""

    def __init__(self, path: Path, keep: str = "all", max_bytes: int = ROTATE_BYTES) -> None:
        if keep not in KEEP:
            raise ValueError(f"keep must be one of {KEEP}, not {keep!r}")
        self.path = path
        self.rotated = path.with_suffix(".1.jsonl")
        self.keep = keep
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._failed = False

    def secure(self) -> bool:
        """Check the folder (agent/paths.py: False, said once, when it is refused) and make
        the file and the rotated file private, where they exist."""
        if usable_state(self.path.parent) is None:
            return False
        tighten(self.path, FILE_MODE)
        tighten(self.rotated, FILE_MODE)
        return True

    def wanted(self, record: dict[str, Any]) -> bool:
        return self.keep == "all" or (self.keep == "commands" and bool(record.get("command")))

    def append(self, record: dict[str, Any]) -> None:
        if not self.wanted(record):
            return
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            try:
                self._write(data)
            except OSError as exc:
                if not self._failed:
                    log.warning("cannot write the history%s: %s",
                                "" if isinstance(exc, PrivateError) else f" to {self.path}",
                                exc.strerror or exc)
                self._failed = True
                return
            if self._failed:
                log.info("the history is written to %s again", self.path)
                self._failed = False

    def _write(self, data: bytes) -> None:
        private_state(self.path.parent)
        before = self._size()
        if before and before + len(data) > self.max_bytes:
            os.replace(self.path, self.rotated)  # the same inode: still 0600
        fd = open_private(self.path, _OPEN_FLAGS)
        try:
            size = os.fstat(fd).st_size
            if size and _last_byte(fd, size) != b"\n":
                data = b"\n" + data  # a line broken off before: ours still starts a line
            append_whole(fd, data, size)
        finally:
            os.close(fd)

    def _size(self) -> int:
        try:
            return os.lstat(self.path).st_size
        except FileNotFoundError:
            return 0

    def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        """The last `limit` records, oldest first ([] when there is no history)."""
        try:
            with os.fdopen(open_private(self.path, os.O_RDONLY), "rb") as f:
                lines = f.read().decode("utf-8").splitlines()[-limit:]
        except (OSError, UnicodeDecodeError):
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


def append_whole(fd: int, data: bytes, size: int) -> None:
    """One write of `data` at the end of the file (O_APPEND) whose length was `size`;
    if not all of it went in, the file is cut back to `size` and OSError raised."""
    try:
        written = os.write(fd, data)
    except OSError:
        _cut_back(fd, size)
        raise
    if written != len(data):
        _cut_back(fd, size)
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({written} of {len(data)} "
                      "bytes went in; taken out again)")


def _cut_back(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError as exc:
        log.warning("cannot remove a partial history record: %s", exc.strerror or exc)


_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT
"""Appending, created if need be (open_private adds: no link, not inherited)."""


def _last_byte(fd: int, size: int) -> bytes:
    os.lseek(fd, size - 1, os.SEEK_SET)  # writes still go to the end (O_APPEND)
    return os.read(fd, 1)
