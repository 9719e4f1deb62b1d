"""XTEST input on X11: chords, text and wheel clicks as real input events.

Never XSendEvent, which xterm and some toolkits ignore (pynput types characters
that way, so it is not used on X11).  A character the layout lacks is typed by
lending its keysym a keycode the layout leaves empty.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from agent.actions.base import ActionError
from agent.actions.keynames import check_typable, key

log = logging.getLogger(__name__)

X_WHEEL = {"up": 4, "down": 5, "left": 6, "right": 7}
"""X pointer buttons for the wheel directions."""

_XK_RETURN, _XK_TAB = 0xFF0D, 0xFF09
_SETTLE = 0.3
"""Seconds after our last key before new keycodes are lent (clients may be fetching)."""
_REUSE_AFTER = 0.6
"""Seconds after its last key before a lent keycode is lent again or emptied (clients
read keys late under load, and then with the mapping of that moment)."""


def x_keysym(name: str) -> int:
    """The X keysym for a contract key name ("ctrl", "page_down", "f5", "t", ...)."""
    from Xlib import XK

    symbol = key(name).keysym
    if symbol.startswith("XF86"):  # python-xlib knows these as XF86_* once loaded
        XK.load_keysym_group("xf86")
        symbol = "XF86_" + symbol[4:]
    keysym = XK.string_to_keysym(symbol)
    if not keysym:
        raise ActionError(f"unknown key '{name}'")
    return int(keysym)


def char_keysym(char: str) -> int:
    """The X keysym that types `char`: Latin-1 keysyms equal the code point, others are
    0x01000000 + code point; newline and tab are the Return and Tab keys."""
    code = ord(char)
    if char in "\n\r":
        return _XK_RETURN
    if char == "\t":
        return _XK_TAB
    check_typable(char)
    return code if code <= 0xFF else 0x01000000 | code


class XTestInput:
    """Chords, text and wheel clicks as XTEST input events on one X display.

    A keysym the layout lacks is lent a keycode that was empty when this object was made
    (every keysym slot set, so any modifier state gives it). Clients pick up a mapping
    change lazily, on the next key they look up, and Xlib forgets the changes announced
    while such a fetch is in flight; and they read a key with the mapping of the moment
    they get to it. So the keysyms a stretch of text lacks are all lent at once, before
    its first key; new loans wait `_SETTLE` after our last key, and a keycode is lent
    again (least recently used first) or emptied only `_REUSE_AFTER` after its last key.
    Loans stay while this object lives (a repeated character finds its loan again) and
    `restore` empties the keycodes at the end.
    """

    def __init__(self, display: Any, delay: float) -> None:
        from Xlib import XK

        self._d = display
        self._delay = delay
        self._first = display.display.info.min_keycode
        self._count = display.display.info.max_keycode - self._first + 1
        mapping = self._mapping()
        self._width = len(mapping[0])
        self._spares = [self._first + i for i, row in enumerate(mapping) if not any(row)][::-1]
        self._used: dict[int, float] = {}
        """Spare keycode -> time.monotonic() of its last loan or key event."""
        self._last_key = 0.0
        shift = self._lookup(mapping, XK.string_to_keysym("Shift_L"))
        self._shift = shift[0] if shift else 0

    @classmethod
    def connect(cls, delay: float) -> XTestInput:
        """Open $DISPLAY; ActionError if it cannot be reached or lacks XTEST."""
        from Xlib import display, error

        name = os.environ.get("DISPLAY", "")
        try:
            d = display.Display()
        except (error.DisplayError, OSError) as exc:
            raise ActionError(f"cannot reach the X display {name}: {exc}".splitlines()[0]) \
                from None
        if not d.has_extension("XTEST"):
            d.close()
            raise ActionError(f"the X display {name} has no XTEST extension for input")
        return cls(d, delay)

    def chord(self, names: Sequence[str]) -> None:
        """Press the named keys in order, then release them in reverse order."""
        keysyms = [x_keysym(name) for name in names]
        mapping = self._mapping()
        if self._lend(mapping, keysyms) < len(keysyms):
            raise ActionError(f"not enough spare keycodes for {'+'.join(names)}")
        codes: list[int] = []
        for keysym in keysyms:
            keycode, shifted = self._where(mapping, keysym)
            if shifted and self._shift not in codes:
                codes.append(self._shift)
            codes.append(keycode)
        self._tap(codes)
        self._d.sync()

    def type(self, text: str) -> None:
        """Type every character of `text`, a stretch at a time (see the class doc)."""
        keysyms = [char_keysym(char) for char in text]
        mapping = self._mapping()
        start = 0
        while start < len(keysyms):
            end = start + self._lend(mapping, keysyms[start:])
            for keysym in keysyms[start:end]:
                keycode, shifted = self._where(mapping, keysym)
                self._tap([self._shift, keycode] if shifted else [keycode])
            start = end
        self._d.sync()

    def scroll(self, direction: str, count: int) -> None:
        """Click the wheel button for `direction` (up, down, left, right) `count` times."""
        from Xlib import X
        from Xlib.ext import xtest

        button = X_WHEEL[direction]
        for _ in range(count):
            for event in (X.ButtonPress, X.ButtonRelease):
                xtest.fake_input(self._d, event, button)
                self._d.flush()
            time.sleep(self._delay)
        self._d.sync()

    def close(self) -> None:
        """The KeyInput protocol's end: `restore`."""
        self.restore()

    def restore(self) -> None:
        """Empty the lent keycodes again, once clients have had time to read them."""
        from Xlib import error

        if not self._used:
            return
        time.sleep(max(0.0, max(self._used.values()) + _REUSE_AFTER - time.monotonic()))
        try:
            for keycode in sorted(self._used):
                self._d.change_keyboard_mapping(keycode, [[0] * self._width])
            self._d.sync()
        except (error.ConnectionClosedError, OSError) as exc:
            log.debug("lent keycodes not restored: %s", exc)
        self._used.clear()

    def _lend(self, mapping: list[list[int]], keysyms: Sequence[int]) -> int:
        """Lend spare keycodes to the keysyms the layout lacks, in one go, for as long a
        leading stretch of `keysyms` as the spares allow; return its length."""
        needed: set[int] = set()
        loans: list[tuple[int, list[int]]] = []
        for n, keysym in enumerate(keysyms):
            found = self._lookup(mapping, keysym)
            if found is not None:
                needed.add(found[0])
                continue
            keycode = self._free_spare(needed)
            if keycode is None:
                self._apply(loans)
                return n
            row = [keysym] * self._width
            mapping[keycode - self._first] = row
            needed.add(keycode)
            loans.append((keycode, row))
        self._apply(loans)
        return len(keysyms)

    def _apply(self, loans: list[tuple[int, list[int]]]) -> None:
        if not loans:
            return
        time.sleep(max(0.0, self._last_key + _SETTLE - time.monotonic()))
        for keycode, row in loans:
            self._d.change_keyboard_mapping(keycode, [row])
            self._used[keycode] = time.monotonic()
            log.debug("keysym %#x lent keycode %d", row[0], keycode)
        self._d.sync()

    def _free_spare(self, needed: set[int]) -> int | None:
        """The least recently used spare keycode the current stretch does not need (once
        `_REUSE_AFTER` has passed since its last key), or None."""
        if not self._spares:
            raise ActionError("the keyboard layout has no spare keycode to type this character")
        free = [k for k in self._spares if k not in needed]
        if not free:
            return None
        keycode = min(free, key=lambda k: self._used.get(k, 0.0))
        time.sleep(max(0.0, self._used.get(keycode, -_REUSE_AFTER) + _REUSE_AFTER
                       - time.monotonic()))
        return keycode

    def _tap(self, codes: Sequence[int]) -> None:
        """Press keycodes in order and release them in reverse order, whatever happens."""
        pressed: list[int] = []
        try:
            for keycode in codes:
                self._send(keycode, press=True)
                pressed.append(keycode)
        finally:
            for keycode in reversed(pressed):
                self._send(keycode, press=False)

    def _send(self, keycode: int, *, press: bool) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(self._d, X.KeyPress if press else X.KeyRelease, keycode)
        self._d.flush()
        self._last_key = time.monotonic()
        if keycode in self._used:
            self._used[keycode] = self._last_key
        time.sleep(self._delay)

    def _mapping(self) -> list[list[int]]:
        return [list(row) for row in self._d.get_keyboard_mapping(self._first, self._count)]

    def _lookup(self, mapping: list[list[int]], keysym: int) -> tuple[int, bool] | None:
        """(keycode, needs shift) for a keysym on the plain or shifted level, if any."""
        for level in (0, 1):
            for i, row in enumerate(mapping):
                if len(row) > level and row[level] == keysym:
                    return self._first + i, level == 1
        return None

    def _where(self, mapping: list[list[int]], keysym: int) -> tuple[int, bool]:
        found = self._lookup(mapping, keysym)
        if found is None:  # _lend put it there
            raise ActionError(f"keysym {keysym:#x} has no keycode")
        return found
