"""A protocol double of `vllm serve` (vLLM's OpenAI-compatible server) on loopback.
(`/v1/realtime`, the streaming WebSocket, and its faults: vllm_double_realtime.py.)

Run as the server command (`python vllm_double.py serve MODEL --tokenizer_mode mistral ...`),
it parses vLLM's flags (dashes or underscores, unknown ones refused with vLLM's usage error
and status 2), "loads the model" (`VLLM_DOUBLE_STARTUP_S`; the port is bound only after, so
a client sees connection refused while it starts, as with vLLM), and then serves what
vLLM's OpenAI server serves, written against vLLM's main branch (0.33 era:
vllm/entrypoints/openai/{engine,speech_to_text,chat_completion}):

``GET /health``                 200 with an empty body.
``GET /v1/models``              the served model (id, root, max_model_len, ...).
``POST /v1/audio/transcriptions`` multipart form: file (required, a file part), model,
    language (Voxtral's languages), temperature, response_format.  json, and text too, are
    answered with the JSON object {"text", "usage": {"type": "duration", "seconds"}}, as
    vLLM does (vllm-project/vllm#49095); verbose_json is refused for Voxtral, srt/vtt with
    vLLM's "Currently only support response_format" message.  `prompt` and `hotwords` are
    taken and dropped, as vLLM drops them for Voxtral: TranscriptionRequest.build_stt_params
    (vllm/entrypoints/speech_to_text/transcription/protocol.py) hands them on as
    SpeechToTextParams.request_prompt and .hotwords, and
    VoxtralForConditionalGeneration.get_generation_prompt (vllm/model_executor/models/
    voxtral.py) reads neither: it encodes mistral_common's TranscriptionRequest(model,
    audio, language), which has no field for them, and no error is raised.
``POST /v1/chat/completions``   messages with "text" and "input_audio" (base64 wav/mp3)
    parts; tools with tool_choice "auto" need --enable-auto-tool-choice and
    --tool-call-parser (else vLLM's 400); a prompt longer than --max-model-len is refused
    with vLLM's context-length message (audio counts 12.5 tokens a second, as Voxtral's
    encoder).  Tool calls come back as the mistral parser returns them (9-character ids,
    finish_reason "tool_calls").

Errors use vLLM's current shape {"error": {"message", "type", "param", "code"}}; with
--api-key (or VLLM_API_KEY) every /v1 path needs "Authorization: Bearer KEY", else 401
{"error": "Unauthorized"}.

What it "hears": by default it transcribes with the embedded faster-whisper tiny.en (so it
answers real speech with real words); `VLLM_DOUBLE_ASR=echo` answers "N.NN seconds of
audio" instead.  Chat replies are canned: "heard: <transcript>; asked: <text>"; tool calls
are scripted through the control endpoint, and so is how a transcript is written
(`POST /_double/written` {when, text}: heard words containing `when` are answered as
`text`, e.g. with the line breaks Voxtral puts in).

Faults: `VLLM_DOUBLE_STARTUP_S` (slow start), `VLLM_DOUBLE_RESTART_S` (added to the
start-up of every start after the first counted in `VLLM_DOUBLE_COUNTER`: a slow reload),
`VLLM_DOUBLE_FAIL_START` (exit 1 while
loading, with that message in the log), `VLLM_DOUBLE_CRASH_AFTER_S` (engine dies after
being ready) for the first `VLLM_DOUBLE_CRASHES` starts counted in `VLLM_DOUBLE_COUNTER`,
`VLLM_DOUBLE_IGNORE_SIGTERM=1`; and at run time `POST /_double/fail` {path, mode: 500 |
delay | drop | die | hang | answer, times, seconds, body}: a 500 with vLLM's error body, an
answer after a delay, a connection closed without an answer, the whole process exiting
mid-request, a stalled engine (the request is held `seconds` and never answered, while
/health still answers 200), or a 200 "application/json" answer whose bytes are `body`
(base64: bytes that are not UTF-8, JSON that is not, fields missing, a huge text).  Each
request a fault took is listed by `GET /_double/hits` (when it arrived, before any delay).
Control endpoints live under /_double/ and are not recorded.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import signal
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from vllm_double_protocol import (
    AUDIO_TOKENS_PER_S,
    AUTO_TOOLS,
    MAX_FILE_MB,
    VOXTRAL_LANGUAGES,
    ApiError,
    Ears,
    completion,
    decode_audio,
    log,
    parse_args,
    parse_multipart,
    without_audio,
)
from vllm_double_realtime import upgrade

# --- the server --------------------------------------------------------------------------------

class Double:
    """State shared by the request handlers."""

    def __init__(self, args: argparse.Namespace, ears: Ears) -> None:
        self.args = args
        self.served = (args.served_model_name or [args.model])[0]
        self.key = args.api_key or os.environ.get("VLLM_API_KEY") or ""
        self.ears = ears
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.written: list[dict[str, Any]] = []
        self.hits: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []
        """/v1/realtime sessions: bytes, running sha256, utterances (vllm_double_realtime)."""

    def fault_for(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if fault["path"] == path and fault["times"] > 0:
                    fault["times"] -= 1
                    self.hits.append({"path": path, "mode": fault["mode"]})
                    return dict(fault)
        return None

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)

    def check_model(self, model: object) -> None:
        if model not in (None, "", self.served):
            raise ApiError(404, f"The model `{model}` does not exist.", "model")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer
    double: Double

    def log_message(self, format: str, *args: Any) -> None:
        log(f'{self.client_address[0]}:{self.client_address[1]} - "{self.requestline}" '
            f"{args[1] if len(args) > 1 else ''}")

    def send_json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        if self.path == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/_double/requests":
            with self.double.lock:
                self.send_json(200, self.double.requests)
        elif self.path == "/_double/hits":
            with self.double.lock:
                self.send_json(200, self.double.hits)
        elif self.path == "/_double/realtime":
            with self.double.lock:
                self.send_json(200, self.double.sessions)
        elif self.authorised():
            if self.path == "/v1/models":
                self.send_json(200, self.models())
            elif self.path == "/v1/realtime":
                upgrade(self)
            else:
                self.send_json(404, {"detail": "Not Found"})

    def authorised(self) -> bool:
        if self.double.key and self.path.startswith("/v1") and \
                self.headers.get("Authorization") != f"Bearer {self.double.key}":
            self.send_json(401, {"error": "Unauthorized"})
            return False
        return True

    def models(self) -> dict[str, Any]:
        a = self.double.args
        return {"object": "list", "data": [{
            "id": self.double.served, "object": "model", "created": int(time.time()),
            "owned_by": "vllm", "root": a.model, "parent": None,
            "max_model_len": a.max_model_len or 32768, "permission": []}]}

    def do_POST(self) -> None:
        if self.path.startswith("/_double/"):
            self.control(json.loads(self.body() or b"{}"))
            return
        if not self.authorised():
            return
        fault = self.double.fault_for(self.path)
        if fault and self.inject(fault):
            return
        routes = {"/v1/audio/transcriptions": self.transcription,
                  "/v1/chat/completions": self.chat}
        route = routes.get(self.path)
        if route is None:
            self.send_json(404, {"detail": "Not Found"})
            return
        try:
            self.send_json(200, route(self.body()))
        except ApiError as exc:
            self.send_json(exc.status, exc.body())

    def inject(self, fault: dict[str, Any]) -> bool:
        """Apply a scripted fault; whether the request is done with."""
        mode = fault["mode"]
        if mode == "delay":
            time.sleep(float(fault.get("seconds", 5)))
            return False
        self.body()
        if mode == "hang":  # the engine is stuck: no answer, the connection held open
            time.sleep(float(fault.get("seconds", 5)))
            self.close_connection = True
        elif mode == "500":
            self.send_json(500, ApiError(500, "EngineCore encountered an issue. See stack "
                                              "trace (above) for the root cause.").body())
        elif mode == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
        elif mode == "die":
            log("ERROR EngineCore died mid-request (double: die)")
            os._exit(1)
        elif mode == "answer":
            body = base64.b64decode(fault["body"])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        return True

    def control(self, data: dict[str, Any]) -> None:
        d = self.double
        with d.lock:
            if self.path == "/_double/fail":
                d.faults.append({"path": data["path"], "mode": str(data["mode"]),
                                 "times": int(data.get("times", 1)),
                                 "seconds": float(data.get("seconds", 5)),
                                 "body": str(data.get("body", ""))})
            elif self.path == "/_double/tool_call":
                d.tool_calls.append(data)
            elif self.path == "/_double/written":
                d.written.append(data)
            elif self.path == "/_double/clear":
                d.requests.clear()
                d.faults.clear()
                d.tool_calls.clear()
                d.written.clear()
                d.hits.clear()
                d.sessions.clear()
        self.send_json(200, {"ok": True})

    # --- /v1/audio/transcriptions ---------------------------------------------------------

    def transcription(self, body: bytes) -> dict[str, Any]:
        fields = parse_multipart(self.headers.get("Content-Type", ""), body)
        form = {k: v.decode("utf-8", errors="replace") for k, (fn, v) in fields.items()
                if fn is None}
        if "file" not in fields:
            raise ApiError(400, "[{'type': 'missing', 'loc': ('body', 'file'), "
                                "'msg': 'Field required'}]")
        if fields["file"][0] is None:
            raise ApiError(422, "Expected 'file' to be a file-like object, not 'str'.")
        fmt = form.get("response_format", "json")
        if fmt not in ("json", "text", "srt", "verbose_json", "vtt"):
            raise ApiError(400, f"Input should be 'json', 'text', 'srt', 'verbose_json' or "
                                f"'vtt' (response_format={fmt!r})")
        try:
            temperature = float(form.get("temperature", "0"))
        except ValueError:
            raise ApiError(400, "Input should be a valid number (temperature)") from None
        self.double.check_model(form.get("model"))
        if fmt not in ("text", "json", "verbose_json"):
            raise ApiError(400, "Currently only support response_format: `text`, `json` or "
                                "`verbose_json`")
        if fmt == "verbose_json":
            raise ApiError(400, f"Currently do not support verbose_json for {form.get('model')}")
        language = form.get("language") or None
        if language is not None and language not in VOXTRAL_LANGUAGES:
            raise ApiError(400, f"Unsupported language: {language!r}. Language should be one "
                                f"of: {list(VOXTRAL_LANGUAGES)}.")
        data = fields["file"][1]
        if len(data) / 1024**2 > MAX_FILE_MB:
            raise ApiError(400, "Maximum file size exceeded (parameter=audio_filesize_mb, "
                                f"value={len(data) / 1024**2})", "audio_filesize_mb")
        try:
            audio, info = decode_audio(data)
        except Exception:  # noqa: BLE001 - libsndfile's errors: the client's bad file
            raise ApiError(400, "Invalid or unsupported audio file.") from None
        text = self.double.ears.hear(audio)  # form["prompt"], ["hotwords"]: dropped (above)
        with self.double.lock:
            text = next((w["text"] for w in self.double.written
                         if w["when"].lower() in text.lower()), text)
        self.double.record({"path": self.path, "form": form, "filename": fields["file"][0],
                            "audio": info, "temperature": temperature, "text": text})
        return {"text": text, "usage": {"type": "duration", "seconds": math.ceil(info["seconds"])}}

    # --- /v1/chat/completions --------------------------------------------------------------

    def chat(self, body: bytes) -> dict[str, Any]:
        try:
            req = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"JSON decode error: {exc}") from None
        if not isinstance(req, dict) or not isinstance(req.get("messages"), list):
            raise ApiError(400, "[{'type': 'missing', 'loc': ('body', 'messages'), "
                                "'msg': 'Field required'}]")
        self.double.check_model(req.get("model"))
        tools = req.get("tools") or []
        choice = req.get("tool_choice", "auto" if tools else "none")
        if tools and choice == "auto" and not (self.double.args.enable_auto_tool_choice
                                               and self.double.args.tool_call_parser):
            raise ApiError(400, AUTO_TOOLS)
        texts, audio_s, heard = self.read_messages(req["messages"])
        self.check_context(req, texts, audio_s)
        self.double.record({"path": self.path, "request": without_audio(req), "heard": heard,
                            "audio_seconds": audio_s})
        calls = self.scripted_calls(" ".join(heard + texts)) if tools and choice != "none" \
            else []
        content = None if calls else f"heard: {' '.join(heard)}; asked: {' '.join(texts)}"
        return completion(self.double.served, content, calls, audio_s, texts)

    def read_messages(self, messages: list[Any]) -> tuple[list[str], float, list[str]]:
        texts: list[str] = []
        heard: list[str] = []
        audio_s = 0.0
        for msg in messages:
            content = msg.get("content") if isinstance(msg, dict) else None
            if isinstance(content, str):
                texts.append(content)
                continue
            for part in content or []:
                kind = part.get("type")
                if kind == "text":
                    texts.append(str(part.get("text", "")))
                elif kind == "input_audio":
                    audio = self.input_audio(part.get("input_audio") or {})
                    audio_s += len(audio) / 16000
                    heard.append(self.double.ears.hear(audio))
                else:
                    raise ApiError(400, f"Unknown part type: {kind}")
        return texts, audio_s, heard

    @staticmethod
    def input_audio(part: dict[str, Any]) -> np.ndarray:
        if part.get("format") not in ("wav", "mp3"):
            raise ApiError(400, f"Unsupported audio format: {part.get('format')!r}")
        try:
            audio, _ = decode_audio(base64.b64decode(str(part.get("data", "")), validate=True))
        except Exception:  # noqa: BLE001 - bad base64 or bad audio: the client's fault
            raise ApiError(400, "Invalid or unsupported audio file.") from None
        return audio

    def check_context(self, req: dict[str, Any], texts: list[str], audio_s: float) -> None:
        limit = self.double.args.max_model_len or 32768
        prompt = int(audio_s * AUDIO_TOKENS_PER_S) + sum(len(t) for t in texts) // 4 + 8
        if prompt >= limit:
            raise ApiError(400, f"This model's maximum context length is {limit} tokens. "
                                f"However, your request has {prompt} input tokens. Please "
                                "reduce the length of the input messages.", "input_tokens")
        wanted = req.get("max_completion_tokens") or req.get("max_tokens")
        if wanted is not None and prompt + int(wanted) > limit:
            raise ApiError(400, f"'max_tokens' or 'max_completion_tokens' is too large: "
                                f"{wanted}. This model's maximum context length is {limit} "
                                f"tokens and your request has {prompt} input tokens "
                                f"({wanted} > {limit} - {prompt}).", "max_tokens")

    def scripted_calls(self, said: str) -> list[dict[str, Any]]:
        with self.double.lock:
            for script in self.double.tool_calls:
                if script.get("when", "").lower() in said.lower():
                    return [{"id": "".join(random.choices(string.ascii_letters + string.digits,
                                                          k=9)),
                             "type": "function",
                             "function": {"name": c["name"], "arguments": c["arguments"]}}
                            for c in script["calls"]]
        return []


# --- start-up, faults on the whole process -----------------------------------------------------

def _count_start() -> int:
    """This start's number (1, 2, ...), kept in VLLM_DOUBLE_COUNTER across restarts."""
    path = os.environ.get("VLLM_DOUBLE_COUNTER")
    if not path:
        return 1
    counter = Path(path)
    n = int(counter.read_text() or 0) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    return n


def _load(args: argparse.Namespace, start: int) -> Ears:
    """What vLLM does before it listens: check the model, load it (slowly, if told)."""
    log(f"vLLM API server version 0.33.0 (double); args: {args}")
    reload_s = float(os.environ.get("VLLM_DOUBLE_RESTART_S", "0")) if start > 1 else 0.0
    time.sleep(float(os.environ.get("VLLM_DOUBLE_STARTUP_S", "0")) + reload_s)
    if os.environ.get("VLLM_DOUBLE_FAIL_START"):
        log(f"ERROR {os.environ['VLLM_DOUBLE_FAIL_START']}")
        sys.exit(1)
    folder = Path(args.model)
    if folder.is_dir() and args.load_format == "mistral" and \
            not (folder / "consolidated.safetensors").is_file():
        log(f"ERROR No consolidated.safetensors in {folder} (load_format=mistral)")
        sys.exit(1)
    return Ears(os.environ.get("VLLM_DOUBLE_ASR", "whisper"))


def _crash_later(start: int) -> None:
    after = os.environ.get("VLLM_DOUBLE_CRASH_AFTER_S")
    if after and start <= int(os.environ.get("VLLM_DOUBLE_CRASHES", "1")):
        def crash() -> None:
            time.sleep(float(after))
            log("ERROR EngineCore died unexpectedly (double: crash)")
            os._exit(1)
        threading.Thread(target=crash, daemon=True).start()


def main() -> None:
    args = parse_args(sys.argv[1:])
    start = _count_start()
    if os.environ.get("VLLM_DOUBLE_IGNORE_SIGTERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        def _term(*_: object) -> None:
            log("Shutting down (SIGTERM)")
            os._exit(0)
        signal.signal(signal.SIGTERM, _term)
    Handler.double = Double(args, _load(args, start))
    server = ThreadingHTTPServer((args.host or "0.0.0.0", args.port), Handler)
    server.daemon_threads = True
    log(f"Starting vLLM API server 0 on http://{args.host}:{args.port} (start {start})")
    log("Application startup complete.")
    _crash_later(start)
    server.serve_forever()


if __name__ == "__main__":
    main()
