"""The X11 push-to-talk hotkey on a real Xvfb, where it must never fail open: a key another
program holds is refused with one line, and a held key whose X server goes away is released
(push-to-talk closes) instead of holding push-to-talk open for good."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.desktop.hotkey_base import HotkeyError
from agent.desktop.hotkey_x11 import X11Hotkey
from tests.integration.x11 import XServer, require_tools, start_xvfb, stop_process

WAIT_S = 30.0


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[XServer]:
    """An Xvfb of this test's own (the test kills it); DISPLAY points at it."""
    require_tools()
    server = start_xvfb(tmp_path / "xvfb.log")
    monkeypatch.setenv("DISPLAY", server.display)
    try:
        yield server
    finally:
        stop_process(server.process)


class Edges:
    """The hotkey's callbacks, as events to wait on."""

    def __init__(self) -> None:
        self.down, self.up = threading.Event(), threading.Event()

    def on_down(self, at: float) -> None:
        self.down.set()

    def on_up(self, at: float) -> None:
        self.up.set()


def test_a_key_another_program_grabbed_is_refused(own_server: XServer) -> None:
    from Xlib import XK, X

    other = own_server.connect()
    try:
        code = other.keysym_to_keycode(XK.string_to_keysym("F9"))
        other.screen().root.grab_key(code, 0, False, X.GrabModeAsync, X.GrabModeAsync)
        other.sync()
        with pytest.raises(HotkeyError, match="the key f9 is taken by another program"):
            X11Hotkey("f9", Edges().on_down, Edges().on_up).start()
    finally:
        other.close()


def test_a_held_key_is_released_when_the_x_server_goes(
        own_server: XServer, caplog: pytest.LogCaptureFixture) -> None:
    edges = Edges()
    hotkey = X11Hotkey("f9", edges.on_down, edges.on_up)
    hotkey.start()
    try:
        subprocess.run(["xdotool", "keydown", "F9"], env=own_server.env(), check=True,
                       timeout=10)
        assert edges.down.wait(WAIT_S), "the key press never arrived"
        assert not edges.up.is_set()
        stop_process(own_server.process)  # the session ends with the key still down
        assert edges.up.wait(WAIT_S), "push-to-talk stayed open after the X server went"
    finally:
        hotkey.stop()  # and stopping after that is quiet
    assert any("push-to-talk hotkey lost" in r.getMessage() for r in caplog.records)
