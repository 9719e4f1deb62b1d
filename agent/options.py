"""`option()`: a dataclass field with its documentation and what values are allowed.

Every section of the configuration (agent/config.py and the sections that live
beside the code they configure) declares its fields with it, so `voxagent config`
can print them and the loader can refuse bad values with one clear line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any


def option(default: Any, doc: str, *, choices: tuple[Any, ...] = (), lo: float | None = None,
           hi: float | None = None, secret: bool = False,
           check: Callable[[Any], Any] | None = None) -> Any:
    """A field with a default, one line of documentation, and allowed choices or range.
    A `secret` (an API key) is never printed by `voxagent config`.  `check` takes the
    value read and returns it in canonical form, or raises ValueError saying what is
    allowed."""
    meta = {"doc": doc, "choices": choices, "lo": lo, "hi": hi, "secret": secret,
            "check": check}
    if isinstance(default, dict):  # a fresh dict for every instance
        return field(default_factory=lambda: dict(default), metadata=meta)
    if isinstance(default, list):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)
