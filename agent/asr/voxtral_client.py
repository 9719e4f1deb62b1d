"""The HTTP side of Voxtral: one OpenAI client per process, short timeouts, few retries.

Requests follow vLLM's OpenAI-compatible server: `/v1/audio/transcriptions` (multipart),
`/v1/chat/completions` (with `input_audio` content parts and tools), `/v1/models`, and the
bare `/health`.  Every failure becomes a `VoxtralError` with one line that says what
happened (timeout, refused, or vLLM's own error message).  `openai` is imported on first
use, never when the package is imported.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from agent.asr.base import RecognitionError, ToolCall
from agent.asr.config import VoxtralConfig

log = logging.getLogger(__name__)

API_KEY_ENV = "VOXAGENT_VOXTRAL_API_KEY"
_CLIENTS: dict[tuple[str, str], Any] = {}
_CLIENTS_LOCK = threading.Lock()
T = TypeVar("T")
ANSWER_MAX_BYTES = 256 * 1024
"""The most of one answer that is read: far beyond any utterance's text (an answer of
Voxtral's whole 32k-token context is about 130 KB), far below what floods the agent."""


class ServerError(RuntimeError):
    """A vLLM server cannot be started, or stopped being usable (one line)."""


class VoxtralError(RecognitionError):
    """A request to the Voxtral server failed (one line)."""


@dataclass(frozen=True, slots=True)
class ChatReply:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()


class Unreachable(VoxtralError):
    """The server could not be reached (refused, dropped, unreachable): it is down or
    restarting, not stalled."""


class _Retryable(Exception):
    """A failure worth one more try (refused, dropped, 5xx); the message is one line."""

    def __init__(self, message: str, down: bool) -> None:
        super().__init__(message)
        self.down = down


def base_url(cfg: VoxtralConfig) -> str:
    """The OpenAI-compatible root ("http://127.0.0.1:8000/v1"), remote if configured."""
    if cfg.base_url:
        return cfg.base_url.rstrip("/")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(cfg.host, cfg.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{cfg.port}/v1"


def api_key(cfg: VoxtralConfig) -> str:
    return cfg.api_key or os.environ.get(API_KEY_ENV, "") or "EMPTY"


def shared_client(url: str, key: str) -> Any:
    """The process's one OpenAI client for this server (its connection pool is shared by
    every request; per-request timeouts come from `with_options`)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get((url, key))
        if client is None:
            try:
                from openai import OpenAI
            except ImportError:
                raise VoxtralError("the openai package is missing (a voxagent dependency): "
                                   "pip install openai") from None
            client = OpenAI(base_url=url, api_key=key, timeout=30.0, max_retries=0)
            _CLIENTS[url, key] = client
        return client


def health(url: str, timeout: float) -> int | None:
    """GET /health of the server behind `url`: the HTTP status, or None when nothing
    answers (refused, unreachable or no answer within `timeout`)."""
    root = urlsplit(url).path.rstrip("/").removesuffix("/v1")
    return get_status(url, f"{root}/health", timeout)


def get_status(url: str, path: str, timeout: float,
               headers: dict[str, str] | None = None) -> int | None:
    """GET `path` on the server of `url`: the HTTP status, or None when nothing answers."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    conn_cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
    conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class VoxtralClient:
    """Requests to one Voxtral server, as configured."""

    def __init__(self, cfg: VoxtralConfig) -> None:
        self.cfg = cfg
        self.url = base_url(cfg)
        self._key = api_key(cfg)

    def healthy(self, timeout: float = 1.0) -> bool:
        return health(self.url, timeout) == 200

    def _call(self, what: str, timeout: float, retries: int, fn: Callable[[Any], T]) -> T:
        """One request, tried again up to `retries` times after a refused or dropped
        connection or a 5xx; never after a timeout (a server that did not answer in time
        will not answer the next try sooner: the caller waits for one timeout only)."""
        for attempt in range(retries + 1):
            try:
                return self._once(what, timeout, fn)
            except _Retryable as exc:
                if attempt == retries:
                    raise (Unreachable if exc.down else VoxtralError)(str(exc)) from None
                log.info("%s; trying again (%d of %d)", exc, attempt + 1, retries)
        raise AssertionError("unreachable")

    def _once(self, what: str, timeout: float, fn: Callable[[Any], T]) -> T:
        """`fn` on the client: its answer, or the failure as one line.  An answer that is
        not what vLLM sends (bytes that are not UTF-8, JSON that is not, fields missing or
        of the wrong type) fails like a refused request: the caller's backend failed."""
        import openai

        client = shared_client(self.url, self._key).with_options(timeout=timeout,
                                                                  max_retries=0)
        try:
            return fn(client)
        except openai.APITimeoutError:
            raise VoxtralError(f"voxtral {what}: no answer within {timeout:g} s "
                               "(not tried again)") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise _Retryable(f"voxtral {what}: cannot reach {self.url} "
                             f"({type(cause).__name__})", down=True) from None
        except openai.APIStatusError as exc:
            line = f"voxtral {what}: HTTP {exc.status_code}: {error_message(exc.body, exc.message)}"
            if exc.status_code >= 500:
                raise _Retryable(line, down=False) from None
            raise VoxtralError(line) from None
        except openai.OpenAIError as exc:  # a reply that is not what the API promises
            raise VoxtralError(f"voxtral {what}: {type(exc).__name__}: {exc}") from None
        except (ValueError, TypeError, AttributeError, LookupError, RecursionError) as exc:
            raise VoxtralError(f"voxtral {what}: a malformed answer ({type(exc).__name__}: "
                               f"{_one_line(str(exc))[:120]})") from None

    def models(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The served models, as /v1/models lists them."""
        page = self._call("models", timeout, 0, lambda c: c.models.list())
        return [m.model_dump() for m in page.data]

    def transcribe(self, wav: bytes, timeout: float, retries: int = 0,
                   response_format: str = "json") -> str:
        """Text of one WAV file (language as configured, temperature 0).  The answer is
        read raw, at most ANSWER_MAX_BYTES of it, and must be what vLLM sends (UTF-8 JSON
        with a string "text"): anything else is a VoxtralError like a refused request."""
        extra = {"language": self.cfg.language} if self.cfg.language else {}

        def post(c: Any) -> bytes:
            deadline = time.monotonic() + timeout
            with c.audio.transcriptions.with_streaming_response.create(
                    model=self.cfg.model, file=("audio.wav", wav, "audio/wav"),
                    temperature=0.0, response_format=response_format, **extra) as response:
                # the body is read here, past the client's own error handling: the HTTP
                # library's errors (httpx, or httpx2 for newer openai) are told apart here
                http = sys.modules[type(response.http_response).__module__.split(".")[0]]
                try:
                    return read_capped(response.iter_bytes(), deadline, "transcription")
                except http.TimeoutException:
                    raise VoxtralError(f"voxtral transcription: no answer within "
                                       f"{timeout:g} s (not tried again)") from None
                except http.HTTPError as exc:
                    raise VoxtralError(f"voxtral transcription: the answer broke off "
                                       f"({type(exc).__name__})") from None

        body = self._call("transcription", timeout, retries, post)
        return transcription_text(body, plain=response_format == "text")

    def chat(self, messages: list[dict[str, Any]], timeout: float, retries: int = 0, *,
             tools: list[dict[str, Any]] | None = None, temperature: float = 0.2,
             max_tokens: int = 1024) -> ChatReply:
        extra: dict[str, Any] = {"tools": tools, "tool_choice": "auto"} if tools else {}

        def ask(c: Any) -> ChatReply:
            reply = c.chat.completions.create(
                model=self.cfg.model, messages=messages, temperature=temperature, top_p=0.95,
                max_tokens=max_tokens, **extra)
            if not reply.choices:
                raise VoxtralError("voxtral chat: the reply has no choices")
            message = reply.choices[0].message
            calls = tuple(ToolCall(str(c.function.name), str(c.function.arguments or "{}"))
                          for c in message.tool_calls or () if getattr(c, "function", None))
            content = message.content or ""
            if not isinstance(content, str):
                raise TypeError(f"the message content is a {type(content).__name__}")
            return ChatReply(content.strip(), calls)

        return self._call("chat", timeout, retries, ask)


def read_capped(chunks: Iterable[bytes], deadline: float, what: str) -> bytes:
    """The body of an answer: VoxtralError past ANSWER_MAX_BYTES (a server that answers
    without end) or past `deadline` (one that drips it: the read timeout is per chunk)."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > ANSWER_MAX_BYTES:
            raise VoxtralError(f"voxtral {what}: the answer is longer than "
                               f"{ANSWER_MAX_BYTES // 1024} KiB (not read further)")
        if time.monotonic() > deadline:
            raise VoxtralError(f"voxtral {what}: the answer did not end in time")
    return bytes(body)


def transcription_text(body: bytes | str, plain: bool = False) -> str:
    """The text of a transcription answer, which must be UTF-8 JSON with a string "text"
    (vLLM answers `response_format=text` with the same object, vllm-project/vllm#49095);
    `plain`: real plain text is taken too.  VoxtralError (one line) for anything else."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise VoxtralError(f"voxtral transcription: the answer is not UTF-8 (byte "
                               f"{body[exc.start]:#04x} at {exc.start})") from None
    text = body.strip()
    if plain and not text.startswith("{"):
        return text
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise VoxtralError(f"voxtral transcription: the answer is not JSON "
                           f"({_one_line(str(exc))[:80]})") from None
    if not isinstance(data, dict):
        raise VoxtralError(f"voxtral transcription: the answer is a JSON "
                           f"{type(data).__name__}, not an object")
    if not isinstance(data.get("text"), str):
        got = f"is a {type(data['text']).__name__}" if "text" in data else "is missing"
        raise VoxtralError(f'voxtral transcription: the answer\'s "text" {got}')
    return str(data["text"]).strip()


def error_message(body: object, fallback: str) -> str:
    """The message of a vLLM error body: `{"error": {"message": ...}}` (current vLLM),
    `{"message": ...}` (vLLM before 0.10) or `{"error": "Unauthorized"}` (--api-key)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return _one_line(inner["message"])
        if isinstance(inner, str):
            return _one_line(inner)
        if isinstance(body.get("message"), str):
            return _one_line(body["message"])
    return _one_line(str(body) if isinstance(body, str) and body else fallback)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def audio_part(wav: bytes) -> dict[str, Any]:
    """A chat content part carrying the audio itself (base64 WAV)."""
    return {"type": "input_audio",
            "input_audio": {"data": base64.b64encode(wav).decode("ascii"), "format": "wav"}}


def require_openai() -> None:
    """Raise ModelError (one line) when the openai package is not installed."""
    import importlib.util

    from agent.asr.base import ModelError

    if importlib.util.find_spec("openai") is None:
        raise ModelError("the openai package is missing (a voxagent dependency): "
                         "pip install openai")
