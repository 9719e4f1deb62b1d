"""The Transcriber protocol and a lazy registry of backends.

A backend module is imported only when it is created, so `import agent` never
pulls in CTranslate2, torch or HTTP clients.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agent.config import Config
    from agent.messages import Transcript


class RecognitionError(RuntimeError):
    """A backend failed on one utterance (the message is one line)."""


class ModelError(RuntimeError):
    """A model cannot be found, downloaded or loaded (the message is one line)."""


@dataclass(frozen=True, slots=True)
class Hint:
    """What the dispatcher expects next, to steer recognition."""

    phrases: tuple[str, ...] = ()
    """Active command phrases; empty = free speech (dictation)."""
    alternatives: int = 1
    """How many hypotheses are wanted, best first."""
    prefix: str = ""
    """Words the transcript must begin with ("Press"): decoding continues after them.
    Only whisper honours it; the router sends such hints there."""


class Transcriber(Protocol):
    name: str

    def load(self) -> None:
        """Load the model and warm it up; raise ModelError."""

    def transcribe(self, pcm: bytes, hint: Hint) -> Transcript:
        """Recognise s16le mono 16 kHz audio; raise RecognitionError."""

    def close(self) -> None:
        """Release the model."""


BACKENDS: dict[str, str] = {
    "whisper": "agent.asr.whisper:WhisperTranscriber",
    "voxtral": "agent.voxtral.backend:VoxtralTranscriber",
    "auto": "agent.asr.router:RouterTranscriber",
}
"""Backend name -> "module:class"; the class takes the Config."""


def create(name: str, cfg: Config) -> Transcriber:
    """Instantiate a backend by name (imports its module now, not before)."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ModelError(f"unknown backend '{name}'; known: {', '.join(BACKENDS)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(cfg)
