"""The live agent's state, and the one place that changes it.

Inputs arrive from several threads: the tray menu and the hotkey (the user), the
pipeline (activity events and outcomes), the microphone (faults). Each updates the
capture gate or asks the processing thread to change the dispatcher, then publishes a
new immutable Status to the subscribers (the tray) and gives feedback: sound cues,
notifications, the history file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from agent.desktop.gate import CaptureGate
from agent.desktop.history import History, history_record
from agent.desktop.notify import Notifier
from agent.desktop.sounds import Cue, CuePlayer
from agent.desktop.status import Status, style_label
from agent.dispatch.dispatcher import Dispatcher
from agent.messages import (
    Activity,
    ActivityEvent,
    HelpAction,
    ListenStyle,
    Mode,
    Outcome,
    Pending,
)

log = logging.getLogger(__name__)

_ECHO_GUARD_S = 0.08
"""Frames are skipped this much longer than a cue lasts (output latency)."""
RECENT = 10


class PipelineHandle(Protocol):
    """What the controller needs of the running pipeline (agent/app.py Pipeline): run a
    call on its processing thread, and stop it."""

    def call(self, fn: Callable[[], None]) -> None: ...

    def stop(self) -> None: ...


def _timer(seconds: float, fn: Callable[[], None]) -> None:
    timer = threading.Timer(seconds, fn)
    timer.daemon = True
    timer.start()


class Controller:
    def __init__(self, gate: CaptureGate, status: Status, *, cues: CuePlayer,
                 notifier: Notifier, history: History | None = None,
                 later: Callable[[float, Callable[[], None]], None] = _timer) -> None:
        """`later(seconds, fn)` calls fn after that long (on any thread): what the tray
        shows of a command awaiting its yes goes when the yes can no longer come."""
        self.gate = gate
        self._status = status
        self._cues = cues
        self._notifier = notifier
        self._history = history
        self._lock = threading.Lock()
        self._reloading = threading.Lock()
        self._subscribers: list[Callable[[Status], None]] = []
        self.recent: deque[str] = deque(maxlen=RECENT)
        """Recent commands (or what was heard), newest last."""
        self._pipeline: PipelineHandle | None = None
        self._dispatcher: Dispatcher | None = None
        self._reload: Callable[[], list[str]] = list
        self._quit: Callable[[], None] = lambda: None
        self._active_app: Callable[[], str] = str
        self.help_view: Callable[[str, str], bool] = lambda title, text: False
        """Shows "what can I say" in a window (title, text); False when it cannot."""
        self._later = later
        self._asking: Pending | None = None
        """The held command the status shows, until its yes, its end or its time is up."""

    # --- wiring ---------------------------------------------------------------------------

    def attach(self, pipeline: PipelineHandle, dispatcher: Dispatcher,
               reload: Callable[[], list[str]], quit_: Callable[[], None],
               active_app: Callable[[], str] = str) -> None:
        """`active_app`: the focused window's class (for the commands active there)."""
        self._pipeline, self._dispatcher, self._reload, self._quit = (
            pipeline, dispatcher, reload, quit_)
        self._active_app = active_app

    def subscribe(self, fn: Callable[[Status], None]) -> None:
        self._subscribers.append(fn)
        fn(self.status)

    @property
    def status(self) -> Status:
        return self._status

    def _update(self, **changes: Any) -> Status:
        with self._lock:
            old = self._status
            self._status = new = replace(old, **changes)
        if new != old:
            for fn in self._subscribers:
                fn(new)
        return new

    def set_hotkey(self, label: str) -> None:
        """The push-to-talk key as shown in the tooltip and menu ("F9, hold")."""
        self._update(hotkey=label)

    def _cue(self, cue: Cue) -> None:
        seconds = self._cues.play(cue)
        if seconds:
            self.gate.mute(time.monotonic() + seconds + _ECHO_GUARD_S)

    # --- the user: tray menu and voice -----------------------------------------------------

    def set_listening(self, on: bool) -> None:
        self.gate.set_enabled(on)
        log.warning("listening %s", "on" if on else "off")
        self._update(enabled=on, held=False)
        if on and self.gate.style is ListenStyle.HANDS_FREE:
            self._cue(Cue.LISTENING)

    def toggle_listening(self) -> None:
        self.set_listening(not self.status.enabled)

    def set_style(self, style: ListenStyle) -> None:
        """Never fails open: push-to-talk without a hotkey is push-to-talk that nothing
        opens, until hands-free is chosen again."""
        self.gate.set_style(style)
        log.warning("now %s", style_label(style, self.status.hotkey))
        if style is ListenStyle.PUSH_TO_TALK and not self.status.hotkey:
            log.warning("push-to-talk has no hotkey: nothing is heard until hands-free is "
                        "chosen (tray menu) or the agent restarts with a working hotkey")
        self._update(style=style, held=False)

    def set_dictation(self, on: bool) -> None:
        self._set_mode(Mode.DICTATION if on else Mode.COMMAND)

    def _set_mode(self, mode: Mode) -> None:
        if self._pipeline is None or self._dispatcher is None:
            return
        dispatcher = self._dispatcher

        def apply() -> None:
            dispatcher.set_mode(mode)  # which drops a held command
            self._ask(None)
            self._update(mode=mode)
            log.warning("mode %s", mode.value)

        self._pipeline.call(apply)

    def reload_commands(self, why: str = "") -> None:
        """Re-read the command files on a thread of their own, one reload at a time, so that
        reading and checking them never holds up hearing (`reload` hands the new set to
        the worker); `why`: what prompted it, for the log ("a command file changed"; "" =
        the tray menu)."""
        if self._pipeline is None:
            return

        def apply() -> None:
            with self._reloading:
                errors = self._reload()
            log.warning("commands reloaded%s%s", f" ({why})" if why else "",
                        f": {len(errors)} problems, the last good version of each broken "
                        "file kept" if errors else "")

        threading.Thread(target=apply, name="command-reload", daemon=True).start()

    def show_help(self) -> None:
        """The tray's "What can I say": the commands active now, read on the worker."""
        if self._pipeline is None or self._dispatcher is None:
            return
        dispatcher = self._dispatcher
        self._pipeline.call(lambda: self.help(dispatcher.sayable(self._active_app())))

    def help(self, commands: tuple[str, ...]) -> None:
        """Show what can be said: in a window, else as a notification, else in the log."""
        text = help_text(commands)
        log.info("what can I say: %d commands", len(commands))
        if self.help_view(HELP_TITLE, text):
            return
        if not self._notifier.notify(HELP_TITLE, " · ".join(commands), asked=True):
            log.warning("%s:\n%s", HELP_TITLE, text)

    def quit(self) -> None:
        log.warning("quit from the tray")
        self._quit()

    # --- the hotkey -------------------------------------------------------------------------

    def hotkey_down(self, at: float) -> None:
        if self.gate.key_down(at):
            self._cue(Cue.LISTENING)
        self._update(held=self.gate.held)

    def hotkey_up(self, at: float) -> None:
        self.gate.key_up(at)
        self._update(held=self.gate.held)

    # --- the pipeline -----------------------------------------------------------------------

    def activity(self, event: ActivityEvent) -> None:
        if event.activity is Activity.HEARING:  # speech begins: what an earlier one left goes
            self._update(hearing=event.on, **({"partial": ""} if event.on else {}))
        elif event.activity is Activity.RECOGNISING:
            self._update(recognising=event.on, held=self.gate.held)
        elif event.activity is Activity.PARTIAL:
            self._update(partial=event.detail.strip() if event.on else "")

    def device_fault(self, fault: str | None) -> None:
        self._update(fault=fault or "", hearing=False)

    def outcome(self, o: Outcome, started_at: float | None = None) -> None:
        """An utterance was carried through; `started_at`: the source's stream start. Its
        final text (the command, or what was heard) replaces what was heard so far."""
        d = o.decision
        said = d.command or (f'"{d.text}"' if d.text else "")
        if said:
            self.recent.append(said)
        before = self.status.mode
        self._ask(d.pending, started_at, o.utterance.end)
        heard = f'"{d.text}"' if d.text else ""
        final = d.command if d.command and "<" not in d.command else heard or said
        self._update(mode=d.mode, last_command=final or self.status.last_command, partial="")
        self._feedback(o, before)
        if self._history is not None:
            self._history.append(history_record(o, started_at))

    def _ask(self, pending: Pending | None, started_at: float | None = None,
             end: float = 0.0) -> None:
        """Show what waits for a yes (None: nothing) until its time is up (`started_at`:
        the stream's start, time.monotonic(); `end`: the asking utterance's end)."""
        self._asking = pending
        self._update(asking=pending.what if pending else "")
        if pending is None:
            return
        left = pending.until - end if started_at is None else \
            started_at + pending.until - time.monotonic()

        def over() -> None:
            if self._asking is pending:
                self._asking = None
                self._update(asking="")

        self._later(max(left, 0.0), over)

    def _feedback(self, o: Outcome, before: Mode) -> None:
        d = o.decision
        if d.mode is Mode.SLEEP and before is not Mode.SLEEP:
            self._cue(Cue.ASLEEP)
        elif d.mode is not Mode.SLEEP and before is Mode.SLEEP:
            self._cue(Cue.LISTENING)
        elif d.actions and not o.errors:
            self._cue(Cue.DONE)
        elif d.text and d.mode is Mode.COMMAND and not d.command:
            self._cue(Cue.NOT_UNDERSTOOD)
        if d.command and d.actions and not any(isinstance(a, HelpAction) for a in d.actions):
            self._notifier.notify("voxagent", f"{d.command}  ({d.text})")
        elif d.pending is not None:
            self._notifier.notify("voxagent", f"{d.note}  ({d.text})")
        if d.question:  # nothing was done: say what was heard, even with notifications off
            self._notifier.notify("voxagent", f"{d.question}  ({d.text})", asked=True)


HELP_TITLE = "voxagent: what you can say"


def help_text(commands: tuple[str, ...]) -> str:
    """One spoken form a line; what <n>, [words] and (a|b) mean, once, at the end."""
    if not commands:
        return "Nothing can be said here."
    said = " ".join(commands)
    notes = [note for needle, note in _NOTES if needle in said]
    return "\n".join([*commands, *(["", *notes] if notes else [])])


_NOTES = (
    ("<key>", "<key>: a key name (page down, f five, escape, letter b)"),
    ("<chord>", "<chord>: modifiers then a key (control shift t)"),
    ("<n>", "<n>: a number (one to twenty, or digits)"),
    ("<text>", "<text>: any words, to the end"),
    ("[", "[words]: may be left out"),
    ("(", "(a|b): either one"),
)
