"""What Voxtral can do besides recognising commands, as a registry others can extend.

A `VoxtralFeature` has a name, a description, `availability(cfg)` ("" when usable, else
why not) and `execute(client, request)`.  Built in: transcription, summarization, Q&A
(the audio itself goes in the chat request as `input_audio`, not a transcript) and command
intent (the request and the active commands as tools; the model's tool calls come back).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.asr import voxtral_audio as audio
from agent.asr.config import VoxtralConfig
from agent.asr.voxtral_client import ChatReply, ToolCall, VoxtralClient, VoxtralError, audio_part

log = logging.getLogger(__name__)

AUDIO_TOKENS_PER_S = 12.5
"""Voxtral's audio encoder: 375 tokens per 30 s of audio."""
_ANSWER_TOKENS = 512
_PROMPT_TOKENS = 256
RETRIES = 1
"""Tries again of a feature request refused or dropped (5xx, connection lost), never of one
that timed out; an utterance's request is never tried again (the fallback is faster)."""


@dataclass(frozen=True, slots=True)
class FeatureRequest:
    pcm: bytes = b""
    """s16le mono 16 kHz audio."""
    text: str = ""
    """A question, or what was heard."""
    tools: tuple[dict[str, Any], ...] = ()
    timeout: float | None = None
    """Overrides the configured timeout (command intent must be quick)."""


@dataclass(frozen=True, slots=True)
class FeatureResult:
    text: str
    tool_calls: tuple[ToolCall, ...] = field(default_factory=tuple)


class VoxtralFeature(Protocol):
    name: str
    description: str

    def availability(self, cfg: VoxtralConfig) -> str:
        """"" when the feature may be used with this configuration, else why not."""

    def execute(self, client: VoxtralClient, request: FeatureRequest) -> FeatureResult:
        """Do it; raise VoxtralError (one line)."""


FEATURES: dict[str, VoxtralFeature] = {}


def register(feature: VoxtralFeature) -> VoxtralFeature:
    FEATURES[feature.name] = feature
    return feature


def get(name: str, cfg: VoxtralConfig) -> VoxtralFeature:
    """The feature, if it is usable; raise VoxtralError saying why not."""
    feature = FEATURES.get(name)
    if feature is None:
        raise VoxtralError(f"no Voxtral feature '{name}'; known: {', '.join(FEATURES)}")
    why = feature.availability(cfg)
    if why:
        raise VoxtralError(f"{name}: {why}")
    return feature


def audio_budget_s(cfg: VoxtralConfig) -> float:
    """Seconds of audio that fit one chat request beside the prompt and the answer."""
    return max(0.0, (cfg.max_model_len - _ANSWER_TOKENS - _PROMPT_TOKENS) / AUDIO_TOKENS_PER_S)


def _check_length(cfg: VoxtralConfig, pcm: bytes) -> None:
    seconds = audio.duration(pcm)
    if seconds > cfg.max_audio_s:
        raise VoxtralError(f"the audio is {seconds:.0f} s long; voxtral.max_audio_s allows "
                           f"{cfg.max_audio_s:g} s")
    if not seconds:
        raise VoxtralError("the audio is empty")


def _audio_message(cfg: VoxtralConfig, pcm: bytes, text: str) -> list[dict[str, Any]]:
    """One user message: the audio itself (one WAV, conditioned), then the text."""
    _check_length(cfg, pcm)
    seconds, budget = audio.duration(pcm), audio_budget_s(cfg)
    if seconds > budget:
        raise VoxtralError(f"{seconds:.0f} s of audio do not fit voxtral.max_model_len = "
                           f"{cfg.max_model_len} tokens (about {budget:.0f} s do; Voxtral "
                           "takes up to 32768)")
    wav = audio.to_wav(audio.condition(audio.pcm_to_float(pcm)))
    return [{"role": "user", "content": [audio_part(wav), {"type": "text", "text": text}]}]


class Transcription:
    name = "transcription"
    description = "Speech to text through /v1/audio/transcriptions, long audio in chunks."

    def availability(self, cfg: VoxtralConfig) -> str:
        return ""

    def execute(self, client: VoxtralClient, request: FeatureRequest) -> FeatureResult:
        cfg = client.cfg
        _check_length(cfg, request.pcm)
        timeout = request.timeout or cfg.feature_timeout_s
        texts = [client.transcribe(wav, timeout, RETRIES)
                 for wav in audio.prepare(request.pcm, cfg.chunk_s)]
        return FeatureResult(" ".join(t for t in texts if t))


class Summarization:
    name = "summarization"
    description = "A short summary of a recording (the audio itself is sent)."
    prompt = ("Summarise this recording in a few sentences, then list its key points and "
              "any decisions or action items.")

    def availability(self, cfg: VoxtralConfig) -> str:
        return "" if cfg.summarization else "off (voxtral.summarization = false)"

    def execute(self, client: VoxtralClient, request: FeatureRequest) -> FeatureResult:
        cfg = client.cfg
        if audio.duration(request.pcm) <= audio_budget_s(cfg):
            messages = _audio_message(cfg, request.pcm, self.prompt)
        else:  # too long to hear at once: read its transcript instead
            log.warning("the recording is longer than the %.0f s that fit voxtral."
                        "max_model_len; summarising its transcript", audio_budget_s(cfg))
            text = FEATURES["transcription"].execute(client, request).text
            messages = [{"role": "user", "content": f"{self.prompt}\n\nTranscript:\n{text}"}]
        reply = client.chat(messages, request.timeout or cfg.feature_timeout_s,
                            RETRIES, max_tokens=_ANSWER_TOKENS)
        return FeatureResult(reply.text)


class QuestionAnswering:
    name = "qa"
    description = "Answers a question about a recording; the audio itself is sent."

    def availability(self, cfg: VoxtralConfig) -> str:
        return "" if cfg.qa else "off (voxtral.qa = false)"

    def execute(self, client: VoxtralClient, request: FeatureRequest) -> FeatureResult:
        cfg = client.cfg
        if not request.text.strip():
            raise VoxtralError("qa: no question")
        reply = client.chat(_audio_message(cfg, request.pcm, request.text.strip()),
                            request.timeout or cfg.feature_timeout_s, RETRIES,
                            max_tokens=_ANSWER_TOKENS)
        return FeatureResult(reply.text)


class CommandIntent:
    name = "command_intent"
    description = ("When no command matches, the spoken request and the active commands "
                   "(as tools) go to Voxtral; the command it calls is performed.")
    prompt = ("You control a desktop by voice. Call the one tool that does what the user "
              "asks, with its arguments; if no tool fits, answer in words and call none.")

    def availability(self, cfg: VoxtralConfig) -> str:
        return "" if cfg.command_intent else "off (voxtral.command_intent = false)"

    def execute(self, client: VoxtralClient, request: FeatureRequest) -> FeatureResult:
        cfg = client.cfg
        heard = f'{self.prompt}\n(A recogniser heard: "{request.text.strip()}")'
        reply: ChatReply = client.chat(
            _audio_message(cfg, request.pcm, heard),
            request.timeout or cfg.request_timeout_s, 0, tools=list(request.tools),
            temperature=0.0, max_tokens=256)
        return FeatureResult(reply.text, reply.tool_calls)


for _feature in (Transcription(), Summarization(), QuestionAnswering(), CommandIntent()):
    register(_feature)
