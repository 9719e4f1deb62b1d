"""A live source that outlives its device: when the microphone fails or vanishes, it
says so once, retries every few seconds, and carries on when a device answers again.

Stream time keeps counting across the gap (frames after a reopen carry the wall time
since the first start), so utterance times stay in order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

from agent.audio.mic_source import DeviceError
from agent.messages import AudioFrame

log = logging.getLogger(__name__)


class LiveSource(Protocol):
    started_at: float

    def frames(self) -> Iterator[AudioFrame]: ...

    def stop(self) -> None: ...


FaultCallback = Callable[[str | None], None]
"""Told the fault (one line) when the device fails, and None when it works again."""


class RetryingSource:
    def __init__(self, make: Callable[[], LiveSource], retry_s: float = 2.0,
                 on_fault: FaultCallback | None = None,
                 refresh: Callable[[], None] | None = None) -> None:
        self._make = make
        self._retry_s = retry_s
        self._on_fault = on_fault or (lambda _: None)
        self._refresh = refresh
        """Called before each retry (PortAudio lists devices only when it starts)."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: LiveSource | None = None
        self.started_at = 0.0
        self.faults = 0
        """Times the device failed after working (or failed to open at first)."""

    def frames(self) -> Iterator[AudioFrame]:
        fault: str | None = None
        while not self._stop.is_set():
            source = self._make()
            with self._lock:
                self._current = source
            if self._stop.is_set():
                return
            try:
                for frame in source.frames():
                    if fault is not None:
                        fault = self._recovered(fault)
                    yield self._shifted(source, frame)
                if self._stop.is_set():
                    return
                raise DeviceError("the input stream ended")
            except DeviceError as exc:
                fault = self._failed(fault, str(exc))
            self._stop.wait(self._retry_s)
            self._retry_refresh()

    def _shifted(self, source: LiveSource, frame: AudioFrame) -> AudioFrame:
        if not self.started_at:
            self.started_at = source.started_at
            log.info("microphone open: stream time starts")
        offset = source.started_at - self.started_at
        return AudioFrame(frame.pcm, frame.start + offset) if offset else frame

    def _failed(self, fault: str | None, message: str) -> str:
        if fault is None:
            self.faults += 1
            log.warning("microphone failed: %s; retrying every %g s", message, self._retry_s)
            self._on_fault(message)
        elif message != fault:
            log.info("microphone still unavailable: %s", message)
        return message

    def _recovered(self, fault: str) -> None:
        log.warning("microphone is back (after: %s); listening again", fault)
        self._on_fault(None)

    def _retry_refresh(self) -> None:
        if self._refresh is None or self._stop.is_set():
            return
        try:
            self._refresh()
        except DeviceError as exc:
            log.info("cannot refresh the device list: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            current = self._current
        if current is not None:
            current.stop()
