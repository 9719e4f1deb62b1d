"""What a doctor check returns, and what it is given."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agent.config import Config


class State(StrEnum):
    OK = "OK"
    WARN = "WARN"
    MISSING = "MISSING"


@dataclass(frozen=True)
class Finding:
    state: State
    detail: str
    fix: str = ""
    more: tuple[str, ...] = ()
    """Further lines (a file's problems, one each)."""


@dataclass(frozen=True)
class Context:
    cfg: Config
    config_problem: str
    """The config file's error ("" when it loaded); cfg is then the defaults."""
    listen: bool
    """Measure the microphone's level over LISTEN_S."""


def loose_mode(path: Path, mode: int) -> str:
    """"" when `path` has no permission bits beyond `mode` (or is absent), else its mode."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return ""
    return f"{current:04o}" if current & ~mode else ""
