"""The focused window's class on X11 (for per-application commands)."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def active_window_class() -> str:
    """WM_CLASS of the window that has the focus, "" if unknown or not on X11."""
    if not os.environ.get("DISPLAY"):
        return ""
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
