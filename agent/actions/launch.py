"""Start applications by logical name, from argv lists, never through a shell."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from agent.actions.base import ActionError

log = logging.getLogger(__name__)

DEFAULT_APPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "terminal": (("x-terminal-emulator",), ("gnome-terminal",), ("konsole",),
                 ("xfce4-terminal",), ("kitty",), ("alacritty",), ("foot",), ("xterm",)),
    "browser": (("x-www-browser",), ("sensible-browser",), ("firefox",), ("chromium",),
                ("google-chrome",), ("xdg-open", "about:blank")),
    "file_manager": (("xdg-open", str(Path.home())), ("nautilus",), ("dolphin",),
                     ("thunar",), ("pcmanfm",)),
}
"""Logical app -> candidate argv lists; the first whose program is installed is used."""


def app_names(overrides: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    """Every logical app name a command file may use."""
    return frozenset(DEFAULT_APPS) | frozenset(overrides)


def resolve_app(name: str, overrides: Mapping[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """The argv for a logical app: the user's, or the first installed default."""
    if name in overrides:
        return overrides[name]
    for argv in DEFAULT_APPS.get(name, ()):
        if shutil.which(argv[0]):
            return argv
    return None


class Launcher:
    def __init__(self, overrides: Mapping[str, tuple[str, ...]]) -> None:
        self._overrides = overrides
        self.children: list[subprocess.Popen[bytes]] = []

    def launch(self, name: str) -> subprocess.Popen[bytes]:
        argv = resolve_app(name, self._overrides)
        if argv is None:
            raise ActionError(f"no program for app '{name}'; set it in config.toml under [apps]")
        try:
            child = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, shell=False)
        except OSError as exc:
            raise ActionError(f"cannot start {argv[0]} for '{name}': {exc.strerror}") from None
        log.info("launched %s as pid %d", argv, child.pid)
        self.children = [c for c in self.children if c.poll() is None] + [child]
        return child
