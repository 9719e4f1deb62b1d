"""Make docs/tray.png: the live agent's tray icon and its menu on a real tray host.

The e2e rig's parts (tests/e2e/rig.py) do the work: Xvfb, trayer as the tray host,
the live `voxagent run --dry-run` on a PulseAudio virtual microphone. "New tab" is
said once so the menu's Recent commands has an entry; then the icon is clicked, as a
person would, "Recent commands" is opened, and the screen around the tray and the
menus is saved with imagemagick's `import`.

    .venv/bin/python docs/make_screenshot.py [OUT.png]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.rig import (  # noqa: E402 - after the path is set
    ICON_COLOURS,
    LiveAgent,
    Trayer,
    find_window,
    grab,
    share_near,
    xdotool,
)
from tests.integration.pulse import virtual_microphone  # noqa: E402
from tests.integration.x11 import XServer, start_xvfb, stop_process  # noqa: E402

ICON_CLASS = "voxagentSystemTrayIcon"
DESKTOP = 0x37474F
"""The root window's colour (a plain desktop behind the tray and the menu)."""
MARGIN = 12
RECENT_AT = 0.44
"""Where "Recent commands" is in the menu, as a share of its height."""


def paint_desktop(server: XServer) -> None:
    d = server.connect()
    try:
        root = d.screen().root
        root.change_attributes(background_pixel=DESKTOP)
        root.clear_area()
        d.sync()
    finally:
        d.close()


def wait_listening(server: XServer, timeout: float = 20.0) -> None:
    """Until the icon is mostly the listening colour (its state after the command)."""
    deadline = time.monotonic() + timeout
    while share_near(grab(server, find_window(server, ICON_CLASS)),
                     ICON_COLOURS["listening"]) < 0.3:
        if time.monotonic() > deadline:
            raise SystemExit("the tray icon never showed listening")
        time.sleep(0.1)


def menus(server: XServer) -> list[tuple[int, int, int, int]]:
    """The boxes of the Tk menus on screen (the tray menu, an open submenu)."""
    from Xlib import X

    d = server.connect()
    try:
        found = []
        for child in d.screen().root.query_tree().children:
            cls = child.get_wm_class() or ()
            if "Menu" in cls and child.get_attributes().map_state == X.IsViewable:
                geo = child.get_geometry()
                found.append((geo.x, geo.y, geo.width, geo.height))
        return found
    finally:
        d.close()


def shoot(server: XServer, out: Path) -> None:
    ix, iy, iw, ih = find_window(server, ICON_CLASS)
    # clicked near its lower right corner, so the menu leaves most of the icon in view
    xdotool(server, "mousemove", str(ix + iw - 3), str(iy + ih - 3), "click", "1")
    mx, my, mw, mh = find_window(server, "Menu")
    # over "Recent commands", which opens its submenu (the command said above)
    xdotool(server, "mousemove", str(mx + mw // 3), str(my + int(mh * RECENT_AT)))
    deadline = time.monotonic() + 10
    while len(boxes := menus(server)) < 2:
        if time.monotonic() > deadline:
            raise SystemExit(f"no Recent commands submenu: {boxes}")
        time.sleep(0.1)
    time.sleep(0.5)  # drawn
    right = max([ix + iw] + [x + w for x, _, w, _ in boxes]) + MARGIN
    bottom = max([iy + ih] + [y + h for _, y, _, h in boxes]) + MARGIN
    subprocess.run(["import", "-window", "root", "-crop", f"{right}x{bottom}+0+0",
                    "+repage", "-strip", f"png:{out}"],
                   env=server.env(), check=True, timeout=30)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "tray.png"
    tmp = Path(tempfile.mkdtemp(prefix="voxagent-shot-"))
    server = start_xvfb(tmp / "xvfb.log")
    try:
        paint_desktop(server)
        with virtual_microphone() as mic:
            trayer = Trayer(server, tmp / "trayer.log")
            agent = LiveAgent(mic, server, tmp / "agent", "--dry-run")
            try:
                agent.log_wait("tray icon shown")
                agent.say("new tab")
                agent.next_json()
                wait_listening(server)
                shoot(server, out)
            finally:
                agent.stop()
                trayer.stop()
    finally:
        stop_process(server.process)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
