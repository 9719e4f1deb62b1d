"""The focused window's class (for per-application commands): from the compositor on
sway and Hyprland (their IPC: app_id, or the class of an XWayland window), from X11's
_NET_ACTIVE_WINDOW elsewhere."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

_IPC_TIMEOUT = 2.0
"""Seconds a compositor may take to say which window has the focus."""


def active_window_class() -> str:
    """The focused window's class or app_id, "" if unknown."""
    if os.environ.get("SWAYSOCK"):
        return _sway_focused_class()
    if os.environ.get("HYPRLAND_INSTANCE_SIGNATURE"):
        return str(_ipc_json(["hyprctl", "activewindow", "-j"]).get("class") or "")
    if not os.environ.get("DISPLAY"):
        return ""
    return _x11_active_class()


def _ipc_json(argv: list[str]) -> Any:
    """A compositor's JSON answer ({} when it cannot be had)."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=_IPC_TIMEOUT, check=True)
        return json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.debug("window context from %s unavailable: %s", argv[0], exc)
        return {}


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("nodes", []) + node.get("floating_nodes", []):
        yield from _nodes(child)


def _sway_focused_class() -> str:
    tree = _ipc_json(["swaymsg", "-t", "get_tree", "-r"])
    for node in _nodes(tree) if tree else ():
        if node.get("focused"):
            props = node.get("window_properties") or {}
            return str(node.get("app_id") or props.get("class") or "")
    return ""


def _x11_active_class() -> str:
    """WM_CLASS of the X window that is active or has the focus, "" if unknown."""
    try:
        from Xlib import X, display, error
    except ImportError:
        return ""
    try:
        d = display.Display()
    except (error.DisplayError, OSError) as exc:
        log.debug("no X display for window context: %s", exc)
        return ""
    try:
        root = d.screen().root
        atom = d.intern_atom("_NET_ACTIVE_WINDOW")
        prop = root.get_full_property(atom, X.AnyPropertyType)
        active = prop.value[0] if prop is not None and len(prop.value) else 0
        window = d.create_resource_object("window", active) if active \
            else d.get_input_focus().focus
        while window and not isinstance(window, int):
            cls = window.get_wm_class()
            if cls:
                return cls[1]
            tree = window.query_tree()
            window = tree.parent if tree.parent != root else None
        return ""
    except error.XError as exc:
        log.debug("window class unavailable: %s", exc)
        return ""
    finally:
        d.close()
