"""The wire-level parts of the vLLM double (see vllm_double.py): vLLM's command line, its
error bodies, multipart forms, audio decoding, the "ears" and the chat completion body."""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import threading
import time
from typing import Any, ClassVar

import numpy as np

VOXTRAL_LANGUAGES = ("en", "es", "fr", "pt", "hi", "de", "nl", "it")
AUDIO_TOKENS_PER_S = 12.5
MAX_FILE_MB = 25  # VLLM_MAX_AUDIO_CLIP_FILESIZE_MB
AUTO_TOOLS = ('"auto" tool choice requires --enable-auto-tool-choice and '
              "--tool-call-parser to be set")


def log(line: str) -> None:
    sys.stdout.write(f"INFO {time.strftime('%m-%d %H:%M:%S')} {line}\n")
    sys.stdout.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """vLLM's FlexibleArgumentParser takes --tokenizer_mode and --tokenizer-mode alike."""
    fixed = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        fixed.append(name.replace("_", "-") + eq + value if arg.startswith("--") else arg)
    p = argparse.ArgumentParser(prog="vllm serve")
    p.add_argument("model")
    p.add_argument("--served-model-name", nargs="+")
    p.add_argument("--tokenizer-mode", choices=("auto", "slow", "mistral", "custom"))
    p.add_argument("--config-format", choices=("auto", "hf", "mistral"))
    p.add_argument("--load-format", default="auto")
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--host")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--tool-call-parser")
    p.add_argument("--enable-auto-tool-choice", action="store_true")
    p.add_argument("--api-key")
    p.add_argument("--enforce-eager", action="store_true")
    if not fixed or fixed[0] != "serve":
        p.error("the double only implements `vllm serve`")
    args = p.parse_args(fixed[1:])
    if args.enable_auto_tool_choice and not args.tool_call_parser:
        p.error("When `--enable-auto-tool-choice` is set, `--tool-call-parser` must be set")
    return args


class Ears:
    """Transcribes audio: the embedded faster-whisper tiny.en, or a description (echo)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._lock = threading.Lock()
        self._model: Any = None
        if mode == "whisper":
            from faster_whisper import WhisperModel

            from agent.asr.models import embedded_model

            self._model = WhisperModel(str(embedded_model()), device="cpu",
                                       compute_type="int8", cpu_threads=1)
            self.hear(np.zeros(16000, dtype=np.float32))  # warm up before listening, as vLLM

    def hear(self, audio: np.ndarray) -> str:
        if self._model is None:
            return f"{len(audio) / 16000:.2f} seconds of audio"
        with self._lock:
            segments, _ = self._model.transcribe(audio, language="en", beam_size=1,
                                                 without_timestamps=True, vad_filter=False,
                                                 condition_on_previous_text=False)
            return " ".join(s.text.strip() for s in segments).strip()


def decode_audio(data: bytes) -> tuple[np.ndarray, dict[str, Any]]:
    """Audio bytes -> 16 kHz mono float32, and what the file was (rate, channels, ...)."""
    import soundfile
    import soxr

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    info = {"rate": rate, "channels": samples.shape[1], "frames": samples.shape[0],
            "seconds": samples.shape[0] / rate, "peak": float(np.abs(samples).max(initial=0)),
            "mean": float(samples.mean()) if samples.size else 0.0}
    mono = samples.mean(axis=1)
    if rate != 16000 and mono.size:
        mono = soxr.resample(mono, rate, 16000)
    return mono.astype(np.float32), info


class ApiError(Exception):
    PHRASES: ClassVar[dict[int, str]] = {
        400: "BadRequestError", 404: "NotFoundError", 422: "Unprocessable Entity",
        500: "InternalServerError"}

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.PHRASES.get(self.status, "Error"),
                          "param": self.param, "code": self.status}}


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename or None for a plain field, bytes); ApiError if it is not a form."""
    if "multipart/form-data" not in content_type or "boundary=" not in content_type:
        raise ApiError(400, "Expected multipart/form-data (field 'file': Field required)")
    boundary = content_type.split("boundary=", 1)[1].split(";", 1)[0].strip().strip('"')
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        headers = head.decode("utf-8", errors="replace")
        name = _header_param(headers, "name")
        if name is not None:
            fields[name] = (_header_param(headers, "filename"), data.removesuffix(b"\r\n"))
    return fields


def _header_param(headers: str, key: str) -> str | None:
    for piece in headers.replace("\r\n", ";").split(";"):
        k, _, v = piece.strip().partition("=")
        if k == key:
            return v.strip('"')
    return None


def without_audio(req: dict[str, Any]) -> dict[str, Any]:
    """The request as recorded: audio data replaced by its length."""
    copy = json.loads(json.dumps(req))
    for msg in copy.get("messages", []):
        for part in msg.get("content") or [] if isinstance(msg.get("content"), list) else []:
            if part.get("type") == "input_audio":
                part["input_audio"]["data"] = f"<{len(part['input_audio'].get('data', ''))} b64>"
    return copy


def completion(model: str, content: str | None, calls: list[dict[str, Any]], audio_s: float,
                texts: list[str]) -> dict[str, Any]:
    prompt = int(audio_s * AUDIO_TOKENS_PER_S) + sum(len(t) for t in texts) // 4 + 8
    return {"id": f"chatcmpl-{random.getrandbits(64):016x}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                                 "tool_calls": calls, "reasoning_content": None},
                         "logprobs": None, "finish_reason": "tool_calls" if calls else "stop",
                         "stop_reason": None}],
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt + 20,
                      "completion_tokens": 20, "prompt_tokens_details": None},
            "prompt_logprobs": None}
