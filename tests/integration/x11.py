"""X11 fixtures: a private Xvfb server and a Tk window that reports the input it receives.

Use them by naming the fixtures in a test module (a plain import would trip ruff's F811
wherever a test takes the fixture as an argument):

    from tests.integration import x11

    x_server, keylog_window, keylog = x11.x_server, x11.keylog_window, x11.keylog

`x_server` (session) starts `Xvfb -displayfd` on a free display number, with no window
manager, and stops it at the end. `keylog_window` (module) runs keylog_window.py on it
and waits for its handshake; `keylog` (function) gives that window the focus and drains
what earlier tests left, so each test starts clean. `KeylogWindow.sync()` presses the
sync key through XTEST and returns everything the window saw before it.
"""

from __future__ import annotations

import json
import os
import queue
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
KEYLOG_PROGRAM = HERE / "keylog_window.py"
KEYLOG_CLASS = "voxkeylog"
"""Tk capitalises it: the window's WM_CLASS class is "Voxkeylog"."""
MODIFIER_KEYSYMS = frozenset({"Shift_L", "Shift_R", "Control_L", "Control_R", "Alt_L", "Alt_R",
                              "Meta_L", "Meta_R", "Super_L", "Super_R", "ISO_Level3_Shift"})
SHIFT, CTRL, ALT, SUPER = 0x1, 0x4, 0x8, 0x40
"""X modifier masks: Shift, Control, Mod1 (Alt_L on Xvfb's us layout), Mod4 (Super_L)."""
START_TIMEOUT = 15.0


class X11Error(RuntimeError):
    """The X server or the test window did not behave."""


@dataclass
class XServer:
    """A running Xvfb."""

    display: str
    """":N"."""
    process: subprocess.Popen[bytes]
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment with DISPLAY pointing at this server."""
        return {**os.environ, "DISPLAY": self.display, **extra}

    def connect(self) -> Any:
        """A python-xlib connection to this server."""
        from Xlib import display

        return display.Display(self.display)


def start_xvfb(log: Path, timeout: float = START_TIMEOUT) -> XServer:
    """Start Xvfb on a free display; return once it accepts connections."""
    read_fd, write_fd = os.pipe()
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x600x24",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
    os.close(write_fd)
    try:
        number = _read_display_number(read_fd, proc, timeout)
    except X11Error:
        stop_process(proc)
        raise X11Error(f"Xvfb did not start: {log.read_text(errors='replace')[-2000:]}") from None
    finally:
        os.close(read_fd)
    server = XServer(f":{number}", proc, log)
    server.connect().close()  # it answers: -displayfd is written once it listens
    return server


def _read_display_number(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Xvfb writes the display number and a newline to the -displayfd pipe when ready."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise X11Error("no display number from Xvfb")
        readable, _, _ = select.select([fd], [], [], left)
        if readable:
            chunk = os.read(fd, 16)
            if not chunk:
                raise X11Error("Xvfb closed -displayfd")
            data += chunk
    return int(data.strip())


def stop_process(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


@dataclass
class Received:
    """What the window reported up to a sync."""

    events: list[dict[str, Any]]
    text: str

    @property
    def keys(self) -> list[dict[str, Any]]:
        """Key presses, modifier keys themselves left out."""
        return [e for e in self.events
                if e["event"] == "key" and e["keysym"] not in MODIFIER_KEYSYMS]


@dataclass
class KeylogWindow:
    """The running keylog_window.py: its X window, WM_CLASS class and event stream."""

    server: XServer
    process: subprocess.Popen[str]
    window: int = 0
    wm_class: str = ""
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    errors: Path | None = None
    """Where the window's stderr goes."""
    _x: Any = None

    @classmethod
    def start(cls, server: XServer, errors: Path,
              class_name: str = KEYLOG_CLASS) -> KeylogWindow:
        """Run the window; its stderr goes to the file `errors` (a pipe could fill up)."""
        with errors.open("wb") as stderr:
            proc = subprocess.Popen([sys.executable, str(KEYLOG_PROGRAM), class_name],
                                    env=server.env(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=stderr, text=True)
        win = cls(server, proc, errors=errors)
        threading.Thread(target=win._pump, daemon=True).start()
        ready = win._next(lambda m: "ready" in m, START_TIMEOUT)
        win.window, win.wm_class = ready["window"], ready["class"]
        win._x = server.connect()
        return win

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next(self, wanted: Any, timeout: float, seen: list[dict[str, Any]] | None = None
              ) -> dict[str, Any]:
        """The next message `wanted` accepts; those before it are appended to `seen`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise X11Error(f"the keylog window did not answer in {timeout} s; "
                               f"stderr: {self._errors()}") from None
            if line is None:
                raise X11Error(f"the keylog window exited: {self._errors()}")
            message = json.loads(line)
            if wanted(message):
                return message
            if seen is not None:
                seen.append(message)

    def focus(self) -> None:
        """Give the window the input focus (no window manager: set it directly)."""
        subprocess.run(["xdotool", "windowfocus", "--sync", str(self.window)],
                       env=self.server.env(), check=True, timeout=10,
                       stdout=subprocess.DEVNULL)

    def sync(self, timeout: float = 10.0) -> Received:
        """Press the sync key through XTEST; everything received before it, and the text
        (which the window then clears)."""
        from Xlib import XK, X
        from Xlib.ext import xtest

        keycode = self._x.keysym_to_keycode(XK.string_to_keysym("Pause"))
        for event in (X.KeyPress, X.KeyRelease):
            xtest.fake_input(self._x, event, keycode)
        self._x.sync()
        events: list[dict[str, Any]] = []
        done = self._next(lambda m: m.get("event") == "sync", timeout, events)
        return Received(events, done["text"])

    def _errors(self) -> str:
        if self.errors is None or not self.errors.exists():
            return ""
        return self.errors.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self._x is not None:
            self._x.close()
        stop_process(self.process)


def require_tools() -> None:
    missing = [t for t in ("Xvfb", "xdotool") if shutil.which(t) is None]
    if missing:
        raise X11Error(f"missing {', '.join(missing)}: install xvfb xdotool (see .ci/run)")


@pytest.fixture(scope="session")
def x_server() -> Iterator[XServer]:
    require_tools()
    with tempfile.TemporaryDirectory(prefix="voxagent-xvfb-") as tmp:
        server = start_xvfb(Path(tmp) / "xvfb.log")
        try:
            yield server
        finally:
            stop_process(server.process)


@pytest.fixture(scope="module")
def keylog_window(x_server: XServer,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeylogWindow]:
    win = KeylogWindow.start(x_server, tmp_path_factory.mktemp("keylog") / "stderr.txt")
    try:
        yield win
    finally:
        win.stop()


@pytest.fixture
def keylog(keylog_window: KeylogWindow, x_server: XServer,
           monkeypatch: pytest.MonkeyPatch) -> KeylogWindow:
    """The focused keylog window, emptied; DISPLAY points at its server for this test."""
    monkeypatch.setenv("DISPLAY", x_server.display)
    keylog_window.focus()
    keylog_window.sync()
    return keylog_window
