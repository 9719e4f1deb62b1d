"""The microphone: a sounddevice InputStream whose callback only enqueues.

The callback copies each block into a bounded queue and counts what it had to
drop; everything else (resampling, VAD) happens on the consumer's thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.messages import SAMPLE_RATE, AudioFrame

log = logging.getLogger(__name__)


class DeviceError(RuntimeError):
    """No usable input device; the message is one line."""


PORTAUDIO_LOCK = threading.Lock()
"""Held while PortAudio is re-initialised and while a sound cue plays, which must not
overlap (re-initialising closes every open stream)."""


def refresh_devices() -> None:
    """Make PortAudio list the devices again (it lists them once, when it starts), so a
    device plugged in after start can be found. Streams open elsewhere are closed."""
    import sounddevice as sd

    with PORTAUDIO_LOCK:
        try:
            sd._terminate()
            sd._initialize()
        except sd.PortAudioError as exc:
            raise DeviceError(f"audio system unavailable: {exc}") from None


@dataclass(frozen=True)
class InputDevice:
    index: int
    """PortAudio's device index (for a PulseAudio source: of the device that reaches it)."""
    name: str
    channels: int
    default_rate: float
    is_default: bool
    pulse_source: str = ""
    """A PulseAudio/PipeWire source recorded through `index` (PULSE_SOURCE); "" = none."""


PULSE_PREFIX = "pulse:"
"""How PulseAudio/PipeWire sources are named in the device list ("pulse:<source>")."""
_PACTL_TIMEOUT_S = 5.0


def list_input_devices() -> list[InputDevice]:
    """Every device with input channels, as PortAudio sees them; then, where PortAudio
    reaches a PulseAudio or PipeWire server (its `pulse` or `default` device), each of
    the server's sources ("pulse:<name>"), which PortAudio does not list."""
    import sounddevice as sd

    try:
        default_in = sd.default.device[0]
        devices = sd.query_devices()
    except sd.PortAudioError as exc:
        raise DeviceError(f"audio system unavailable: {exc}") from None
    found = [
        InputDevice(i, d["name"], d["max_input_channels"], d["default_samplerate"],
                    i == default_in)
        for i, d in enumerate(devices) if d["max_input_channels"] > 0
    ]
    via = next((d for name in ("pulse", "default") for d in found if d.name == name), None)
    if via is None:
        return found
    return found + [InputDevice(via.index, PULSE_PREFIX + name, channels, rate, False, name)
                    for name, channels, rate in pulse_sources()]


def pulse_sources() -> list[tuple[str, int, float]]:
    """(name, channels, rate) of each source of the PulseAudio or PipeWire server, by
    `pactl list short sources`; [] when there is no pactl or no server."""
    pactl = shutil.which("pactl")
    if pactl is None:
        return []
    try:
        done = subprocess.run([pactl, "list", "short", "sources"], capture_output=True,
                              text=True, timeout=_PACTL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("no PulseAudio sources: %s", exc)
        return []
    out = []
    for line in done.stdout.splitlines() if done.returncode == 0 else []:
        fields = line.split("\t")
        if len(fields) < 4:
            continue
        spec = re.search(r"(\d+)ch (\d+)Hz", fields[3])
        out.append((fields[1], int(spec.group(1)) if spec else 1,
                    float(spec.group(2)) if spec else float(SAMPLE_RATE)))
    return out


def find_device(spec: str) -> InputDevice | None:
    """The device a config value names: "" (the default: None), an index, part of a
    name, or a PulseAudio/PipeWire source ("pulse:NAME", or part of NAME)."""
    devices = list_input_devices()
    if not devices:
        raise DeviceError("no audio input device found (try --input FILE to run on a recording)")
    if spec == "":
        return None
    if spec.isdigit():
        exact = [d for d in devices if d.index == int(spec) and not d.pulse_source]
        if exact:
            return exact[0]
        raise DeviceError(f"no input device with index {spec}; see `voxagent devices`")
    wanted = spec.lower()
    matches = ([d for d in devices if d.name.lower() == wanted]
               or [d for d in devices if wanted in d.name.lower()])
    if not matches:
        raise DeviceError(f"no input device named like '{spec}'; see `voxagent devices`")
    return matches[0]


def resolve_device(spec: str) -> int | None:
    """A device index from a config value (see find_device)."""
    found = find_device(spec)
    return None if found is None else found.index


@contextlib.contextmanager
def _pulse_source(name: str) -> Iterator[None]:
    """PULSE_SOURCE set to `name` while a stream opens (the ALSA pulse plugin connects
    then, to the source libpulse reads from it); as it was afterwards."""
    if not name:
        yield
        return
    before = os.environ.get("PULSE_SOURCE")
    os.environ["PULSE_SOURCE"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PULSE_SOURCE", None)
        else:
            os.environ["PULSE_SOURCE"] = before


class MicSource:
    """16 kHz mono int16 frames from an input device."""

    def __init__(self, device: str = "", block_ms: int = 30, queue_blocks: int = 300,
                 stall_s: float = 2.0) -> None:
        self._device = device
        self._stall_s = stall_s
        """No block for this long from a running stream means the device is gone."""
        self._block = SAMPLE_RATE * block_ms // 1000
        # each block with the overrun count when it was queued: a gap goes where it happened
        self._queue: queue.Queue[tuple[np.ndarray, int] | None] = queue.Queue(
            maxsize=queue_blocks)
        self._stop = threading.Event()
        self.overruns = 0
        """Blocks the callback could not enqueue (the consumer fell behind)."""
        self.status_flags = 0
        """PortAudio input overflow reports."""
        self.started_at = 0.0

    def _callback(self, indata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        if status:
            self.status_flags += 1
        try:
            self._queue.put_nowait((indata[:, 0].copy(), self.overruns))
        except queue.Full:
            self.overruns += 1

    def _open(self) -> tuple[Any, int]:
        import sounddevice as sd

        device = find_device(self._device)
        index = None if device is None else device.index
        if device is not None and device.pulse_source:
            log.info("recording from PulseAudio source %s", device.pulse_source)
        try:
            with _pulse_source(device.pulse_source if device else ""):
                stream = sd.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="int16",
                                        blocksize=self._block, device=index,
                                        callback=self._callback)
            return stream, SAMPLE_RATE
        except sd.PortAudioError:
            rate = int(sd.query_devices(index, "input")["default_samplerate"])
            log.info("device does not take %d Hz; recording at %d Hz and resampling",
                     SAMPLE_RATE, rate)
            block = rate * self._block // SAMPLE_RATE
            try:
                with _pulse_source(device.pulse_source if device else ""):
                    stream = sd.InputStream(samplerate=rate, channels=1, dtype="int16",
                                            blocksize=block, device=index,
                                            callback=self._callback)
            except sd.PortAudioError as exc:
                raise DeviceError(f"cannot open input device: {exc}") from None
            return stream, rate

    def frames(self) -> Iterator[AudioFrame]:
        """Blocks as they arrive; stream time counts samples delivered."""
        stream, rate = self._open()
        resampler = _Resampler(rate) if rate != SAMPLE_RATE else None
        pending = np.zeros(0, dtype="<i2")
        produced = 0
        last_overruns = last_flags = 0
        with _started(stream):
            self.started_at = last_block = time.monotonic()
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=0.5)
                except queue.Empty:
                    self._check_alive(stream, last_block)
                    continue
                last_block = time.monotonic()
                if item is None:
                    break
                block, overruns = item
                if overruns != last_overruns:  # blocks were dropped just before this one
                    log.warning("audio queue full: %d blocks dropped so far", overruns)
                    produced += (overruns - last_overruns) * self._block  # keep stream time
                    last_overruns = overruns
                if self.status_flags != last_flags:
                    log.warning("audio device reported %d input overflows so far",
                                self.status_flags)
                    last_flags = self.status_flags
                pending = np.concatenate([pending, resampler(block) if resampler else block])
                while len(pending) >= self._block:
                    chunk, pending = pending[: self._block], pending[self._block:]
                    yield AudioFrame(pcm=chunk.astype("<i2").tobytes(),
                                     start=produced / SAMPLE_RATE)
                    produced += self._block
        if self.overruns != last_overruns:  # dropped after the last block we read
            log.warning("audio queue full: %d blocks dropped in all", self.overruns)

    def _check_alive(self, stream: Any, last_block: float) -> None:
        """Raise DeviceError if the stream ended or went quiet (a device unplugged, a
        sound server gone or suspended): a live input delivers blocks all the time."""
        if self._stop.is_set():
            return
        if not stream.active:
            raise DeviceError("the input device stopped")
        if time.monotonic() - last_block > self._stall_s:
            raise DeviceError(f"no audio from the input device for {self._stall_s:g} s")

    def stop(self) -> None:
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            log.debug("queue full at stop; the reader sees the stop event within 0.5 s")


@contextlib.contextmanager
def _started(stream: Any) -> Iterator[None]:
    """The stream, started and finally closed; PortAudio failures become DeviceError."""
    import sounddevice as sd

    try:
        stream.start()
    except sd.PortAudioError as exc:
        stream.close(ignore_errors=True)
        raise DeviceError(f"cannot start the input device: {exc}") from None
    try:
        yield
    finally:
        try:
            stream.abort(ignore_errors=True)
        finally:
            stream.close(ignore_errors=True)


class _Resampler:
    def __init__(self, rate: int) -> None:
        import soxr

        self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="int16")

    def __call__(self, block: np.ndarray) -> np.ndarray:
        return self._stream.resample_chunk(block)
