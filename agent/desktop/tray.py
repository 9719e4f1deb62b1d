"""The tray icon (pystray): one icon per state, the tooltip, and the menu.

It owns the main thread (pystray needs it on macOS). Without a display or a system
tray it says so once and the agent runs on without it; on X11 it keeps looking for
a tray host and shows up when one appears.

On X11 pystray's icon is adapted (agent/desktop/tray_xorg.py): clicks open the menu
as a Tk popup at the pointer (agent/desktop/menu.py); it docks again when the tray host
restarts, and when a host with another kind of visual comes, its loop ends and run()
makes a new icon at once.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.desktop.menu import Entry, TkPopup
from agent.desktop.status import Status, TrayState

log = logging.getLogger(__name__)

_RECHECK_S = 5.0
"""How often to look again for a tray host that was missing."""


def icon_path(folder: Path, state: TrayState) -> Path:
    return folder / f"{state.value}.png"


def tray_missing() -> str | None:
    """Why no tray icon can be shown here, or None when it can."""
    if sys.platform in ("win32", "darwin"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return "no display" if not os.environ.get("WAYLAND_DISPLAY") else _wayland_tray()
    try:
        from Xlib import X, error
        from Xlib import display as xdisplay
    except ImportError:
        return "python-xlib is missing"
    try:
        d = xdisplay.Display(display)
    except (error.DisplayError, OSError) as exc:
        return f"cannot open display {display}: {exc}"
    try:
        atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
        owner = d.get_selection_owner(atom)
        return None if owner not in (X.NONE, 0) else f"no system tray on display {display}"
    finally:
        d.close()


def _wayland_tray() -> str | None:
    """A Wayland session without XWayland: pystray needs a backend that is not X11
    (appindicator or GTK, through PyGObject); its X11 backend cannot open a display."""
    try:
        import pystray
    except Exception as exc:  # noqa: BLE001 - any backend failing to load means no icon
        return f"no tray backend on this Wayland session ({type(exc).__name__}: {exc})"
    if pystray.Icon.__module__.endswith("_xorg"):
        return ("no tray on this Wayland session without XWayland (pystray's appindicator "
                "backend needs PyGObject: pip install PyGObject)")
    return None


class Tray:
    def __init__(self, icons: Path, menu: Callable[[], tuple[Entry, ...]],
                 popup: TkPopup | None = None) -> None:
        from PIL import Image

        self._images = {s: Image.open(icon_path(icons, s)).convert("RGBA") for s in TrayState}
        self._menu = menu
        self._icon: Any = None
        self._status = Status()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._popup = popup or TkPopup()

    def update(self, status: Status) -> None:
        """Show a new status (any thread)."""
        with self._lock:
            self._status = status
            icon = self._icon
        if icon is None:
            return
        run_in_loop = getattr(icon, "run_in_loop", None)
        if run_in_loop is not None:  # X11: applied by the icon's own thread
            run_in_loop(lambda: self._show(icon, status))
        else:
            self._show(icon, status)

    def _show(self, icon: Any, status: Status) -> None:
        image = self._images[status.state]
        if icon.icon is not image:
            icon.icon = image
        tip = status.tooltip()
        if icon.title != tip:
            icon.title = tip
        if getattr(icon, "HAS_MENU", False):
            icon.update_menu()

    def run(self) -> None:
        """Block until stop(): show the icon while there is a tray, else wait for one."""
        said = False
        while not self._stopped.is_set():
            missing = tray_missing()
            if missing is None:
                self._run_icon()
                continue
            if not said:
                log.warning("running without a tray icon: %s", missing)
                said = True
            self._stopped.wait(_RECHECK_S)

    def _run_icon(self) -> None:
        import pystray

        icon_class = pystray.Icon
        if icon_class.__module__.endswith("_xorg"):
            from agent.desktop.tray_xorg import clickable

            icon_class = clickable(icon_class, self._open_popup)
        with self._lock:
            status = self._status
            self._icon = icon_class("voxagent", self._images[status.state], status.tooltip(),
                                    menu=_pystray_menu(pystray, self._menu))
        if self._stopped.is_set():
            return
        log.info("tray icon shown")
        self._icon.run(setup=lambda icon: setattr(icon, "visible", True))
        with self._lock:
            self._icon = None

    def _open_popup(self, x: int, y: int) -> None:
        self._popup.show(self._menu(), x, y)

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            icon = self._icon
        if icon is not None:
            getattr(icon, "destroy_from_outside", icon.stop)()
        self._popup.stop()


def _pystray_menu(pystray: Any, build: Callable[[], tuple[Entry, ...]]) -> Any:
    """The menu for backends with menus; its default item acts on a left click."""
    def items() -> list[Any]:
        return [_pystray_item(pystray, e) for e in build()]
    return pystray.Menu(items)


def _pystray_item(pystray: Any, e: Entry) -> Any:
    if e.text == "-":
        return pystray.Menu.SEPARATOR
    if e.children:
        return pystray.MenuItem(e.text, pystray.Menu(*[_pystray_item(pystray, c)
                                                       for c in e.children]))
    action = e.action
    return pystray.MenuItem(
        e.text, (lambda icon, item: action()) if action else None,
        checked=(lambda item: e.checked) if e.checked is not None else None,
        radio=e.radio, enabled=e.enabled, default=e.text == "Listening")
