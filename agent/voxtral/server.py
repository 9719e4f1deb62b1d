"""The vLLM server manager: start it, know when it is ready, restart it after a crash with
backoff, and stop it (SIGTERM, then SIGKILL after a grace period) when asked or when the
agent exits.

One monitor thread owns the process: it spawns it (so the child's parent-death signal is
tied to a thread that lives as long as the server should), polls `/health` until it
answers 200 (connection refused = still starting), waits for it to exit, and restarts it
after `Supervision.restart_backoff_s`, doubled per crash in a row, at most `max_restarts`
times.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.asr.base import ModelError
from agent.asr.config import VoxtralConfig
from agent.asr.voxtral_client import ServerError
from agent.voxtral import launch, models

log = logging.getLogger(__name__)

_POLL_S = 0.25
_MAX_BACKOFF_S = 60.0
STABLE_S = 60.0
"""A server that ran this long before it crashed starts a new count of crashes in a row."""
_LIVE: set[ServerManager] = set()
_LIVE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Supervision:
    """How a server's crashes and stop are handled: fixed, not settings (tests shorten
    them)."""

    restart_backoff_s: float = 2.0
    """First wait before restarting a crashed server; doubled per crash in a row."""
    max_restarts: int = 5
    """Crashes in a row after which the server is left down."""
    stop_grace_s: float = launch.STOP_GRACE_S
    """After SIGTERM, seconds before SIGKILL."""


class ServerManager:
    """A local vLLM server we started and own."""

    def __init__(self, cfg: VoxtralConfig, argv: list[str], url: str, log_file: Path,
                 env: dict[str, str] | None = None,
                 supervision: Supervision = Supervision()) -> None:
        self.cfg = cfg
        self.supervision = supervision
        self.argv = argv
        self.url = url
        self.log_file = log_file
        self._env = env if env is not None else launch.server_env(cfg)
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self.state = "stopped"
        """stopped, starting, ready, restarting or failed."""
        self.error = ""
        """Why the last start failed or the server stopped, one line ("" when it did not)."""
        self.starts = 0
        self.failures = 0
        """Start attempts that failed and lives that ended in a crash."""
        self.on_ready: Callable[[], None] | None = None
        self.stable_s = STABLE_S

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the server in the background; `wait_ready` waits for it."""
        if self._thread is not None:
            return
        _register(self)
        self._thread = threading.Thread(target=self._monitor, name="vllm-monitor", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until /health answers 200; raise ServerError (with the log's tail) if this
        start attempt fails, the server gives up, or `timeout` passes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self.state != "ready":
                if self.failures or self.state == "failed":
                    raise ServerError(self.error)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise ServerError(f"vLLM is not ready after {timeout:g} s "
                                      f"(still {self.state}); log: {self.log_file}")
                self._cond.wait(_POLL_S if left is None else min(left, _POLL_S))

    def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after the grace period) and its monitor."""
        self._stopping.set()
        self._end(self._proc)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.supervision.stop_grace_s + 10)
        self._end(self._proc)  # one the monitor spawned while we were stopping
        with _LIVE_LOCK:
            _LIVE.discard(self)
        self._set("stopped")

    def _end(self, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None:
            return
        if proc.poll() is None:
            how = launch.terminate(proc.pid, self.supervision.stop_grace_s, proc)
            log.info("vLLM (pid %d) stopped: %s", proc.pid, how)
        launch.remove_record(self.cfg.port, proc.pid)

    def _set(self, state: str, error: str = "") -> None:
        """Move to `state`; a non-empty `error` is a failure (and the message to show)."""
        with self._cond:
            self.state = state
            if error:
                self.error = error
                self.failures += 1
            self._cond.notify_all()

    def _monitor(self) -> None:
        """The thread's body: supervise, and end with one line whatever goes wrong."""
        try:
            self._supervise()
        except Exception as exc:  # noqa: BLE001 - the thread must not die with a traceback
            log.error("vLLM monitor stopped: %s: %s", type(exc).__name__, exc)
            self._end(self._proc)
            with self._cond:
                self.state, self.error = "failed", f"the monitor failed: {exc}"
                self.failures += 1
                self._cond.notify_all()

    def _supervise(self) -> None:
        crashes = 0
        while not self._stopping.is_set():
            self._set("starting" if crashes == 0 else "restarting")
            outcome = self._run_once()
            if self._stopping.is_set():
                return
            crashes = 0 if outcome == "stable" else crashes + 1
            if crashes > self.supervision.max_restarts:
                with self._cond:
                    self.state = "failed"
                    if crashes > 1:
                        self.error += f" (gave up after {crashes} failed starts in a row)"
                    self._cond.notify_all()
                log.error("vLLM left down: %s", self.error)
                return
            first = self.supervision.restart_backoff_s
            delay = min(_MAX_BACKOFF_S, first * 2 ** max(0, crashes - 1))
            log.warning("vLLM stopped (%s); restarting in %.1f s", self.error, delay)
            if self._stopping.wait(delay):
                return

    def _run_once(self) -> str:
        """One life of the server: "stable" if it ran `stable_s` after it became ready,
        else "failed"."""
        try:
            proc = launch.start_recorded(self.argv, self._env, self.log_file, self.cfg.port,
                                         os.getpid(), self.supervision.stop_grace_s)
        except ServerError as exc:
            self._set("restarting", str(exc))
            return "failed"
        self._proc = proc
        self.starts += 1
        ready = self._await_health(proc)
        if ready:
            log.warning("vLLM ready at %s (pid %d)", self.url, proc.pid)
            self._set("ready")
            if self.on_ready is not None:
                self.on_ready()
            up_since = time.monotonic()
            code = proc.wait()
            if not self._stopping.is_set():
                self._set("restarting", f"vLLM exited with status {code}: {self._tail()}")
            if time.monotonic() - up_since >= self.stable_s:
                return "stable"
        return "failed"

    def _await_health(self, proc: subprocess.Popen[bytes]) -> bool:
        error = launch.await_ready(proc, self.url, self.cfg.startup_timeout_s, self.log_file,
                                   self._stopping)
        if error and not self._stopping.is_set():
            self._set("restarting", error)
        return not error

    def _tail(self) -> str:
        return launch.tail_line(self.log_file)


def _register(manager: ServerManager) -> None:
    """Make sure the server dies with the agent: atexit, and SIGTERM/SIGHUP turned into a
    normal exit where nobody handles them yet.  SIGKILL is covered by the child's
    parent-death signal."""
    with _LIVE_LOCK:
        first = not _LIVE and not getattr(_register, "done", False)
        _LIVE.add(manager)
        _register.done = True  # type: ignore[attr-defined]
    if not first:
        return
    atexit.register(stop_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)


def stop_all() -> None:
    """Stop every server this process started (atexit)."""
    with _LIVE_LOCK:
        managers = list(_LIVE)
    for manager in managers:
        manager.stop()


def start_local(cfg: VoxtralConfig, url: str, background: bool,
                started: Callable[[ServerManager], None],
                supervision: Supervision = Supervision()) -> None:
    """Start vLLM on the weights (downloaded first when absent) and hand its manager to
    `started` before it runs: the ServerStarter that Voxtral's backends are given. With
    `background` and no weights yet, the download and the start run on a thread."""
    launch.preflight(cfg)
    if background and not models.status(cfg).present:
        threading.Thread(target=_download_and_start, args=(cfg, url, started, supervision),
                         name="voxtral-start", daemon=True).start()
        return
    _launch(cfg, url, str(models.ensure(cfg)), started, supervision)


def _download_and_start(cfg: VoxtralConfig, url: str, started: Callable[[ServerManager], None],
                        supervision: Supervision) -> None:
    try:
        _launch(cfg, url, str(models.ensure(cfg)), started, supervision)
    except (ModelError, ServerError) as exc:
        log.error("voxtral: %s", exc)


def _launch(cfg: VoxtralConfig, url: str, model_path: str,
            started: Callable[[ServerManager], None], supervision: Supervision) -> None:
    manager = ServerManager(cfg, launch.server_argv(cfg, model_path), url, launch.log_path(cfg),
                            supervision=supervision)
    started(manager)
    manager.start()
