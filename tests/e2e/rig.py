"""The end-to-end rig: the live agent (`voxagent run`, a subprocess) on the virtual
microphone (tests/integration/pulse.py), acting on a Tk window on Xvfb
(tests/integration/x11.py), optionally with a real tray host (trayer).

- `spoken(text)`: a WAV of `text` in flite's slt voice and where the voice is in it.
- `LiveAgent`: starts `voxagent run` with the microphone's environment and the
  display, reads its JSON lines and log lines as they come, stops it with SIGINT
  and checks it exits cleanly.
- `Trayer`, `find_window`, `grab`, `share_near`: the tray host, X windows by class,
  screen pixels, and how much of an image is close to a colour.
"""

from __future__ import annotations

import json
import queue
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from tests.integration import pulse
from tests.integration.test_microphone import Lines
from tests.integration.x11 import XServer, stop_process

REPO = Path(__file__).resolve().parents[2]
VOXAGENT = Path(sys.executable).with_name("voxagent")
RATE = pulse.RATE
START_TIMEOUT = 60.0
ICON_COLOURS = {
    "idle": (158, 158, 158), "listening": (46, 125, 50), "hearing": (30, 136, 229),
    "recognising": (249, 168, 37), "asleep": (94, 53, 177), "error": (211, 47, 47),
}
"""The disc colours packaging/make_assets.py paints the tray icons with."""


@dataclass(frozen=True)
class Spoken:
    path: Path
    on: float
    """Seconds into the file where the voice starts."""
    off: float
    """... and ends."""


@cache
def _speech_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="voxagent-e2e-speech-"))


@cache
def spoken(text: str) -> Spoken:
    """`text` spoken by flite (voice slt), cached for the session."""
    from agent.audio.file_source import read_audio

    assert shutil.which("flite"), "flite is not installed (see .ci/run)"
    wav = _speech_dir() / (text.replace(" ", "_") + ".wav")
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(wav)], check=True,
                   timeout=30)
    pcm = read_audio(wav)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 500)
    return Spoken(wav, loud[0] / RATE, (loud[-1] + 1) / RATE)


class LiveAgent:
    """`voxagent run` (live) as a subprocess; stop() ends it and returns its stderr."""

    def __init__(self, mic: pulse.VirtualMic, server: XServer | None, tmp: Path, *args: str,
                 config: str = "", session: dict[str, str] | None = None) -> None:
        """`server` None: no X display (DISPLAY unset); `session` None: no Wayland either
        (WAYLAND_DISPLAY unset), else the variables that point at a Wayland session."""
        self.mic = mic
        self.server = server
        self.state = tmp / "state"
        (tmp / "config").mkdir(parents=True, exist_ok=True)
        if config:
            (tmp / "config" / "config.toml").write_text(config)
        env = mic.env | {"VOXAGENT_CONFIG_DIR": str(tmp / "config"),
                         "VOXAGENT_STATE_DIR": str(self.state),
                         "PYTHONFAULTHANDLER": "1"}  # SIGABRT on a hang dumps every thread
        env = {k: v for k, v in env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        if server is not None:
            env["DISPLAY"] = server.display
        env |= session or {}
        self.proc = subprocess.Popen([str(VOXAGENT), "-v", "run", "--json", *args], env=env,
                                     cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.out, self.err = Lines(self.proc.stdout), Lines(self.proc.stderr)
        self.listening_at = self.err.wait_for("listening on the microphone", START_TIMEOUT)
        self.log_wait("voxagent: agent.desktop.session: ")  # the INFO status line: hotkey set up
        self.log_wait("microphone open")  # what is played from now on is heard

    def log_wait(self, needle: str, timeout: float = 20.0, count: int = 1) -> None:
        """Wait until `count` log lines (stderr, from the start) contain `needle`."""
        deadline = time.monotonic() + timeout
        while sum(needle in line for line in list(self.err.seen)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in the log within {timeout} s:\n"
                                     + "".join(self.err.seen))
            if self.proc.poll() is not None:
                raise AssertionError(f"voxagent exited waiting for {needle!r}:\n"
                                     + "".join(self.err.seen))
            time.sleep(0.05)

    def say(self, text: str, pause: float = 1.2) -> pulse.Clip:
        """Play `text` on the microphone, then `pause` seconds of silence; wait for the voice
        to be played; return its clip."""
        clip = self.mic.play_file(spoken(text).path)
        self.mic.silence(pause)
        clip.wait()
        return clip

    def next_json(self, timeout: float = 20.0) -> dict[str, Any]:
        return json.loads(self.out.next(timeout, "a JSON line")[1])

    def no_json(self, seconds: float) -> None:
        """Assert nothing is reported for `seconds`."""
        try:
            item = self.out.lines.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected output: {item!r}\n{''.join(self.err.seen)}")

    def stop(self) -> str:
        """SIGINT, as a user's Ctrl+C; the agent must exit 130 (as shells expect after
        Ctrl+C) within 10 s, no traceback."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # the threads' stacks go to stderr
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            raise AssertionError(f"voxagent ignored SIGINT:\n{self.err.text()}") from None
        err = self.err.text()
        assert status == 130, f"exit status {status}:\n{err}"
        assert "Traceback" not in err, err
        return err

    def history(self) -> list[dict[str, Any]]:
        path = self.state / "history.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] \
            if path.exists() else []


def xdotool(server: XServer, *args: str) -> str:
    done = subprocess.run(["xdotool", *args], env=server.env(), capture_output=True,
                          text=True, timeout=10, check=True)
    return done.stdout


class Trayer:
    """A real system tray host (trayer) in the screen's top left corner."""

    def __init__(self, server: XServer, log: Path) -> None:
        assert shutil.which("trayer"), "trayer is not installed (see .ci/run)"
        self.server = server
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["trayer", "--edge", "top", "--align", "left", "--widthtype", "request",
                 "--height", "32", "--transparent", "false", "--tint", "0x000000",
                 "--SetDockType", "false", "--SetPartialStrut", "false"],
                env=server.env(), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while not self.owns_tray():
            assert self.proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "trayer did not take the tray selection"
            time.sleep(0.1)

    def owns_tray(self) -> bool:
        from Xlib import X

        d = self.server.connect()
        try:
            owner = d.get_selection_owner(d.intern_atom("_NET_SYSTEM_TRAY_S0"))
            return owner not in (X.NONE, 0)
        finally:
            d.close()

    def raise_panel(self) -> None:
        """Put the tray panel above every other window (a window mapped later, such as the
        full-screen keylog window, would cover it: there is no window manager)."""
        from Xlib import X

        d = self.server.connect()
        try:
            for child in d.screen().root.query_tree().children:
                if child.get_wm_class() == ("panel", "trayer"):
                    child.configure(stack_mode=X.Above)
            d.sync()
        finally:
            d.close()

    def stop(self) -> None:
        stop_process(self.proc)


def find_window(server: XServer, wm_class: str, timeout: float = 20.0,
                viewable: bool = True) -> tuple[int, int, int, int]:
    """(x, y, width, height) on the screen of a window whose WM_CLASS has `wm_class`."""
    from Xlib import X

    deadline = time.monotonic() + timeout
    d = server.connect()
    try:
        while True:
            found = _search(d, d.screen().root, wm_class, viewable, X.IsViewable)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no window of class {wm_class} within {timeout} s")
            time.sleep(0.1)
    finally:
        d.close()


def _search(d: Any, window: Any, wm_class: str, viewable: bool, is_viewable: int
            ) -> tuple[int, int, int, int] | None:
    for child in window.query_tree().children:
        try:
            cls = child.get_wm_class() or ()
            attrs = child.get_attributes()
        except Exception:  # noqa: BLE001 - a window that vanished while we looked
            continue
        if wm_class in cls and (not viewable or attrs.map_state == is_viewable):
            geo = child.get_geometry()
            pos = child.translate_coords(d.screen().root, 0, 0)
            return -pos.x, -pos.y, geo.width, geo.height
        found = _search(d, child, wm_class, viewable, is_viewable)
        if found is not None:
            return found
    return None


def grab(server: XServer, box: tuple[int, int, int, int]) -> np.ndarray:
    """The screen's pixels in (x, y, width, height), as an RGB array."""
    from Xlib import X

    x, y, w, h = box
    d = server.connect()
    try:
        raw = d.screen().root.get_image(x, y, w, h, X.ZPixmap, 0xFFFFFFFF)
        pixels = np.frombuffer(raw.data, dtype=np.uint8).reshape(h, w, 4)
        return pixels[:, :, 2::-1].copy()  # BGRX -> RGB
    finally:
        d.close()


def share_near(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> float:
    """Share of pixels within `tolerance` (per channel) of `rgb`."""
    close = np.all(np.abs(pixels.astype(int) - np.array(rgb)) <= tolerance, axis=-1)
    return float(close.mean())
