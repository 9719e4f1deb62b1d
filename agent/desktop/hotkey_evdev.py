"""The hotkey on Linux without X11 (Wayland): key events read from /dev/input.

Wayland gives global keys to no client, so the hotkey is read from the keyboards'
event devices, which only root and the `input` group may read. The key is not taken
from the focused application (that would need grabbing the whole keyboard): choose
a key your applications ignore.
"""

from __future__ import annotations

import getpass
import logging
import os
import select
import threading
import time
from pathlib import Path
from typing import Any

from agent.desktop.hotkey_base import HotkeyError, KeyCallback

log = logging.getLogger(__name__)

INPUT_DIR = Path("/dev/input")
_JOIN_TIMEOUT_S = 2.0
_DOWN, _UP = 1, 0
"""evdev key event values (2 is auto-repeat)."""


def unreadable_message(folder: Path) -> str:
    user = getpass.getuser()
    return (f"push-to-talk cannot read the keyboards in {folder} as user {user}: add yourself "
            f"to the input group (sudo usermod -aG input {user}, then log in again), "
            "or use hands-free listening")


def open_keyboards(key: str, folder: Path = INPUT_DIR) -> list[Any]:
    """Every readable event device that has `key`; HotkeyError (one line) if none."""
    try:
        import evdev
    except ImportError:
        raise HotkeyError("push-to-talk on Wayland needs the evdev package "
                          "(pip install evdev)") from None
    code = evdev.ecodes.ecodes.get(f"KEY_{key.upper()}")
    if code is None:
        raise HotkeyError(f"no evdev key for the hotkey '{key}'")
    paths = sorted(folder.glob("event*")) if folder.is_dir() else []
    readable = [p for p in paths if os.access(p, os.R_OK)]
    if not readable:
        raise HotkeyError(unreadable_message(folder))
    found = []
    for path in readable:
        try:
            device = evdev.InputDevice(str(path))
        except OSError as exc:
            log.debug("cannot open %s: %s", path, exc)
            continue
        if code in device.capabilities().get(evdev.ecodes.EV_KEY, []):
            found.append(device)
        else:
            device.close()
    if not found:
        raise HotkeyError(f"no keyboard in {folder} has the key {key}")
    return found


class EvdevHotkey:
    def __init__(self, key: str, on_down: KeyCallback, on_up: KeyCallback,
                 folder: Path = INPUT_DIR) -> None:
        self._key = key
        self._folder = folder
        self._on_down, self._on_up = on_down, on_up
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._devices: list[Any] = []
        self._code = 0
        self._down = False

    def start(self) -> None:
        import evdev

        self._devices = open_keyboards(self._key, self._folder)
        self._code = evdev.ecodes.ecodes[f"KEY_{self._key.upper()}"]
        log.info("hotkey %s read from %s", self._key,
                 ", ".join(d.path for d in self._devices))
        self._thread = threading.Thread(target=self._loop, name="hotkey-evdev", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import evdev

        by_fd = {d.fd: d for d in self._devices}
        while not self._stop.is_set() and by_fd:
            readable, _, _ = select.select(list(by_fd), [], [], 0.2)
            for fd in readable:
                try:
                    events = list(by_fd[fd].read())
                except OSError as exc:  # unplugged: its key-up will never come
                    log.warning("keyboard %s gone: %s", by_fd[fd].path, exc)
                    del by_fd[fd]
                    self._key_event(_UP)
                    continue
                for ev in events:
                    if ev.type == evdev.ecodes.EV_KEY and ev.code == self._code:
                        self._key_event(ev.value)
        if not by_fd:
            log.warning("no keyboard left for the push-to-talk hotkey; push-to-talk closed")

    def _key_event(self, value: int) -> None:
        if value == _DOWN and not self._down:
            self._down = True
            self._on_down(time.monotonic())
        elif value == _UP and self._down:
            self._down = False
            self._on_up(time.monotonic())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_JOIN_TIMEOUT_S)
        for device in self._devices:
            device.close()
