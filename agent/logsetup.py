"""Where log lines go: stderr for the person at the terminal, and a rotating file in the
state folder for a start from the desktop entry or autostart, where no terminal shows them.

stderr: status lines (INFO from the loggers in STATUS_LOGGERS) and every problem
(WARNING and up), each printed once as "voxagent: message" or "voxagent: warning: message";
-v adds every INFO line, -vv DEBUG, both with the logger's name.  The file takes INFO and
up from voxagent's loggers (WARNING and up from libraries), with a time stamp, private
(0600).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

from agent.paths import PrivateError, open_private, state_dir, usable_state

LOG_NAME = "voxagent.log"
MAX_BYTES = 1_000_000
"""Size at which the log file is rotated, in bytes."""
BACKUPS = 3
"""Rotated files kept beside it (voxagent.log.1 ...)."""
STATUS_LOGGERS = ("agent.runner", "agent.desktop", "agent.lock", "agent.logsetup", "agent.paths",
                  "agent.audio.retrying", "agent.actions.launch")
"""Loggers whose INFO lines are status the person at the terminal wants without -v."""
_PREFIX = "voxagent: "

log = logging.getLogger(__name__)


class _TerminalFormat(logging.Formatter):
    def __init__(self, verbose: int) -> None:
        super().__init__()
        self._verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage().removeprefix(_PREFIX)  # status texts name themselves
        if record.exc_info and self._verbose:
            text += "\n" + self.formatException(record.exc_info)
        where = f"{record.name}: " if self._verbose else ""
        level = "" if record.levelno < logging.WARNING else record.levelname.lower() + ": "
        return f"{_PREFIX}{level}{where}{text}"


class _OursAtInfo(logging.Filter):
    """The file: INFO from voxagent's own loggers, problems from everyone (httpx's INFO
    line per request would drown the rest)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.startswith("agent")


class _StatusOnly(logging.Filter):
    """Without -v: problems, and INFO only from the status loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return record.levelno >= logging.INFO and record.name.startswith(STATUS_LOGGERS)


def setup(verbose: int) -> None:
    """The terminal handler (stderr); replaces whatever was set before."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setFormatter(_TerminalFormat(verbose))
    terminal.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    if verbose == 0:
        terminal.addFilter(_StatusOnly())
    root.addHandler(terminal)
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    route_native_errors()


def log_file() -> Path:
    return state_dir() / LOG_NAME


_active: dict[str, Path] = {}
"""The log file being written, once add_file() has opened it and while it can be written."""


def active_file() -> Path | None:
    """The log file lines go to now, or None (none could be opened, or it stopped)."""
    return _active.get("file")


def add_file(path: Path | None = None) -> Path | None:
    """Also log INFO and up to the rotating file (0600, folder 0700); its path, or None
    (with one warning) when it cannot be written or its folder is refused."""
    path = path or log_file()
    try:
        if usable_state(path.parent) is None:  # said once, for the history too
            return None
        handler = _PrivateRotatingHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                          encoding="utf-8")
    except PrivateError as exc:  # names the file
        log.warning("no log file: %s", exc)
        return None
    except OSError as exc:
        log.warning("no log file: %s: %s", path, exc.strerror or exc)
        return None
    handler.setLevel(logging.INFO)
    handler.addFilter(_OursAtInfo())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    _active["file"] = path
    return path


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """Each file (rotated ones too) opened by open_private: 0600, never through a link.
    A write that fails (a full disk) is said once on the terminal and the file is given up,
    instead of logging's traceback per record."""

    _stopped = False

    def _open(self):  # type: ignore[no-untyped-def]
        fd = open_private(Path(self.baseFilename), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        if not self._stopped:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)
            return
        self._stopped = True
        _active.pop("file", None)
        stream, self.stream = self.stream, None  # type: ignore[assignment]
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()  # the descriptor goes even when the last flush fails
        log.warning("cannot write the log file %s: %s; no more lines go there",
                    self.baseFilename, exc.strerror or exc)


_ALSA_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                 ctypes.c_int, ctypes.c_char_p)
"""snd_lib_error_handler_t without its varargs (the format's arguments are not read)."""
_native: dict[str, Any] = {}
"""What must stay alive: the ALSA callback (libasound keeps only its address)."""


def route_native_errors() -> None:
    """ALSA's messages ("underrun occurred", "cannot find card") and python-xlib's
    unhandled X errors ("BadWindow" when the tray's window goes at exit) are written
    straight to stderr by those libraries: drop ALSA's, log Xlib's at DEBUG."""
    if "alsa" not in _native:
        _native["alsa"] = _quiet_alsa()
    if "xlib" not in _native and importlib.util.find_spec("Xlib") is not None:
        from Xlib.protocol import display as xprotocol

        def x_error(self: Any, err: Any) -> None:
            logging.getLogger("Xlib").debug("X protocol error: %s", err)

        xprotocol.Display.default_error_handler = x_error  # type: ignore[method-assign]
        _native["xlib"] = x_error


def _quiet_alsa() -> Any:
    """Install an ALSA error handler that drops the message (process-wide: PortAudio loads
    the same libasound); None where there is no ALSA.  It must return at once: it runs on
    the audio thread in the middle of ALSA's own recovery, and a handler that logged there
    stopped live input streams (tests/e2e/test_tray.py, "the input device stopped")."""
    try:
        lib = ctypes.CDLL("libasound.so.2")
    except OSError:
        return None

    def handler(file: bytes | None, line: int, function: bytes | None, err: int,
                fmt: bytes | None) -> None:
        return None

    callback = _ALSA_HANDLER(handler)
    lib.snd_lib_error_set_handler(callback)
    return callback
