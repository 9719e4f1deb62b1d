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
from typing import Any, Protocol

log = logging.getLogger(__name__)

KeyCallback = Callable[[float], None]

NAMED_KEYS = {"pause": "Pause", "scroll_lock": "Scroll_Lock", "insert": "Insert",
              "menu": "Menu", "print": "Print", "caps_lock": "Caps_Lock",
              "home": "Home", "end": "End", "page_up": "Prior", "page_down": "Next"}
"""Hotkey names -> X keysym names (f1..f24, letters and digits are derived)."""


class HotkeyError(RuntimeError):
    """The hotkey cannot be had here; one line saying why and what to do."""


class Hotkey(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


ALLOWED_KEYS = "f1..f24, a letter or digit, or one of " + ", ".join(NAMED_KEYS)
"""What a hotkey may be, as said in error messages."""


def canonical_key(name: str) -> str | None:
    """The canonical hotkey name ("F9" -> "f9", "Scroll Lock" -> "scroll_lock"); None if
    there is no such hotkey."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in NAMED_KEYS or (len(key) == 1 and key.isascii() and key.isalnum()):
        return key
    if key[:1] == "f" and key[1:].isdigit() and 1 <= int(key[1:]) <= 24:
        return key
    return None


def check_key(name: str) -> str:
    """The canonical hotkey name ("f9", "pause", "a"); HotkeyError if unknown."""
    key = canonical_key(name)
    if key is None:
        raise HotkeyError(f"unknown hotkey '{name}'; use {ALLOWED_KEYS}")
    return key


def hotkey_option(value: str) -> str:
    """The `[desktop] hotkey` check at config load: canonical name, or ValueError saying
    what is allowed."""
    key = canonical_key(value)
    if key is None:
        raise ValueError(ALLOWED_KEYS)
    return key


def display_name(key: str, toggle: bool) -> str:
    """"F9, hold" / "Pause, toggle"."""
    shown = key.upper() if key[:1] == "f" and key[1:].isdigit() else key.replace("_", " ")
    return f"{shown}, {'toggle' if toggle else 'hold'}"


def x_keysym_name(key: str) -> str:
    if key in NAMED_KEYS:
        return NAMED_KEYS[key]
    return key.upper() if key[:1] == "f" and key[1:].isdigit() else key


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


def make_hotkey(backend: str, key: str, on_down: KeyCallback, on_up: KeyCallback) -> Hotkey:
    """A started hotkey; HotkeyError (one line) when it cannot be had."""
    hotkey: Hotkey
    if backend == "x11":
        from agent.desktop.hotkey_x11 import X11Hotkey

        hotkey = X11Hotkey(key, on_down, on_up)
    elif backend == "evdev":
        from agent.desktop.hotkey_evdev import EvdevHotkey

        hotkey = EvdevHotkey(key, on_down, on_up)
    elif backend == "pynput":
        hotkey = PynputHotkey(key, on_down, on_up)
    else:
        raise HotkeyError(f"no hotkey backend '{backend}'")
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
