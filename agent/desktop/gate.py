"""The capture gate: which microphone frames reach the segmenter, frame by frame.

A pure state machine on the monotonic clock (a lock makes it safe from the hotkey, tray
and processing threads; a frame is judged by the time it arrived): listening off,
hands-free, push-to-talk, and muted while a sound cue plays (docs/desktop.md, "How the
desktop parts work").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from agent.messages import ListenStyle


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with the frame that arrived now."""

    take: bool
    """Feed it to the segmenter (else drop it and forget any open utterance)."""
    style: ListenStyle
    """Which segmenter: voice-activity (hands-free) or held open (push-to-talk)."""
    close: bool = False
    """Push-to-talk ended: close the open utterance now, before anything else."""
    muted: bool = False
    """Skip the frame but keep any open utterance (a cue is playing)."""


class CaptureGate:
    def __init__(self, style: ListenStyle = ListenStyle.HANDS_FREE, enabled: bool = True, *,
                 toggle: bool = False, click_guard_s: float = 0.12,
                 release_tail_s: float = 0.15) -> None:
        self._lock = threading.Lock()
        self._style = style
        self._enabled = enabled
        self._toggle = toggle
        self._guard = click_guard_s
        self._tail = release_tail_s
        self._open_at: float | None = None
        """Push-to-talk: frames arriving from this time on are taken."""
        self._close_at: float | None = None
        """Push-to-talk: at this time the utterance is closed and the gate shuts."""
        self._muted_until = 0.0

    @property
    def style(self) -> ListenStyle:
        return self._style

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def held(self) -> bool:
        """Push-to-talk is open (the key is down, or toggled on)."""
        with self._lock:
            return self._open_at is not None and self._close_at is None

    def set_enabled(self, on: bool) -> None:
        with self._lock:
            self._enabled = on
            self._open_at = self._close_at = None

    def set_style(self, style: ListenStyle) -> None:
        with self._lock:
            self._style = style
            self._open_at = self._close_at = None

    def key_down(self, at: float) -> bool:
        """The hotkey went down; returns whether push-to-talk opened."""
        with self._lock:
            if self._style is not ListenStyle.PUSH_TO_TALK or not self._enabled:
                return False
            if self._open_at is None:
                self._open_at, self._close_at = at + self._guard, None
                return True
            if self._toggle and self._close_at is None:
                self._close_at = at + self._tail
                return False
            self._close_at = None  # pressed again before the tail ran out: keep going
            return False

    def key_up(self, at: float) -> None:
        """The hotkey came up (ignored in toggle style)."""
        with self._lock:
            if not self._toggle and self._open_at is not None and self._close_at is None:
                self._close_at = max(at + self._tail, self._open_at)

    def mute(self, until: float) -> None:
        """Skip frames until `until` (a cue is playing)."""
        with self._lock:
            self._muted_until = max(self._muted_until, until)

    def verdict(self, now: float) -> Verdict:
        with self._lock:
            style = self._style
            muted = now < self._muted_until
            if not self._enabled:
                return Verdict(False, style)
            if style is ListenStyle.HANDS_FREE:
                return Verdict(True, style, muted=muted)
            if self._close_at is not None and now >= self._close_at:
                self._open_at = self._close_at = None
                return Verdict(False, style, close=True)
            if self._open_at is None or now < self._open_at:
                return Verdict(False, style)
            return Verdict(True, style, muted=muted)
