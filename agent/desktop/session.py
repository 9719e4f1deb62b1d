"""The live agent's desktop side, assembled: gate, controller, feedback, hotkey and tray
around a Pipeline. The tray runs on the main thread, the pipeline on its own.

    session = LiveSession(cfg, tray=True)
    source = session.source(lambda: MicSource(...))
    agent = build(cfg, executor=session.executor(inner), listening=Listening(
        source, ..., gate=session.gate, held=session.held_segmenter()), on_event=...)
    session.run(agent.pipeline, agent.dispatcher, reload, agent.library.stamp)
    # blocks until quit, SIGINT or SIGTERM; reloads the command files as they change
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Hashable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent.actions.base import Executor
from agent.actions.dryrun import DryRunExecutor
from agent.audio.mic_source import refresh_devices
from agent.audio.retrying import LiveSource, RetryingSource
from agent.audio.vad import Segmenter
from agent.desktop.controller import Controller, PipelineHandle
from agent.desktop.gate import CaptureGate
from agent.desktop.history import History
from agent.desktop.hotkey import make_hotkey, pick_backend
from agent.desktop.hotkey_base import Hotkey, HotkeyError, check_key, display_name
from agent.desktop.menu import Entry, TkPopup, menu_entries
from agent.desktop.notify import Notifier
from agent.desktop.sounds import CuePlayer
from agent.desktop.status import Status
from agent.desktop.watch import ChangeWatcher
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.words_file import add_word
from agent.messages import Action, HelpAction, ListenAction, ListenStyle, WordAction
from agent.paths import data_dir, state_dir, user_commands_dir

if TYPE_CHECKING:
    from agent.config import Config

log = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 10.0
HELD_HANGOVER_MS = 5000
"""Push-to-talk: a pause this long (the most the VAD config allows) does not end the
utterance; releasing the key does."""


class RunnablePipeline(PipelineHandle, Protocol):
    """What the session needs of the pipeline (agent/app.py Pipeline): the controller's
    handle, and run() on the session's pipeline thread."""

    def run(self) -> None: ...


class SessionExecutor:
    """Performs `listen` actions (hands-free / push-to-talk) and `help` ("what can I say")
    itself, even in a dry run (like mode changes, they are the agent's, not the
    desktop's); the rest goes on."""

    def __init__(self, inner: Executor, controller: Controller,
                 words_folder: Path | None = None) -> None:
        self._inner = inner
        self._controller = controller
        self._words_folder = words_folder
        """Where "add word" writes (the user's command folder); None: it does not."""

    def perform(self, action: Action) -> None:
        if isinstance(action, ListenAction):
            self._controller.set_style(action.style)
        elif isinstance(action, HelpAction):
            self._controller.help(action.commands)
        elif isinstance(action, WordAction) and self._words_folder is not None:
            add_word(self._words_folder, action.spoken, action.written)
        else:
            self._inner.perform(action)

    def active_app(self) -> str:
        return self._inner.active_app()


class LiveSession:
    def __init__(self, cfg: Config, *, tray: bool) -> None:
        d = cfg.desktop
        self.cfg = cfg
        self.gate = CaptureGate(ListenStyle.HANDS_FREE, toggle=d.hotkey_style == "toggle")
        history = History(state_dir() / "history.jsonl", d.history, d.history_max_kb * 1024)
        usable = history.secure()  # an older file stays private even when no more is kept
        self.history = history if d.history != "off" and usable else None
        self.cues = CuePlayer(data_dir("assets") / "sounds", d.sounds)
        self.notifier = Notifier(d.notifications)
        self.controller = Controller(self.gate, Status(), cues=self.cues,
                                     notifier=self.notifier, history=self.history)
        if self.history is not None:
            self.controller.recent.extend(_said(r) for r in self.history.recent())
        self._tray_wanted = tray and d.tray
        self._tray: Any = None
        self._popup = TkPopup()
        """The tray menu's Tk thread; it also shows the "what can I say" window."""
        if os.environ.get("DISPLAY") or sys.platform in ("win32", "darwin"):
            self.controller.help_view = self._popup.show_text
        self._executor: SessionExecutor | None = None
        self._hotkey: Hotkey | None = None
        self._stopping = threading.Event()
        self._pipeline: RunnablePipeline | None = None
        self._watcher: ChangeWatcher | None = None

    # --- building ---------------------------------------------------------------------------

    def source(self, make: Callable[[], LiveSource]) -> RetryingSource:
        return RetryingSource(make, on_fault=self.controller.device_fault,
                              refresh=refresh_devices)

    def executor(self, inner: Executor) -> SessionExecutor:
        folder = None if isinstance(inner, DryRunExecutor) else \
            user_commands_dir(self.cfg.commands.user_dir)
        self._executor = SessionExecutor(inner, self.controller, folder)
        return self._executor

    def _active_app(self) -> str:
        return self._executor.active_app() if self._executor is not None else ""

    def held_segmenter(self) -> Segmenter:
        """Push-to-talk: the key's release ends speech, so neither a pause (long hangover)
        nor Silero's end of speech (end_model none) closes the utterance while it is held."""
        vad = replace(self.cfg.vad, hangover_ms=max(self.cfg.vad.hangover_ms, HELD_HANGOVER_MS),
                      end_model="none")
        return Segmenter(vad, self.cfg.audio.block_ms)

    # --- running ----------------------------------------------------------------------------

    def run(self, pipeline: RunnablePipeline, dispatcher: Dispatcher,
            reload: Callable[[], list[str]], stamp: Callable[[], Hashable] | None = None) -> None:
        """Run until quit or stop(); re-raise what stopped the pipeline, if anything.
        `dispatcher`: the pipeline worker's, which the tray changes through the pipeline.
        `stamp`: the command files' state (CommandLibrary.stamp); when it changes, the
        commands are reloaded by themselves."""
        self._pipeline = pipeline
        self.controller.attach(pipeline, dispatcher, reload, self.stop, self._active_app)
        self._start_hotkey()
        if stamp is not None:
            self._watcher = ChangeWatcher(
                stamp, lambda: self.controller.reload_commands("a command file changed"))
            self._watcher.start()
        failure: list[BaseException] = []
        worker = threading.Thread(target=self._run_pipeline, args=(pipeline, failure),
                                  name="pipeline", daemon=True)
        worker.start()
        try:
            self._main_loop()
        finally:
            self.stop()
            worker.join(timeout=_JOIN_TIMEOUT_S)
            self._close()
        if failure:
            raise failure[0]

    def _main_loop(self) -> None:
        if not self._tray_wanted:
            while not self._stopping.wait(0.5):
                pass
            return
        from agent.desktop.tray import Tray

        self._tray = Tray(data_dir("assets") / "icons", self._menu, self._popup)
        self.controller.subscribe(self._tray.update)
        threading.Thread(target=self._stop_tray_on_stop, name="tray-stopper",
                         daemon=True).start()
        self._tray.run()

    def _stop_tray_on_stop(self) -> None:
        self._stopping.wait()
        self._tray.stop()

    def _run_pipeline(self, pipeline: RunnablePipeline, failure: list[BaseException]) -> None:
        try:
            pipeline.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised by run() on the main thread
            failure.append(exc)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop everything (any thread, signal handlers included; nothing here blocks)."""
        self._stopping.set()
        if self._pipeline is not None:
            self._pipeline.stop()

    def _close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self._hotkey is not None:
            self._hotkey.stop()
        self._popup.stop()
        self.cues.stop()
        self.notifier.stop()

    def _start_hotkey(self) -> None:
        d = self.cfg.desktop
        wanted = ListenStyle(d.listen)
        if d.hotkey_backend != "none":
            try:
                key = check_key(d.hotkey)
                self._hotkey = make_hotkey(pick_backend(d.hotkey_backend), key,
                                           self.controller.hotkey_down, self.controller.hotkey_up)
                self.controller.set_hotkey(display_name(key, d.hotkey_style == "toggle"))
            except HotkeyError as exc:
                log.warning("no push-to-talk hotkey: %s", exc)
        if wanted is ListenStyle.PUSH_TO_TALK:
            self.controller.set_style(wanted)  # says so if there is no hotkey
        log.info("%s", self.controller.status.tooltip())

    def _menu(self) -> tuple[Entry, ...]:
        return menu_entries(self.controller.status, list(self.controller.recent),
                            self.controller, self._open_commands_folder)

    def _open_commands_folder(self) -> None:
        folder = user_commands_dir(self.cfg.commands.user_dir)
        folder.mkdir(parents=True, exist_ok=True)
        open_folder(folder)


def open_folder(folder: Path) -> None:
    """Show a folder in the desktop's file manager (without waiting for it)."""
    if sys.platform == "win32":
        os.startfile(folder)  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        proc = subprocess.Popen([opener, str(folder)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError as exc:
        log.warning("cannot open %s with %s: %s", folder, opener, exc)
        return
    threading.Thread(target=proc.wait, name="opener", daemon=True).start()  # no zombie


def _said(record: dict[str, Any]) -> str:
    return record.get("command") or (f'"{record.get("text")}"' if record.get("text") else "-")
