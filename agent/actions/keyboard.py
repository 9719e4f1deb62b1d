"""The real executor: keys, chords, typing and scrolling as real input events, through
the route the session supports (agent/actions/route.py): XTEST on X11
(agent/actions/xtest.py), wtype on wlroots compositors (agent/actions/wayland.py),
uinput on GNOME and KDE (agent/actions/uinput.py), pynput off Linux.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent.actions.base import ActionError, KeyInput, checked, unregistered
from agent.actions.context import active_window_class
from agent.actions.keynames import key
from agent.actions.launch import Launcher
from agent.actions.route import ROUTES, choose_route
from agent.messages import (
    Action,
    EditAction,
    HelpAction,
    KeyAction,
    LaunchAction,
    ListenAction,
    ModeAction,
    ScrollAction,
    TypeAction,
    WordAction,
)

log = logging.getLogger(__name__)

_SCROLL = {"up": (0, 1), "down": (0, -1), "left": (-1, 0), "right": (1, 0)}


class PynputInput:
    """The KeyInput route off Linux (Windows, macOS), through pynput."""

    def __init__(self, delay: float) -> None:
        try:
            from pynput import keyboard, mouse
        except ImportError as exc:  # pynput raises ImportError when there is no display
            raise ActionError(f"cannot reach the desktop for input: {exc}".splitlines()[0]) \
                from None
        self._delay = delay
        self._keyboard, self._kb, self._mouse = keyboard, keyboard.Controller(), \
            mouse.Controller()

    def _key(self, name: str) -> Any:
        entry = key(name)
        if not entry.pynput:
            if len(name) == 1:
                return self._keyboard.KeyCode.from_char(name)
            from_symbol = getattr(self._keyboard.KeyCode, "_from_symbol", None)
            if from_symbol is not None:  # F21..F24 on X11
                return from_symbol(entry.keysym)
        found = getattr(self._keyboard.Key, entry.pynput, None)
        if found is None:
            raise ActionError(f"key '{name}' cannot be sent on this platform")
        return found

    def chord(self, names: Sequence[str]) -> None:
        keys = [self._key(k) for k in names]
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

    def type(self, text: str) -> None:
        self._kb.type(text)

    def scroll(self, direction: str, count: int) -> None:
        dx, dy = _SCROLL[direction]
        for _ in range(count):
            self._mouse.scroll(dx, dy)
            time.sleep(self._delay)

    def close(self) -> None:
        """Nothing held."""


def _xtest(delay: float) -> KeyInput:
    from agent.actions.xtest import XTestInput

    if not os.environ.get("DISPLAY"):
        raise ActionError("no X display to send input to (DISPLAY is not set)")
    return XTestInput.connect(delay)


def _wtype(delay: float) -> KeyInput:
    from agent.actions.wayland import WtypeInput

    return WtypeInput.find(delay)


def _uinput(delay: float) -> KeyInput:
    from agent.actions.uinput import UInputKeyboard

    return UInputKeyboard.open(delay)


_OPENERS: dict[str, Callable[[float], KeyInput]] = {
    "x11": _xtest, "wlroots": _wtype, "uinput": _uinput, "pynput": PynputInput,
}
"""How each route of agent/actions/route.py (and pynput, off Linux) is opened."""
if set(_OPENERS) != {*ROUTES, "pynput"}:  # a route without an opener fails here, at import
    raise TypeError("input routes " + ", ".join(_OPENERS) + " do not match agent/actions/"
                    "route.py: " + ", ".join(ROUTES) + ", pynput")


def open_route(route: str, delay: float) -> KeyInput:
    """The KeyInput for a route name (agent/actions/route.py); ActionError if it cannot
    be opened here, or is no route."""
    opener = _OPENERS.get(route)
    if opener is None:
        raise ActionError(f"unknown input route '{route}'; known: " + ", ".join(_OPENERS))
    return opener(delay)


class DesktopExecutor:
    """Performs actions for real on the desktop this process can reach, through the input
    route `backend` names ("auto": the one the session supports)."""

    def __init__(self, apps: Mapping[str, tuple[str, ...]], key_delay_ms: int = 8,
                 backend: str = "auto") -> None:
        self._delay = key_delay_ms / 1000
        self.launcher = Launcher(apps)
        self.route = choose_route(backend, os.environ)
        """The route in use: "x11", "wlroots", "uinput" or "pynput"."""
        self._input = open_route(self.route, self._delay)
        self._close = weakref.finalize(self, self._input.close)
        log.info("keys go out through %s", self.route)

    def perform(self, action: Action) -> None:
        """Perform through the table below; TypeError for an unregistered action type."""
        performer = self._performers.get(type(action))
        if performer is None:
            raise unregistered(action, "DesktopExecutor")
        performer(self, action)

    def _key(self, action: KeyAction) -> None:
        names = action.keys.split("+")
        for _ in range(action.count):
            self._input.chord(names)

    def _type(self, action: TypeAction) -> None:
        self._input.type(action.text)

    def _scroll(self, action: ScrollAction) -> None:
        self._input.scroll(action.direction, action.count)

    def _launch(self, action: LaunchAction) -> None:
        self.launcher.launch(action.app)

    def _agents(self, action: ModeAction | ListenAction | HelpAction | EditAction
                | WordAction) -> None:
        """Mode, listen, help, edit and word are the agent's own: the dispatcher (edit: into keys)
        and the live session (agent/desktop/session.py) perform them; nothing reaches the
        desktop."""
        log.debug("%s is the agent's, not the desktop's", action.to_json())

    _performers = checked({KeyAction: _key, TypeAction: _type, ScrollAction: _scroll,
                           LaunchAction: _launch, ModeAction: _agents,
                           ListenAction: _agents, HelpAction: _agents,
                           EditAction: _agents, WordAction: _agents}, "DesktopExecutor")

    def active_app(self) -> str:
        return active_window_class()

    def close(self) -> None:
        """Give back what the input route holds (lent keycodes, a uinput device); also
        done at exit."""
        self._close()
