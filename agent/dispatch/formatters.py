"""Text formatters for free-text captures: "snake case user name" -> "user_name"."""

from __future__ import annotations

import re
from collections.abc import Callable

_WORDS = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


COMPOUNDS: dict[str, tuple[str, str]] = {
    w + "name": (w, "name")
    for w in ("user", "file", "host", "path", "dir", "class", "type", "first", "last", "full")
}
"""Words a recogniser writes as one that a programmer says, and means, as two:
"snake case user name" is heard "username" but means user_name."""


def words(text: str) -> list[str]:
    """The words of `text`, punctuation dropped, known compounds split."""
    out: list[str] = []
    for w in _WORDS.findall(text):
        out.extend(COMPOUNDS.get(w.lower(), (w,)))
    return out


def snake(text: str) -> str:
    return "_".join(w.lower().replace("'", "") for w in words(text))


def camel(text: str) -> str:
    ws = [w.lower().replace("'", "") for w in words(text)]
    return ws[0] + "".join(w.capitalize() for w in ws[1:]) if ws else ""


def title(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:].lower() for w in words(text))


def all_caps(text: str) -> str:
    return " ".join(w.upper() for w in words(text))


def as_heard(text: str) -> str:
    return text


FORMATTERS: dict[str, Callable[[str], str]] = {
    "raw": as_heard,
    "snake": snake,
    "camel": camel,
    "title": title,
    "caps": all_caps,
    "lower": lambda t: " ".join(w.lower() for w in words(t)),
    "kebab": lambda t: "-".join(w.lower() for w in words(t)),
    "pascal": lambda t: "".join(w[:1].upper() + w[1:].lower() for w in words(t)),
}
"""Formatter name (as used in command files: <text:snake>) -> function."""
