"""Keys, text and wheel clicks on GNOME and KDE (and any session) through a uinput
device made with python-evdev: the kernel sees a new keyboard, so every compositor and
XWayland take its keys as real input.

It needs write access to /dev/uinput (the README's udev rule and group); `doctor`
checks it with `uinput_access()`.  A uinput key is a key *position*: the session's
layout decides what it types, so text is typed for a US layout and a character that
layout lacks is refused with one line.  Future work: the RemoteDesktop portal through
libei, which needs no device access and asks the user once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.actions.base import ActionError
from agent.actions.keynames import KEYS, check_typable, key

log = logging.getLogger(__name__)

UINPUT = Path("/dev/uinput")
DEVICE_NAME = "voxagent virtual keyboard"
_US_SHIFTED = dict(zip('~!@#$%^&*()_+{}|:"<>?', "`1234567890-=[]\\;',./", strict=True))
"""US layout: a shifted symbol -> the unshifted character on the same key."""
_US_PLAIN = {"`": "KEY_GRAVE", "-": "KEY_MINUS", "=": "KEY_EQUAL", "[": "KEY_LEFTBRACE",
             "]": "KEY_RIGHTBRACE", "\\": "KEY_BACKSLASH", ";": "KEY_SEMICOLON",
             "'": "KEY_APOSTROPHE", ",": "KEY_COMMA", ".": "KEY_DOT", "/": "KEY_SLASH",
             " ": "KEY_SPACE", "\n": "KEY_ENTER", "\r": "KEY_ENTER", "\t": "KEY_TAB"}
"""US layout: characters on keys that are not contract key names -> evdev code names."""
_WHEEL = {"up": ("REL_WHEEL", 1), "down": ("REL_WHEEL", -1),
          "left": ("REL_HWHEEL", -1), "right": ("REL_HWHEEL", 1)}
_SETTLE = 0.5
"""Seconds after the device is made before the first key: the compositor (libinput) has to
see the new device first, or it drops the keys sent before."""
Event = tuple[int, int, int]
"""(event type, code, value): value 1 press, 0 release, or a wheel step."""


def _ecodes() -> Any:
    try:
        from evdev import ecodes
    except ImportError:
        raise ActionError("python-evdev is not installed: pip install 'voxagent[wayland]' "
                          "for the uinput route") from None
    return ecodes


def uinput_access(path: Path = UINPUT) -> str:
    """"" when a uinput device can be made here, else the reason and the fix (one line)."""
    try:
        _ecodes()
    except ActionError as exc:
        return str(exc)
    if not path.exists():
        return (f"{path} does not exist: load the module (sudo modprobe uinput) and add "
                "the udev rule from the README")
    if not os.access(path, os.R_OK | os.W_OK):
        return (f"no read/write access to {path}: add the udev rule from the README "
                "(group input) and join the group (sudo usermod -aG input $USER), then "
                "log in again")
    return ""


def evdev_code(name: str) -> int:
    """The evdev key code for a contract key name."""
    return int(getattr(_ecodes(), key(name).evdev))


def capabilities() -> dict[int, list[int]]:
    """What the device declares: every key in KEYS and on the US layout, and both wheels."""
    e = _ecodes()
    names = {k.evdev for k in KEYS.values()} | set(_US_PLAIN.values())
    return {e.EV_KEY: sorted(getattr(e, n) for n in names),
            e.EV_REL: sorted({getattr(e, n) for n, _ in _WHEEL.values()})}


def chord_events(names: Sequence[str]) -> list[Event]:
    """Press the keys in order, then release them in reverse order."""
    e = _ecodes()
    codes = [evdev_code(n) for n in names]
    return [(e.EV_KEY, c, 1) for c in codes] + [(e.EV_KEY, c, 0) for c in reversed(codes)]


def char_keys(char: str) -> list[str]:
    """The contract key names that type `char` on a US layout (shift first if needed)."""
    check_typable(char)
    lower = char.lower()
    if lower in KEYS and len(lower) == 1:
        return ["shift", lower] if char != lower else [lower]
    if char in _US_SHIFTED:
        return ["shift", *char_keys(_US_SHIFTED[char])]
    if char in _US_PLAIN:
        return [char]
    raise ActionError(f"cannot type {char!r} through uinput: the keyboard layout decides "
                      "what a key types, and only US-layout characters are sent this way")


def text_events(text: str) -> list[list[Event]]:
    """Each character of `text` as a chord's events; ActionError before anything is
    sent if one cannot be typed."""
    e = _ecodes()
    out: list[list[Event]] = []
    for char in text:
        names = char_keys(char)
        codes = [evdev_code(n) if n in KEYS else getattr(e, _US_PLAIN[n]) for n in names]
        out.append([(e.EV_KEY, c, 1) for c in codes]
                   + [(e.EV_KEY, c, 0) for c in reversed(codes)])
    return out


class UInputKeyboard:
    """The KeyInput route through a uinput device."""

    def __init__(self, device: Any, delay: float) -> None:
        self._device = device
        self._delay = delay

    @classmethod
    def open(cls, delay: float, path: Path = UINPUT) -> UInputKeyboard:
        """Make the device; ActionError (one line) when it cannot be made here."""
        reason = uinput_access(path)
        if reason:
            raise ActionError(reason)
        from evdev import UInput, UInputError

        try:
            device = UInput(capabilities(), name=DEVICE_NAME, devnode=str(path))
        except (UInputError, OSError) as exc:
            raise ActionError(f"cannot make a uinput device: {exc}".splitlines()[0]) from None
        time.sleep(_SETTLE)
        return cls(device, delay)

    def chord(self, names: Sequence[str]) -> None:
        self._send(chord_events(names))

    def type(self, text: str) -> None:
        for events in text_events(text):
            self._send(events)

    def scroll(self, direction: str, count: int) -> None:
        e = _ecodes()
        name, step = _WHEEL[direction]
        for _ in range(count):
            self._send([(e.EV_REL, getattr(e, name), step)])

    def close(self) -> None:
        self._device.close()

    def _send(self, events: list[Event]) -> None:
        """Each event, then a report (SYN) and the key delay; what was pressed is
        released even if a write fails."""
        e = _ecodes()
        pressed: list[int] = []
        try:
            for kind, code, value in events:
                self._device.write(kind, code, value)
                self._device.syn()
                if kind == e.EV_KEY:
                    if value:
                        pressed.append(code)
                    elif code in pressed:
                        pressed.remove(code)
                time.sleep(self._delay)
        finally:
            for code in reversed(pressed):
                self._device.write(e.EV_KEY, code, 0)
                self._device.syn()
