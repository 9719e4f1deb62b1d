"""The [keyboard] section of the configuration: the route keys take to the desktop."""

from __future__ import annotations

from dataclasses import dataclass

from agent.actions.route import ROUTES
from agent.options import option as _opt


@dataclass(frozen=True)
class KeyboardConfig:
    backend: str = _opt(
        "auto", 'How keys reach the desktop: "auto" (from the session: Wayland first, then '
        'DISPLAY), "x11" (XTEST), "wlroots" (wtype: sway, Hyprland, river) or "uinput" '
        "(a virtual keyboard device: GNOME, KDE; needs /dev/uinput access, see README).",
        choices=("auto", *ROUTES))
