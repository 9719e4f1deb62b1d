"""Fixtures of the end-to-end rig: one Xvfb, one virtual microphone and one Tk key-logging
window for the whole session (see tests/e2e/rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.rig import LiveAgent, Trayer, xdotool
from tests.integration import pulse, x11
from tests.integration.pulse import virtual_mic  # noqa: F401 - a fixture
from tests.integration.x11 import XServer

x_server, keylog_window, keylog = x11.x_server, x11.keylog_window, x11.keylog  # fixtures


@pytest.fixture
def mic(virtual_mic: pulse.VirtualMic) -> pulse.VirtualMic:  # noqa: F811
    """The session's virtual microphone, with nothing left queued by an earlier test."""
    virtual_mic.clear()
    return virtual_mic


@pytest.fixture
def start_agent(mic: pulse.VirtualMic, x_server: XServer, tmp_path: Path
                ) -> Iterator[object]:
    """start_agent(*args, config="") -> a running LiveAgent, stopped (and checked) after
    the test unless the test stopped it."""
    agents: list[LiveAgent] = []

    def start(*args: str, config: str = "", display: bool = True) -> LiveAgent:
        agent = LiveAgent(mic, x_server if display else None, tmp_path / f"agent{len(agents)}",
                          *args, config=config)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        if agent.proc.poll() is None:
            agent.stop()


@pytest.fixture(scope="module")
def trayer(x_server: XServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trayer]:
    host = Trayer(x_server, tmp_path_factory.mktemp("trayer") / "trayer.log")
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture
def pointer_focus(keylog: x11.KeylogWindow, x_server: XServer) -> x11.KeylogWindow:
    """The keylog window, focused the way focus-follows-mouse desktops do it: X focus on
    PointerRoot and the pointer over the window.

    Needed wherever a grab happens (the hotkey's passive grab, a popup menu): Tk 8.6
    with no window manager drops its focus on the FocusOut(NotifyGrab) a grab sends to
    an explicitly focused window and never takes the FocusIn(NotifyUngrab) back, so it
    would ignore every key after the first grab. Under PointerRoot the grab's FocusOut
    has detail NotifyPointer, which Tk rightly ignores."""
    from Xlib import X

    d = x_server.connect()
    try:
        d.set_input_focus(X.PointerRoot, X.RevertToPointerRoot, X.CurrentTime)
        d.sync()
    finally:
        d.close()
    park_pointer(x_server)
    keylog.sync()
    return keylog


def park_pointer(server: XServer) -> None:
    """Move the pointer over the middle of the (full-screen) keylog window."""
    xdotool(server, "mousemove", "400", "400")
