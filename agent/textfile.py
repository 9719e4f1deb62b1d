"""Reading a small text file the user wrote (the config, a command file), safely.

Such a path may name anything: a FIFO (opening it for reading waits for a writer that
never comes), /dev/zero or /dev/urandom (reading never ends), a huge file. So the file
is opened without blocking, what was opened must be a regular file (a symlink to one is
fine: its target is what counts), and at most MAX_BYTES are read; anything else is
refused with a TextFileError saying why in a few words.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_BYTES = 4 * 1024 * 1024
"""The most a config or command file may hold (10,000 commands take about 0.5 MB)."""

_KINDS = ((stat.S_ISDIR, "it is a folder, not a file"),
          (stat.S_ISFIFO, "it is a FIFO (named pipe), not a regular file"),
          (stat.S_ISCHR, "it is a character device, not a regular file"),
          (stat.S_ISBLK, "it is a block device, not a regular file"),
          (stat.S_ISSOCK, "it is a socket, not a regular file"))


_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(
    os, "O_NOCTTY", 0)
"""Opening a FIFO this way returns at once; a terminal does not become ours."""


class TextFileError(ValueError):
    """Why a file that could be opened is not read (one line, without the path)."""


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file at `path`. Raises OSError when it cannot be
    opened (FileNotFoundError when it does not exist), TextFileError when it is not a
    regular file, is larger than `limit` bytes or is not UTF-8. Never blocks on a FIFO
    and never reads more than `limit` + 1 bytes."""
    fd = os.open(path, _FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise TextFileError(next((why for test, why in _KINDS if test(st.st_mode)),
                                     "not a regular file"))
        if st.st_size > limit:
            raise TextFileError(_too_large(limit))
        data = _read_at_most(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while it was read
        raise TextFileError(_too_large(limit))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFileError(f"not valid UTF-8 text (byte {exc.start})") from None


def _read_at_most(fd: int, n: int) -> bytes:
    chunks: list[bytes] = []
    left = n
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> str:
    return f"larger than {limit // (1024 * 1024)} MB, more than such a file ever needs"
