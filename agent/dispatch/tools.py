"""Commands as tools for a model's function calling, and its tool calls back to commands
(pure).

Each active command becomes one function: its name is the command's name in snake case
("new_tab"), its parameters are the command's captures (key, chord, n, text).  A tool call
(name + JSON arguments) is checked against the same commands and turned into the matches
the dispatcher performs; anything that does not fit is refused with one line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.dispatch.command import Command
from agent.dispatch.grammar import Capture
from agent.dispatch.matcher import Match
from agent.dispatch.normalize import normalize
from agent.dispatch.vocabulary import KEY_NAMES, parse_chord
from agent.messages import Action, KeyAction, LaunchAction, TypeAction, WordAction

REPEATS_ASKED = 5
"""A model's guess that presses one chord more times than this asks first."""

KEY_RISKS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern)) for what, pattern in (
        ("deletes", r"(\w+\+)*(backspace|delete)|ctrl\+x"),
        ("closes", r"alt\+f4|ctrl\+(shift\+)?[wq]|ctrl\+f4"),
        ("selects", r"ctrl\+a|(ctrl\+)?shift\+(left|right|up|down|home|end|page_up|page_down)"),
        ("inserts", r"(shift\+)?([a-z0-9]|space|enter|tab)|ctrl\+(shift\+)?v|shift\+insert"),
    ))
"""What a chord does, first that fits the whole chord: a model's guess asks before one
that deletes or closes, and before one that inserts after one that selects (typing or
pasting over a selection deletes it)."""

_PARAMETERS: dict[str, dict[str, Any]] = {
    "key": {"type": "string", "description": "one key: enter, escape, tab, space, backspace, "
            "delete, up, down, left, right, home, end, page_up, page_down, insert, f1..f24, "
            "a..z, 0..9, volume_up, volume_down, volume_mute, media_play_pause, media_next, "
            "media_previous"},
    "chord": {"type": "string", "description": "modifiers then one key, joined by +, "
              "modifiers from ctrl, alt, shift, super; e.g. ctrl+shift+t, alt+f4, escape"},
    "n": {"type": "integer", "minimum": 1, "maximum": 100,
          "description": "how many times"},
    "text": {"type": "string", "description": "the words, as the user said them"},
}


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
"""Control characters (newline, carriage return, tab, escape, ...): typed, they are keys."""


class ToolCallError(ValueError):
    """A tool call that does not name an active command or fit its parameters (one line)."""


def tool_name(command: Command) -> str:
    """"new tab" -> "new_tab" (what function names allow: letters, digits, _ and -)."""
    return re.sub(r"[^a-z0-9]+", "_", normalize(command.name)).strip("_")[:64] or "command"


def captures_of(command: Command) -> list[str]:
    return [e.kind for e in command.pattern if isinstance(e, Capture)]


def command_tools(commands: tuple[Command, ...]) -> list[dict[str, Any]]:
    """The commands as OpenAI-style function tools; the first command of a name wins (the
    dispatcher's `active()` lists app-specific ones first)."""
    tools: dict[str, dict[str, Any]] = {}
    for cmd in commands:
        name = tool_name(cmd)
        if name in tools:
            continue
        caps = captures_of(cmd)
        does = "; ".join(f"{a.kind} {a.arg}" + (f" * {a.count}" if a.count != "1" else "")
                         for a in cmd.actions)
        tools[name] = {"type": "function", "function": {
            "name": name,
            "description": f'The voice command "{cmd.spoken or cmd.name}" ({does}).',
            "parameters": {"type": "object",
                           "properties": {c: _PARAMETERS[c] for c in caps},
                           "required": caps},
        }}
    return list(tools.values())


def tool_call_match(commands: tuple[Command, ...], name: str, arguments: str) -> Match:
    """The command a tool call names, with its captures filled from the arguments; raise
    ToolCallError when the name is not an active command or the arguments do not fit."""
    by_name: dict[str, Command] = {}
    for cmd in commands:
        by_name.setdefault(tool_name(cmd), cmd)
    cmd = by_name.get(name)
    if cmd is None:
        raise ToolCallError(f"the model called '{name}', which is not an active command")
    args = _arguments(name, arguments)
    wanted = captures_of(cmd)
    extra, missing = sorted(set(args) - set(wanted)), [c for c in wanted if c not in args]
    if extra or missing:
        raise ToolCallError(f"'{name}' takes {', '.join(wanted) or 'no arguments'}; got "
                            f"{', '.join(sorted(args)) or 'none'}")
    captures = {kind: _capture(name, kind, args[kind]) for kind in wanted}
    return Match(cmd, 1.0, captures, 0.0, said=cmd.name)


def _arguments(name: str, text: str) -> dict[str, Any]:
    try:
        args = json.loads(text or "{}")
    except json.JSONDecodeError:
        raise ToolCallError(f"the arguments of '{name}' are not JSON: {text[:80]!r}") from None
    if not isinstance(args, dict):
        raise ToolCallError(f"the arguments of '{name}' are not a JSON object: {text[:80]!r}")
    return args


def _capture(name: str, kind: str, value: Any) -> str | int:
    bad = ToolCallError(f"'{name}': bad {kind} {value!r}")
    if kind == "n":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise bad
        try:
            count = int(value)
        except ValueError:
            raise bad from None
        if not 1 <= count <= 100:
            raise bad
        return count
    if not isinstance(value, str) or not value.strip():
        raise bad
    if kind == "key":
        key = value.strip().lower()
        if key not in KEY_NAMES:
            raise bad
        return key
    if kind == "chord":
        chord = parse_chord(value)
        if chord is None:
            raise bad
        return chord
    return value.strip()


def actions_of(match: Match) -> list[Action]:
    return [t.build(match.captures) for t in match.command.actions]


def risk(chain: list[Match]) -> str:
    """Why performing these needs a spoken yes when a model chose them ("" = it does not):
    marked `confirm`, launching an app, typing text (the model wrote it, not the speaker),
    a chord pressed more than REPEATS_ASKED times in all, or one that KEY_RISKS says
    deletes, closes, or inserts over what an earlier one selected."""
    selected = False
    presses: dict[str, int] = {}
    for m in chain:
        if m.command.confirm:
            return f"{m.command.name} is marked confirm"
        for action in actions_of(m):
            if isinstance(action, LaunchAction | TypeAction):
                return "launches an app" if isinstance(action, LaunchAction) else "types text"
            if not isinstance(action, KeyAction):
                continue
            presses[action.keys] = presses.get(action.keys, 0) + action.count
            if presses[action.keys] > REPEATS_ASKED:
                return f"presses {action.keys} {presses[action.keys]} times"
            does = next((what for what, p in KEY_RISKS if p.fullmatch(action.keys)), "")
            if does in ("deletes", "closes") or (does == "inserts" and selected):
                return f"{action.keys} {'replaces a selection' if does == 'inserts' else does}"
            selected = selected or does == "selects"
    return ""


def has_controls(text: str) -> bool:
    """Whether typing `text` would press keys other than characters (Return for a newline,
    Tab, Escape, ...)."""
    return _CONTROLS.search(text) is not None


def without_controls(text: str) -> str:
    """`text` with each run of control characters made one space between words, and
    dropped at either end: "rm -rf x\nexit" -> "rm -rf x exit"."""
    parts = _CONTROLS.split(text)
    out = parts[0]
    for part in parts[1:]:
        out = out.rstrip(" ") + " " + part.lstrip(" ") if out.strip() and part.strip() \
            else out + part
    return out


def shown(text: str) -> str:
    """Typed text as a confirmation shows it: quoted, control characters escaped, and
    what a newline will do said plainly."""
    return repr(text) + (" (presses Return)" if "\n" in text or "\r" in text else "")


def described(actions: tuple[Action, ...]) -> str:
    """What held actions do, for the person: "press backspace 100 times, type 'a\\nb'"."""
    parts = []
    for a in actions:
        if isinstance(a, KeyAction):
            parts.append(f"press {a.keys}" + (f" {a.count} times" if a.count > 1 else ""))
        elif isinstance(a, TypeAction):
            parts.append(f"type {shown(a.text)}")
        elif isinstance(a, LaunchAction):
            parts.append(f"open {a.app}")
        elif isinstance(a, WordAction):
            parts.append(f"add word {shown(a.spoken)} as {shown(a.written)}")
    return ", ".join(parts) or "it"

