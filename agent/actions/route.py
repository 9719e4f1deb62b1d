"""Which input route reaches the session this process runs in.

A Wayland session (WAYLAND_DISPLAY, or XDG_SESSION_TYPE=wayland) is preferred to DISPLAY,
which on Wayland is XWayland: the Wayland routes reach XWayland windows too, while XTEST
on XWayland reaches only them.  GNOME and KDE have no virtual-keyboard protocol for
clients, so they get uinput; every other Wayland compositor is taken for a wlroots one
(sway, Hyprland, river, Wayfire, labwc), where wtype speaks that protocol.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from agent.actions.base import ActionError

ROUTES = ("x11", "wlroots", "uinput")
"""The routes `[keyboard] backend` may force ("auto" picks one of these, or pynput off
Linux)."""
UINPUT_DESKTOPS = ("gnome", "kde", "plasma", "unity", "budgie", "cinnamon", "pantheon")
"""XDG_CURRENT_DESKTOP entries whose compositor lacks the virtual-keyboard protocol."""


def is_wayland(env: Mapping[str, str]) -> bool:
    return bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE", "") == "wayland"


def choose_route(backend: str, env: Mapping[str, str], platform: str = sys.platform) -> str:
    """"x11", "wlroots", "uinput" or "pynput" for `backend` ("auto" or a forced route)
    in the session `env` describes; ActionError when auto finds no session."""
    if backend in ROUTES:
        return backend
    if platform in ("win32", "darwin"):
        return "pynput"
    if is_wayland(env):
        desktops = env.get("XDG_CURRENT_DESKTOP", "").lower().split(":")
        if any(d in desktops for d in UINPUT_DESKTOPS):
            return "uinput"
        return "wlroots"
    if env.get("DISPLAY"):
        return "x11"
    if env.get("PYNPUT_BACKEND"):
        return "pynput"
    raise ActionError("no desktop session to send input to (neither WAYLAND_DISPLAY nor "
                      "DISPLAY is set)")
