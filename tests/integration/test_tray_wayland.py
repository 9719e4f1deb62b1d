"""A Wayland session without XWayland: the tray says why there is no icon, in one line,
instead of pystray's X11 backend failing with a traceback (a real subprocess: pystray
picks its backend when first imported)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_no_tray_on_wayland_without_xwayland_is_a_reason_not_a_crash() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["WAYLAND_DISPLAY"] = "wayland-404"
    done = subprocess.run(
        [sys.executable, "-c", "from agent.desktop.tray import tray_missing;"
         "print(tray_missing())"], env=env, capture_output=True, text=True, timeout=60,
        check=False)
    assert done.returncode == 0, done.stderr
    reason = done.stdout.strip()
    assert reason != "None" and "Wayland" in reason, reason
    assert "Traceback" not in done.stderr
