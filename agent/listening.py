"""The capture side of the pipeline: where frames come from (a source), what reaches the
segmenter (a gate, live) and how frames are cut into utterances (segmenters per listening
style).  agent/app.py carries it through to actions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from agent.audio.vad import Segmenter
from agent.messages import AudioFrame, ListenStyle


class AudioSource(Protocol):
    started_at: float

    def frames(self) -> Iterator[AudioFrame]: ...

    def stop(self) -> None: ...


class FrameVerdict(Protocol):
    take: bool
    style: ListenStyle
    close: bool
    muted: bool


class Gate(Protocol):
    """Decides, per arriving frame, what the segmenter gets (see agent/desktop/gate.py)."""

    def verdict(self, now: float) -> FrameVerdict: ...



@dataclass
class Listening:
    """The capture side: where frames come from and how they are cut into utterances."""

    source: AudioSource
    segmenter: Segmenter
    """Hands-free: cuts on voice activity."""
    gate: Gate | None = None
    """Live: decides per frame what the segmenter gets (None: everything)."""
    held: Segmenter | None = None
    """Push-to-talk: a segmenter whose hangover is long, so the release of the key, not
    a pause, closes the utterance (None: the hands-free one)."""
    live: bool = False
    """A live source never waits for processing: a frame that finds the queue full is
    dropped (counted and logged).  A file waits, so nothing is lost."""
    queue_size: int = 1000
    """Frames the queue between capture and processing holds (30 s of 30 ms frames):
    room for the frames that arrive while a long utterance is heard."""
    segmenters: dict[ListenStyle, Segmenter] = field(init=False)

    def __post_init__(self) -> None:
        self.segmenters = {ListenStyle.HANDS_FREE: self.segmenter,
                           ListenStyle.PUSH_TO_TALK: self.held or self.segmenter}
