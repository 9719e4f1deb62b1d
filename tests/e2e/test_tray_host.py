"""The tray icon and its host: when the tray host (trayer) goes away and comes back, the
icon docks again, by itself, with nothing logged about docking; checked on a screenshot
taken as a person would (ImageMagick's import), and through the icon's next change.

Its own trayer (not the module fixture of test_tray.py), since it kills it.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.e2e.rig import ICON_COLOURS, LiveAgent, Trayer, find_window, share_near
from tests.integration.x11 import XServer

ICON_CLASS = "voxagentSystemTrayIcon"


def screenshot(server: XServer) -> np.ndarray:
    """The whole screen as RGB, by `import -window root`."""
    from PIL import Image

    done = subprocess.run(["import", "-window", "root", "png:-"], env=server.env(),
                          capture_output=True, timeout=30, check=True)
    return np.asarray(Image.open(io.BytesIO(done.stdout)).convert("RGB"))


def tray_share(server: XServer, state: str) -> float:
    """How much of the tray panel is in `state`'s icon colour, on a screenshot."""
    x, y, w, h = find_window(server, "trayer")
    return share_near(screenshot(server)[y:y + h, x:x + w], ICON_COLOURS[state])


def wait_in_tray(server: XServer, state: str, timeout: float = 20.0) -> float:
    """The share of the panel in `state`'s colour, once the icon shows it there."""
    _, _, w, h = find_window(server, "trayer")
    enough = 0.4 * min(h, w) ** 2 / (w * h)  # most of one square icon's disc
    deadline = time.monotonic() + timeout
    while (share := tray_share(server, state)) < enough:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {state} icon in the tray after {timeout} s: "
                                 f"{share:.3f} of the panel, wanted {enough:.3f}")
        time.sleep(0.2)
    return share


def test_the_icon_docks_again_when_the_tray_host_comes_back(
        x_server: XServer, tmp_path: Path, start_agent: Callable[..., LiveAgent]) -> None:
    host = Trayer(x_server, tmp_path / "trayer-1.log")
    try:
        agent = start_agent("--dry-run")
        agent.log_wait("tray icon shown")
        host.raise_panel()
        wait_in_tray(x_server, "listening")
    finally:
        host.stop()
    agent.log_wait("the tray host went away")
    assert not host.owns_tray()

    host = Trayer(x_server, tmp_path / "trayer-2.log")
    try:
        agent.log_wait("tray icon docked again")
        mark = len(agent.err.seen)
        host.raise_panel()
        wait_in_tray(x_server, "listening")
        agent.say("go to sleep")  # the icon still follows the agent
        assert agent.next_json()["mode"] == "sleep"
        wait_in_tray(x_server, "asleep")
        icons = find_window(x_server, ICON_CLASS)
        panel = find_window(x_server, "trayer")
    finally:
        host.stop()
    err = agent.stop()
    after = "".join(list(agent.err.seen)[mark:])
    assert not re.search(r"(WARNING|ERROR).*(dock|tray)", after, re.I), after
    for noise in ("Failed to dock", "AssertionError", "BadWindow", "Traceback", "Xlib"):
        assert noise not in err, err
    assert err.count("tray icon shown") == 1, err  # docked again, not made again
    px, py, pw, ph = panel
    x, y, _, _ = icons
    assert px <= x < px + pw and py <= y < py + ph, (icons, panel)  # inside the panel


def _advertise_argb(server: XServer) -> int:
    """Have the running tray host ask for a 32-bit visual (_NET_SYSTEM_TRAY_VISUAL), as
    composited panels do (trayer itself does not); the visual's id."""
    from Xlib import Xatom

    d = server.connect()
    try:
        visual = next(v.visual_id for depth in d.screen().allowed_depths if depth.depth == 32
                      for v in depth.visuals)
        owner = d.get_selection_owner(d.intern_atom("_NET_SYSTEM_TRAY_S0"))
        owner.change_property(d.intern_atom("_NET_SYSTEM_TRAY_VISUAL"), Xatom.VISUALID, 32,
                              [visual])
        d.sync()
        return visual
    finally:
        d.close()


def _icon_pixels(server: XServer) -> tuple[int, np.ndarray]:
    """The icon window's depth and its own pixels (B, G, R, A/X), as the icon drew them."""
    from Xlib import X

    d = server.connect()
    try:
        found = subprocess.run(["xdotool", "search", "--classname", ICON_CLASS],
                               env=server.env(), capture_output=True, text=True, timeout=10,
                               check=True).stdout.split()
        window = d.create_resource_object("window", int(found[-1]))
        geo = window.get_geometry()
        raw = window.get_image(0, 0, geo.width, geo.height, X.ZPixmap, 0xFFFFFFFF)
        return geo.depth, np.frombuffer(raw.data, np.uint8).reshape(geo.height, geo.width, 4)
    finally:
        d.close()


def test_transparent_where_the_host_asks_plain_where_it_does_not(
        x_server: XServer, tmp_path: Path, start_agent: Callable[..., LiveAgent]) -> None:
    from agent.desktop.tray_xorg import BACKGROUND

    host = Trayer(x_server, tmp_path / "trayer-argb.log")
    try:
        _advertise_argb(x_server)
        agent = start_agent("--dry-run")
        agent.log_wait("tray icon shown")
        host.raise_panel()
        wait_in_tray(x_server, "listening")
        depth, argb = _icon_pixels(x_server)
    finally:
        host.stop()
    host = Trayer(x_server, tmp_path / "trayer-plain.log")  # no visual asked for
    try:
        agent.log_wait("the new tray host has another visual: making the icon again")
        agent.log_wait("tray icon shown", count=2)
        host.raise_panel()
        wait_in_tray(x_server, "listening")
        plain_depth, plain = _icon_pixels(x_server)
    finally:
        host.stop()
    err = agent.stop()

    h, w, _ = argb.shape
    corners = [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)]
    assert depth == 32, depth
    assert all(argb[y, x, 3] == 0 for y, x in corners), argb[0, 0]  # see-through
    assert argb[h // 2, w // 2, 3] == 255 and argb[h // 2, w // 6, 3] == 255  # opaque
    assert plain_depth == 24, plain_depth
    for y, x in corners:  # the plain background, not whatever the icon's corners held
        assert tuple(plain[y, x, 2::-1]) == BACKGROUND, (y, x, plain[y, x])
    for noise in ("Failed to dock", "AssertionError", "BadWindow", "BadMatch", "Traceback"):
        assert noise not in err, err
