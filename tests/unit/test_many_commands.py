"""Thousands of commands (issue 18 item 12): the indexes that keep loading and matching
from comparing everything with everything must find exactly what comparing everything
finds. Speed is shown by bench/commands_scale.py, not here."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent.actions.launch import app_names
from agent.dispatch.captures import LOOSE, STRICT, Tolerance
from agent.dispatch.collisions import Collision
from agent.dispatch.command import Command
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary, merge, read_file
from agent.dispatch.matcher import Match, Matcher
from agent.dispatch.normalize import tokenize
from agent.messages import Mode, Transcript
from agent.paths import data_dir

VERBS = ("open", "show", "hide", "toggle", "focus", "start", "stop", "build", "deploy",
         "check", "clear", "load", "sort", "mark", "pin", "share", "lock", "sync")
NOUNS = ("report", "panel", "server", "branch", "ticket", "folder", "sidebar", "project",
         "invoice", "calendar", "playlist", "console", "chart", "table", "layer")
NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "oscar", "papa", "romeo", "sierra", "tango")


def generated(n: int) -> list[str]:
    combos = [f"{v} {o} {x}" for v in VERBS for o in NOUNS for x in NAMES]
    return random.Random(7).sample(combos, n)


def write_many(folder: Path, forms: list[str], extra: str = "", name: str = "many.toml"
               ) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    body = "".join(f'"{f}" = "key ctrl+alt+{"abcdefgh"[i % 8]}"\n' for i, f in enumerate(forms))
    path.write_text("[commands]\n" + body + extra, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Command, ...]:
    """The built-in commands and 600 generated ones, in command mode."""
    folder = tmp_path_factory.mktemp("many")
    write_many(folder, generated(600))
    library = CommandLibrary([data_dir("commands"), folder], app_names({}))
    assert library.errors == []
    return tuple(c for c in library.commands if c.mode is Mode.COMMAND)


def every_one(matcher: Matcher, text: str, commands: tuple[Command, ...]) -> list[Match]:
    """What ranked() finds when it matches every command: a few at a time, below the
    size from which it narrows by the index, merged in the same order."""
    tokens = tokenize(text)
    found: list[Match] = []
    for i in range(0, len(commands), 16):
        found += matcher.ranked(text, tokens, len(text), commands[i:i + 16])
    return sorted(found, key=lambda m: (m.score, m.weight), reverse=True)


def heard_variants(commands: tuple[Command, ...]) -> list[str]:
    """Exact forms, slips in a letter, words run together or split, partial forms, and
    ordinary speech."""
    rng = random.Random(3)
    picks = [c.name for c in rng.sample(commands, 12)]
    out = ["copy", "Copy.", "close tag", "selectall", "un do", "press control shift t",
           "press down three times", "type hello world", "well I suppose we could start over",
           "new camp", "open report", "open", "coffee"]
    for name in picks:
        words = name.split()
        i = rng.randrange(len(name))
        out += [name, name[:i] + "x" + name[i + 1:], "".join(words), " ".join(words[:-1]),
                name.replace("o", "u", 1), f"{name} please"]
    return out


@pytest.mark.parametrize(("tolerance", "threshold"), [(STRICT, 0.8), (LOOSE, 0.5)])
def test_the_index_finds_what_matching_every_command_finds(
        many: tuple[Command, ...], tolerance: Tolerance, threshold: float) -> None:
    matcher = Matcher(many, threshold, tolerance)
    for text in heard_variants(many):
        indexed = matcher.ranked(text, tokenize(text), len(text), many)
        every = every_one(matcher, text, many)
        assert [(m.command.name, m.score) for m in indexed] == \
            [(m.command.name, m.score) for m in every], text


def test_the_dispatcher_decides_as_before_among_thousands(many: tuple[Command, ...]) -> None:
    dispatcher = Dispatcher(many)
    name = many[-1].name  # a generated one
    assert dispatcher.command_name(Transcript("Copy.")) == "copy"
    assert dispatcher.command_name(Transcript("select all then copy")) == "select all then copy"
    assert dispatcher.command_name(Transcript(name.capitalize() + ".")) == name
    assert dispatcher.command_name(Transcript("the meeting was moved upstairs")) is None
    assert dispatcher.complete("copy").complete
    verb, noun, _ = name.split()
    assert not dispatcher.complete(f"{verb} {noun}").complete  # "... alpha" may follow
    assert "copy" in dispatcher.candidates(Transcript("Kopi."))


def test_collisions_among_thousands_are_all_found(tmp_path: Path) -> None:
    forms = generated(3000)
    planted = f'"{forms[10]} [now]" = "key ctrl+c"\n"{forms[2000].title()}!" = "key ctrl+v"\n' \
              '"copy [it]" = "key ctrl+shift+c"\n'
    path = write_many(tmp_path, forms, planted)
    entries, problems = read_file(path, app_names({}))
    assert problems == []
    builtin = [read_file(p, app_names({}))[0]
               for p in sorted(data_dir("commands").glob("*.toml"))]
    found: list[Collision] = []
    merged = merge([*builtin, entries], found)
    said = sorted((c.dropped.spoken, c.kept.spoken, c.said) for c in found)
    assert said == sorted([(f"{forms[10]} [now]", forms[10], forms[10]),
                           (f"{forms[2000].title()}!", forms[2000], forms[2000]),
                           ("copy [it]", "copy", "copy")]), said
    assert len(merged) == sum(map(len, builtin)) + 3000
