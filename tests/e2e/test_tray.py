"""The tray icon under a real tray host (trayer) on Xvfb, checked by screen pixels, and
its menu driven with the pointer (xdotool), as a person would.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import park_pointer
from tests.e2e.rig import (
    ICON_COLOURS,
    LiveAgent,
    Trayer,
    find_window,
    grab,
    share_near,
    xdotool,
)
from tests.integration.x11 import CTRL, KeylogWindow, XServer

ICON_CLASS = "voxagentSystemTrayIcon"


@pytest.fixture(autouse=True)
def _panel_on_top(trayer: Trayer, request: pytest.FixtureRequest) -> None:
    """The tray above the keylog window (which other fixtures may map after trayer)."""
    if "pointer_focus" in request.fixturenames:
        request.getfixturevalue("pointer_focus")
    trayer.raise_panel()
CTRL_T = {"action": "key", "keys": "ctrl+t", "count": 1}


def icon_shares(server: XServer) -> dict[str, float]:
    """How much of the tray icon is in each state's colour."""
    pixels = grab(server, find_window(server, ICON_CLASS))
    return {state: round(share_near(pixels, rgb), 2) for state, rgb in ICON_COLOURS.items()}


def icon_state(server: XServer) -> str | None:
    """Which state's colour covers most of the tray icon (None if none does). The disc
    is about 70% of the square (the corners are the plain background) less its glyph:
    0.45 of the hearing icon is its colour."""
    shares = icon_shares(server)
    best = max(shares, key=lambda s: shares[s])
    return best if shares[best] > 0.3 else None


def wait_state(server: XServer, state: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = icon_state(server)
        if seen == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"tray icon shows {seen}, not {state}, after {timeout} s: "
                         f"{icon_shares(server)}; tooltip {tooltip(server)!r}")


def tooltip(server: XServer) -> str:
    """The icon window's name, which pystray sets to the tooltip."""
    done = subprocess.run(["xdotool", "search", "--classname", ICON_CLASS, "getwindowname"],
                          env=server.env(), capture_output=True, text=True, timeout=10,
                          check=True)
    return done.stdout.strip().splitlines()[-1]


def wait_tooltip(server: XServer, needle: str, timeout: float = 20.0) -> str:
    """The tooltip once it contains `needle` (it is set just after the icon changes)."""
    deadline = time.monotonic() + timeout
    while needle not in (tip := tooltip(server)):
        if time.monotonic() > deadline:
            raise AssertionError(f"tooltip {tip!r} has no {needle!r} after {timeout} s")
        time.sleep(0.05)
    return tip


class StateRecorder(threading.Thread):
    """Samples the icon's state every 30 ms until stopped; keeps the changes."""

    def __init__(self, server: XServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.states: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.03):
            state = icon_state(self.server)
            if state and (not self.states or self.states[-1] != state):
                self.states.append(state)

    def stop(self) -> list[str]:
        self.halt.set()
        self.join(timeout=5)
        return self.states


def test_icon_shows_each_state_by_pixels(trayer: Trayer, x_server: XServer,
                                         start_agent: Callable[..., LiveAgent]) -> None:
    agent = start_agent("--dry-run")
    agent.log_wait("tray icon shown")
    wait_state(x_server, "listening")
    wait_tooltip(x_server, "voxagent: listening (hands-free")

    recorder = StateRecorder(x_server)
    recorder.start()
    agent.say("go to sleep")
    slept = agent.next_json()
    wait_state(x_server, "asleep")
    time.sleep(0.2)  # the recorder's next samples see it too
    states = recorder.stop()
    assert slept["actions"] == [{"action": "mode", "mode": "sleep"}], slept
    # listening -> hearing speech -> (recognising) -> asleep, each its own icon; "go to
    # sleep" is a complete command, decided at the pause while the icon still shows
    # hearing, so recognising may be too short for the recorder to catch
    assert states[:1] == ["listening"] and states[-1] == "asleep", states
    assert "hearing" in states, states
    assert "recognising" not in states or \
        states.index("hearing") < states.index("recognising"), states
    wait_tooltip(x_server, "| last: go to sleep")

    agent.say("wake up")
    agent.next_json()
    wait_state(x_server, "listening")
    err = agent.stop()
    assert "running without a tray icon" not in err


class TooltipRecorder(StateRecorder):
    """Samples the tooltip every 30 ms until stopped; keeps the changes."""

    def run(self) -> None:
        while not self.halt.wait(0.03):
            tip = tooltip(self.server)
            if not self.states or self.states[-1] != tip:
                self.states.append(tip)

    def until(self, tip: str, timeout: float = 20.0) -> None:
        """Wait until `tip` was sampled too (the deadline only bounds a failure)."""
        deadline = time.monotonic() + timeout
        while tip not in self.states and time.monotonic() < deadline:
            self.halt.wait(0.03)


def test_what_is_heard_shows_while_speaking_then_the_final_text(
        trayer: Trayer, x_server: XServer, start_agent: Callable[..., LiveAgent]) -> None:
    """Whisper's peeks: what was heard so far is the tooltip while the utterance is open,
    growing; the final text replaces it once it is typed."""
    agent = start_agent("--dry-run")
    agent.log_wait("tray icon shown")
    wait_tooltip(x_server, "voxagent: listening (hands-free")
    recorder = TooltipRecorder(x_server)
    recorder.start()
    agent.say("type the quick brown fox jumps over the lazy dog")
    typed = agent.next_json()
    final = wait_tooltip(x_server, " | last: ")
    recorder.until(final)  # the recorder samples on its own: it may not have seen it yet
    tips = recorder.stop()
    assert typed["command"] == "type <text>" and "lazy" in typed["text"].lower(), typed
    assert final.endswith(f' | last: "{typed["text"]}"'), final
    heard = [t.removeprefix("voxagent: hearing: ") for t in tips
             if t.startswith("voxagent: hearing: ")]
    assert any("quick" in h.lower() for h in heard), tips
    assert tips.index(final) > max(tips.index(f"voxagent: hearing: {h}") for h in heard)
    agent.stop()


def _click_menu_entry(server: XServer, entry: int = 0) -> None:
    """Click the tray icon, then the `entry`th item of the menu it opens."""
    x, y, w, h = find_window(server, ICON_CLASS)
    xdotool(server, "mousemove", str(x + w // 2), str(y + h // 2), "click", "1")
    mx, my, mw, mh = find_window(server, "Menu")
    row = mh / 11.5  # nine items and three separators (thinner): about 11.5 items high
    xdotool(server, "mousemove", str(mx + mw // 3), str(int(my + row * (entry + 0.5))),
            "click", "1")
    park_pointer(server)


def test_listening_off_from_the_tray_menu_stops_actions(
        trayer: Trayer, x_server: XServer, pointer_focus: KeylogWindow,
        start_agent: Callable[..., LiveAgent]) -> None:
    agent = start_agent()
    agent.log_wait("tray icon shown")
    wait_state(x_server, "listening")

    _click_menu_entry(x_server, 0)  # "Listening": off
    agent.log_wait("listening off")
    wait_state(x_server, "idle")
    agent.say("close tab", pause=0.5)  # not heard: the next line shows it

    _click_menu_entry(x_server, 0)  # on again
    agent.log_wait("listening on")
    wait_state(x_server, "listening")
    agent.say("new tab")
    back = agent.next_json()  # utterances are reported in order: "close tab" would be first
    keys = [(k["keysym"], k["state"] & CTRL) for k in pointer_focus.sync().keys]
    agent.stop()
    assert back["actions"] == [CTRL_T], back
    assert keys == [("t", CTRL)], keys  # no ctrl+w


def test_a_hotkey_another_program_holds_leaves_push_to_talk_closed(
        trayer: Trayer, x_server: XServer, pointer_focus: KeylogWindow,
        start_agent: Callable[..., LiveAgent]) -> None:
    """It used to fall back to listening hands-free; now nothing is heard until the menu's
    Hands-free is chosen."""
    from Xlib import XK, X

    other = x_server.connect()
    try:
        f9 = other.keysym_to_keycode(XK.string_to_keysym("F9"))
        other.screen().root.grab_key(f9, X.AnyModifier, False, X.GrabModeAsync,
                                     X.GrabModeAsync)
        other.sync()
        agent = start_agent("--push-to-talk")
        agent.log_wait("tray icon shown")
        agent.log_wait("push-to-talk has no hotkey: nothing is heard")
        wait_state(x_server, "idle")
        agent.say("close tab", pause=0.5)  # not heard: the next line shows it

        _click_menu_entry(x_server, 2)  # "Hands-free"
        agent.log_wait("now hands-free")
        wait_state(x_server, "listening")
        agent.say("new tab")
        heard = agent.next_json()  # in order: a "close tab" heard would come first
        keys = [(k["keysym"], k["state"] & CTRL) for k in pointer_focus.sync().keys]
        err = agent.stop()
    finally:
        other.close()  # and with it the grab
    assert heard["actions"] == [CTRL_T], heard
    assert keys == [("t", CTRL)], keys
    assert "no push-to-talk hotkey: the key f9 is taken by another program" in err, err


def test_device_failure_shows_error_and_resumes(trayer: Trayer, x_server: XServer,
                                                start_agent: Callable[..., LiveAgent]) -> None:
    agent = start_agent("--dry-run")
    agent.log_wait("tray icon shown")
    wait_state(x_server, "listening")

    pactl = ["pactl", "suspend-source", agent.mic.source]
    subprocess.run([*pactl, "1"], env=agent.mic.env, check=True, timeout=10)
    try:
        agent.log_wait("microphone failed", timeout=10)
        wait_state(x_server, "error")
        wait_tooltip(x_server, "voxagent: error: no audio from the input device")
        time.sleep(3)  # it keeps retrying meanwhile
    finally:
        subprocess.run([*pactl, "0"], env=agent.mic.env, check=True, timeout=10)
    agent.log_wait("microphone is back", timeout=15)
    wait_state(x_server, "listening")
    agent.mic.clear()
    agent.say("new tab")
    resumed = agent.next_json()
    err = agent.stop()
    assert resumed["actions"] == [CTRL_T], resumed
    assert err.count("microphone failed") == 1, err  # said once, not at every retry


def test_a_command_that_asks_shows_what_it_waits_for_until_its_time_is_up(
        trayer: Trayer, x_server: XServer, start_agent: Callable[..., LiveAgent],
        tmp_path: Path) -> None:
    mine = tmp_path / "agent0" / "config" / "commands"  # the first agent's folder
    mine.mkdir(parents=True)
    (mine / "mine.toml").write_text(
        '[commands]\n"close window" = { do = "key alt+f4", confirm = true }\n')
    agent = start_agent("--dry-run", config="[commands]\nconfirm_timeout_s = 6.0\n")
    agent.log_wait("tray icon shown")
    wait_state(x_server, "listening")
    agent.say("close window")
    asked = agent.next_json()
    assert (asked["actions"], asked["pending"]) == ([], "close window"), asked
    wait_tooltip(x_server, "| say yes to close window")
    deadline = time.monotonic() + 20.0
    while "say yes" in (tip := tooltip(x_server)):  # nothing said: its time runs out
        assert time.monotonic() < deadline, tip
        time.sleep(0.05)
    agent.mic.silence(1.0)
    agent.say("yes")
    late = agent.next_json()
    err = agent.stop()
    assert (late["actions"], late["expired"]) == ([], "close window"), late
    assert "no yes within 6 s: close window not done" in err, err


def _help_ids(server: XServer) -> set[str]:
    """The X ids of the "what can I say" windows on screen (none: an empty set)."""
    done = subprocess.run(["xdotool", "search", "--onlyvisible", "--class", "VoxagentHelp"],
                          env=server.env(), capture_output=True, text=True, timeout=10,
                          check=False)  # exit 1: none found
    return set(done.stdout.split())


def _help_window(server: XServer, old: frozenset[str] = frozenset(),
                 timeout: float = 30.0) -> tuple[frozenset[str], str]:
    """A "what can I say" window that is not one of `old` (the ids of a window it
    replaces, which must be gone), once it is on screen with text in it: its ids and
    title."""
    deadline = time.monotonic() + timeout
    while not ((ids := _help_ids(server)) and not ids & old):
        assert time.monotonic() < deadline, f"no new help window (on screen: {ids})"
        time.sleep(0.1)
    box = find_window(server, "VoxagentHelp")
    assert share_near(grab(server, box), (0, 0, 0), tolerance=60) > 0.002, box  # text
    done = subprocess.run(["xdotool", "getwindowname", sorted(ids)[-1]],
                          env=server.env(), capture_output=True, text=True, timeout=10,
                          check=True)
    return frozenset(ids), done.stdout.strip()


def test_what_can_i_say_from_the_menu_and_by_voice_opens_the_list(
        trayer: Trayer, x_server: XServer, pointer_focus: KeylogWindow,
        start_agent: Callable[..., LiveAgent]) -> None:
    agent = start_agent("--dry-run")
    agent.log_wait("tray icon shown")
    wait_state(x_server, "listening")

    _click_menu_entry(x_server, 7)  # "What can I say"
    agent.log_wait("what can I say: ")
    first, title = _help_window(x_server)
    assert title == "voxagent: what you can say"

    agent.say("what can I say")
    line = agent.next_json()
    agent.log_wait("what can I say: ", count=2)
    # The list said by voice replaces the one from the menu: wait for that window.
    _, title = _help_window(x_server, old=first)
    assert title == "voxagent: what you can say"
    err = agent.stop()
    assert [a["action"] for a in line["actions"]] == ["help"], line
    assert "new tab" in line["actions"][0]["commands"], line
    assert "Traceback" not in err and "TclError" not in err, err
