"""Short sound cues (assets/sounds/<cue>.wav) played on the default output device.

One player thread takes cues from a small queue (a full queue drops the cue: feedback
never holds anything up). If the output device cannot be opened, that is said once and
the cues stop.
"""

from __future__ import annotations

import logging
import queue
import threading
from enum import StrEnum
from pathlib import Path
from typing import Any

from agent.audio.mic_source import PORTAUDIO_LOCK

log = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 2.0


class Cue(StrEnum):
    LISTENING = "listening"
    DONE = "done"
    NOT_UNDERSTOOD = "not_understood"
    ASLEEP = "asleep"


def load_cues(folder: Path) -> dict[Cue, tuple[Any, int]]:
    """Each cue's samples (float32) and rate; a missing or broken file is logged and left out."""
    import soundfile

    cues: dict[Cue, tuple[Any, int]] = {}
    for cue in Cue:
        path = folder / f"{cue.value}.wav"
        try:
            data, rate = soundfile.read(str(path), dtype="float32")
        except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
            log.warning("sound cue %s unavailable: %s", path, exc)
            continue
        cues[cue] = (data, rate)
    return cues


class CuePlayer:
    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self._cues = load_cues(folder) if enabled else {}
        self._queue: queue.Queue[Cue | None] = queue.Queue(maxsize=4)
        self._thread: threading.Thread | None = None
        self.played: list[Cue] = []
        """Cues played so far (for the log and the tests)."""

    def seconds(self, cue: Cue) -> float:
        data = self._cues.get(cue)
        return len(data[0]) / data[1] if data is not None else 0.0

    def play(self, cue: Cue) -> float:
        """Queue a cue; returns its length in seconds (0 when it will not play)."""
        if not self.enabled or cue not in self._cues:
            return 0.0
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cues", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait(cue)
        except queue.Full:
            log.debug("cue %s dropped: cues are queued already", cue.value)
            return 0.0
        return self.seconds(cue)

    def _run(self) -> None:
        import sounddevice as sd

        while (cue := self._queue.get()) is not None:
            data, rate = self._cues[cue]
            try:
                with PORTAUDIO_LOCK:  # high latency: a busy recogniser must not underrun it
                    sd.play(data, rate, blocking=True, latency="high")
            except (sd.PortAudioError, ValueError) as exc:
                log.warning("sound cues off: cannot play on the output device: %s", exc)
                self.enabled = False
                return
            self.played.append(cue)
            log.debug("cue %s played", cue.value)

    def stop(self) -> None:
        if self._thread is None:
            return
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            log.debug("cue queue full at stop; the player is a daemon thread")
            return
        self._thread.join(timeout=_JOIN_TIMEOUT_S)
