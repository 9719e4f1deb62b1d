"""Keys and text on wlroots compositors (sway, Hyprland, river) through the
virtual-keyboard protocol, by running `wtype` (an argv list, never a shell).

wtype builds a keymap holding exactly the keysyms it sends, so any key name and any
Unicode character arrive as themselves, whatever the user's layout.  One wtype run
per chord or stretch of text.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence

from agent.actions.base import ActionError
from agent.actions.keynames import check_typable, key

log = logging.getLogger(__name__)

WTYPE_TIMEOUT = 30.0
"""Seconds one wtype run may take before it counts as hung (a compositor that stopped
answering)."""
MISSING = ("wtype is not installed: install wtype (apt install wtype) for keys on wlroots "
           "desktops (sway, Hyprland, river), or set [keyboard] backend = \"uinput\" or "
           "\"x11\" in config.toml")


def chord_argv(names: Sequence[str]) -> list[str]:
    """wtype's arguments for a chord: modifiers held with -M and let go with -m in
    reverse order, other keys pressed with -P and released with -p in reverse order."""
    keys = [key(n) for n in names]
    mods = [k.modifier for k in keys if k.modifier]
    plain = [k.keysym for k in keys if not k.modifier]
    argv: list[str] = []
    for mod in mods:
        argv += ["-M", mod]
    if len(plain) == 1:
        argv += ["-k", plain[0]]
    else:
        for sym in plain:
            argv += ["-P", sym]
        for sym in reversed(plain):
            argv += ["-p", sym]
    for mod in reversed(mods):
        argv += ["-m", mod]
    return argv


def text_argv(text: str) -> list[str]:
    """wtype's arguments that type exactly `text` (a carriage return is the Return key,
    as on X11); ActionError for other control characters."""
    check_typable(text)
    return ["--", text.replace("\r", "\n")]


class WtypeInput:
    """The KeyInput route for wlroots compositors."""

    def __init__(self, delay: float, program: str = "wtype") -> None:
        self._program = program
        self._delay_ms = str(round(delay * 1000))

    @classmethod
    def find(cls, delay: float) -> WtypeInput:
        """ActionError (one line) when wtype is not installed."""
        if shutil.which("wtype") is None:
            raise ActionError(MISSING)
        return cls(delay)

    def chord(self, names: Sequence[str]) -> None:
        self._run(chord_argv(names))

    def type(self, text: str) -> None:
        if text:
            self._run(["-d", self._delay_ms, *text_argv(text)])

    def scroll(self, direction: str, count: int) -> None:
        raise ActionError("scrolling is not available through wtype on wlroots desktops; "
                          "set [keyboard] backend = \"uinput\" to scroll (see README)")

    def close(self) -> None:
        """Nothing held between runs."""

    def _run(self, args: list[str]) -> None:
        argv = [self._program, *args]
        log.debug("wtype %s", args)
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=WTYPE_TIMEOUT, shell=False,
                                  check=False)
        except FileNotFoundError:
            raise ActionError(MISSING) from None
        except subprocess.TimeoutExpired:
            raise ActionError(f"wtype did not finish in {WTYPE_TIMEOUT:.0f} s (is the "
                              "compositor answering?)") from None
        except OSError as exc:
            raise ActionError(f"cannot run wtype: {exc.strerror or exc}") from None
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            reason = said[0] if said else f"exit status {done.returncode}"
            raise ActionError(f"wtype failed: {reason}")
