"""What every push-to-talk backend shares: the key names, the callbacks, the error.

A leaf: the backends (hotkey_x11.py, hotkey_evdev.py) and the config import it without
importing agent/desktop/hotkey.py, which picks and builds a backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

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


HOTKEY_BACKENDS = ("x11", "evdev", "pynput")
"""The hotkey backends agent/desktop/hotkey.py builds ([desktop] hotkey_backend adds
"auto" and "none")."""
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
