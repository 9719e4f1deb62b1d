"""A virtual microphone for tests: a private PulseAudio daemon fed from a FIFO in real time.

`virtual_microphone()` (or the session fixture `virtual_mic`) starts a user-mode
PulseAudio daemon in a temporary folder, with no default configuration:

- `module-pipe-source` reads 16 kHz s16le mono from a FIFO (source `voxmic`, the
  default source);
- `module-null-sink` plus a `module-loopback` from `voxmic` into it keep the source
  running, so the FIFO is drained in real time even when nobody records (an idle
  pipe source stops reading: the FIFO would fill and a recorder connecting later
  would first get up to two seconds of stale audio in one burst);
- `module-native-protocol-unix` listens on a socket in the temporary folder.

A feeder thread writes the FIFO in 20 ms chunks paced by the monotonic clock,
silence when nothing is queued; `say(pcm)` and `play_file(path)` queue audio and
return a `Clip` that records when its first sample was written.

Clients reach the daemon through `VirtualMic.env`, an environment for subprocesses:
`PULSE_SERVER=unix:<socket>` and `XDG_CONFIG_HOME=<tmp>/config`, whose
`alsa/asoundrc` (read by alsa-lib after the system files) routes ALSA's `default`
PCM to PulseAudio and defines a PCM named `voxmic`. PortAudio (and so sounddevice)
talks to ALSA, and reaches PulseAudio through the ALSA pulse plugin
(`libasound2-plugins`, a dependency of the `pulseaudio` package). PortAudio lists
devices once, when it initialises: run microphone code in a subprocess with this
environment (the test process itself never imports sounddevice).

To share one daemon across modules, import the fixture into a conftest.py:
`from tests.integration.pulse import virtual_mic  # noqa: F401`.

`no_audio_env()` and `NO_AUDIO_PREFIX` give the opposite: a process that finds no
input device at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RATE = 16_000
CHUNK_S = 0.02
CHUNK_BYTES = int(RATE * CHUNK_S) * 2
SOURCE = "voxmic"
_START_TIMEOUT_S = 10.0
_DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
"""The daemon gets SIGTERM if the test process dies without tearing down (util-linux)."""

_ASOUNDRC = f"""\
# Written by tests/integration/pulse.py: ALSA clients record from the test PulseAudio.
pcm.!default {{
    type pulse
    hint {{
        show on
        description "PulseAudio (test daemon)"
    }}
}}
ctl.!default {{
    type pulse
}}
pcm.{SOURCE} {{
    type pulse
    device "{SOURCE}"
    hint {{
        show on
        description "voxagent virtual microphone (PulseAudio source {SOURCE})"
    }}
}}
"""


@dataclass
class Clip:
    """Audio queued on the virtual microphone."""

    pcm: bytes
    started_at: float = 0.0
    """time.monotonic() when its first sample was written to the FIFO (0 until then)."""
    ended_at: float = 0.0
    """time.monotonic() when its last sample had been written (0 until then)."""
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * RATE)

    def wait(self, timeout: float | None = None) -> Clip:
        """Block until the whole clip has been written; raise TimeoutError otherwise."""
        limit = self.seconds + 5.0 if timeout is None else timeout
        if not self._done.wait(limit):
            raise TimeoutError(f"clip of {self.seconds:.2f} s not played within {limit:.1f} s")
        return self


class _Feeder(threading.Thread):
    """Writes the FIFO in real time: queued clips, else silence."""

    def __init__(self, fifo: Path) -> None:
        super().__init__(name="virtual-mic-feeder", daemon=True)
        self._fd = os.open(fifo, os.O_WRONLY)  # the daemon holds it open: never blocks
        self._lock = threading.Lock()
        self._clips: list[Clip] = []
        self._offset = 0  # bytes of _clips[0] already written
        self._halt = threading.Event()
        self.error: BaseException | None = None
        self.late_chunks = 0
        """Chunks written more than 100 ms after their slot (the feeder fell behind)."""

    def queue(self, clip: Clip) -> Clip:
        if len(clip.pcm) % 2:
            raise ValueError("s16le audio must have an even number of bytes")
        with self._lock:
            self._clips.append(clip)
        return clip

    def clear(self) -> None:
        with self._lock:
            for clip in self._clips:
                clip._done.set()
            self._clips.clear()
            self._offset = 0

    def _next_chunk(self, now: float) -> bytes:
        out = bytearray()
        with self._lock:
            while len(out) < CHUNK_BYTES and self._clips:
                clip = self._clips[0]
                if self._offset == 0:
                    clip.started_at = now + len(out) / (2 * RATE)
                take = clip.pcm[self._offset: self._offset + CHUNK_BYTES - len(out)]
                out += take
                self._offset += len(take)
                if self._offset >= len(clip.pcm):
                    clip.ended_at = now + len(out) / (2 * RATE)
                    clip._done.set()
                    self._clips.pop(0)
                    self._offset = 0
        return bytes(out) + bytes(CHUNK_BYTES - len(out))

    def run(self) -> None:
        start = time.monotonic()
        n = 0
        try:
            while not self._halt.is_set():
                slot = start + n * CHUNK_S
                delay = slot - time.monotonic()
                if delay > 0 and self._halt.wait(delay):
                    break
                if time.monotonic() - slot > 0.1:
                    self.late_chunks += 1
                chunk = self._next_chunk(time.monotonic())
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self._fd, view):]
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by VirtualMic.check()
            self.error = exc

    def close(self) -> None:
        self._halt.set()
        self.join(timeout=2.0)
        os.close(self._fd)


@dataclass
class VirtualMic:
    """A running virtual microphone; see the module docstring."""

    root: Path
    env: dict[str, str]
    """Environment for subprocesses that record from it."""
    daemon: subprocess.Popen[bytes]
    feeder: _Feeder
    source: str = SOURCE
    """Name of the PulseAudio source, and of the ALSA PCM that records from it."""

    def say(self, pcm: bytes) -> Clip:
        """Queue s16le mono 16 kHz samples; they follow whatever is queued already."""
        self.check()
        return self.feeder.queue(Clip(bytes(pcm)))

    def silence(self, seconds: float) -> Clip:
        return self.say(bytes(2 * round(seconds * RATE)))

    def play_file(self, path: Path) -> Clip:
        """Queue an audio file (any rate, mono or stereo), converted to 16 kHz mono s16le."""
        from agent.audio.file_source import read_audio

        return self.say(read_audio(Path(path)).tobytes())

    def clear(self) -> None:
        """Drop the audio still queued (the microphone goes back to silence)."""
        self.feeder.clear()

    def check(self) -> None:
        """Raise if the daemon died or the feeder failed."""
        if self.daemon.poll() is not None:
            raise RuntimeError(f"PulseAudio exited with {self.daemon.returncode}:\n{self.log()}")
        if self.feeder.error is not None:
            raise RuntimeError(f"virtual microphone feeder failed: {self.feeder.error!r}")

    def log(self) -> str:
        path = self.root / "pulseaudio.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _wait_for_socket(path: Path, daemon: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"PulseAudio exited with {daemon.returncode} at start")
        if path.exists():
            with socket.socket(socket.AF_UNIX) as s, contextlib.suppress(OSError):
                s.connect(str(path))
                return
        time.sleep(0.05)
    raise RuntimeError(f"PulseAudio did not open {path} within {timeout:.0f} s")


def _stop_daemon(daemon: subprocess.Popen[bytes]) -> None:
    if daemon.poll() is None:
        daemon.terminate()
        try:
            daemon.wait(timeout=5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=5)


@contextlib.contextmanager
def virtual_microphone() -> Iterator[VirtualMic]:
    """Start the daemon and the feeder; stop both and remove every file on exit."""
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is not installed (Debian: apt-get install pulseaudio)")
    # a unix socket path must stay under 108 bytes
    short = "/tmp" if len(tempfile.gettempdir()) > 60 and os.path.isdir("/tmp") else None
    root = Path(tempfile.mkdtemp(prefix="voxmic-", dir=short))
    with contextlib.ExitStack() as cleanup:  # every step runs, even if one fails
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        runtime, config = root / "run", root / "config"
        for d in (runtime, config / "alsa", config / "pulse"):
            d.mkdir(parents=True, mode=0o700)
        (config / "alsa" / "asoundrc").write_text(_ASOUNDRC)
        fifo, sock = root / "mic.fifo", root / "native"
        script = root / "voxmic.pa"
        script.write_text(
            f"load-module module-pipe-source file={fifo} format=s16le rate={RATE} channels=1"
            f" source_name={SOURCE}\n"
            f"load-module module-null-sink sink_name=voxnull format=s16le rate={RATE}"
            " channels=1\n"
            f"load-module module-loopback source={SOURCE} sink=voxnull latency_msec=200\n"
            f"set-default-source {SOURCE}\n"
            "set-default-sink voxnull\n"
            # last: once the socket answers, everything above is in place
            f"load-module module-native-protocol-unix socket={sock} auth-anonymous=1\n"
        )
        daemon_env = {**os.environ, "HOME": str(root), "XDG_RUNTIME_DIR": str(runtime),
                      "PULSE_RUNTIME_PATH": str(runtime), "XDG_CONFIG_HOME": str(config),
                      "PULSE_STATE_PATH": str(root / "state")}
        daemon_env.pop("PULSE_SERVER", None)
        daemon_env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        with (root / "pulseaudio.log").open("wb") as log:
            daemon = subprocess.Popen(
                [*_DIE_WITH_PARENT, "pulseaudio", "-n", "-F", str(script), "--daemonize=no",
                 "--exit-idle-time=-1", "--use-pid-file=no", "--disallow-exit",
                 "--disallow-module-loading", "--realtime=no", "--high-priority=no",
                 "--disable-shm=yes", "--log-target=stderr", "--log-level=notice"],
                env=daemon_env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        cleanup.callback(_stop_daemon, daemon)
        try:
            _wait_for_socket(sock, daemon, _START_TIMEOUT_S)
        except RuntimeError as exc:
            log_text = (root / "pulseaudio.log").read_text(errors="replace")
            raise RuntimeError(f"{exc}\n{log_text}") from None
        feeder = _Feeder(fifo)
        feeder.start()
        cleanup.callback(feeder.close)
        env = {**os.environ, "PULSE_SERVER": f"unix:{sock}", "XDG_CONFIG_HOME": str(config),
               "PULSE_CLIENTCONFIG": os.devnull, "JACK_NO_START_SERVER": "1"}
        mic = VirtualMic(root, env, daemon, feeder)
        yield mic
        mic.check()


@pytest.fixture(scope="session")
def virtual_mic() -> Iterator[VirtualMic]:
    """The virtual microphone, shared by a whole test session."""
    with virtual_microphone() as mic:
        yield mic


NO_AUDIO_PREFIX: list[str] = (
    # Real sound cards (a developer's machine) are hidden behind an empty /dev/snd in a
    # private mount namespace; CI machines and containers have none.
    ["unshare", "--mount", "--map-root-user", "sh", "-c",
      'mount -t tmpfs none /dev/snd && exec "$@"', "sh"]
     if any(Path("/dev/snd").glob("controlC*")) else []
)
"""Command prefix that hides hardware sound cards from the command it runs."""


def no_audio_env(root: Path) -> dict[str, str]:
    """An environment in which PortAudio finds no input device (with NO_AUDIO_PREFIX).

    No sound server is reachable (PulseAudio, PipeWire and JACK all point at nothing)
    and no user ALSA configuration applies (HOME and XDG_CONFIG_HOME are empty folders).
    """
    home = root / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_RUNTIME_DIR": str(home), "PULSE_SERVER": f"unix:{root}/no-such-socket",
           "PULSE_CLIENTCONFIG": os.devnull, "PIPEWIRE_REMOTE": f"{root}/no-such-socket",
           "JACK_NO_START_SERVER": "1", "JACK_DEFAULT_SERVER": "voxagent-test-none"}
    for var in ("ALSA_CONFIG_PATH", "AUDIODEV", "DBUS_SESSION_BUS_ADDRESS"):
        env.pop(var, None)
    return env
