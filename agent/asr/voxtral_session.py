"""One WebSocket session with vLLM's `/v1/realtime`, carrying utterance after utterance.

The protocol (vllm/entrypoints/speech_to_text/realtime/connection.py; the details are in
tests/integration/vllm_double_realtime.py): the server greets with `session.created`; we
send `session.update` with the model; per utterance we send `input_audio_buffer.commit`
(starts a generation), `input_audio_buffer.append` with base64 PCM16, and a commit with
`final: true`, and the server answers `transcription.delta` events, then
`transcription.done` with the text.  Audio sent between a final commit and its `done` is
thrown away by vLLM, so the next utterance waits, in order, until `done` (or a failure).

Threads: the caller (the processing thread) only appends to an unbounded ordered queue and
never blocks; the sender thread drains it in order, sending queued frames of one utterance
as one append (a slow link coalesces, never drops or reorders); the receiver thread reads
events; the connector thread (re)connects with backoff.  The API key goes as a bearer
token on the upgrade request.  A failure mid-utterance (connection lost, an error event,
no `done` in time) fails that utterance only: its `wait()` returns False and says why, the
caller hears it some other way, and the session is opened anew.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import queue
import threading
import time
from typing import Any

from agent.asr.voxtral_client import ANSWER_MAX_BYTES
from agent.asr.voxtral_turn import BYTES_PER_S, Turn, error_body, event_text

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
REFUSAL_S = 30.0
"""After the server refuses the model, utterances fail at once for this long (no audio
is sent); then the next one tries again on a fresh session."""
RECONNECT_WAIT_S = 0.5
"""An utterance that begins while the session is down waits this long for it."""
REFUSALS = ("model_not_found", "invalid_event", "model_not_validated")
APPEND_BYTES = 64_000
"""At most this much audio (2 s) in one append when a backlog is coalesced."""


class Session:
    """The one realtime connection of a backend (see the module doc)."""

    def __init__(self, url: str, model: str, key: str, final_timeout: float,
                 backoff: float, open_timeout: float = 10.0) -> None:
        self.url = url
        self.model = model
        self._key = key
        self.final_timeout = final_timeout
        self.backoff = backoff
        self.open_timeout = open_timeout
        self._items: queue.SimpleQueue[tuple[str, Turn, bytes]] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._ws: Any = None
        self._stack: contextlib.ExitStack | None = None
        self._current: Turn | None = None
        self._stop = threading.Event()
        self._count = 0
        self._last_problem = ""
        self.refused = ""
        """The server's last refusal of the model (one line), or "" (see REFUSAL_S)."""
        self._refused_at = 0.0
        self._refusal_said = False
        """The refusal was said (a warning); said again only after a `done`."""
        self.connects = 0
        self.attempts = 0
        """Connection attempts, successful or not."""
        self._threads: list[threading.Thread] = []

    # --- the caller's side (never blocks) ------------------------------------------------------

    def begin(self) -> Turn:
        with self._lock:
            self._count += 1
            utt = Turn(self._count)
        self._items.put(("start", utt, b""))
        return utt

    def audio(self, utt: Turn, pcm: bytes) -> None:
        if pcm:
            utt.queued += len(pcm)
            self._items.put(("audio", utt, bytes(pcm)))

    def end(self, utt: Turn) -> None:
        self._items.put(("end", utt, b""))

    def cancel(self, utt: Turn) -> None:
        utt.cancelled = True
        self._items.put(("end", utt, b""))

    def wait(self, utt: Turn) -> bool:
        """Block until the utterance is settled: True with its text, False when it failed
        (utt.error says why).  Waits the final timeout, plus four times the real time of
        its audio not sent yet (a slow link), plus 2 s."""
        limit = self.final_timeout + 2.0 + 4 * (utt.queued - utt.sent) / BYTES_PER_S
        if utt.settled.wait(limit):
            return utt.text is not None
        utt.fail(f"voxtral realtime: no transcription.done within {limit:.1f} s (the link "
                 "is stuck)")
        self._drop("stuck")
        return False

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._ws is not None

    def wait_connected(self, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._ws is not None, timeout)

    # --- threads -------------------------------------------------------------------------------

    def start(self) -> None:
        for name, target in (("realtime-connect", self._connector),
                             ("realtime-send", self._sender)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        self._items.put(("stop", Turn(0), b""))
        self._drop("closing")
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def _connector(self) -> None:
        delay = self.backoff
        while not self._stop.is_set():
            with self._lock:
                self._lock.wait_for(lambda: self._ws is None or self._stop.is_set())
            if self._stop.is_set():
                return
            if self._connect():
                delay = self.backoff
                continue
            self._stop.wait(delay)
            delay = min(MAX_BACKOFF_S, delay * 2)

    def _connect(self) -> bool:
        from websockets.exceptions import InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        headers = {"Authorization": f"Bearer {self._key}"} if self._key != "EMPTY" else None
        self.attempts += 1
        stack = contextlib.ExitStack()
        try:
            ws = stack.enter_context(connect(self.url, additional_headers=headers,
                                             open_timeout=self.open_timeout, compression=None,
                                             max_size=ANSWER_MAX_BYTES))
            hello = json.loads(ws.recv(timeout=self.open_timeout))
            if hello.get("type") != "session.created":
                raise ValueError(f"the server greeted with {hello.get('type')!r}, not "
                                 "session.created")
            ws.send(json.dumps({"type": "session.update", "model": self.model}))
        except InvalidStatus as exc:
            stack.close()
            status = exc.response.status_code
            hint = ": check voxtral.api_key" if status == 401 else ""
            self._problem(f"voxtral realtime: {self.url} refused the connection (HTTP "
                          f"{status} {error_body(exc.response.body)}){hint}")
            return False
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            stack.close()
            self._problem(f"voxtral realtime: cannot connect to {self.url} "
                          f"({type(exc).__name__}: {exc})")
            return False
        with self._lock:
            self._ws, self._stack = ws, stack
            self.connects += 1
            self._lock.notify_all()
        self._last_problem = ""
        log.info("voxtral realtime: session open at %s (%s)", self.url, self.model)
        thread = threading.Thread(target=self._receiver, args=(ws,), name="realtime-recv",
                                  daemon=True)
        thread.start()
        return True

    def _problem(self, line: str) -> None:
        """Log a connection problem once (not at every retry)."""
        if line != self._last_problem:
            log.warning("%s; retrying in the background", line)
            self._last_problem = line

    def _drop(self, why: str) -> None:
        """Close the connection (the connector opens a new one); fail what is in flight."""
        with self._lock:
            ws, stack, current = self._ws, self._stack, self._current
            self._ws, self._stack, self._current = None, None, None
            self._lock.notify_all()
        if current is not None:
            current.fail(f"voxtral realtime: connection lost mid-utterance ({why})")
        if stack is not None:
            threading.Thread(target=stack.close, daemon=True).start()  # never block on it
        del ws

    def _receiver(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                self._event(json.loads(ws.recv()), ws)
        except ConnectionClosed as exc:
            frame = exc.rcvd or exc.sent  # sent: we closed it (1009: a message too big)
            code = frame.code if frame is not None else 1006
            with self._lock:
                mine = self._ws is ws
            if mine:
                self._drop(f"closed with code {code}")
        except (ValueError, RecursionError) as exc:
            self._drop(f"a malformed event: {' '.join(str(exc).split())[:120]}")
        except OSError as exc:
            self._drop(f"{type(exc).__name__}: {exc}")

    def _event(self, event: Any, ws: Any) -> None:
        """One server event.  One that is not what vLLM sends (not a JSON object, a text
        that is not a string, more text than ANSWER_MAX_BYTES) raises ValueError: the
        receiver drops the session and the utterance in flight fails."""
        with self._lock:
            if self._ws is not ws:
                return  # a connection already given up: nothing it says counts now
            utt = self._current
        if not isinstance(event, dict):
            raise ValueError(f"an event that is a JSON {type(event).__name__}")
        kind = event.get("type")
        if kind == "transcription.delta" and utt is not None:
            utt.deltas.append(event_text(event, "delta", utt))
        elif kind == "transcription.done" and utt is not None:
            text = event_text(event, "text", utt)
            with self._lock:
                self._current = None
            utt.text = text.strip()
            self._refusal_said = False
            utt.settled.set()
        elif kind == "error":
            self._error(event, utt)

    def _error(self, event: dict[str, Any], utt: Turn | None) -> None:
        """An error event: the utterance in flight fails and the session, out of step now,
        is dropped.  A refusal of the model is said once (a warning with the setting to
        check); the turns it fails later, and the refusals of sessions opened again, say
        it only at INFO."""
        line = f"voxtral realtime: {event.get('error')} ({event.get('code')})"
        if event.get("code") in REFUSALS:
            if not self._refusal_said:
                log.warning("%s: is voxtral.realtime_model what the server serves?", line)
            else:
                log.info("%s", line)
            self._refusal_said = True
            self.refused, self._refused_at = line, time.monotonic()
        elif utt is None:
            log.warning("%s", line)
        if utt is None:
            return
        utt.fail(line)
        self._drop(str(event.get("code")))  # the server's generation is out of step now

    # --- the sender ----------------------------------------------------------------------------

    def _sender(self) -> None:
        pending: tuple[str, Turn, bytes] | None = None
        while not self._stop.is_set():
            kind, utt, pcm = pending or self._items.get()
            pending = None
            if kind == "stop":
                return
            if utt.settled.is_set():  # failed already: the rest of it is dropped here
                continue
            try:
                if kind == "start":
                    self._send_start(utt)
                elif kind == "audio" and utt.started:
                    pcm, pending = self._coalesce(utt, pcm)
                    self._send({"type": "input_audio_buffer.append",
                                "audio": base64.b64encode(pcm).decode("ascii")})
                    utt.sent += len(pcm)
                elif kind == "end":
                    self._send_end(utt)
            except _Lost as exc:
                utt.fail(f"voxtral realtime: connection lost mid-utterance ({exc})")

    def _coalesce(self, utt: Turn, pcm: bytes) -> tuple[bytes, Any]:
        """This chunk and the audio of the same utterance queued right behind it."""
        parts = [pcm]
        size = len(pcm)
        while size < APPEND_BYTES:
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                return b"".join(parts), None
            if item[0] != "audio" or item[1] is not utt:
                return b"".join(parts), item
            parts.append(item[2])
            size += len(item[2])
        return b"".join(parts), None

    def _send_start(self, utt: Turn) -> None:
        if self.refused and time.monotonic() - self._refused_at < REFUSAL_S:
            utt.fail(self.refused)
            return
        with self._lock:  # a session being opened again is worth a moment (queued, in order)
            if not self._lock.wait_for(lambda: self._ws is not None, RECONNECT_WAIT_S):
                utt.fail(f"voxtral realtime: not connected to {self.url}")
                return
            self._current = utt
        utt.started = True
        self._send({"type": "input_audio_buffer.commit"})

    def _send_end(self, utt: Turn) -> None:
        if not utt.started:
            utt.fail("cancelled" if utt.cancelled else "never started")
            return
        self._send({"type": "input_audio_buffer.commit", "final": True})
        utt.ended_at = time.monotonic()
        if not utt.settled.wait(self.final_timeout):  # the next utterance waits for done
            utt.fail(f"voxtral realtime: no transcription.done within "
                     f"{self.final_timeout:g} s of the end of the utterance")
            self._drop("no transcription.done")  # a late done must not be taken for the next

    def _send(self, event: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            ws = self._ws
        if ws is None:
            raise _Lost("not connected")
        try:
            ws.send(json.dumps(event))
        except (ConnectionClosed, OSError) as exc:
            self._drop(type(exc).__name__)
            raise _Lost(type(exc).__name__) from None


class _Lost(Exception):
    """The connection went away while sending."""
