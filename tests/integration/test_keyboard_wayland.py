"""DesktopExecutor on a real headless sway: the wlroots route (wtype, the virtual-keyboard
protocol) picked from the session, and what arrives in a Wayland window (wev) is what was
meant, as tests/integration/test_keyboard_x11.py checks on X11.

wtype's keymap holds one level per keysym, so a shifted chord arrives as its unshifted
keysym with Shift held ("ctrl+shift+t": t with Control and Shift), which is how
toolkits match shortcuts; typed capitals and symbols arrive as their own keysyms.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.actions.base import ActionError
from agent.actions.keyboard import DesktopExecutor
from agent.messages import KeyAction, Mode, ModeAction, ScrollAction, TypeAction
from tests.integration import wayland
from tests.integration.wayland import Received, Sway, WevWindow

sway, wev_window, wl_keylog = wayland.sway, wayland.wev_window, wayland.wl_keylog  # fixtures

CTRL, SHIFT, ALT, SUPER = "Control", "Shift", "Mod1", "Mod4"
"""Modifier names as wev reports them from wtype's keymap."""


@pytest.fixture
def executor(wl_keylog: WevWindow) -> Iterator[DesktopExecutor]:
    ex = DesktopExecutor({}, key_delay_ms=2)
    try:
        yield ex
    finally:
        ex.close()


def _pressed(received: Received) -> list[tuple[str, frozenset[str]]]:
    return [(k["keysym"], k["mods"]) for k in received.keys]


def test_the_wayland_session_picks_wtype(executor: DesktopExecutor) -> None:
    assert "DISPLAY" not in os.environ
    assert executor.route == "wlroots"


@pytest.mark.parametrize(("chord", "expected"), [
    ("ctrl+t", [("t", {CTRL})]),
    ("ctrl+shift+t", [("t", {CTRL, SHIFT})]),
    ("alt+f4", [("F4", {ALT})]),
    ("super+up", [("Up", {SUPER})]),
    ("ctrl+alt+shift+super+a", [("a", {CTRL, ALT, SHIFT, SUPER})]),
])
def test_chords_arrive_with_their_modifiers(executor: DesktopExecutor, wl_keylog: WevWindow,
                                            chord: str, expected: list[tuple[str, set[str]]]
                                            ) -> None:
    executor.perform(KeyAction(chord))
    assert _pressed(wl_keylog.sync()) == [(k, frozenset(m)) for k, m in expected]


def test_chord_releases_its_modifiers(executor: DesktopExecutor, wl_keylog: WevWindow) -> None:
    executor.perform(KeyAction("ctrl+shift+t"))
    executor.perform(KeyAction("b"))
    assert _pressed(wl_keylog.sync())[-1] == ("b", frozenset())


@pytest.mark.parametrize(("key", "keysym"), [
    ("enter", "Return"), ("escape", "Escape"), ("page_down", "Next"), ("page_up", "Prior"),
    ("f5", "F5"), ("f24", "F24"), ("home", "Home"), ("backspace", "BackSpace"),
    ("delete", "Delete"), ("insert", "Insert"), ("space", "space"), ("tab", "Tab"),
    ("q", "q"), ("z", "z"), ("0", "0"), ("7", "7"),
    ("volume_up", "XF86AudioRaiseVolume"), ("media_play_pause", "XF86AudioPlay"),
])
def test_plain_keys_arrive_unmodified(executor: DesktopExecutor, wl_keylog: WevWindow,
                                      key: str, keysym: str) -> None:
    executor.perform(KeyAction(key))
    assert _pressed(wl_keylog.sync()) == [(keysym, frozenset())]


def test_count_presses_the_chord_that_many_times(executor: DesktopExecutor,
                                                 wl_keylog: WevWindow) -> None:
    executor.perform(KeyAction("ctrl+t", count=3))
    executor.perform(KeyAction("page_down", count=3))
    assert _pressed(wl_keylog.sync()) == [("t", frozenset({CTRL}))] * 3 \
        + [("Next", frozenset())] * 3


def test_typed_text_arrives_exactly(executor: DesktopExecutor, wl_keylog: WevWindow) -> None:
    executor.perform(TypeAction("hello world"))
    got = wl_keylog.sync()
    assert got.text == "hello world"
    assert "Return" not in [k["keysym"] for k in got.keys]


def test_typed_ascii_with_shift_and_symbols(executor: DesktopExecutor,
                                            wl_keylog: WevWindow) -> None:
    text = "Hello, World! user_name (x+y)*2 = 'z'; #1 ~/a\\b |@$%^&<>?{}[]`\"\t9"
    executor.perform(TypeAction(text))
    assert wl_keylog.sync().text == text


def test_unicode_text_arrives_intact(executor: DesktopExecutor, wl_keylog: WevWindow) -> None:
    text = "café – naïve ✓ Ærø ß €5 “quoted” 日本 " + "".join(chr(c) for c in range(0x3B1, 0x3C9))
    executor.perform(TypeAction(text))
    executor.perform(TypeAction("éé✓ again"))
    assert wl_keylog.sync().text == text + "éé✓ again"


def test_text_starting_with_a_dash_is_typed_not_read_as_options(
        executor: DesktopExecutor, wl_keylog: WevWindow) -> None:
    executor.perform(TypeAction("-k Return --help"))
    got = wl_keylog.sync()
    assert got.text == "-k Return --help"
    assert "Return" not in [k["keysym"] for k in got.keys]


def test_multiline_text_uses_return(executor: DesktopExecutor, wl_keylog: WevWindow) -> None:
    executor.perform(TypeAction("one\ntwo"))
    got = wl_keylog.sync()
    assert got.text == "one\ntwo"
    assert [k["keysym"] for k in got.keys][3] == "Return"


def test_control_characters_are_refused_with_one_line(executor: DesktopExecutor,
                                                      wl_keylog: WevWindow) -> None:
    with pytest.raises(ActionError, match=r"^cannot type control character 0x07$"):
        executor.perform(TypeAction("a\x07b"))
    assert wl_keylog.sync().keys == []


def test_scroll_says_it_needs_another_route(executor: DesktopExecutor,
                                            wl_keylog: WevWindow) -> None:
    with pytest.raises(ActionError, match="scrolling is not available through wtype"):
        executor.perform(ScrollAction("down", 1))
    assert wl_keylog.sync().keys == []


def test_mode_action_does_nothing(executor: DesktopExecutor, wl_keylog: WevWindow) -> None:
    executor.perform(ModeAction(Mode.SLEEP))
    assert wl_keylog.sync().keys == []


def test_active_app_is_the_focused_windows_app_id(executor: DesktopExecutor,
                                                  wl_keylog: WevWindow) -> None:
    assert executor.active_app() == "wev"


def test_active_app_without_the_compositor_is_unknown(executor: DesktopExecutor,
                                                      wl_keylog: WevWindow,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("SWAYSOCK", str(tmp_path / "gone.sock"))
    assert executor.active_app() == ""


def test_missing_wtype_is_one_line(wl_keylog: WevWindow, monkeypatch: pytest.MonkeyPatch,
                                   tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ActionError) as err:
        DesktopExecutor({}, key_delay_ms=2)
    assert str(err.value).startswith("wtype is not installed: install wtype")
    assert "\n" not in str(err.value)


def test_a_compositor_that_went_away_is_one_line(sway: Sway, monkeypatch: pytest.MonkeyPatch,
                                                 wl_keylog: WevWindow) -> None:
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-gone")
    ex = DesktopExecutor({}, key_delay_ms=2)
    with pytest.raises(ActionError) as err:
        ex.perform(KeyAction("a"))
    assert str(err.value).startswith("wtype failed: ")
    assert "\n" not in str(err.value)
