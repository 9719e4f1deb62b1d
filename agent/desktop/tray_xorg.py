"""pystray's X11 icon, adapted.

pystray 0.19's X11 backend has no menus, redocks at every change, can lose changes made
from other threads and loses the icon for good when the tray host goes away. The icon
made here hears clicks, docks once (and again when a new host comes), takes changes
through a connection of its own and is drawn with transparency where the host allows
(docs/desktop.md, "How the desktop parts work").
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_POKE = "_VOXAGENT_TRAY_POKE"
BACKGROUND = (0x30, 0x30, 0x30)
"""What the icon is drawn on where the tray host has no transparency: a plain dark grey."""


def _quiet(err: Any, *_: Any) -> None:
    """An X error handler: a window that went away meanwhile is not the user's business."""
    log.debug("X error (tray icon): %s", err)


def icon_pixels(image: Any, width: int, height: int, argb: bool, lsb_first: bool) -> bytes:
    """ZPixmap bytes of a PIL RGBA image scaled to width x height: premultiplied ARGB for
    a 32-bit window, else drawn on BACKGROUND (32 bits a pixel, X padding)."""
    from PIL import Image, ImageChops

    scaled = image.convert("RGBA").resize((width, height), Image.LANCZOS)
    alpha = scaled.getchannel("A")
    if argb:
        rgb = ImageChops.multiply(scaled.convert("RGB"), Image.merge("RGB", (alpha,) * 3))
        fourth = alpha
    else:
        rgb = Image.new("RGB", (width, height), BACKGROUND)
        rgb.paste(scaled.convert("RGB"), mask=alpha)
        fourth = Image.new("L", (width, height), 0)
    r, g, b = rgb.split()
    bands = (b, g, r, fourth) if lsb_first else (fourth, r, g, b)  # in memory order
    return Image.merge("RGBA", bands).tobytes()


def tray_visual(d: Any, selection: int) -> int | None:
    """The 32-bit visual the tray host asks icons to use (_NET_SYSTEM_TRAY_VISUAL), or
    None: no host, no such property, or a visual that has no alpha."""
    from Xlib import X, error

    try:
        owner = d.get_selection_owner(selection)
        if owner in (X.NONE, 0):
            return None
        prop = owner.get_full_property(d.intern_atom("_NET_SYSTEM_TRAY_VISUAL"),
                                       X.AnyPropertyType)
    except error.XError:
        return None
    if prop is None or not prop.value:
        return None
    wanted = int(prop.value[0])
    for depth in d.screen().allowed_depths:
        if depth.depth == 32 and any(v.visual_id == wanted for v in depth.visuals):
            return wanted
    return None


def clickable(base: type, popup: Callable[[int, int], None]) -> type:
    """A subclass of pystray's X11 Icon; `popup(x, y)` is called on a click."""
    from Xlib import X, Xutil, display, error
    from Xlib.protocol import event as xevent

    class ClickableIcon(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._display.set_error_handler(_quiet)
            self._window.change_attributes(
                event_mask=X.ExposureMask | X.StructureNotifyMask | X.ButtonPressMask)
            self._todo: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
            self._poke_atom = self._display.intern_atom(_POKE)
            manager_atom = self._display.intern_atom("MANAGER")
            pystray_messages = self._message_handlers[X.ClientMessage]

            def on_message(event: Any) -> None:
                if event.client_type == self._poke_atom:
                    self._drain()
                elif (event.client_type == manager_atom
                      and event.data[1][1] == self._net_system_tray_sx):
                    self._on_new_host()
                else:
                    pystray_messages(event)

            self._message_handlers[X.ClientMessage] = on_message
            # a new tray host says so on the root window (MANAGER, StructureNotify)
            self._display.screen().root.change_attributes(event_mask=X.StructureNotifyMask)
            self._display.flush()
            self._own: Any = None
            self._own_lock = threading.Lock()

        def _run(self) -> None:
            """Shown from the loop's own thread, before the loop starts: pystray's setup
            thread would write to this connection while the loop waits on a reply on it,
            and python-xlib is not safe across threads (a loop stuck in get_geometry,
            an agent deaf to SIGINT). The setup thread then finds the icon visible."""
            self._thread = threading.current_thread()
            self.visible = True
            super()._run()

        def __del__(self) -> None:
            """Only let go of the connection: the loop is always ended by destroying the
            window (pystray's would ask the ended loop to stop, and wait for ever)."""
            try:
                self._display.close()
            except Exception:  # noqa: BLE001 - already closed, or broken: nothing to do
                log.debug("tray icon connection already closed")

        # --- the window and its pixels -------------------------------------------------

        def _create_window(self) -> Any:
            """pystray's window, or the same as a 32-bit ARGB window where the tray host
            asks for that visual (its corners then show the tray through)."""
            visual = tray_visual(self._display, self._net_system_tray_sx)
            self._argb = visual is not None
            if visual is None:
                return super()._create_window()
            screen = self._display.screen()
            window = screen.root.create_window(
                -1, -1, 1, 1, 0, 32, X.InputOutput, visual,
                colormap=screen.root.create_colormap(visual, X.AllocNone),
                background_pixel=0, border_pixel=0,
                event_mask=X.ExposureMask | X.StructureNotifyMask)
            window.set_wm_class(f"{self.name}SystemTrayIcon", self.name)
            window.set_wm_name(self.title)
            window.set_wm_normal_hints(flags=Xutil.PPosition | Xutil.PSize | Xutil.PMinSize,
                                       min_width=24, min_height=24)
            window.change_property(self._xembed_info, self._xembed_info, 32,
                                   [self._XEMBED_VERSION, self._XEMBED_MAPPED])
            return window

        def _assert_icon_data(self, width: int, height: int) -> None:
            if self._icon_data is not None and self._icon_data[0] == (width, height):
                return
            lsb = self._display.display.info.image_byte_order == X.LSBFirst
            self._icon_data = ((width, height),
                               icon_pixels(self._icon, width, height, self._argb, lsb))

        def _draw(self) -> None:
            try:
                dim = self._window.get_geometry()
                self._assert_icon_data(dim.width, dim.height)
                self._window.put_image(self._gc, 0, 0, dim.width, dim.height, X.ZPixmap,
                                       32 if self._argb else self._display.screen().root_depth,
                                       0, self._icon_data[1])
            except error.XError as exc:  # the window went away meanwhile
                log.debug("tray icon not drawn: %s", exc)

        # --- docking -------------------------------------------------------------------

        def _assert_docked(self) -> None:
            """Dock once; with no tray host, wait quietly for the MANAGER message."""
            if self._systray_manager is None:
                self._dock()

        def _dock(self) -> bool:
            try:
                self._dock_window()
                self._display.sync()
            except error.XError as exc:  # the host went away while we asked it
                log.debug("tray icon not docked: %s", exc)
                self._systray_manager = None
            return self._systray_manager is not None

        def _on_destroy_notify(self, event: Any) -> None:
            manager = self._systray_manager
            if manager is None or event.window.id != manager.id:
                return
            log.info("the tray host went away; the icon comes back with the next one")
            self._systray_manager = None
            try:  # not left on the bare screen (the host saved it there) meanwhile
                self._window.unmap()
                self._display.flush()
            except error.XError as exc:
                log.debug("tray icon not hidden: %s", exc)

        def _on_new_host(self) -> None:
            """A tray host took the selection: dock with it (again)."""
            if (tray_visual(self._display, self._net_system_tray_sx) is not None) \
                    != self._argb:
                log.info("the new tray host has another visual: making the icon again")
                self._window.destroy()  # ends the loop; the Tray makes a new icon
                self._display.flush()
                return
            self._systray_manager = None
            if self._dock():
                log.info("tray icon docked again")
                self._draw()

        # --- other threads ---------------------------------------------------------------

        def _on_button_press(self, event: Any) -> None:
            if event.detail in (1, 3):
                popup(event.root_x, event.root_y)

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
                        self._own.set_error_handler(_quiet)
                    request(self._own)
                    self._own.sync()
                except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
                    log.warning("cannot reach the tray icon: %s", exc)
                except error.XError as exc:
                    log.debug("tray icon window gone: %s", exc)

    return ClickableIcon
