"""The parts of vLLM's realtime protocol that hold no connection (agent/asr/voxtral_session.py
holds it): one utterance's state as the session's threads share it, the endpoint's URL,
and the checks on the text and error bodies the server sends."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agent.asr.base import ModelError
from agent.asr.voxtral_client import ANSWER_MAX_BYTES

BYTES_PER_S = 32_000
"""16 kHz mono PCM16."""


def ws_url(base_url: str) -> str:
    """ws://host:port/v1/realtime for the OpenAI-compatible root http://host:port/v1."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/realtime", "", ""))


def require_websockets() -> None:
    """Raise ModelError (one line) when the websockets package is not installed."""
    import importlib.util

    if importlib.util.find_spec("websockets") is None:
        raise ModelError("the websockets package is missing (voxtral.mode = \"realtime\"): "
                         "run make install in the voxagent checkout (a core dependency)")


@dataclass(eq=False)
class Turn:
    """One utterance's state, shared by the caller, the sender and the receiver."""

    number: int
    deltas: list[str] = field(default_factory=list)
    text: str | None = None
    """The final text (transcription.done), None until then."""
    error: str = ""
    """Why it failed ("" while it has not)."""
    cancelled: bool = False
    started: bool = False
    """Its first commit went out on the current connection."""
    ended_at: float = 0.0
    """time.monotonic() when its final commit went out (0 before)."""
    queued: int = 0
    """Bytes of audio given to the session."""
    chars: int = 0
    """Characters of text received for it (deltas and done)."""
    sent: int = 0
    """Bytes of audio sent on the socket."""
    settled: threading.Event = field(default_factory=threading.Event)

    def fail(self, why: str) -> None:
        if not self.settled.is_set():
            self.error = why
            self.settled.set()

    def partial(self) -> str:
        return "".join(list(self.deltas)).strip()


def event_text(event: dict[str, Any], key: str, utt: Turn) -> str:
    """The text of a delta or done event, counted against ANSWER_MAX_BYTES; ValueError for
    one that is not a string or too much text."""
    text = event.get(key, "")
    if not isinstance(text, str):
        raise ValueError(f"{event.get('type')} whose {key!r} is a {type(text).__name__}")
    utt.chars += len(text)
    if utt.chars > ANSWER_MAX_BYTES:
        raise ValueError(f"more than {ANSWER_MAX_BYTES // 1024} KiB of text for one "
                         "utterance")
    return text


def error_body(body: bytes | bytearray | None) -> str:
    """An HTTP error body in one short line: its JSON "error", or its text."""
    text = bytes(body or b"").decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200]
    return str(data.get("error", data)) if isinstance(data, dict) else text[:200]
