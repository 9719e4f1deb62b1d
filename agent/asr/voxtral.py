"""The Voxtral backend (name "voxtral"): utterances through vLLM's transcription endpoint.

`load()` attaches to a server that already answers, or (manage_server) has `start_server`
start one (agent.voxtral.server.start_local, handed in by whoever assembles the agent: the
server's process and weights are not the recogniser's business) and waits for it; with
`background=True` (the router's way) it only starts it and returns at once, so
faster-whisper carries the utterances meanwhile.

`hear(pcm)` gives a `VoxtralHearing`: `decode()` asks /v1/audio/transcriptions once per
utterance (later decodes reuse the answer), and, with `command_intent` on, `intent(text,
tools)` sends the audio and the offered tools to /v1/chat/completions and returns the
model's tool calls as they came. Checking them against the commands, and asking before a
risky one, is the dispatcher's job (Dispatcher.intended): the recogniser never sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent.asr import voxtral_audio as audio
from agent.asr.base import (
    Capabilities,
    Hint,
    ModelError,
    RecognitionError,
    Stream,
    ToolCall,
    Unsupported,
)
from agent.asr.guard import overlong
from agent.asr.voxtral_client import ServerError, VoxtralClient, VoxtralError, health
from agent.asr.voxtral_features import FeatureRequest, get
from agent.messages import Hypothesis, Transcript

if TYPE_CHECKING:
    from agent.asr.config import VoxtralConfig
    from agent.config import Config

log = logging.getLogger(__name__)


class LocalServer(Protocol):
    """A vLLM server this process started (agent.voxtral.server.ServerManager)."""

    state: str
    log_file: Path
    on_ready: Callable[[], None] | None

    def wait_ready(self, timeout: float | None = None) -> None: ...

    def stop(self) -> None: ...


class ServerStarter(Protocol):
    """Starts a local vLLM server for `cfg`, reachable at `url`, handing it to `started`
    once launched (later, from a thread, when `background` and the weights must be
    downloaded first); raises ServerError or ModelError, one line."""

    def __call__(self, cfg: VoxtralConfig, url: str, background: bool,
                 started: Callable[[LocalServer], None]) -> None: ...


class WrongModel(ModelError):
    """The server answers but serves another model: a setting to fix, not a server to wait
    for (the router says so once and leaves Voxtral alone)."""


class VoxtralRecogniser:
    """Voxtral through a vLLM server (local, started or attached, or remote)."""

    name = "voxtral"

    def __init__(self, cfg: Config, background: bool = False,
                 start_server: ServerStarter | None = None) -> None:
        self.cfg = cfg.voxtral
        self.client = VoxtralClient(cfg.voxtral)
        self.background = background
        self._start_server = start_server
        """None: attach only (nothing here can start a server)."""
        self.server: LocalServer | None = None
        self.attached = False
        self.capabilities = Capabilities(intent=cfg.voxtral.command_intent)
        self._intent_refused = False
        """The server refused tools (no --enable-auto-tool-choice): intent is off for the
        session, said once."""

    def load(self) -> None:
        """Attach or start; raise ModelError (one line) when Voxtral cannot be had
        (WrongModel when the server serves another model)."""
        try:
            if self._attach():
                return
            self._start()
        except ServerError as exc:
            raise ModelError(str(exc)) from None

    def _attach(self) -> bool:
        status = health(self.client.url, 2.0)
        if status is None:
            if self.cfg.base_url or not self.cfg.manage_server or self._start_server is None:
                why = "voxtral.base_url is remote" if self.cfg.base_url else \
                    "voxtral.manage_server = false" if not self.cfg.manage_server else \
                    "this command starts no server"
                raise ServerError(f"no vLLM server answers at {self.client.url} ({why}, so "
                                  "none is started)")
            return False
        if status != 200:
            raise ServerError(f"{self.client.url}: GET /health answered {status}; not a "
                              "ready vLLM server")
        self._check_model()
        self.attached = True
        log.info("attached to the vLLM server at %s", self.client.url)
        return True

    def _check_model(self) -> None:
        try:
            served = [str(m.get("id")) for m in self.client.models()]
        except RecognitionError as exc:
            raise ServerError(str(exc)) from None
        if self.cfg.model not in served:
            setting = "realtime_model" if self.cfg.mode == "realtime" else "model"
            raise WrongModel(f"the server at {self.client.url} serves {', '.join(served)}, "
                             f"not {self.cfg.model} (voxtral.{setting})")

    def _start(self) -> None:
        assert self._start_server is not None
        self._start_server(self.cfg, self.client.url, self.background, self._started)
        if not self.background:
            assert self.server is not None
            self.server.wait_ready(self.cfg.startup_timeout_s + 5)

    def _started(self, server: LocalServer) -> None:
        self.server = server
        log.warning("starting vLLM for %s (log: %s)", self.cfg.model, server.log_file)

    def healthy(self, timeout: float = 1.0) -> bool:
        return self.client.healthy(timeout)

    def state(self) -> str:
        """What the server is doing, for logs and `voxagent features`."""
        if self.server is not None:
            return self.server.state
        return "attached" if self.attached else "not started"

    def hear(self, pcm: bytes) -> VoxtralHearing:
        """One utterance; nothing is sent until it is decoded or asked for intent."""
        return VoxtralHearing(self, pcm)

    def stream(self) -> Stream:
        raise Unsupported("file Voxtral does not stream (voxtral.mode = \"realtime\" does)")

    def recognise(self, pcm: bytes) -> Transcript:
        """One request (or, past chunk_s, one per chunk); raise RecognitionError, also for
        text longer than the audio could hold (a runaway answer is a failed one: it is
        never typed, and the utterance goes to the next recogniser)."""
        started = time.monotonic()
        seconds = audio.duration(pcm)
        if seconds <= self.cfg.chunk_s:
            wav = audio.to_wav(audio.condition(audio.pcm_to_float(pcm)))
            text = self.client.transcribe(wav, self.cfg.request_timeout_s)
        else:
            text = get("transcription", self.cfg).execute(self.client, FeatureRequest(pcm)).text
        runaway = overlong(text, seconds)
        if runaway:
            raise VoxtralError(f"voxtral transcription: a runaway answer ({runaway} of "
                               "audio)")
        return Transcript(text=text, alternatives=(Hypothesis(text, 0.0),) if text else (),
                          backend=self.name, seconds=time.monotonic() - started)

    def tool_calls(self, pcm: bytes, text: str,
                   tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        """The commands Voxtral picks among `tools` for this audio (see VoxtralHearing)."""
        if not self.capabilities.intent:
            raise Unsupported("command intent is off (voxtral.command_intent = false)")
        text = text.strip()
        if self._intent_refused or not text or not tools:
            return ()
        try:
            result = get("command_intent", self.cfg).execute(
                self.client, FeatureRequest(pcm, text, tuple(dict(t) for t in tools)))
        except VoxtralError as exc:
            if "--enable-auto-tool-choice" not in str(exc):
                raise
            self._intent_refused = True  # it would say so every time
            log.error("command intent off for this session: %s (the server needs "
                      "--tool-call-parser mistral --enable-auto-tool-choice)", exc)
            return ()
        if not result.tool_calls:
            log.info("command intent: no command for %r (%s)", text, result.text[:80])
        return result.tool_calls

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


class VoxtralHearing:
    """One utterance as Voxtral hears it (see the module's doc)."""

    def __init__(self, owner: VoxtralRecogniser, pcm: bytes) -> None:
        self._owner = owner
        self._pcm = pcm
        self._heard: Transcript | None = None

    def decode(self, hint: Hint) -> Transcript:
        """The transcript: one request, whatever the hint's phrases: vLLM takes a
        transcription `prompt` but drops it for Voxtral (get_generation_prompt in
        vllm/model_executor/models/voxtral.py never reads it), so none is sent; a forced
        prefix is whisper's (Capabilities.prefix is false)."""
        if hint.prefix:
            raise Unsupported("voxtral cannot decode from forced words (Hint.prefix)")
        if self._heard is None:
            self._heard = self._owner.recognise(self._pcm)
        return self._heard

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        raise Unsupported("voxtral does not score texts against the audio")

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        """The tool calls the model makes for this audio, given `text` as heard."""
        return self._owner.tool_calls(self._pcm, text, tools)
