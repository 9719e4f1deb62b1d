"""The push-to-talk hotkey: a global key that goes to the agent and to no other program.

Backends (each with start() and stop(), calling on_down(t) / on_up(t) with
time.monotonic()): x11 (a passive grab, agent/desktop/hotkey_x11.py), evdev
(/dev/input on Wayland, agent/desktop/hotkey_evdev.py), pynput (Windows, macOS).
Why each: docs/desktop.md, "How the desktop parts work".
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from agent.desktop.hotkey_base import HOTKEY_BACKENDS, Hotkey, HotkeyError, KeyCallback

log = logging.getLogger(__name__)


def pick_backend(configured: str) -> str:
    """The backend for this session: the configured one, or the platform's."""
    if configured != "auto":
        return configured
    if sys.platform in ("win32", "darwin"):
        return "pynput"
    wayland = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland"
    if wayland:
        return "evdev"
    return "x11" if os.environ.get("DISPLAY") else "evdev"


def _x11(key: str, on_down: KeyCallback, on_up: KeyCallback) -> Hotkey:
    from agent.desktop.hotkey_x11 import X11Hotkey

    return X11Hotkey(key, on_down, on_up)


def _evdev(key: str, on_down: KeyCallback, on_up: KeyCallback) -> Hotkey:
    from agent.desktop.hotkey_evdev import EvdevHotkey

    return EvdevHotkey(key, on_down, on_up)


def make_hotkey(backend: str, key: str, on_down: KeyCallback, on_up: KeyCallback) -> Hotkey:
    """A started hotkey; HotkeyError (one line) when it cannot be had."""
    build = _BUILDERS.get(backend)
    if build is None:
        raise HotkeyError(f"no hotkey backend '{backend}'")
    hotkey = build(key, on_down, on_up)
    hotkey.start()
    return hotkey


class PynputHotkey:
    """pynput's listener; on Windows and macOS the key is swallowed by the event filter.
    Elsewhere (X11 forced to pynput) the key also reaches the focused window."""

    def __init__(self, key: str, on_down: KeyCallback, on_up: KeyCallback) -> None:
        self._key = key
        self._on_down, self._on_up = on_down, on_up
        self._listener: Any = None
        self._down = False
        self._target: Any = None

    def start(self) -> None:
        try:
            from pynput import keyboard
        except ImportError as exc:
            raise HotkeyError(f"no keyboard listener here: {exc}".splitlines()[0]) from None
        self._target = _pynput_key(keyboard, self._key)
        if sys.platform not in ("win32", "darwin"):
            log.warning("the pynput hotkey cannot keep %s from the focused window here",
                        self._key)
        self._listener = keyboard.Listener(
            on_press=self._press, on_release=self._release,
            win32_event_filter=self._win32_filter, darwin_intercept=self._darwin_intercept)
        self._listener.start()
        self._listener.wait()

    def _matches(self, key: Any) -> bool:
        return key == self._target

    def _press(self, key: Any) -> None:
        if self._matches(key) and not self._down:  # auto-repeat sends presses only
            self._down = True
            self._on_down(time.monotonic())

    def _release(self, key: Any) -> None:
        if self._matches(key):
            self._down = False
            self._on_up(time.monotonic())

    def _win32_filter(self, msg: int, data: Any) -> bool:
        if getattr(data, "vkCode", None) == getattr(self._target, "vk", object()):
            (self._release if msg in (0x0101, 0x0105) else self._press)(self._target)
            self._listener.suppress_event()
        return True

    def _darwin_intercept(self, event_type: Any, event: Any) -> Any:
        try:
            import Quartz
        except ImportError:
            return event
        code = Quartz.CGEventGetIntegerValueField(event, Quartz.kCGKeyboardEventKeycode)
        return None if code == getattr(self._target, "vk", None) else event

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()


def _pynput_key(keyboard: Any, key: str) -> Any:
    if len(key) == 1:
        return keyboard.KeyCode.from_char(key)
    found = getattr(keyboard.Key, key, None)
    if found is None:
        raise HotkeyError(f"hotkey '{key}' is not available on this platform")
    return found.value if hasattr(found, "value") else found


_BUILDERS: dict[str, Callable[[str, KeyCallback, KeyCallback], Hotkey]] = {
    "x11": _x11, "evdev": _evdev, "pynput": PynputHotkey,
}
"""How each backend of HOTKEY_BACKENDS is built."""
if tuple(_BUILDERS) != HOTKEY_BACKENDS:  # a backend without a builder fails here, at import
    raise TypeError("hotkey builders " + ", ".join(_BUILDERS) + " do not match "
                    "HOTKEY_BACKENDS " + ", ".join(HOTKEY_BACKENDS))
