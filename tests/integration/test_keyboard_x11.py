"""DesktopExecutor against a real Tk window on a private Xvfb: what arrives is what was meant.

Every key event is checked to be real input (Tk's %E send_event flag false), which is what
strict clients such as xterm require; XSendEvent events would carry the flag.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.actions.context import active_window_class
from agent.actions.keyboard import DesktopExecutor
from agent.messages import (
    HelpAction,
    KeyAction,
    LaunchAction,
    ListenAction,
    ListenStyle,
    Mode,
    ModeAction,
    ScrollAction,
    TypeAction,
)
from tests.integration import x11
from tests.integration.x11 import ALT, CTRL, SHIFT, SUPER, KeylogWindow, Received, XServer

x_server, keylog_window, keylog = x11.x_server, x11.keylog_window, x11.keylog  # fixtures

ARGV_PROBE = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
"""A harmless program: writes the arguments it got to the file named first."""


@pytest.fixture
def executor(keylog: KeylogWindow, tmp_path: Path) -> Iterator[DesktopExecutor]:
    probe = (sys.executable, "-c", ARGV_PROBE, str(tmp_path / "argv.json"),
             "$HOME; touch pwned", "*", "a b")
    ex = DesktopExecutor({"probe": probe}, key_delay_ms=2, backend="x11")
    try:
        yield ex
    finally:
        ex.close()


def _pressed(received: Received) -> list[tuple[str, int]]:
    """(keysym, modifier state) of each key press, modifier keys left out."""
    return [(k["keysym"], k["state"] & (SHIFT | CTRL | ALT | SUPER)) for k in received.keys]


def _all_real(received: Received) -> bool:
    return bool(received.events) and not any(e["send_event"] for e in received.events)


@pytest.mark.parametrize(("chord", "expected"), [
    ("ctrl+t", [("t", CTRL)]),
    ("ctrl+shift+t", [("T", CTRL | SHIFT)]),
    ("alt+f4", [("F4", ALT)]),
    ("super+up", [("Up", SUPER)]),
    ("ctrl+alt+shift+super+a", [("A", CTRL | ALT | SHIFT | SUPER)]),
])
def test_chords_arrive_with_their_modifiers(executor: DesktopExecutor, keylog: KeylogWindow,
                                            chord: str, expected: list[tuple[str, int]]) -> None:
    executor.perform(KeyAction(chord))
    got = keylog.sync()
    assert _pressed(got) == expected
    modifiers = [e["keysym"] for e in got.events if e["event"] == "key"][:-1]
    assert len(modifiers) == chord.count("+")
    assert _all_real(got)


def test_chord_releases_its_modifiers(executor: DesktopExecutor, keylog: KeylogWindow) -> None:
    executor.perform(KeyAction("ctrl+shift+t"))
    executor.perform(KeyAction("b"))
    assert _pressed(keylog.sync())[-1] == ("b", 0)


@pytest.mark.parametrize(("key", "keysym"), [
    ("enter", "Return"), ("escape", "Escape"), ("page_down", "Next"), ("page_up", "Prior"),
    ("f5", "F5"), ("f24", "F24"), ("home", "Home"), ("backspace", "BackSpace"),
    ("delete", "Delete"), ("insert", "Insert"), ("space", "space"), ("tab", "Tab"),
    ("q", "q"), ("z", "z"), ("0", "0"), ("7", "7"),
    ("volume_up", "XF86AudioRaiseVolume"), ("media_play_pause", "XF86AudioPlay"),
])
def test_plain_keys_arrive_unmodified(executor: DesktopExecutor, keylog: KeylogWindow,
                                      key: str, keysym: str) -> None:
    executor.perform(KeyAction(key))
    got = keylog.sync()
    assert _pressed(got) == [(keysym, 0)]
    assert _all_real(got)


def test_count_presses_the_chord_that_many_times(executor: DesktopExecutor,
                                                 keylog: KeylogWindow) -> None:
    executor.perform(KeyAction("ctrl+t", count=3))
    executor.perform(KeyAction("page_down", count=3))
    got = keylog.sync()
    assert _pressed(got) == [("t", CTRL)] * 3 + [("Next", 0)] * 3
    assert _all_real(got)


def test_typed_text_arrives_exactly(executor: DesktopExecutor, keylog: KeylogWindow) -> None:
    executor.perform(TypeAction("hello world"))
    got = keylog.sync()
    assert got.text == "hello world"
    assert "".join(k["char"] for k in got.keys) == "hello world"
    assert _all_real(got)


def test_typed_ascii_with_shift_and_symbols(executor: DesktopExecutor,
                                            keylog: KeylogWindow) -> None:
    text = "Hello, World! user_name (x+y)*2 = 'z'; #1 ~/a\\b |@$%^&<>?{}[]`\"\t9"
    executor.perform(TypeAction(text))
    got = keylog.sync()
    assert got.text == text
    assert _all_real(got)


def test_text_the_layout_lacks_arrives_intact(executor: DesktopExecutor,
                                              keylog: KeylogWindow) -> None:
    text = "café – naïve ✓ Ærø ß €5 “quoted” 日本"
    executor.perform(TypeAction(text))
    executor.perform(TypeAction("éé✓ again"))  # loans are found again, not re-made
    got = keylog.sync()
    assert got.text == text + "éé✓ again"
    assert _all_real(got)


def test_more_missing_characters_than_spare_keycodes(executor: DesktopExecutor,
                                                     keylog: KeylogWindow) -> None:
    text = "".join(chr(c) for c in range(0x3B1, 0x3B1 + 24))  # 24 Greek letters > Xvfb's spares
    executor.perform(TypeAction(text))
    assert keylog.sync().text == text


def test_multiline_text_uses_return(executor: DesktopExecutor, keylog: KeylogWindow) -> None:
    executor.perform(TypeAction("one\ntwo"))
    got = keylog.sync()
    assert got.text == "one\ntwo"
    assert [k["keysym"] for k in got.keys][3] == "Return"


def _scroll_directions(received: Received) -> list[str]:
    """Wheel events as directions: buttons 4-7 (Tk 8.6 reports 6 and 7 as Shift+4 and
    Shift+5), or <MouseWheel> deltas (Tk 8.7)."""
    names = {4: "up", 5: "down", 6: "left", 7: "right"}
    shifted = {"up": "left", "down": "right"}
    out = []
    for e in received.events:
        if e["event"] == "button":
            name = names[e["button"]]
        elif e["event"] == "wheel":
            name = "up" if e["delta"] > 0 else "down"
        else:
            continue
        out.append(shifted.get(name, name) if e["state"] & SHIFT else name)
    return out


def test_scroll_sends_wheel_buttons(executor: DesktopExecutor, keylog: KeylogWindow) -> None:
    executor.perform(ScrollAction("down", 2))
    executor.perform(ScrollAction("up", 1))
    executor.perform(ScrollAction("left", 1))
    executor.perform(ScrollAction("right", 1))
    got = keylog.sync()
    assert _scroll_directions(got) == ["down", "down", "up", "left", "right"]
    assert _all_real(got)


def test_the_agents_own_actions_send_nothing(executor: DesktopExecutor,
                                             keylog: KeylogWindow) -> None:
    for action in (ModeAction(Mode.SLEEP), ListenAction(ListenStyle.PUSH_TO_TALK),
                   HelpAction(("press <key>",))):
        executor.perform(action)
    assert keylog.sync().events == []


def test_an_unregistered_action_type_raises_and_sends_nothing(executor: DesktopExecutor,
                                                              keylog: KeylogWindow) -> None:
    @dataclass(frozen=True)
    class JumpAction:
        keys: str = "ctrl+c"

    with pytest.raises(TypeError, match="cannot perform JumpAction: not a registered"):
        executor.perform(JumpAction())  # type: ignore[arg-type]
    assert keylog.sync().events == []


def test_active_window_class_is_the_focused_window(executor: DesktopExecutor,
                                                   keylog: KeylogWindow) -> None:
    assert keylog.wm_class == "Voxkeylog"
    assert active_window_class() == "Voxkeylog"
    assert executor.active_app() == "Voxkeylog"


def test_active_window_class_follows_net_active_window(keylog: KeylogWindow,
                                                       x_server: XServer) -> None:
    """With a window manager's _NET_ACTIVE_WINDOW set to another window than the one with
    the input focus, the class is the active window's; when the active window has no
    WM_CLASS (a toolkit's inner window), the nearest ancestor's; when the property is 0
    or empty (no active window), the focused window's."""
    from Xlib import X

    x = x_server.connect()
    root = x.screen().root
    active = x.intern_atom("_NET_ACTIVE_WINDOW")
    editor = root.create_window(0, 0, 40, 40, 0, X.CopyFromParent)
    editor.set_wm_class("voxeditor", "Voxeditor")
    inner = editor.create_window(0, 0, 10, 10, 0, X.CopyFromParent)  # no WM_CLASS
    x.sync()
    try:
        assert active_window_class() == "Voxkeylog"  # the keylog window has the focus
        for value, expected in (([inner.id], "Voxeditor"), ([editor.id], "Voxeditor"),
                                ([0], "Voxkeylog"), ([], "Voxkeylog")):
            root.change_property(active, x.intern_atom("WINDOW"), 32, value)
            x.sync()
            assert active_window_class() == expected, value
    finally:
        root.delete_property(active)
        editor.destroy()
        x.sync()
        x.close()


def test_launch_starts_the_program_without_a_shell(executor: DesktopExecutor,
                                                   tmp_path: Path) -> None:
    executor.perform(LaunchAction("probe"))
    child = executor.launcher.children[-1]
    assert child.wait(timeout=10) == 0
    assert json.loads((tmp_path / "argv.json").read_text()) == ["$HOME; touch pwned", "*", "a b"]
    assert not (tmp_path / "pwned").exists()
    assert not Path("pwned").exists()
