"""pystray's X11 icon, adapted.

pystray 0.19's X11 backend has no menus, never asks the X server for clicks, asks
to be docked again at every icon change (trayer then re-embeds the icon and shrinks
it to one pixel), and hands changes made from other threads to its loop through
messages sent on its own connection, which sometimes never arrive while the loop
waits on that connection. The icon made here hears clicks (they open our popup menu),
docks once, and takes changes and its end through a connection of our own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_POKE = "_VOXAGENT_TRAY_POKE"


def clickable(base: type, popup: Callable[[int, int], None]) -> type:
    """A subclass of pystray's X11 Icon; `popup(x, y)` is called on a click."""
    from Xlib import X, display, error
    from Xlib.protocol import event as xevent

    class ClickableIcon(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._window.change_attributes(
                event_mask=X.ExposureMask | X.StructureNotifyMask | X.ButtonPressMask)
            self._todo: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
            self._poke_atom = self._display.intern_atom(_POKE)
            pystray_messages = self._message_handlers[X.ClientMessage]

            def on_message(event: Any) -> None:
                if event.client_type == self._poke_atom:
                    self._drain()
                else:
                    pystray_messages(event)

            self._message_handlers[X.ClientMessage] = on_message
            self._display.flush()
            self._own: Any = None
            self._own_lock = threading.Lock()

        def _on_button_press(self, event: Any) -> None:
            if event.detail in (1, 3):
                popup(event.root_x, event.root_y)

        def _assert_docked(self) -> None:
            if self._systray_manager is None:  # once docked, stay docked
                super()._assert_docked()

        def run_in_loop(self, fn: Callable[[], None]) -> None:
            """Have the icon's loop thread run `fn` (from any thread)."""
            self._todo.put(fn)
            message = xevent.ClientMessage(window=self._window.id, client_type=self._poke_atom,
                                           data=(32, (0, 0, 0, 0, 0)))
            self._send(lambda d: d.create_resource_object("window", self._window.id)
                       .send_event(message, event_mask=0))

        def _drain(self) -> None:
            while True:
                try:
                    fn = self._todo.get_nowait()
                except queue.Empty:
                    return
                fn()

        def destroy_from_outside(self) -> None:
            """End the icon's loop from another thread: destroy its window."""
            self._send(lambda d: d.create_resource_object("window", self._window.id)
                       .destroy())
            with self._own_lock:
                if self._own is not None:
                    self._own.close()
                    self._own = None

        def _send(self, request: Callable[[Any], None]) -> None:
            with self._own_lock:
                try:
                    if self._own is None:
                        self._own = display.Display(self._display.get_display_name())
                    request(self._own)
                    self._own.sync()
                except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
                    log.warning("cannot reach the tray icon: %s", exc)
                except error.XError as exc:
                    log.debug("tray icon window gone: %s", exc)

    return ClickableIcon
