"""The decide stage's input: one utterance, its hearing and the first transcript."""

from __future__ import annotations

from dataclasses import dataclass

from agent.asr.base import Hearing, Hint
from agent.messages import Transcript, Utterance


@dataclass(frozen=True, slots=True)
class Heard:
    """The decide stage's input: one utterance, its hearing and the first transcript."""

    utterance: Utterance
    hearing: Hearing
    transcript: Transcript
    hint: Hint
    """The hint the first transcript was decoded with (the active vocabulary)."""
    app: str = ""
    """The focused window's class, for app-specific commands."""
