"""The pure parts of the desktop side: capture gate, status and tray state, menu model,
history records, hotkey names and backends, and the controller's bookkeeping."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.desktop.controller import Controller
from agent.desktop.gate import CaptureGate
from agent.desktop.history import History, history_record, latency
from agent.desktop.hotkey import pick_backend
from agent.desktop.hotkey_base import HotkeyError, check_key, display_name
from agent.desktop.hotkey_evdev import open_keyboards
from agent.desktop.menu import menu_entries
from agent.desktop.notify import Notifier
from agent.desktop.sounds import Cue, CuePlayer
from agent.desktop.status import Status, TrayState
from agent.dispatch.command import Command
from agent.dispatch.dispatcher import Dispatcher
from agent.messages import (
    Activity,
    ActivityEvent,
    Decision,
    KeyAction,
    ListenStyle,
    Mode,
    ModeAction,
    Outcome,
    Pending,
    Transcript,
    TypeAction,
    Utterance,
)
from agent.paths import data_dir

PTT = ListenStyle.PUSH_TO_TALK


# --- the capture gate ---------------------------------------------------------------------

def test_hands_free_takes_everything_and_off_takes_nothing() -> None:
    gate = CaptureGate()
    assert gate.verdict(1.0).take
    gate.set_enabled(False)
    assert not gate.verdict(2.0).take
    assert not gate.key_down(2.0)  # the hotkey does nothing while listening is off


def test_hold_takes_from_after_the_click_to_the_tail_after_release() -> None:
    gate = CaptureGate(PTT, click_guard_s=0.1, release_tail_s=0.2)
    assert not gate.verdict(0.5).take  # key up: nothing
    assert gate.key_down(1.0)
    assert not gate.verdict(1.05).take  # the key's click
    assert gate.verdict(1.1).take and gate.held
    gate.key_up(3.0)
    assert gate.verdict(3.19).take  # the end of the last word
    closing = gate.verdict(3.2)
    assert closing.close and not closing.take
    assert not gate.verdict(3.25).close  # closes once
    assert not gate.verdict(3.3).take


def test_hold_pressed_again_within_the_tail_keeps_going() -> None:
    gate = CaptureGate(PTT, click_guard_s=0.0, release_tail_s=0.3)
    gate.key_down(1.0)
    gate.key_up(2.0)
    assert not gate.key_down(2.1)  # not a new utterance
    assert gate.verdict(2.5).take and not gate.verdict(2.6).close


def test_toggle_opens_and_closes_on_presses_and_ignores_releases() -> None:
    gate = CaptureGate(PTT, toggle=True, click_guard_s=0.0, release_tail_s=0.1)
    assert gate.key_down(1.0)
    gate.key_up(1.1)
    assert gate.verdict(2.0).take
    assert not gate.key_down(3.0)
    assert gate.verdict(3.05).take
    assert gate.verdict(3.1).close


def test_muted_frames_are_skipped_but_nothing_is_reset() -> None:
    gate = CaptureGate()
    gate.mute(until=2.0)
    v = gate.verdict(1.5)
    assert v.take and v.muted
    assert not gate.verdict(2.0).muted


def test_switching_style_forgets_a_held_key() -> None:
    gate = CaptureGate(PTT, click_guard_s=0.0)
    gate.key_down(1.0)
    gate.set_style(ListenStyle.HANDS_FREE)
    gate.set_style(PTT)
    assert not gate.verdict(1.5).take


# --- status and tray state ----------------------------------------------------------------

@pytest.mark.parametrize(("status", "state"), [
    (Status(), TrayState.LISTENING),
    (Status(enabled=False), TrayState.IDLE),
    (Status(style=PTT), TrayState.IDLE),
    (Status(style=PTT, held=True), TrayState.LISTENING),
    (Status(hearing=True), TrayState.HEARING),
    (Status(hearing=True, recognising=True), TrayState.RECOGNISING),
    (Status(mode=Mode.SLEEP), TrayState.ASLEEP),
    (Status(mode=Mode.SLEEP, hearing=True), TrayState.HEARING),
    (Status(fault="gone", recognising=True), TrayState.ERROR),
])
def test_tray_state(status: Status, state: TrayState) -> None:
    assert status.state is state


def test_every_state_has_its_own_icon() -> None:
    icons = data_dir("assets") / "icons"
    files = {s: (icons / f"{s.value}.png").read_bytes() for s in TrayState}
    assert len(set(files.values())) == len(TrayState)


def test_tooltip_says_state_style_mode_and_last_command() -> None:
    tip = Status(style=PTT, held=True, hotkey="F9, hold", last_command="new tab").tooltip()
    assert tip == ("voxagent: listening (push-to-talk F9, hold, command mode)"
                   " | last: new tab")
    assert Status(fault="no audio").tooltip() == "voxagent: error: no audio"


# --- the menu model -----------------------------------------------------------------------

class _Actions:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def toggle_listening(self) -> None:
        self.calls.append(("toggle", None))

    def set_style(self, style: ListenStyle) -> None:
        self.calls.append(("style", style))

    def set_dictation(self, on: bool) -> None:
        self.calls.append(("dictation", on))

    def reload_commands(self) -> None:
        self.calls.append(("reload", None))

    def show_help(self) -> None:
        self.calls.append(("help", None))

    def quit(self) -> None:
        self.calls.append(("quit", None))


def test_menu_items_reflect_the_status_and_call_the_controller() -> None:
    actions = _Actions()
    opened: list[bool] = []
    entries = menu_entries(Status(hotkey="F9, hold", mode=Mode.DICTATION), ["copy", "paste"],
                           actions, lambda: opened.append(True))
    by_text = {e.text: e for e in entries if e.text != "-"}
    assert list(by_text) == ["Listening", "Hands-free", "Push-to-talk (F9, hold)", "Dictation",
                             "Recent commands", "What can I say", "Reload commands",
                             "Open commands folder", "Quit"]
    assert by_text["Listening"].checked is True
    assert by_text["Dictation"].checked is True
    assert [c.text for c in by_text["Recent commands"].children] == ["paste", "copy"]
    for text in ("Listening", "Push-to-talk (F9, hold)", "Dictation", "What can I say",
                 "Reload commands", "Open commands folder", "Quit"):
        action = by_text[text].action
        assert action is not None
        action()
    assert actions.calls == [("toggle", None), ("style", PTT), ("dictation", False),
                             ("help", None), ("reload", None), ("quit", None)]
    assert opened == [True]


def test_push_to_talk_is_greyed_out_without_a_hotkey() -> None:
    entries = menu_entries(Status(), [], _Actions(), lambda: None)
    ptt = next(e for e in entries if e.text.startswith("Push-to-talk"))
    assert not ptt.enabled


# --- history ------------------------------------------------------------------------------

def _outcome(text: str = "New tab.", command: str | None = "new tab") -> Outcome:
    utt = Utterance(b"", start=1.0, end=2.0, closed_at=102.5)
    actions = (KeyAction("ctrl+t"),) if command else ()
    return Outcome(utt, Transcript(text, backend="whisper", seconds=0.4),
                   Decision(text, command, actions, Mode.COMMAND), performed_at=103.2,
                   recognised_at=103.0)


def test_latency_parts_are_seconds_from_the_end_of_speech() -> None:
    assert latency(_outcome(), started_at=100.0) == {
        "closed": 0.5, "recognised": 0.4, "performed": 1.2, "transcribed": 1.0}
    assert latency(_outcome(), started_at=None) == {"recognised": 0.4}


def test_history_lines_and_recent(tmp_path: Path) -> None:
    history = History(tmp_path / "state" / "history.jsonl")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    history.append(history_record(_outcome(), 100.0, now=when))
    history.append(history_record(_outcome("Hmm.", None), 100.0, now=when))
    lines = [json.loads(x) for x in history.path.read_text().splitlines()]
    assert lines[0] == {"time": "2026-01-02T03:04:05.000+00:00", "text": "New tab.",
                        "command": "new tab",
                        "actions": [{"action": "key", "keys": "ctrl+t", "count": 1}],
                        "mode": "command", "backend": "whisper", "errors": [],
                        "latency": {"closed": 0.5, "recognised": 0.4, "performed": 1.2,
                                    "transcribed": 1.0}}
    assert [r["text"] for r in history.recent(1)] == ["Hmm."]


def test_history_that_cannot_be_written_is_said_once(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    history = History(blocker / "history.jsonl")  # a folder that is a file
    for _ in range(3):
        history.append({"text": "x"})
    assert sum("cannot write the history" in r.getMessage() for r in caplog.records) == 1


# --- hotkey -------------------------------------------------------------------------------

def test_hotkey_names() -> None:
    assert check_key("F9") == "f9"
    assert check_key("Scroll Lock") == "scroll_lock"
    assert display_name("f9", toggle=False) == "F9, hold"
    assert display_name("pause", toggle=True) == "pause, toggle"
    with pytest.raises(HotkeyError, match=r"unknown hotkey 'f25'; use f1\.\.f24, a letter"):
        check_key("f25")


@pytest.mark.parametrize(("env", "backend"), [
    ({"DISPLAY": ":0"}, "x11"),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "evdev"),
    ({"XDG_SESSION_TYPE": "wayland"}, "evdev"),
    ({}, "evdev"),
])
def test_backend_for_the_session(env: dict[str, str], backend: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert pick_backend("auto") == backend
    assert pick_backend("pynput") == "pynput"


def test_evdev_without_readable_keyboards_says_what_to_do(tmp_path: Path) -> None:
    for folder in (tmp_path / "missing", tmp_path):
        with pytest.raises(HotkeyError) as info:
            open_keyboards("f9", folder)
        message = str(info.value)
        assert "\n" not in message
        assert "input group" in message and "usermod -aG input" in message, message
        assert "hands-free" in message


# --- the controller -----------------------------------------------------------------------

def _controller(tmp_path: Path) -> tuple[Controller, list[Status]]:
    ctl = Controller(CaptureGate(), Status(hotkey="F9, hold"),
                     cues=CuePlayer(tmp_path, enabled=False), notifier=Notifier(False),
                     history=History(tmp_path / "history.jsonl"))
    seen: list[Status] = []
    ctl.subscribe(seen.append)
    return ctl, seen


def test_controller_follows_activity_outcomes_and_faults(tmp_path: Path) -> None:
    ctl, seen = _controller(tmp_path)
    ctl.activity(ActivityEvent(Activity.HEARING, True))
    assert ctl.status.state is TrayState.HEARING
    ctl.activity(ActivityEvent(Activity.HEARING, False))
    ctl.activity(ActivityEvent(Activity.RECOGNISING, True))
    assert ctl.status.state is TrayState.RECOGNISING
    ctl.activity(ActivityEvent(Activity.RECOGNISING, False))
    sleep = Outcome(Utterance(b"", 0, 1), Transcript("Go to sleep."),
                    Decision("Go to sleep.", "go to sleep", (ModeAction(Mode.SLEEP),),
                             Mode.SLEEP))
    ctl.outcome(sleep, started_at=1.0)
    assert ctl.status.state is TrayState.ASLEEP
    assert ctl.status.last_command == "go to sleep"
    ctl.device_fault("no audio from the input device for 2 s")
    assert ctl.status.state is TrayState.ERROR
    ctl.device_fault(None)
    assert ctl.status.state is TrayState.ASLEEP
    assert [s.state for s in seen][:4] == [TrayState.LISTENING, TrayState.HEARING,
                                           TrayState.LISTENING, TrayState.RECOGNISING]
    assert list(ctl.recent) == ["go to sleep"]
    assert json.loads((tmp_path / "history.jsonl").read_text())["command"] == "go to sleep"


def test_controller_hotkey_and_style(tmp_path: Path) -> None:
    ctl, _ = _controller(tmp_path)
    ctl.set_style(PTT)
    assert ctl.status.state is TrayState.IDLE
    ctl.hotkey_down(10.0)
    assert ctl.status.held and ctl.status.state is TrayState.LISTENING
    ctl.hotkey_up(11.0)
    assert not ctl.status.held
    ctl.set_listening(False)
    assert ctl.status.state is TrayState.IDLE and not ctl.gate.enabled


def test_push_to_talk_without_a_hotkey_stays_closed_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ctl = Controller(CaptureGate(), Status(), cues=CuePlayer(tmp_path, enabled=False),
                     notifier=Notifier(False))  # no hotkey could be had
    assert ctl.gate.verdict(1.0).take  # hands-free: everything
    ctl.set_style(PTT)
    assert ctl.status.style is PTT and ctl.status.state is TrayState.IDLE
    assert not any(ctl.gate.verdict(t).take for t in (2.0, 60.0, 3600.0))  # never opens
    assert any("push-to-talk has no hotkey: nothing is heard" in r.getMessage()
               for r in caplog.records)
    ctl.set_style(ListenStyle.HANDS_FREE)  # the way back (the tray menu)
    assert ctl.gate.verdict(3601.0).take


def test_cues_exist_for_every_cue() -> None:
    player = CuePlayer(data_dir("assets") / "sounds", enabled=True)
    for cue in Cue:
        assert 0.05 < player.seconds(cue) < 0.5, cue


class _Worker:
    """Runs control calls at once (the pipeline runs them on its worker thread)."""

    def call(self, fn: Callable[[], None]) -> None:
        fn()

    def stop(self) -> None:
        pass


def test_dictation_and_reload_from_the_menu_reach_the_dispatcher(
        tmp_path: Path, builtins: tuple[Command, ...]) -> None:
    ctl, _ = _controller(tmp_path)
    dispatcher = Dispatcher(builtins)
    reloaded = threading.Event()
    ctl.attach(_Worker(), dispatcher, lambda: reloaded.set() or [], lambda: None)
    ctl.set_dictation(True)
    assert dispatcher.mode is Mode.DICTATION and ctl.status.mode is Mode.DICTATION
    typed = dispatcher.dispatch(Transcript("hello there"))
    assert [a.to_json() for a in typed.actions] == [{"action": "type", "text": "hello there"}]
    ctl.set_dictation(False)
    assert dispatcher.mode is Mode.COMMAND
    ctl.reload_commands()
    assert reloaded.wait(10)


def test_notifications_run_notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in notify-send on PATH records how it was called."""
    record = tmp_path / "args.txt"
    tool = tmp_path / "notify-send"
    tool.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    notifier = Notifier(True)
    notifier.notify("voxagent", "new tab  (New tab.)")
    notifier.stop()
    assert record.read_text().splitlines()[-2:] == ["voxagent", "new tab  (New tab.)"]


def test_the_final_text_replaces_what_was_heard_so_far(tmp_path: Path) -> None:
    """Whisper's peeks and Voxtral's deltas alike arrive as PARTIAL events; the outcome's
    final text (the command's name, else what was heard: dictation, type <text>, talk)
    takes their place, bounded as they are; new speech clears what an earlier left."""
    ctl, _ = _controller(tmp_path)
    ctl.activity(ActivityEvent(Activity.HEARING, True))
    ctl.activity(ActivityEvent(Activity.PARTIAL, True, "Type the quick brown"))
    assert ctl.status.tooltip() == "voxagent: hearing: Type the quick brown"
    ctl.activity(ActivityEvent(Activity.HEARING, False))  # closed: shown until the outcome
    assert ctl.status.partial == "Type the quick brown"
    typed = Outcome(Utterance(b"", 0, 1), Transcript("Type the quick brown fox."),
                    Decision("Type the quick brown fox.", "type <text>",
                             (TypeAction("the quick brown fox"),), Mode.COMMAND))
    ctl.outcome(typed)
    assert ctl.status.partial == ""
    assert ctl.status.tooltip().endswith(' | last: "Type the quick brown fox."')
    ctl.outcome(_outcome())
    assert ctl.status.tooltip().endswith(" | last: new tab")
    long = "word " * 40 + "end."
    ctl.outcome(_outcome(long, None))
    tip = ctl.status.tooltip()
    assert tip.endswith('word end."') and ' | last: …' in tip
    assert len(tip.split(" | last: ")[1]) == 60
    ctl.activity(ActivityEvent(Activity.PARTIAL, True, "stale"))  # a dropped utterance's
    ctl.activity(ActivityEvent(Activity.HEARING, True))
    assert ctl.status.partial == ""

def test_notifications_without_notify_send_are_refused_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    notifier = Notifier(True)
    notifier.notify("voxagent", "x")
    assert not notifier.enabled
    assert sum("notify-send not found" in r.getMessage() for r in caplog.records) == 1


def test_partial_text_shows_while_heard_and_goes_when_the_utterance_ends(
        tmp_path: Path) -> None:
    ctl, seen = _controller(tmp_path)
    before = ctl.status.tooltip()
    ctl.activity(ActivityEvent(Activity.HEARING, True))
    ctl.activity(ActivityEvent(Activity.PARTIAL, True, "new"))
    ctl.activity(ActivityEvent(Activity.PARTIAL, True, " new ta"))
    assert ctl.status.partial == "new ta"
    assert seen[-1].tooltip() == "voxagent: hearing: new ta"
    assert [s.partial for s in seen if s.partial] == ["new", "new ta"]
    ctl.activity(ActivityEvent(Activity.PARTIAL, False))
    ctl.activity(ActivityEvent(Activity.HEARING, False))
    assert ctl.status.partial == "" and seen[-1].tooltip() == before
    long = "word " * 40
    ctl.activity(ActivityEvent(Activity.PARTIAL, True, long + "last"))
    tip = ctl.status.tooltip()
    assert tip.endswith("word last") and tip.startswith("voxagent: hearing: …")
    assert len(tip) < len("voxagent: hearing: ") + 61
    ctl.device_fault("no audio")  # a fault outranks what was heard
    assert ctl.status.tooltip() == "voxagent: error: no audio"


def test_what_can_i_say_from_the_menu_shows_the_commands_of_the_focused_app(
        tmp_path: Path, builtins: tuple[Command, ...], command_file) -> None:
    ctl, _ = _controller(tmp_path)
    firefox = command_file('[context]\napp = "firefox"\n[commands]\n"reader view" = "key f9"\n')
    shown: list[tuple[str, str]] = []
    ctl.help_view = lambda title, text: shown.append((title, text)) or True
    ctl.attach(_Worker(), Dispatcher(builtins + firefox), list, lambda: None,
               lambda: "Navigator.firefox")
    ctl.show_help()
    ((title, text),) = shown
    lines = text.splitlines()
    assert title == "voxagent: what you can say"
    assert lines[0] == "reader view" and "new tab" in lines and "go to sleep" in lines
    assert "press <chord> <n> times" in lines
    assert "<n>: a number (one to twenty, or digits)" in lines  # captures explained once
    assert lines.count("<n>: a number (one to twenty, or digits)") == 1


def test_what_can_i_say_without_a_window_is_a_notification_else_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Shown even with notifications of commands turned off: the person asked for it."""
    record = tmp_path / "args.txt"
    tool = tmp_path / "notify-send"
    tool.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    notifier = Notifier(False)
    ctl = Controller(CaptureGate(), Status(), cues=CuePlayer(tmp_path, enabled=False),
                     notifier=notifier)
    ctl.help(("new tab", "copy"))
    notifier.stop()
    assert record.read_text().splitlines()[-2:] == ["voxagent: what you can say",
                                                    "new tab · copy"]
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    ctl = Controller(CaptureGate(), Status(), cues=CuePlayer(tmp_path, enabled=False),
                     notifier=Notifier(True))
    ctl.help(("new tab", "copy"))
    assert any(r.levelname == "WARNING" and "new tab\ncopy" in r.getMessage()
               for r in caplog.records), caplog.text


def test_a_help_command_is_not_also_notified_as_a_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.messages import HelpAction

    notes: list[tuple[str, str]] = []
    ctl, _ = _controller(tmp_path)
    ctl._notifier.enabled = True
    monkeypatch.setattr(ctl._notifier, "notify", lambda t, b, **kw: notes.append((t, b)))
    ctl.help_view = lambda title, text: True
    utt = Utterance(b"", 0, 1)
    help_ = Outcome(utt, Transcript("What can I say?"),
                    Decision("What can I say?", "what can I say", (HelpAction(("copy",)),),
                             Mode.COMMAND))
    ctl.outcome(help_)
    ctl.outcome(_outcome())
    assert notes == [("voxagent", "new tab  (New tab.)")]


def test_a_command_awaiting_its_yes_is_shown_until_its_time_is_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builtins: tuple[Command, ...]) -> None:
    timers: list[tuple[float, Callable[[], None]]] = []
    ctl = Controller(CaptureGate(), Status(), cues=CuePlayer(tmp_path, enabled=False),
                     notifier=Notifier(False), later=lambda s, fn: timers.append((s, fn)))
    notes: list[str] = []
    ctl._notifier.enabled = True
    monkeypatch.setattr(ctl._notifier, "notify", lambda t, b, **kw: notes.append(b))
    held = Decision("Close window.", "close window", (), Mode.COMMAND,
                    note="say yes to close window", pending=Pending("close window", 9.5))
    ask = Outcome(Utterance(b"", 0.5, 1.5), Transcript("Close window."), held)
    ctl.outcome(ask)  # a file read as fast as it goes: no stream start
    assert ctl.status.asking == "close window"
    assert ctl.status.tooltip() == ("voxagent: listening (hands-free, command mode) "
                                    "| say yes to close window | last: close window")
    assert notes == ["say yes to close window  (Close window.)"]
    assert timers[-1][0] == 8.0
    timers[-1][1]()  # no yes came
    assert ctl.status.asking == "" and "say yes" not in ctl.status.tooltip()
    ctl.outcome(ask, started_at=time.monotonic() - 100.0)  # live, 100 s on: time is up
    assert timers[-1][0] == 0.0
    ctl.outcome(ask)
    ctl.outcome(_outcome())  # another utterance: the dispatcher dropped it
    assert ctl.status.asking == ""
    again = Pending("close window", 20.0)  # asked again: a new one
    ctl.outcome(replace(ask, decision=replace(held, pending=again)))
    timers[-2][1]()  # the time of an earlier one runs out: this one still waits
    assert ctl.status.asking == "close window"
    dispatcher = Dispatcher(builtins)
    ctl.attach(_Worker(), dispatcher, list, lambda: None)
    ctl.set_dictation(True)  # the menu drops it
    assert ctl.status.asking == ""


def test_tray_icon_pixels_are_see_through_or_on_the_plain_background() -> None:
    """ARGB: premultiplied (a transparent pixel is all zero, whatever colour it held);
    plain: transparent parts are the background, not the colour they held."""
    import numpy as np
    from PIL import Image

    from agent.desktop.tray_xorg import BACKGROUND, icon_pixels

    image = Image.new("RGBA", (4, 4), (46, 125, 50, 0))  # see-through, but green
    image.putpixel((1, 1), (200, 100, 50, 255))
    image.putpixel((2, 2), (200, 100, 50, 128))
    argb = np.frombuffer(icon_pixels(image, 4, 4, True, True), np.uint8).reshape(4, 4, 4)
    assert tuple(argb[0, 0]) == (0, 0, 0, 0)
    assert tuple(argb[1, 1]) == (50, 100, 200, 255)  # B, G, R, A
    assert tuple(argb[2, 2]) == (25, 50, 100, 128)  # premultiplied
    plain = np.frombuffer(icon_pixels(image, 4, 4, False, True), np.uint8).reshape(4, 4, 4)
    assert tuple(plain[0, 0, 2::-1]) == BACKGROUND
    assert tuple(plain[1, 1, 2::-1]) == (200, 100, 50)
    big_endian = np.frombuffer(icon_pixels(image, 4, 4, True, False), np.uint8)
    assert tuple(big_endian.reshape(4, 4, 4)[1, 1]) == (255, 200, 100, 50)  # A, R, G, B


def test_a_key_in_doubt_is_put_to_the_person_even_with_notifications_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing was pressed: the notification says what was heard and asks."""
    notes: list[tuple[str, str, bool]] = []
    ctl, _ = _controller(tmp_path)
    monkeypatch.setattr(ctl._notifier, "notify",
                        lambda t, b, asked=False: notes.append((t, b, asked)) or True)
    heard = "Press control shift D."
    asked = Decision(heard, None, (), Mode.COMMAND, note="did you mean ctrl+shift+d or "
                     "ctrl+shift+t?", question="did you mean ctrl+shift+d or ctrl+shift+t?")
    ctl.outcome(Outcome(Utterance(b"", 0, 1), Transcript(heard), asked))
    ctl.outcome(Outcome(Utterance(b"", 0, 1), Transcript("Hello."),
                        Decision("Hello.", None, (), Mode.COMMAND, note="not a command")))
    assert notes == [("voxagent", f"did you mean ctrl+shift+d or ctrl+shift+t?  ({heard})",
                      True)]
