"""Spoken forms and action templates parse into data, or fail with one clear line."""

from __future__ import annotations

import pytest

from agent.dispatch.grammar import (
    Capture,
    GrammarError,
    Literal,
    check_captures,
    display_name,
    parse_action,
    parse_spoken,
)
from agent.messages import (
    HelpAction,
    KeyAction,
    LaunchAction,
    Mode,
    ModeAction,
    ScrollAction,
    TypeAction,
)


def test_words_captures_alternatives_and_optionals() -> None:
    got = parse_spoken("press <chord> <n> [times]")
    assert got == (Literal((("press",),)), Capture("chord"), Capture("n"),
                   Literal((("times",),), optional=True))
    alts = parse_spoken("(maximize|maximise) window")
    assert alts[0] == Literal((("maximize",), ("maximise",)))


def test_spoken_form_is_normalised_like_transcripts() -> None:
    assert parse_spoken("Press F5!") == (Literal((("press",),)), Literal((("f", "five"),)))


@pytest.mark.parametrize(("form", "message"), [
    ("press <foo>", "unknown capture <foo>"),
    ("<n> <n> times", "used twice"),
    ("(a|) b", "empty alternative"),
    ("press <chord", "unbalanced"),
    ("<text>", "at least one word"),
    ("[please]", "at least one word"),
])
def test_bad_spoken_forms(form: str, message: str) -> None:
    with pytest.raises(GrammarError, match=message):
        parse_spoken(form)


def test_display_name_picks_first_alternative_and_keeps_optionals() -> None:
    assert display_name("(maximize|maximise) window") == "maximize window"
    assert display_name("save [file]") == "save file"
    assert display_name("press <chord> <n> [times]") == "press <chord> <n> times"


@pytest.mark.parametrize(("text", "caps", "action"), [
    ("key ctrl+c", {}, KeyAction("ctrl+c")),
    ("key shift+control+T", {}, KeyAction("ctrl+shift+t")),
    ("key <chord> * <n>", {"chord": "alt+f4", "n": 3}, KeyAction("alt+f4", 3)),
    ("key page_down * 2", {}, KeyAction("page_down", 2)),
    ("type <text:snake>", {"text": "user name"}, TypeAction("user_name")),
    ("type <text>", {"text": "Hello, world"}, TypeAction("Hello, world")),
    ("type literal words", {}, TypeAction("literal words")),
    ("type def <text:snake>():", {"text": "user name"}, TypeAction("def user_name():")),
    ("type <<text>> or <text:caps>!", {"text": "stop"}, TypeAction("<stop> or STOP!")),
    ("scroll down * <n>", {"n": 4}, ScrollAction("down", 4)),
    ("launch terminal", {}, LaunchAction("terminal")),
    ("mode sleep", {}, ModeAction(Mode.SLEEP)),
    ("help commands", {}, HelpAction()),
])
def test_action_templates_build_contract_actions(text, caps, action) -> None:
    assert parse_action(text, frozenset({"terminal"})).build(caps) == action


@pytest.mark.parametrize(("text", "message"), [
    ("key ctrl+nothing", "unknown key or chord 'ctrl\\+nothing'"),
    ("key ctrl+shift", "unknown key or chord"),
    ("key a+b", "unknown key or chord"),
    ("key ctrl+c * 0", "out of range"),
    ("type hello * 2", "only key and scroll"),
    ("type <text:shouty>", "unknown formatter 'shouty'"),
    ("type def <text:shouty>():", "unknown formatter 'shouty'"),
    ("scroll sideways", "scroll direction 'sideways'"),
    ("launch rocket", "unknown app 'rocket'"),
    ("mode party", "mode 'party'"),
    ("jump high", "unknown action 'jump'"),
    ("jump high", "allowed: key, type, scroll, launch, mode, listen, help"),
    ("help me", "help shows 'commands'"),
    ("help commands * 2", "only key and scroll"),
    ("key", "cannot read action"),
])
def test_bad_actions_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(GrammarError, match=message):
        parse_action(text, frozenset({"terminal"}))


def test_action_may_only_use_captures_the_spoken_form_has() -> None:
    actions = (parse_action("type <text>"),)
    check_captures(parse_spoken("type <text>"), actions, "type <text>")
    with pytest.raises(GrammarError, match="does not capture it"):
        check_captures(parse_spoken("type this"), actions, "type this")
    inside = (parse_action("type def <text:snake>():"),)
    check_captures(parse_spoken("function <text>"), inside, "function <text>")
    with pytest.raises(GrammarError, match="does not capture it"):
        check_captures(parse_spoken("function"), inside, "function")
