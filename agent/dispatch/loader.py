"""Command files (TOML) -> commands, with errors that name the file and line.

A file:

    [context]                 # optional
    mode = "command"          # command (default), dictation or sleep
    app = "firefox|chromium"  # only when the active window's class matches (regex)

    [commands]
    "copy" = "key ctrl+c"
    "press <chord> <n> times" = "key <chord> * <n>"
    "select line" = ["key home", "key shift+end"]
    "close window" = { do = "key alt+f4", confirm = true }
    "paste" = false           # disable a command an earlier file defined

Built-in files load first, then the user's, in name order; a later file with
the same spoken form (and context) replaces or disables the earlier command.
A file with errors is skipped as a whole, and on reload its last good version
stays active.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.dispatch.grammar import (
    ActionTemplate,
    Element,
    GrammarError,
    check_captures,
    display_name,
    parse_action,
    parse_spoken,
)
from agent.dispatch.normalize import normalize
from agent.messages import Mode

log = logging.getLogger(__name__)


class CommandFileError(ValueError):
    """`path:line: what is wrong`."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    """Plain name of the spoken form ("maximize window"); what the JSON line reports."""
    pattern: tuple[Element, ...]
    actions: tuple[ActionTemplate, ...]
    mode: Mode = Mode.COMMAND
    app: str = ""
    """Regex the active window's class must match; "" = everywhere."""
    confirm: bool = False
    """Ask for a spoken yes before performing."""
    origin: str = ""
    """`path:line` where it was defined."""
    spoken: str = ""
    """The spoken form as written in the file."""

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity for overriding: normalised name, mode, app."""
        return normalize(self.name), self.mode.value, self.app


@dataclass(frozen=True, slots=True)
class Disable:
    key: tuple[str, str, str]


_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERAL = re.compile(r"'[^'\n]*'")


def _split_key(s: str) -> tuple[tuple[str, ...], str]:
    """The (dotted) TOML key at the start of `s` and the text after it; () if none."""
    parts: list[str] = []
    while True:
        s = s.lstrip()
        m = _BARE.match(s) or _BASIC.match(s) or _LITERAL.match(s)
        if not m:
            return (), s
        token = m.group()
        if token.startswith('"'):
            try:
                token = tomllib.loads(f"k = {token}")["k"]
            except tomllib.TOMLDecodeError:
                return (), s
        elif token.startswith("'"):
            token = token[1:-1]
        parts.append(token)
        s = s[m.end():].lstrip()
        if not s.startswith("."):
            return tuple(parts), s
        s = s[1:]


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line (from 1) where each table and key is first written, by its full dotted path."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            parts, rest = _split_key(stripped[1:])
            if parts and rest.startswith("]"):
                table = parts
                for i in range(1, len(parts) + 1):
                    lines.setdefault(parts[:i], number)
            continue
        parts, rest = _split_key(stripped)
        if parts and rest.startswith("="):
            full = table + parts
            for i in range(len(table) + 1, len(full) + 1):
                lines.setdefault(full[:i], number)
    return lines


def parse_file(path: Path, apps: frozenset[str] | None = None) -> list[Command | Disable]:
    """Commands and disables in `path`; raise CommandFileError at the first problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandFileError(f"{path}:1: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise CommandFileError(f"{path}:{m.group(1) if m else 1}: not valid TOML: {exc}") from None
    lines = _key_lines(text)

    def line_of(*key: str) -> int:
        return lines.get(key, 1)

    unknown = set(data) - {"context", "commands"}
    if unknown:
        key = min(sorted(unknown), key=line_of)
        raise CommandFileError(f"{path}:{line_of(key)}: unknown table '{key}'; "
                               "allowed: [context], [commands]")
    mode, app = _context(data.get("context", {}), f"{path}", line_of)
    commands = data.get("commands", {})
    if not isinstance(commands, dict):
        raise CommandFileError(f"{path}:{line_of('commands')}: 'commands' must be a table "
                               "[commands]")
    out: list[Command | Disable] = []
    for spoken, value in commands.items():
        line = line_of("commands", spoken)
        try:
            out.append(_command(spoken, value, mode, app, apps, f"{path}:{line}"))
        except GrammarError as exc:
            raise CommandFileError(f"{path}:{line}: {exc}") from None
    return out


def _context(ctx: Any, path: str, line_of: Callable[..., int]) -> tuple[Mode, str]:
    if not isinstance(ctx, dict):
        raise CommandFileError(f"{path}:{line_of('context')}: 'context' must be a table "
                               "[context]")
    for key in ctx:
        if key not in ("mode", "app"):
            raise CommandFileError(f"{path}:{line_of('context', key)}: unknown context key "
                                   f"'{key}'; allowed: mode, app")
    mode = ctx.get("mode", "command")
    if not isinstance(mode, str) or mode not in {m.value for m in Mode}:
        raise CommandFileError(f"{path}:{line_of('context', 'mode')}: mode {mode!r} not one of "
                               "command, dictation, sleep")
    app = ctx.get("app", "")
    if not isinstance(app, str):
        raise CommandFileError(f"{path}:{line_of('context', 'app')}: app must be a string "
                               f"(a regular expression), got {app!r}")
    try:
        re.compile(app)
    except re.error as exc:
        raise CommandFileError(f"{path}:{line_of('context', 'app')}: app is not a valid "
                               f"regular expression: {exc}") from None
    return Mode(mode), app


def _command(spoken: str, value: Any, mode: Mode, app: str, apps: frozenset[str] | None,
             origin: str) -> Command | Disable:
    pattern = parse_spoken(spoken)
    if value is False:
        return Disable((normalize(display_name(spoken)), mode.value, app))
    confirm = False
    if isinstance(value, dict):
        extra = set(value) - {"do", "confirm"}
        if extra or "do" not in value:
            raise GrammarError("a command table takes 'do' and optional 'confirm', got "
                               + ", ".join(sorted(value)))
        confirm = value.get("confirm", False)
        if not isinstance(confirm, bool):
            raise GrammarError("'confirm' must be true or false")
        value = value["do"]
    lines = [value] if isinstance(value, str) else value
    if not isinstance(lines, list) or not lines or not all(isinstance(v, str) for v in lines):
        raise GrammarError(f"'{spoken}' must map to an action string, a list of them, "
                           "a table {do = ..., confirm = true}, or false")
    actions = tuple(parse_action(v, apps) for v in lines)
    check_captures(pattern, actions, spoken)
    return Command(display_name(spoken), pattern, actions, mode, app, confirm, origin, spoken)


def merge(parsed: Iterable[list[Command | Disable]]) -> tuple[Command, ...]:
    """Apply files in order: later definitions replace or disable earlier ones."""
    table: dict[tuple[str, str, str], Command] = {}
    for entries in parsed:
        for entry in entries:
            if isinstance(entry, Disable):
                table.pop(entry.key, None)
            else:
                table.pop(entry.key, None)
                table[entry.key] = entry
    return tuple(table.values())


def command_files(folder: Path) -> list[Path]:
    """The *.toml files of a folder, in name order ([] if it does not exist)."""
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


class CommandLibrary:
    """The active command set, rebuilt from files; keeps each file's last good version."""

    def __init__(self, folders: list[Path], apps: frozenset[str] | None = None) -> None:
        self._folders = folders
        self._apps = apps
        self._good: dict[Path, list[Command | Disable]] = {}
        self.commands: tuple[Command, ...] = ()
        self.errors: list[str] = []
        self.reload()

    def reload(self) -> list[str]:
        """Re-read every file; return (and log) the errors, one line each."""
        errors: list[str] = []
        order: list[Path] = []
        for folder in self._folders:
            for path in command_files(folder):
                order.append(path)
                try:
                    self._good[path] = parse_file(path, self._apps)
                except CommandFileError as exc:
                    errors.append(str(exc))
                    log.error("%s%s", exc, " (keeping its last good version)"
                              if path in self._good else " (file skipped)")
        self.commands = merge(self._good[p] for p in order if p in self._good)
        self.errors = errors
        return errors
