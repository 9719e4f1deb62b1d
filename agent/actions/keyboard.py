"""The real executor: keys, chords, typing and scrolling through pynput; apps via launch.

On X11 pynput sends XTEST events (real input, not XSendEvent), and types
characters the layout lacks by borrowing a keycode for the moment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from agent.actions.base import ActionError
from agent.actions.context import active_window_class
from agent.actions.launch import Launcher
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


class PynputExecutor:
    """Performs actions for real on the desktop this process can reach."""

    def __init__(self, apps: Mapping[str, tuple[str, ...]], key_delay_ms: int = 8) -> None:
        try:
            from pynput import keyboard, mouse
        except ImportError as exc:  # pynput raises ImportError when there is no display
            raise ActionError(f"cannot reach the desktop for input: {exc}".splitlines()[0]) \
                from None
        self._kb = keyboard.Controller()
        self._mouse = mouse.Controller()
        self._keyboard = keyboard
        self._delay = key_delay_ms / 1000
        self.launcher = Launcher(apps)

    def perform(self, action: Action) -> None:
        if isinstance(action, KeyAction):
            for _ in range(action.count):
                self._chord(action.keys)
        elif isinstance(action, TypeAction):
            self._kb.type(action.text)
        elif isinstance(action, ScrollAction):
            dx, dy = _SCROLL[action.direction]
            for _ in range(action.count):
                self._mouse.scroll(dx, dy)
                time.sleep(self._delay)
        elif isinstance(action, LaunchAction):
            self.launcher.launch(action.app)
        elif isinstance(action, ModeAction):
            log.debug("mode %s (handled by the dispatcher)", action.mode.value)

    def active_app(self) -> str:
        return active_window_class()

    def key(self, name: str) -> Any:
        """The pynput key for a contract key name."""
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

    def _chord(self, chord: str) -> None:
        keys = [self.key(k) for k in chord.split("+")]
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
