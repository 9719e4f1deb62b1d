"""The hotkey on X11: a passive grab of one key on the root window.

The X server then delivers that key (with any lock modifiers) to this client only,
so it never reaches the focused window. Auto-repeat shows up as a release followed
by a press with the same server time; such pairs are dropped, so holding the key is
one press and one release.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from typing import Any

from agent.desktop.hotkey_base import HotkeyError, KeyCallback, x_keysym_name

log = logging.getLogger(__name__)

_REPEAT_WAIT_S = 0.03
"""How long a release waits for the press that would make it auto-repeat."""
_JOIN_TIMEOUT_S = 2.0


class X11Hotkey:
    def __init__(self, key: str, on_down: KeyCallback, on_up: KeyCallback) -> None:
        self._key = key
        self._on_down, self._on_up = on_down, on_up
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._display: Any = None
        self._keycode = 0
        self._down = False
        self._release: tuple[int, float] | None = None
        """A release not yet known to be real: (server time, monotonic time)."""

    def start(self) -> None:
        from Xlib import XK, X, display, error

        try:
            self._display = display.Display()
        except (error.DisplayError, OSError) as exc:
            raise HotkeyError(f"no X display for the hotkey: {exc}") from None
        keysym = XK.string_to_keysym(x_keysym_name(self._key))
        self._keycode = self._display.keysym_to_keycode(keysym) if keysym else 0
        if not self._keycode:
            self._display.close()
            raise HotkeyError(f"the keyboard layout has no key '{self._key}'")
        self._grab(X, error)
        self._thread = threading.Thread(target=self._loop, name="hotkey-x11", daemon=True)
        self._thread.start()

    def _grab(self, X: Any, error: Any) -> None:
        failed: list[Any] = []
        root = self._display.screen().root
        lock, numlock = X.LockMask, X.Mod2Mask
        for mods in (0, lock, numlock, lock | numlock):
            root.grab_key(self._keycode, mods, False, X.GrabModeAsync, X.GrabModeAsync,
                          onerror=lambda err, *_: failed.append(err))
        self._display.sync()
        if failed:
            self._display.close()
            raise HotkeyError(f"the key {self._key} is taken by another program "
                              "(set [desktop] hotkey to another key)")
        log.info("hotkey %s grabbed on %s", self._key, self._display.get_display_name())

    def _loop(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # noqa: BLE001 - the X connection is gone: never stay open
            log.warning("push-to-talk hotkey lost (%s); push-to-talk closed",
                        str(exc).strip() or type(exc).__name__)
            self._release = self._release or (0, time.monotonic())
            self._up()

    def _serve(self) -> None:
        fd = self._display.fileno()
        while not self._stop.is_set():
            wait = _REPEAT_WAIT_S if self._release else 0.2
            readable, _, _ = select.select([fd], [], [], wait)
            if readable or self._display.pending_events():
                while self._display.pending_events():
                    self._handle(self._display.next_event())
            if self._release and time.monotonic() - self._release[1] >= _REPEAT_WAIT_S:
                self._up()

    def _handle(self, event: Any) -> None:
        from Xlib import X

        if getattr(event, "detail", None) != self._keycode:
            return
        if event.type == X.KeyRelease:
            if self._release:
                self._up()
            self._release = (event.time, time.monotonic())
        elif event.type == X.KeyPress:
            if self._release and self._release[0] == event.time:
                self._release = None  # auto-repeat: the key is still down
                return
            if self._release:
                self._up()
            if not self._down:
                self._down = True
                self._on_down(time.monotonic())

    def _up(self) -> None:
        assert self._release is not None
        at = self._release[1]
        self._release = None
        if self._down:
            self._down = False
            self._on_up(at)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_JOIN_TIMEOUT_S)
        if self._display is not None:
            from Xlib import X

            try:
                self._display.screen().root.ungrab_key(self._keycode, X.AnyModifier)
                self._display.close()
            except Exception as exc:  # noqa: BLE001 - the X server went away first
                log.debug("hotkey: X connection already gone: %s", exc)
            self._display = None
