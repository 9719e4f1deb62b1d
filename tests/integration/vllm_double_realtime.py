"""The vLLM double's `/v1/realtime` WebSocket (see vllm_double.py), written from vLLM's source:
vllm/entrypoints/speech_to_text/realtime/{api_router,connection,protocol,serving}.py (moved to
vllm/frontend/entrypoints/... with compatibility shims in mid 2026), the model side in
vllm/model_executor/models/voxtral_realtime.py, and the --api-key middleware in
vllm/entrypoints/openai/server_utils (AuthenticationMiddleware).

What vLLM does, and the double with it:

- Authentication: with --api-key every route but the public ones (/health, /ping, /load,
  /version, /metrics, docs) needs "Authorization: Bearer KEY", websocket scopes included.
  A wrong or missing key refuses the upgrade itself with HTTP 401 and the body
  {"error": "Unauthorized"}; no WebSocket is opened.
- On accept the server sends `session.created` {"type", "id": "sess-<uuid>", "created":
  unix seconds}.  Nothing else is sent unasked.
- Client events (anything else: error "Unknown event type: X", code "unknown_event"; text
  that is not JSON: "Invalid JSON", "invalid_json"):
  - `session.update` {"model"}: a missing model is the error "Missing required field:
    model" ("invalid_event"); a model the server does not serve is "The model `X` does not
    exist." ("model_not_found"); an empty string is taken (vLLM's _is_model_supported).
    Success sends nothing back.  Any other field (a "prompt", a "language") is ignored
    without a word: RealtimeConnection.handle_event reads only event["model"], and
    VoxtralRealtimeGeneration.buffer_realtime_audio (vllm/model_executor/models/
    voxtral_realtime.py) always prompts with tokenizer.instruct.start() +
    audio_encoder.encode_streaming_tokens(), no text.
  - `input_audio_buffer.commit` {"final": false}: starts a generation, unless one runs (then
    it is ignored, with a warning in the log).  Before a successful session.update it is
    the error "Model not validated. Make sure to validate the model by sending a
    session.update event." ("model_not_validated").  {"final": true} ends the generation's
    audio (a sentinel in the audio queue).
  - `input_audio_buffer.append` {"audio": base64 PCM16, 16 kHz mono}: queued for the
    generation; audio that is empty or not base64 is "Invalid audio data"
    ("invalid_audio"), a missing field a pydantic message ("processing_error").
- Server events: `transcription.delta` {"delta"} for every engine step (one per 80 ms of
  audio, Voxtral's 12.5 Hz frame rate; silence gives empty deltas, "", since pad tokens
  decode to nothing), then `transcription.done` {"text": all deltas joined, "usage":
  {"prompt_tokens", "total_tokens", "completion_tokens", "prompt_tokens_details"}}.  Errors
  are `error` {"error": message, "code"} and never close the socket.
- Several utterances per session: after `done` the generation ends and the audio queue is
  emptied; the next `commit` (not final) starts a new generation on the same socket.  Audio
  appended after a final commit but before `done` is thrown away by that emptying (the
  double counts it as `dropped_bytes`), and audio appended between `done` and the next
  commit waits in the queue for it.  So a client sends, per utterance: commit, appends,
  commit final, and waits for `done` before the next utterance's commit and audio.
- Silence: the model consumes audio only as it fills whole frames (look-ahead included),
  padded left before the first chunk and right after the final commit so the last words
  come out; silence costs steps and empty deltas, never an error.
- Close: vLLM never closes a session itself; the loop ends when the client disconnects
  (the generation is then cancelled).  A crash of the server is a dropped TCP connection
  (the client sees close code 1006).

What the double adds, like its file endpoint: it "hears" with faster-whisper tiny.en (or
echoes durations with VLLM_DOUBLE_ASR=echo).  While audio arrives it transcribes what it
has every VLLM_DOUBLE_RT_STEP_S seconds of audio (0.48; what waited meanwhile is taken at
once, so a slow CPU catches up) and sends the words that two such passes agree on (all
but the last word, trailing punctuation off); at the final commit it
hears the whole utterance and sends the rest as the last delta, then `done`.  Every
utterance is recorded with the bytes it consumed and their sha256 (GET /_double/requests,
path "/v1/realtime"), and the session's running sha256 over every PCM byte appended, in
order (GET /_double/realtime, and a log line per utterance), so tests can prove no chunk
was lost or reordered.  Faults (POST /_double/fail with path "/v1/realtime", taken by the
next generation): "slow" (each delta and the done `seconds` late), "drop" (the TCP
connection is cut when the utterance's first audio arrives), "no_done" (deltas, but never
`done`), "die" (the process exits at the first audio), "runaway" (`done` with 3,000 words),
"bad_done" (`done` whose text is the number 42).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import queue
import re
import threading
import time
import uuid
from typing import Any

import numpy as np
from vllm_double_protocol import log
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.utils import accept_key

STEP_S = float(os.environ.get("VLLM_DOUBLE_RT_STEP_S", "0.48"))
FRAME_BYTES = 2 * 1280
"""80 ms of 16 kHz PCM16: one engine step of Voxtral Realtime (12.5 Hz)."""
PROMPT_TOKENS = 38
"""Roughly the streaming prefix (BOS and the streaming tokens) of the realtime prompt."""
NOT_VALIDATED = ("Model not validated. Make sure to validate the model by sending a "
                 "session.update event.")


class Cut(Exception):
    """The connection is gone (or was cut by a fault)."""


class Session:
    """One WebSocket connection: the reader is the handler's thread, a generation runs on
    its own thread; sends are serialised by a lock."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.double = handler.double
        self.sock = handler.connection
        self.proto = ServerProtocol(state=State.OPEN, max_size=16 * 2**20)
        self.send_lock = threading.Lock()
        self.audio: queue.Queue[bytes | None] = queue.Queue()
        self.busy = False
        """A generation runs (a commit now is ignored, as vLLM's)."""
        self.validated = False
        self.closed = threading.Event()
        self.id = f"sess-{uuid.uuid4()}"
        self.running = hashlib.sha256()
        self.stats = {"id": self.id, "model": None, "bytes": 0, "sha256": "", "utterances": 0,
                      "dropped_bytes": 0, "errors": [], "open": True, "consumed": 0,
                      "passes": 0, "words": 0}
        """consumed: bytes the generations took; passes: interim hearings done; words: words
        sent in interim deltas (a client has them all once its deltas hold that many)."""
        with self.double.lock:
            self.double.sessions.append(self.stats)

    # --- the wire ----------------------------------------------------------------------------

    def flush(self) -> None:
        data = b"".join(self.proto.data_to_send())
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                raise Cut from None

    def send(self, event: dict[str, Any]) -> None:
        with self.send_lock:
            if self.closed.is_set():
                raise Cut
            self.proto.send_text(json.dumps(event).encode())
            self.flush()

    def error(self, message: str, code: str | None) -> None:
        with self.double.lock:
            self.stats["errors"].append({"error": message, "code": code})
        self.send({"type": "error", "error": message, "code": code})

    def cut(self) -> None:
        """Drop the TCP connection without a close frame."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(2)

    def run(self) -> None:
        try:
            self.send({"type": "session.created", "id": self.id, "created": int(time.time())})
            while not self.closed.is_set():
                data = self.sock.recv(65536)
                if not data:
                    self.proto.receive_eof()
                    break
                with self.send_lock:
                    self.proto.receive_data(data)
                    events = self.proto.events_received()
                    self.flush()  # pongs and the answer to a close
                for frame in events:
                    self.frame(frame)
        except (Cut, OSError):
            pass
        finally:
            self.closed.set()
            self.audio.put(None)  # cleanup: the generation's audio ends
            with self.double.lock:
                self.stats["open"] = False
            log(f"realtime {self.id}: closed after {self.stats['bytes']} bytes "
                f"(sha256 {self.running.hexdigest()})")

    def frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE:
            self.closed.set()
        elif frame.opcode is Opcode.TEXT:
            try:
                event = json.loads(frame.data)
            except ValueError:
                self.error("Invalid JSON", "invalid_json")
                return
            try:
                self.event(event if isinstance(event, dict) else {})
            except (Cut, OSError):
                raise
            except Exception as exc:  # noqa: BLE001 - vLLM: any handler error is an event
                self.error(str(exc), "processing_error")

    # --- client events -------------------------------------------------------------------------

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.update":
            self.update(event.get("model"))
        elif kind == "input_audio_buffer.append":
            self.append(event)
        elif kind == "input_audio_buffer.commit":
            if not self.validated:
                self.error(NOT_VALIDATED, "model_not_validated")
            elif event.get("final", False):
                self.audio.put(None)
            elif self.busy:
                log(f"WARNING realtime {self.id}: Generation already in progress, ignoring "
                    "commit")
            else:
                self.busy = True
                threading.Thread(target=Generation(self).run, daemon=True).start()
        else:
            self.error(f"Unknown event type: {kind}", "unknown_event")

    def update(self, model: object) -> None:
        if model is None:
            self.error("Missing required field: model", "invalid_event")
        elif model not in ("", self.double.served):
            self.error(f"The model `{model}` does not exist.", "model_not_found")
        else:
            self.validated = True
            with self.double.lock:
                self.stats["model"] = model

    def append(self, event: dict[str, Any]) -> None:
        if "audio" not in event:
            raise ValueError("1 validation error for InputAudioBufferAppend\naudio\n  Field "
                             "required [type=missing]")
        try:
            pcm = base64.b64decode(str(event["audio"]), validate=True)
        except (binascii.Error, ValueError):
            pcm = b""
        if len(pcm) < 2:
            self.error("Invalid audio data", "invalid_audio")
            return
        pcm = pcm[: len(pcm) // 2 * 2]
        self.running.update(pcm)
        with self.double.lock:
            self.stats["bytes"] += len(pcm)
            self.stats["sha256"] = self.running.hexdigest()
        self.audio.put(pcm)


class Generation:
    """One utterance: consumes the audio queue up to the final commit's sentinel."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.fault = session.double.fault_for("/v1/realtime")
        self.pcm = bytearray()
        self.sha = hashlib.sha256()
        self.sent: list[str] = []
        self.last: list[str] = []
        self.deltas = 0
        self.appends = 0
        self.stepped = 0
        self.words_at: int | None = None
        """Audio bytes consumed when the first words went out (None: only at the end)."""

    def mode(self) -> str:
        return str(self.fault["mode"]) if self.fault else ""

    def delta(self, text: str) -> None:
        if self.mode() == "slow":
            time.sleep(float(self.fault["seconds"]))  # type: ignore[index]
        self.deltas += 1
        self.s.send({"type": "transcription.delta", "delta": text})

    def run(self) -> None:
        try:
            self.consume()
            self.finish()
        except Cut:
            pass

    def consume(self) -> None:
        """Take the audio as it comes (all that waits at once, so a slow CPU catches up):
        a delta per 80 ms frame, the last of a batch with the words heard so far."""
        while True:
            batch = [self.s.audio.get()]
            while batch[-1] is not None:
                try:
                    batch.append(self.s.audio.get_nowait())
                except queue.Empty:
                    break
            ended = batch[-1] is None
            frames = sum(self.take(chunk) for chunk in batch if chunk is not None)
            if self.s.closed.is_set():
                raise Cut
            for i in range(frames):
                self.delta(self.stable_words() if i == frames - 1 and not ended else "")
            with self.s.double.lock:
                self.s.stats["consumed"] += sum(len(c) for c in batch if c is not None)
            if ended:
                return

    def take(self, chunk: bytes) -> int:
        """Add one append's audio; how many whole 80 ms frames it completed."""
        if not self.pcm and self.mode() in ("drop", "die"):
            if self.mode() == "die":
                log("ERROR EngineCore died mid-utterance (double: die)")
                os._exit(1)
            log(f"realtime {self.s.id}: connection dropped mid-utterance (double: drop)")
            self.s.cut()
            raise Cut
        before = len(self.pcm) // FRAME_BYTES
        self.appends += 1
        self.pcm += chunk
        self.sha.update(chunk)
        return len(self.pcm) // FRAME_BYTES - before

    def stable_words(self) -> str:
        """The words two passes agree on, beyond those sent; "" most steps (see the doc)."""
        if len(self.pcm) - self.stepped < STEP_S * 32000:
            return ""
        self.stepped = len(self.pcm)
        words = self.hear().split()[:-1]
        with self.s.double.lock:
            self.s.stats["passes"] += 1
        agreed = []
        for w, v in zip(words, self.last, strict=False):
            if _norm(w) != _norm(v):
                break
            agreed.append(w)
        self.last = words
        if [_norm(w) for w in agreed[: len(self.sent)]] != [_norm(w) for w in self.sent]:
            return ""
        new = [re.sub(r"[,.!?;:]+$", "", w) for w in agreed[len(self.sent):]]
        new = [w for w in new if w]
        if not new:
            return ""
        text = (" " if self.sent else "") + " ".join(new)
        self.sent += new
        with self.s.double.lock:
            self.s.stats["words"] += len(new)
        if self.words_at is None:
            self.words_at = len(self.pcm)
        return text

    def hear(self) -> str:
        audio = np.frombuffer(bytes(self.pcm), dtype="<i2").astype(np.float32) / 32768.0
        return str(self.s.double.ears.hear(audio))

    def finish(self) -> None:
        words = self.hear().split()
        if [_norm(w) for w in words[: len(self.sent)]] != [_norm(w) for w in self.sent]:
            log(f"WARNING realtime {self.s.id}: the whole utterance was heard differently "
                "from the words already sent; done is what was sent, as vLLM's")
        rest = " ".join(words[len(self.sent):])
        if rest:
            self.delta((" " if self.sent else "") + rest)
        text = " ".join([*self.sent, rest]).strip()
        if self.mode() == "runaway":  # the model ran on: far more words than the audio held
            more = " ".join(["word"] * 3000)
            self.delta(" " + more)
            text = f"{text} {more}".strip()
        record = {"path": "/v1/realtime", "session": self.s.id, "model": self.s.stats["model"],
                  "bytes": len(self.pcm), "sha256": self.sha.hexdigest(), "text": text,
                  "appends": self.appends, "deltas": self.deltas, "words_at": self.words_at,
                  "fault": self.mode()}
        self.s.double.record(record)
        log(f"realtime {self.s.id}: utterance of {len(self.pcm)} bytes (sha256 "
            f"{record['sha256']}): {text!r}")
        if self.mode() == "no_done":
            return
        if self.mode() == "slow":
            time.sleep(float(self.fault["seconds"]))  # type: ignore[index]
        dropped = 0
        while True:  # vLLM empties the queue after done: audio sent too early is lost
            try:
                chunk = self.s.audio.get_nowait()
            except queue.Empty:
                break
            dropped += len(chunk or b"")
        with self.s.double.lock:
            self.s.stats["utterances"] += 1
            self.s.stats["dropped_bytes"] += dropped
        self.s.busy = False  # before done goes out: the client's next commit may follow it
        prompt = PROMPT_TOKENS + len(self.pcm) // FRAME_BYTES
        self.s.send({"type": "transcription.done",
                     "text": 42 if self.mode() == "bad_done" else text, "usage": {
            "prompt_tokens": prompt, "total_tokens": prompt + self.deltas,
            "completion_tokens": self.deltas, "prompt_tokens_details": None}})


def _norm(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def upgrade(handler: Any) -> None:
    """Answer the upgrade (101) and serve the session on the handler's thread."""
    key = handler.headers.get("Sec-WebSocket-Key", "")
    if handler.headers.get("Upgrade", "").lower() != "websocket" or not key:
        handler.send_json(400, {"error": "Expected a WebSocket upgrade"})
        return
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(key))
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True
    Session(handler).run()
