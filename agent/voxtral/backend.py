"""The Voxtral backend (name "voxtral"): utterances through vLLM's transcription endpoint.

`load()` attaches to a server that already answers, or (manage_server) starts one on the
downloaded weights and waits for it; with `background=True` (the router's way) it only
starts it and returns at once, so faster-whisper carries the utterances meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from agent.asr.base import Hint, ModelError, RecognitionError
from agent.messages import Decision, Hypothesis, Transcript
from agent.voxtral import audio, launch, models
from agent.voxtral.client import VoxtralClient, health
from agent.voxtral.features import FeatureRequest, get
from agent.voxtral.intent import IntentHook
from agent.voxtral.launch import ServerError
from agent.voxtral.server import ServerManager

if TYPE_CHECKING:
    from agent.config import Config
    from agent.dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)


class VoxtralTranscriber:
    """Voxtral through a vLLM server (local, started or attached, or remote)."""

    name = "voxtral"

    def __init__(self, cfg: Config, background: bool = False) -> None:
        self.cfg = cfg.voxtral
        self.client = VoxtralClient(cfg.voxtral)
        self.background = background
        self.server: ServerManager | None = None
        self.attached = False
        self._intent = IntentHook(self.client) if cfg.voxtral.command_intent else None
        self._starting: threading.Thread | None = None

    def load(self) -> None:
        """Attach or start; raise ModelError (one line) when Voxtral cannot be had."""
        try:
            if self._attach():
                return
            self._start()
        except ServerError as exc:
            raise ModelError(str(exc)) from None

    def _attach(self) -> bool:
        status = health(self.client.url, 2.0)
        if status is None:
            if self.cfg.base_url or not self.cfg.manage_server:
                why = "voxtral.base_url is remote" if self.cfg.base_url else \
                    "voxtral.manage_server = false"
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
            raise ServerError(f"the server at {self.client.url} serves {', '.join(served)}, "
                              f"not {self.cfg.model} (voxtral.model)")

    def _start(self) -> None:
        launch.preflight(self.cfg)
        found = models.status(self.cfg)
        if self.background and not found.present:
            self._starting = threading.Thread(target=self._download_and_start,
                                              name="voxtral-start", daemon=True)
            self._starting.start()
            return
        self._launch(str(models.ensure(self.cfg)))
        if not self.background:
            assert self.server is not None
            self.server.wait_ready(self.cfg.startup_timeout_s + 5)

    def _download_and_start(self) -> None:
        try:
            self._launch(str(models.ensure(self.cfg)))
        except (ModelError, ServerError) as exc:
            log.error("voxtral: %s", exc)

    def _launch(self, model_path: str) -> None:
        argv = launch.server_argv(self.cfg, model_path)
        self.server = ServerManager(self.cfg, argv, self.client.url, launch.log_path(self.cfg))
        log.warning("starting vLLM for %s (log: %s)", self.cfg.model, self.server.log_file)
        self.server.start()

    def healthy(self, timeout: float = 1.0) -> bool:
        return self.client.healthy(timeout)

    def state(self) -> str:
        """What the server is doing, for logs and `voxagent features`."""
        if self.server is not None:
            return self.server.state
        return "attached" if self.attached else "not started"

    def transcribe(self, pcm: bytes, hint: Hint) -> Transcript:
        started = time.monotonic()
        if audio.duration(pcm) <= self.cfg.chunk_s:
            wav = audio.to_wav(audio.condition(audio.pcm_to_float(pcm)))
            text = self.client.transcribe(wav, self.cfg.request_timeout_s)
        else:
            text = get("transcription", self.cfg).execute(self.client, FeatureRequest(pcm)).text
        return Transcript(text=text, alternatives=(Hypothesis(text, 0.0),) if text else (),
                          backend=self.name, seconds=time.monotonic() - started)

    def intent(self, pcm: bytes, transcript: Transcript, dispatcher: Dispatcher,
               app: str) -> Decision | None:
        """Command intent (when on): see agent.voxtral.intent."""
        return None if self._intent is None else self._intent(pcm, transcript, dispatcher, app)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
