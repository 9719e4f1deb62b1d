"""The real executor: keys, chords, typing and scrolling as real input events.

On X11 everything goes out as XTEST input (agent/actions/xtest.py); elsewhere pynput
does the work.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import weakref
from collections.abc import Mapping
from typing import Any

from agent.actions.base import ActionError
from agent.actions.context import active_window_class
from agent.actions.launch import Launcher
from agent.actions.xtest import X_WHEEL, XTestInput, has_x_display
from agent.messages import (
    Action,
    KeyAction,
    LaunchAction,
    ModeAction,
    ScrollAction,
    TypeAction,
)

log = logging.getLogger(__name__)

_PYNPUT_NAMES = {"escape": "esc", "super": "cmd", "volume_up": "media_volume_up",
                 "volume_down": "media_volume_down", "volume_mute": "media_volume_mute"}
_SCROLL = {"up": (0, 1), "down": (0, -1), "left": (-1, 0), "right": (1, 0)}
def _pynput_controllers() -> tuple[Any, Any, Any]:
    """pynput's keyboard module and its keyboard and mouse controllers."""
    try:
        from pynput import keyboard, mouse
    except ImportError as exc:  # pynput raises ImportError when there is no display
        raise ActionError(f"cannot reach the desktop for input: {exc}".splitlines()[0]) \
            from None
    return keyboard, keyboard.Controller(), mouse.Controller()


class DesktopExecutor:
    """Performs actions for real on the desktop this process can reach: through XTEST
    on X11, through pynput elsewhere."""

    def __init__(self, apps: Mapping[str, tuple[str, ...]], key_delay_ms: int = 8) -> None:
        self._delay = key_delay_ms / 1000
        self.launcher = Launcher(apps)
        if sys.platform not in ("win32", "darwin") and not os.environ.get("DISPLAY") \
                and not os.environ.get("PYNPUT_BACKEND"):
            raise ActionError("no X display to send input to (DISPLAY is not set)")
        self._x = XTestInput.connect(self._delay) if has_x_display() else None
        self._restore = weakref.finalize(self, self._x.restore) if self._x else None
        if self._x is None:
            self._keyboard, self._kb, self._mouse = _pynput_controllers()

    def perform(self, action: Action) -> None:
        if isinstance(action, KeyAction):
            for _ in range(action.count):
                self._chord(action.keys)
        elif isinstance(action, TypeAction):
            self._type(action.text)
        elif isinstance(action, ScrollAction):
            self._scroll(action.direction, action.count)
        elif isinstance(action, LaunchAction):
            self.launcher.launch(action.app)
        elif isinstance(action, ModeAction):
            log.debug("mode %s (handled by the dispatcher)", action.mode.value)

    def active_app(self) -> str:
        return active_window_class()

    def close(self) -> None:
        """Give back keycodes lent for typing (also done at exit)."""
        if self._restore is not None:
            self._restore()

    def _pynput_key(self, name: str) -> Any:
        """The pynput key for a contract key name (off X11)."""
        if len(name) == 1:
            return self._keyboard.KeyCode.from_char(name)
        attr = _PYNPUT_NAMES.get(name, name)
        key = getattr(self._keyboard.Key, attr, None)
        if key is not None:
            return key
        from_symbol = getattr(self._keyboard.KeyCode, "_from_symbol", None)
        if name.startswith("f") and from_symbol is not None:  # F21..F24 on X11
            return from_symbol(name.upper())
        raise ActionError(f"key '{name}' cannot be sent on this platform")

    def _type(self, text: str) -> None:
        if self._x is not None:
            self._x.type(text)
        else:
            self._kb.type(text)

    def _scroll(self, direction: str, count: int) -> None:
        if self._x is not None:
            self._x.scroll(X_WHEEL[direction], count)
            return
        dx, dy = _SCROLL[direction]
        for _ in range(count):
            self._mouse.scroll(dx, dy)
            time.sleep(self._delay)

    def _chord(self, chord: str) -> None:
        if self._x is not None:
            self._x.chord(chord.split("+"))
            return
        keys = [self._pynput_key(k) for k in chord.split("+")]
        pressed: list[Any] = []
        try:
            for k in keys:
                self._kb.press(k)
                pressed.append(k)
                time.sleep(self._delay)
        finally:
            for k in reversed(pressed):
                self._kb.release(k)
                time.sleep(self._delay)
