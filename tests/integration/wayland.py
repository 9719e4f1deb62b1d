"""Wayland fixtures: a private headless sway and a wev window that reports the keys it gets.

Use them by naming the fixtures in a test module (as with tests/integration/x11.py):

    from tests.integration import wayland

    sway, wev_window, wl_keylog = wayland.sway, wayland.wev_window, wayland.wl_keylog

sway refuses to run as root, and CI runs as root: `sway` (session) makes the system user
`voxwl` if it is missing, gives it a private XDG_RUNTIME_DIR (0700, under /tmp) and runs
`runuser -u voxwl -- env -i ... sway` with the headless backend, the pixman renderer, no
libinput devices and no XWayland.  The agent and the tests stay root and reach the
compositor's socket in that folder because root passes its permissions (no folder is
opened up to others).

A headless sway has no keyboard of its own, so its seat gains the keyboard capability
only while some virtual keyboard exists: a client then binds a new wl_keyboard as each
wtype run starts and can miss the first key.  A real desktop always has a keyboard; so
does this one: `sway` keeps a standing wtype (sleeping an hour, pressing nothing) alive.

`wev_window` (module) runs `wev -f wl_keyboard` in that session (its stdout line
buffered through stdbuf) and waits for it to get the keyboard focus; `wl_keylog`
(function) points this process's environment at the session (no DISPLAY) and drains
what earlier tests left.  `WevWindow.sync()` types the sync key (Pause) with wtype and
returns everything the window saw before it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.x11 import stop_process

USER = "voxwl"
START_TIMEOUT = 30.0
SYNC_KEY = "Pause"
TOOLS = ("sway", "swaymsg", "wev", "wtype", "stdbuf", "runuser", "useradd")


class WaylandError(RuntimeError):
    """The compositor or the test window did not behave."""


def require_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise WaylandError(f"missing {', '.join(missing)}: install sway wev wtype (see .ci/run)")


def ensure_user(name: str = USER) -> None:
    """The unprivileged system user sway runs as (made once; another test process may
    make it at the same time)."""
    if subprocess.run(["id", "-u", name], check=False, capture_output=True).returncode == 0:
        return
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                           "/usr/sbin/nologin", name], check=False, capture_output=True,
                          text=True)
    if made.returncode not in (0, 9):  # 9: the name exists by now
        raise WaylandError(f"useradd {name} failed: {made.stderr.strip()}")


@dataclass
class Sway:
    """A running headless sway."""

    runtime_dir: Path
    socket: str
    process: subprocess.Popen[bytes]
    log: Path
    keyboard: subprocess.Popen[bytes] | None = None
    """The standing virtual keyboard (see the module doc)."""

    def session_vars(self) -> dict[str, str]:
        """The variables a desktop session sets, pointing at this one."""
        return {"WAYLAND_DISPLAY": self.socket, "XDG_RUNTIME_DIR": str(self.runtime_dir),
                "XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "sway",
                "SWAYSOCK": str(self.ipc_socket())}

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment pointed at this session, with no DISPLAY."""
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "XAUTHORITY")}
        return {**env, **self.session_vars(), **extra}

    def user_argv(self, *argv: str) -> list[str]:
        """`argv` run as the session's user, in a clean environment pointed at it."""
        return ["runuser", "-u", USER, "--", "env", "-i", "PATH=/usr/bin:/bin",
                f"XDG_RUNTIME_DIR={self.runtime_dir}", f"WAYLAND_DISPLAY={self.socket}",
                *argv]

    def ipc_socket(self) -> Path:
        return next(self.runtime_dir.glob("sway-ipc.*.sock"))

    def inputs(self) -> list[dict[str, Any]]:
        out = subprocess.run(["swaymsg", "-s", str(self.ipc_socket()), "-t", "get_inputs", "-r"],
                             capture_output=True, text=True, timeout=10, check=True)
        return list(json.loads(out.stdout))


def _wait_for(what: str, found: Any, proc: subprocess.Popen[bytes], log: Path,
              timeout: float = START_TIMEOUT) -> Any:
    """Poll `found()` until it gives something; WaylandError if `proc` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise WaylandError(f"{what}: {log.read_text(errors='replace')[-2000:]}")


def start_sway(runtime_dir: Path) -> Sway:
    """Start sway in `runtime_dir` (owned by USER, 0700); return once a keyboard is in
    its seat."""
    shutil.chown(runtime_dir, USER, USER)
    runtime_dir.chmod(0o700)
    config = runtime_dir / "sway.conf"
    config.write_text("xwayland disable\n")
    log = runtime_dir / "sway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["runuser", "-u", USER, "--", "env", "-i", "PATH=/usr/bin:/bin",
             f"XDG_RUNTIME_DIR={runtime_dir}", "WLR_BACKENDS=headless",
             "WLR_LIBINPUT_NO_DEVICES=1", "WLR_RENDERER=pixman", "sway", "-c", str(config)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    socket = _wait_for("sway did not start", lambda: next(
        (p.name for p in runtime_dir.glob("wayland-*") if p.is_socket()), ""), proc, log)
    session = Sway(runtime_dir, socket, proc, log)
    _wait_for("no sway IPC socket", lambda: any(runtime_dir.glob("sway-ipc.*.sock")), proc, log)
    session.keyboard = subprocess.Popen(session.user_argv("wtype", "-s", "3600000"),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_for("the standing keyboard did not join the seat", lambda: any(
        i["type"] == "keyboard" for i in session.inputs()), proc, log)
    return session


_KEY = re.compile(r"\] key: .*; key: (\d+); state: (\d)")
_SYM = re.compile(r"^\s+sym: (\S+)\s+\(\d+\), utf8: '(.*)'$", re.DOTALL)
_DEPRESSED = re.compile(r"^\s+depressed: [0-9a-fA-F]+:?(.*)$")


@dataclass
class Received:
    """What the window reported up to a sync."""

    events: list[dict[str, Any]]

    @property
    def keys(self) -> list[dict[str, Any]]:
        """Key presses: keysym, the character, the modifiers held (names)."""
        return [e for e in self.events if e["event"] == "key" and e["pressed"]]

    @property
    def text(self) -> str:
        special = {"Return": "\n", "Tab": "\t"}
        return "".join(special.get(k["keysym"], k["char"]) for k in self.keys)


@dataclass
class WevWindow:
    """The running `wev`: its key events as dicts, in order."""

    session: Sway
    process: subprocess.Popen[bytes]
    events: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, session: Sway) -> WevWindow:
        proc = subprocess.Popen(session.user_argv("stdbuf", "-oL", "wev", "-f", "wl_keyboard"),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        win = cls(session, proc)
        threading.Thread(target=win._pump, daemon=True).start()
        win._next(lambda e: e["event"] == "enter", START_TIMEOUT)
        return win

    def _pump(self) -> None:
        """wev's lines -> events: a key or enter header, then its sym lines; a
        modifiers header, then the depressed modifiers' names.  Lines end at "\n" only:
        Return's utf8 is a raw "\r"."""
        assert self.process.stdout is not None
        mods: frozenset[str] = frozenset()
        last: dict[str, Any] | None = None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").removesuffix("\n")
            key, sym, held = _KEY.search(line), _SYM.match(line), _DEPRESSED.match(line)
            if key:
                last = {"event": "key", "code": int(key[1]), "pressed": key[2] == "1",
                        "mods": mods}
            elif sym and last is not None and last["event"] == "key":
                self.events.put(last | {"keysym": sym[1], "char": sym[2]})
                last = None
            elif held:
                mods = frozenset(held[1].split())
            elif "] enter:" in line or "] leave:" in line:
                last = {"event": "enter" if "enter" in line else "leave"}
                self.events.put(last)
        self.events.put(None)

    def _next(self, wanted: Any, timeout: float, seen: list[dict[str, Any]] | None = None
              ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise WaylandError(f"wev did not answer in {timeout} s") from None
            if event is None:
                raise WaylandError(f"wev exited: {self.session.log.read_text()[-2000:]}")
            if wanted(event):
                return event
            if seen is not None:
                seen.append(event)

    def sync(self, timeout: float = 30.0) -> Received:
        """Type the sync key with wtype; everything received before it."""
        subprocess.run(self.session.user_argv("wtype", "-k", SYNC_KEY), check=True,
                       timeout=timeout)
        events: list[dict[str, Any]] = []
        self._next(lambda e: e.get("keysym") == SYNC_KEY and e["pressed"], timeout, events)
        self._next(lambda e: e.get("keysym") == SYNC_KEY and not e["pressed"], timeout)
        return Received(events)

    def stop(self) -> None:
        stop_group(self.process)


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """End a process started in its own session through runuser, and what it started
    (runuser does not pass SIGTERM on to its child)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    stop_process(proc)


def stop_sway(session: Sway) -> None:
    if session.keyboard is not None:
        stop_group(session.keyboard)
    stop_group(session.process)


@pytest.fixture(scope="session")
def sway() -> Iterator[Sway]:
    require_tools()
    ensure_user()
    runtime_dir = Path(tempfile.mkdtemp(prefix="voxagent-sway-"))
    try:
        session = start_sway(runtime_dir)
        try:
            yield session
        finally:
            stop_sway(session)
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def wev_window(sway: Sway) -> Iterator[WevWindow]:
    win = WevWindow.start(sway)
    try:
        yield win
    finally:
        win.stop()


@pytest.fixture
def wl_keylog(wev_window: WevWindow, sway: Sway, monkeypatch: pytest.MonkeyPatch) -> WevWindow:
    """The wev window, emptied; this process's environment points at its session."""
    for name, value in sway.env().items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    for name in ("DISPLAY", "XAUTHORITY"):
        monkeypatch.delenv(name, raising=False)
    wev_window.sync()
    return wev_window
