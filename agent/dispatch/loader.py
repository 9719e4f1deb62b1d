"""Command files (TOML) -> commands, with errors that name the file and line.

Built-in files load first, then the user's, in name order; a later file replaces or
disables a command with the same spoken form. Colliding forms keep the first and warn;
a file with errors is skipped as a whole, and on reload its last good version stays.
The file format: docs/commands.md.
"""

from __future__ import annotations

import logging
import re
import re._constants as re_constants  # what re compiles: to refuse patterns that backtrack
import re._parser as re_parser
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agent.dispatch.collisions import Collision, Overlaps
from agent.dispatch.command import Command, Disable
from agent.dispatch.grammar import (
    GrammarError,
    check_captures,
    display_name,
    parse_action,
    parse_spoken,
)
from agent.dispatch.normalize import normalize
from agent.dispatch.words import Word, Words, parse_words, replaced
from agent.messages import Mode
from agent.textfile import TextFileError, read_text

log = logging.getLogger(__name__)


class CommandFileError(ValueError):
    """`path:line: what is wrong` (the first problem); `problems` has every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0])
        self.problems = tuple(problems)


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
        if token.startswith('"') and "\\" not in token:
            token = token[1:-1]  # no escapes: as written (tomllib per key was most of a load)
        elif token.startswith('"'):
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


def parse_file(path: Path, apps: frozenset[str] | None = None
               ) -> list[Command | Disable | Word]:
    """Commands and disables in `path`; CommandFileError if it has any problem."""
    entries, problems = read_file(path, apps)
    if problems:
        raise CommandFileError(problems)
    return entries


def read_file(path: Path, apps: frozenset[str] | None = None
              ) -> tuple[list[Command | Disable | Word], list[str]]:
    """What `path` defines that is valid, and every problem in it (one line each, in the
    order of the file), rather than stopping at the first."""
    try:
        text = read_text(path)
    except TextFileError as exc:
        return [], [f"{path}:1: cannot read: {exc}"]
    except OSError as exc:
        return [], [f"{path}:1: cannot read: {exc.strerror or exc}"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        return [], [f"{path}:{m.group(1) if m else 1}: not valid TOML: {exc}"]
    lines = _key_lines(text)

    def line_of(*key: str) -> int:
        return lines.get(key, 1)

    problems: list[tuple[int, str]] = [
        (line_of(key), f"unknown table '{key}'; allowed: [context], [commands], [words]")
        for key in sorted(set(data) - {"context", "commands", "words"})]
    mode, app = _context(data.get("context", {}), line_of, problems)
    commands = data.get("commands", {})
    if not isinstance(commands, dict):
        problems.append((line_of("commands"), "'commands' must be a table [commands]"))
        commands = {}
    out: list[Command | Disable | Word] = []
    if "words" in data:
        out += parse_words(data["words"], path, line_of, "context" in data, problems)
    for spoken, value in commands.items():
        line = line_of("commands", spoken)
        try:
            out.append(_command(spoken, value, mode, app, apps, f"{path}:{line}"))
        except GrammarError as exc:
            problems.append((line, str(exc)))
    return out, [f"{path}:{line}: {what}" for line, what in sorted(problems, key=lambda p: p[0])]


def _context(ctx: Any, line_of: Callable[..., int], problems: list[tuple[int, str]]
             ) -> tuple[Mode, str]:
    """The file's mode and app; each problem is added to `problems` (line, message)."""
    if not isinstance(ctx, dict):
        problems.append((line_of("context"), "'context' must be a table [context]"))
        return Mode.COMMAND, ""
    problems += [(line_of("context", key), f"unknown context key '{key}'; allowed: mode, app")
                 for key in ctx if key not in ("mode", "app")]
    mode = ctx.get("mode", "command")
    if not isinstance(mode, str) or mode not in {m.value for m in Mode}:
        problems.append((line_of("context", "mode"),
                         f"mode {mode!r} not one of command, dictation, sleep"))
        mode = "command"
    app = ctx.get("app", "")
    if not isinstance(app, str):
        problems.append((line_of("context", "app"),
                         f"app must be a string (a regular expression), got {app!r}"))
        return Mode(mode), ""
    try:
        re.compile(app)
    except re.error as exc:
        problems.append((line_of("context", "app"),
                         f"app is not a valid regular expression: {exc}"))
        return Mode(mode), ""
    slow = _backtracking(app)
    if slow:
        problems.append((line_of("context", "app"),
                         f"app pattern '{app}' {slow}, which can take exponential time; "
                         "use plain alternatives such as 'firefox|chromium'"))
        app = ""
    return Mode(mode), app


_REPEATS = (re_constants.MAX_REPEAT, re_constants.MIN_REPEAT,
            getattr(re_constants, "POSSESSIVE_REPEAT", re_constants.MAX_REPEAT))


def _backtracking(pattern: str) -> str:
    """Why `pattern` (an app regex, matched on every utterance) could backtrack without
    end: a repeat of something that repeats or has alternatives ("(a+)+", "(a|aa)*"), or
    a back reference; "" when it cannot. Alternatives, classes and single repeats, what
    window-class patterns use, are fine."""

    def walk(items: Any, inside_repeat: bool) -> str:
        for op, av in items:
            if op is re_constants.GROUPREF:
                return "uses a back reference"
            if op in _REPEATS:
                _, hi, body = av
                if inside_repeat and hi > 1:
                    return "repeats something that itself repeats"
                found = walk(body, inside_repeat or hi > 1)
            elif op is re_constants.BRANCH:
                if inside_repeat:
                    return "repeats a group with alternatives"
                found = next((w for b in av[1] if (w := walk(b, False))), "")
            elif op is re_constants.SUBPATTERN:
                found = walk(av[-1], inside_repeat)
            elif op in (re_constants.ASSERT, re_constants.ASSERT_NOT):
                found = walk(av[1], inside_repeat)
            else:
                continue
            if found:
                return found
        return ""

    return walk(re_parser.parse(pattern), False)


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


def merge(parsed: Iterable[list[Command | Disable | Word]],
          collisions: list[Collision] | None = None) -> tuple[Command, ...]:
    """Apply files in order: a later file's definition replaces or disables an earlier one
    with the same spoken form.  A definition that collides with one already there (the
    same form twice in one file, or a form both patterns take; see collisions.py) is
    dropped: the first stays, and a warning names both places (or, when `collisions` is
    given, it is added there for the caller to report)."""
    files = [list(entries) for entries in parsed]
    overlaps = Overlaps(tuple(e for entries in files for e in entries if isinstance(e, Command)))
    table: dict[tuple[str, str, str], Command] = {}
    for entries in files:
        for entry in entries:
            if isinstance(entry, Disable):
                table.pop(entry.key, None)
                continue
            if isinstance(entry, Word):  # the words are Words.of()'s
                continue
            clash = overlaps.clash(entry, table)
            if clash is not None:
                if collisions is None:
                    log.warning("%s", clash.message())
                else:
                    collisions.append(clash)
                continue
            key = overlaps.key(entry)
            table.pop(key, None)
            table[key] = entry
    return tuple(table.values())


def command_files(folder: Path) -> list[Path]:
    """The *.toml files of a folder, in name order ([] if it does not exist)."""
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


class CommandLibrary:
    """The active command set, rebuilt from files; keeps each file's last good version."""

    def __init__(self, folders: list[Path], apps: frozenset[str] | None = None) -> None:
        self._folders = folders
        self._apps = apps
        self._good: dict[Path, list[Command | Disable | Word]] = {}
        self.commands: tuple[Command, ...] = ()
        self.words = Words()
        """The [words] of the files: what typed free text is written as."""
        self.errors: list[str] = []
        self.reload()

    def reload(self) -> list[str]:
        """Re-read every file; return (and log) the errors, one line each."""
        errors: list[str] = []
        order: list[Path] = []
        for folder in self._folders:
            for path in command_files(folder):
                order.append(path)
                entries, problems = read_file(path, self._apps)
                if not problems:
                    self._good[path] = entries
                    continue
                errors += problems
                for problem in problems:
                    log.warning("%s%s", problem, " (keeping its last good version)"
                              if path in self._good else " (file skipped)")
        good = [self._good[p] for p in order if p in self._good]
        self.commands = merge(good)
        for earlier, later in replaced(good):
            log.info("word '%s' at %s replaces the one at %s", later.spoken, later.origin,
                     earlier.origin)
        self.words = Words.of(good)
        self.errors = errors
        return errors

    def stamp(self) -> tuple[tuple[str, int, int], ...]:
        """The command files as they are now (path, mtime in ns, size in bytes): a
        different stamp means a file was added, removed or changed since."""
        return files_stamp(self._folders)


def files_stamp(folders: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime in ns, size in bytes) of each command file in `folders`; a file that
    vanishes while it is looked at is left out."""
    out: list[tuple[str, int, int]] = []
    for folder in folders:
        for path in command_files(folder):
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)
