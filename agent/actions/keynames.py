"""The one table of key names: each contract key name (and modifier) as every input route
names it.  Adding a key touches `_NAMED` (or the derived letters, digits and F-keys)
and nothing else: XTEST, wtype, uinput and pynput all read `KEYS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.actions.base import ActionError


@dataclass(frozen=True)
class KeyName:
    """One key as the input routes name it."""

    keysym: str
    """XKB / X keysym name ("Return", "XF86AudioPlay"): XTEST and wtype."""
    evdev: str
    """Linux input event code name ("KEY_ENTER"): uinput."""
    pynput: str = ""
    """Attribute of pynput.keyboard.Key off Linux; "" = typed as its character."""
    modifier: str = ""
    """wtype's modifier name (-M/-m) for a modifier key; "" for other keys."""


_NAMED: dict[str, KeyName] = {
    "enter": KeyName("Return", "KEY_ENTER", "enter"),
    "escape": KeyName("Escape", "KEY_ESC", "esc"),
    "tab": KeyName("Tab", "KEY_TAB", "tab"),
    "space": KeyName("space", "KEY_SPACE", "space"),
    "backspace": KeyName("BackSpace", "KEY_BACKSPACE", "backspace"),
    "delete": KeyName("Delete", "KEY_DELETE", "delete"),
    "up": KeyName("Up", "KEY_UP", "up"),
    "down": KeyName("Down", "KEY_DOWN", "down"),
    "left": KeyName("Left", "KEY_LEFT", "left"),
    "right": KeyName("Right", "KEY_RIGHT", "right"),
    "home": KeyName("Home", "KEY_HOME", "home"),
    "end": KeyName("End", "KEY_END", "end"),
    "page_up": KeyName("Prior", "KEY_PAGEUP", "page_up"),
    "page_down": KeyName("Next", "KEY_PAGEDOWN", "page_down"),
    "insert": KeyName("Insert", "KEY_INSERT", "insert"),
    "volume_up": KeyName("XF86AudioRaiseVolume", "KEY_VOLUMEUP", "media_volume_up"),
    "volume_down": KeyName("XF86AudioLowerVolume", "KEY_VOLUMEDOWN", "media_volume_down"),
    "volume_mute": KeyName("XF86AudioMute", "KEY_MUTE", "media_volume_mute"),
    "media_play_pause": KeyName("XF86AudioPlay", "KEY_PLAYPAUSE", "media_play_pause"),
    "media_next": KeyName("XF86AudioNext", "KEY_NEXTSONG", "media_next"),
    "media_previous": KeyName("XF86AudioPrev", "KEY_PREVIOUSSONG", "media_previous"),
    "ctrl": KeyName("Control_L", "KEY_LEFTCTRL", "ctrl", modifier="ctrl"),
    "alt": KeyName("Alt_L", "KEY_LEFTALT", "alt", modifier="alt"),
    "shift": KeyName("Shift_L", "KEY_LEFTSHIFT", "shift", modifier="shift"),
    "super": KeyName("Super_L", "KEY_LEFTMETA", "cmd", modifier="logo"),
}
"""Named keys and the modifiers."""

KEYS: dict[str, KeyName] = (
    _NAMED
    | {c: KeyName(c, f"KEY_{c.upper()}") for c in "abcdefghijklmnopqrstuvwxyz0123456789"}
    | {f"f{n}": KeyName(f"F{n}", f"KEY_F{n}", f"f{n}" if n <= 20 else "")
       for n in range(1, 25)}
)
"""Every key name a chord may use -> how each route names it."""


def key(name: str) -> KeyName:
    """The table entry for a key name; ActionError for a name it lacks."""
    try:
        return KEYS[name]
    except KeyError:
        raise ActionError(f"unknown key '{name}'") from None


def check_typable(text: str) -> None:
    """ActionError for a control character in `text` that no route types (newline,
    carriage return and tab are the Return and Tab keys)."""
    for char in text:
        code = ord(char)
        if char not in "\n\r\t" and (code < 0x20 or 0x7F <= code < 0xA0):
            raise ActionError(f"cannot type control character {code:#04x}")
