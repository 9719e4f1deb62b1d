"""The Recogniser protocol and a lazy registry of backends.

A backend module is imported only when it is created, so `import agent` never
pulls in CTranslate2, torch or HTTP clients.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agent.asr.voxtral import ServerStarter
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
    thorough: bool = False
    """Decode (or score) with all the context the backend has (whisper: the full 30 s
    window, one more encoding), for second tries and free text, where a little time buys
    accuracy."""
    quick: bool = False
    """A first look that a thorough decode follows (dictation typed early, then
    corrected: agent/worker.py): the backend may trade accuracy for time (whisper: one
    beam, one hypothesis)."""


class Unsupported(RecognitionError):
    """Asked for a capability the backend did not declare (a programming error)."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a recogniser offers beyond one best transcript; the decide stage reads these
    and never probes a backend for methods."""

    nbest: bool = False
    """decode() returns several hypotheses when Hint.alternatives asks for them."""
    prefix: bool = False
    """decode() honours Hint.prefix (the transcript is forced to begin with those words)."""
    score: bool = False
    """Hearing.score() gives the log-probability of candidate texts against the audio."""
    intent: bool = False
    """Hearing.intent() picks commands from the audio as tool calls (Voxtral)."""
    stream: bool = False
    """Recogniser.stream() takes an utterance's audio while it is spoken (Voxtral
    Realtime): partial text as it goes, the final text soon after the end."""
    peek: bool = False
    """Hearing the speech so far at a pause is cheap (a local model), so the early end
    may decode there; a server that is asked once per utterance says no."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A command the model picked, as a function call (checked by the dispatch side)."""

    name: str
    """The tool's name, as offered (agent.dispatch.tools.tool_name)."""
    arguments: str
    """The call's arguments as JSON text, exactly as the model wrote them."""


class Hearing(Protocol):
    """One utterance as heard by a backend. The audio is encoded once; every decode, score
    and intent on it reuses that work. Calls raise RecognitionError; a capability the
    recogniser did not declare raises Unsupported."""

    def decode(self, hint: Hint) -> Transcript:
        """The transcript (n-best when declared and asked for)."""

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        """log P(text, then the end | audio, prompt) for each text (higher is better)."""

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        """The commands the speaker meant, chosen among `tools`, given what was heard."""


class Stream(Protocol):
    """One utterance streamed to the backend while it is spoken (capability `stream`)."""

    def feed(self, pcm: bytes) -> None:
        """More audio of the utterance, in order (s16le mono 16 kHz). Called on the capture
        thread: never blocks and never drops; a slow link queues it."""

    def partial(self) -> str:
        """The text heard so far ("" before the first words); never blocks."""

    def finish(self, pcm: bytes) -> Hearing:
        """The utterance is over; `pcm` is all of its audio, as the segmenter kept it, for
        whatever must hear it again (a fallback when the stream failed). Blocks until
        the final text, or raises RecognitionError."""

    def cancel(self) -> None:
        """Drop the utterance (it was not speech after all); never blocks."""


class Recogniser(Protocol):
    """A speech recognition backend: load once, hear each utterance, close."""

    name: str
    capabilities: Capabilities

    def load(self) -> None:
        """Load the model and warm it up; raise ModelError."""

    def hear(self, pcm: bytes) -> Hearing:
        """Take one utterance of s16le mono 16 kHz audio (the work may be done lazily)."""

    def stream(self) -> Stream:
        """Begin streaming an utterance (only with capability `stream`; else Unsupported)."""

    def close(self) -> None:
        """Release the model."""


def transcribe(recogniser: Recogniser, pcm: bytes, hint: Hint) -> Transcript:
    """Hear `pcm` and decode it once: the plain path, for callers with no second tries."""
    return recogniser.hear(pcm).decode(hint)


BACKENDS: dict[str, str] = {
    "whisper": "agent.asr.whisper:WhisperRecogniser",
    "voxtral": "agent.asr.voxtral_realtime:voxtral_backend",
    "auto": "agent.asr.router:RouterRecogniser",
}
"""Backend name -> "module:class" (or a factory); it takes the Config.  "voxtral" streams
when voxtral.mode = "realtime" (agent/asr/voxtral_realtime.py)."""

SERVED = frozenset({"voxtral", "auto"})
"""The backends that use a Voxtral server, so also take `start_server`."""


def create(name: str, cfg: Config, start_server: ServerStarter | None = None) -> Recogniser:
    """Instantiate a backend by name (imports its module now, not before). `start_server`
    (agent.voxtral.server.start_local) lets a backend of SERVED start a local vLLM server;
    without it, it only attaches to one."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ModelError(f"unknown backend '{name}'; known: {', '.join(BACKENDS)}") from None
    module, cls = target.split(":")
    factory = getattr(importlib.import_module(module), cls)
    return factory(cfg, start_server=start_server) if name in SERVED else factory(cfg)
