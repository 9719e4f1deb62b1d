"""The command language: spoken forms and action templates, parsed into data.

Spoken form:  words, <key> <chord> <n> <text> captures, (a|b) alternatives,
[optional words].   Example: "press <chord> <n> times".
Action:       "key ctrl+c", "key <chord> * <n>", "type <text:snake>", "type def <text:snake>():",
              "scroll down * <n>", "launch terminal", "mode sleep", "listen push_to_talk",
              "help commands".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.dispatch.formatters import FORMATTERS
from agent.dispatch.normalize import normalize
from agent.dispatch.vocabulary import parse_chord
from agent.dispatch.words import said_word
from agent.messages import (
    ACTION_KINDS,
    EDITS,
    Action,
    EditAction,
    HelpAction,
    KeyAction,
    LaunchAction,
    ListenAction,
    ListenStyle,
    Mode,
    ModeAction,
    ScrollAction,
    TypeAction,
    WordAction,
)

CAPTURES = ("key", "chord", "n", "text")
"""Capture kinds: one key; modifiers then a key; a number; free text to the end."""
SCROLL_DIRECTIONS = ("up", "down", "left", "right")


class GrammarError(ValueError):
    """What is wrong with a spoken form or an action, in one line."""


@dataclass(frozen=True, slots=True)
class Literal:
    options: tuple[tuple[str, ...], ...]
    """Alternative word sequences (normalised), any one of which matches."""
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Capture:
    kind: str
    """One of CAPTURES."""


Element = Literal | Capture

_PIECE = re.compile(r"<(\w+)>|\(([^()]*)\)|\[([^\[\]]*)\]|([^\s<>()\[\]]+)")


def parse_spoken(form: str) -> tuple[Element, ...]:
    """Compile a spoken form; raise GrammarError if it is malformed."""
    if re.search(r"[<>()\[\]]", _PIECE.sub("", form)):
        raise GrammarError(f"unbalanced brackets in spoken form '{form}'")
    elements: list[Element] = []
    seen: set[str] = set()
    for m in _PIECE.finditer(form):
        cap, alts, opt, word = m.groups()
        if cap is not None:
            if cap not in CAPTURES:
                raise GrammarError(f"unknown capture <{cap}>; allowed: "
                                   + ", ".join(f"<{c}>" for c in CAPTURES))
            if cap in seen:
                raise GrammarError(f"capture <{cap}> used twice in '{form}'")
            seen.add(cap)
            elements.append(Capture(cap))
        elif alts is not None:
            elements.append(Literal(_options(alts, form)))
        elif opt is not None:
            elements.append(Literal(_options(opt, form), optional=True))
        else:
            words = tuple(normalize(word).split())
            if words:
                elements.append(Literal((words,)))
    if not any(isinstance(e, Literal) and not e.optional for e in elements):
        raise GrammarError(f"spoken form '{form}' needs at least one word that is not optional")
    if "text" in seen and "chord" in seen:
        raise GrammarError(f"<text> and <chord> cannot share a spoken form: '{form}'")
    return tuple(elements)


def display_name(form: str) -> str:
    """A spoken form as a plain name: first alternatives, optional words kept.
    "(maximize|maximise) window" -> "maximize window"; "save [file]" -> "save file"."""
    name = re.sub(r"\(([^()|]*)(?:\|[^()]*)?\)", r"\1", form)
    name = re.sub(r"\[([^\[\]]*)\]", r"\1", name)
    return " ".join(name.split())


def _options(body: str, form: str) -> tuple[tuple[str, ...], ...]:
    options = tuple(tuple(normalize(o).split()) for o in body.split("|"))
    if not all(options):
        raise GrammarError(f"empty alternative in spoken form '{form}'")
    return options


@dataclass(frozen=True, slots=True)
class ActionTemplate:
    """An action with holes filled from captures at match time."""

    kind: str
    """One of _KINDS: key, type, scroll, launch, mode, listen or help."""
    arg: str
    """Chord, text, direction, app or mode; or a capture name like "<chord>"."""
    count: str = "1"
    """A literal count or "<n>"."""
    formatter: str = "raw"

    def captures(self) -> set[str]:
        if self.kind == "type" and _TEXT_HOLE.search(self.arg):
            return {"text"}
        return {v[1:-1] for v in (self.arg, self.count) if v.startswith("<")}

    def build(self, caps: dict[str, str | int]) -> Action:
        if self.kind == "type" and self.arg != "<text>" and _TEXT_HOLE.search(self.arg):
            # "def <text:snake>():" -> each hole filled with the heard text, formatted
            return TypeAction(text=_TEXT_HOLE.sub(
                lambda m: FORMATTERS[m.group(1) or "raw"](str(caps["text"])), self.arg))
        arg = str(caps[self.arg[1:-1]]) if self.arg.startswith("<") else self.arg
        count = int(caps["n"]) if self.count == "<n>" else int(self.count)
        return _KINDS[self.kind][1](arg, count, self.formatter)


_TEXT_HOLE = re.compile(r"<text(?::(\w+))?>")
"""A free-text capture in a type action, alone or inside longer text."""

_ACTION = re.compile(r"^(\w+)\s+(.+?)(?:\s*\*\s*(<n>|\d+))?$")


def parse_action(text: str, apps: frozenset[str] | None = None) -> ActionTemplate:
    """Compile one action line; raise GrammarError naming what is allowed."""
    m = _ACTION.match(text.strip())
    if not m:
        raise GrammarError(f"cannot read action '{text}'; expected e.g. 'key ctrl+c'")
    kind, arg, count = m.group(1), m.group(2).strip(), m.group(3) or "1"
    if count != "<n>" and not 1 <= int(count) <= 100:
        raise GrammarError(f"count {count} out of range 1..100 in '{text}'")
    if count != "1" and kind not in ("key", "scroll"):
        raise GrammarError(f"only key and scroll actions take a count: '{text}'")
    if kind not in _KINDS:
        raise GrammarError(f"unknown action '{kind}'; allowed: " + ", ".join(_KINDS))
    return _KINDS[kind][0](arg, count, text, apps)


def _key(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    if arg in ("<key>", "<chord>"):
        return ActionTemplate("key", arg, count)
    chord = parse_chord(arg)
    if chord is None:
        raise GrammarError(f"unknown key or chord '{arg}' in '{text}' "
                           "(keys like ctrl+shift+t, page_down, f5, volume_up)")
    return ActionTemplate("key", chord, count)


def _type(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    for hole in _TEXT_HOLE.finditer(arg):
        fmt = hole.group(1) or "raw"
        if fmt not in FORMATTERS:
            raise GrammarError(f"unknown formatter '{fmt}'; allowed: " + ", ".join(FORMATTERS))
    cap = _TEXT_HOLE.fullmatch(arg)
    if not cap:
        return ActionTemplate("type", arg)  # literal text, or text with <text> holes in it
    return ActionTemplate("type", "<text>", formatter=cap.group(1) or "raw")


def _scroll(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    if arg not in SCROLL_DIRECTIONS:
        raise GrammarError(f"scroll direction '{arg}' not one of " + ", ".join(SCROLL_DIRECTIONS))
    return ActionTemplate("scroll", arg, count)


def _launch(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    if apps is not None and arg not in apps:
        raise GrammarError(f"unknown app '{arg}'; known: " + ", ".join(sorted(apps)))
    return ActionTemplate("launch", arg)


def _mode(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    if arg not in {m.value for m in Mode}:
        raise GrammarError(f"mode '{arg}' not one of " + ", ".join(m.value for m in Mode))
    return ActionTemplate("mode", arg)


def _listen(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    styles = [s.value for s in ListenStyle]
    if arg not in styles:
        raise GrammarError(f"listen style '{arg}' not one of " + ", ".join(styles))
    return ActionTemplate("listen", arg)


def _help(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    if arg != "commands":
        raise GrammarError(f"help shows 'commands' (the ones active here), not '{arg}'")
    return ActionTemplate("help", arg)


def _edit(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    if arg not in EDITS:
        raise GrammarError(f"edit '{arg}' not one of " + ", ".join(EDITS))
    return ActionTemplate("edit", arg)


def _word(arg: str, count: str, text: str, apps: frozenset[str] | None) -> ActionTemplate:
    if arg != "<text>":
        raise GrammarError(f"word takes <text> (\"<spoken> as <written>\"), not '{arg}'")
    return ActionTemplate("word", arg)


_KINDS: dict[str, tuple[Callable[[str, str, str, frozenset[str] | None], ActionTemplate],
                        Callable[[str, int, str], Action]]] = {
    # kind: (parse the action line, build the action from arg, count and formatter)
    "key": (_key, lambda arg, n, fmt: KeyAction(keys=arg, count=n)),
    "type": (_type, lambda arg, n, fmt: TypeAction(text=FORMATTERS[fmt](arg))),
    "scroll": (_scroll, lambda arg, n, fmt: ScrollAction(direction=arg, count=n)),
    "launch": (_launch, lambda arg, n, fmt: LaunchAction(app=arg)),
    "mode": (_mode, lambda arg, n, fmt: ModeAction(mode=Mode(arg))),
    "listen": (_listen, lambda arg, n, fmt: ListenAction(style=ListenStyle(arg))),
    "help": (_help, lambda arg, n, fmt: HelpAction()),
    "edit": (_edit, lambda arg, n, fmt: EditAction(edit=arg)),
    "word": (_word, lambda arg, n, fmt: WordAction(*said_word(arg))),
}
"""How each registered action kind (agent/messages.py ACTION_KINDS) is read and built."""
if list(_KINDS) != list(ACTION_KINDS):  # a kind without a parser fails here, at import
    raise TypeError("grammar action kinds " + ", ".join(_KINDS) + " do not match the "
                    "registered ones " + ", ".join(ACTION_KINDS))


def check_captures(pattern: tuple[Element, ...], actions: tuple[ActionTemplate, ...],
                   form: str) -> None:
    """Every capture an action uses must be in the spoken form."""
    have = {e.kind for e in pattern if isinstance(e, Capture)}
    for a in actions:
        missing = a.captures() - have
        if missing:
            raise GrammarError(f"action uses <{missing.pop()}> but '{form}' does not capture it")

