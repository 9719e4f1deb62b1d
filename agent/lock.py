"""One acting agent per user: two would both act on the same speech.

An fcntl lock on a file in the state folder, held for as long as the process runs.  The
kernel drops it when the process ends however it ends, so a crash leaves no stale lock;
the file only says who holds it (pid and since when), for the one that is refused.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from agent.paths import open_private, private_state, state_dir

log = logging.getLogger(__name__)

LOCK_NAME = "voxagent.lock"


class LockHeld(Exception):
    """Another agent holds the lock; the message names it (one line)."""


@dataclass
class InstanceLock:
    """Held while open; `release()` (or the process ending) lets the next agent in."""

    path: Path
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the last descriptor releases the lock
            self.fd = -1


def lock_file() -> Path:
    return state_dir() / LOCK_NAME


def acquire(path: Path | None = None) -> InstanceLock:
    """Take the single-instance lock, or raise LockHeld naming who holds it (PrivateError
    when the state folder or the file is not safely the user's: a link, another's file)."""
    path = path or lock_file()
    private_state(path.parent)
    fd = open_private(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        os.close(fd)
        raise LockHeld(f"another voxagent is running ({holder or 'pid unknown'}; lock "
                       f"{path}); stop it first, or use --dry-run") from None
    except OSError:
        os.close(fd)
        raise
    since = time.strftime("%Y-%m-%d %H:%M:%S")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, since {since}\n".encode(), 0)
    return InstanceLock(path, fd)
