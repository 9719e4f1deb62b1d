"""The peer of bench/live_latency.py: RealtimeSTT 1.1.2 fed the same clips in real time.

Runs in bench/.peer-venv (bench/peer/setup.sh), never in the project's environment:

    bench/.peer-venv/bin/python bench/peer/driver.py MODEL_FOLDER [--compute-type int8]

`AudioToTextRecorder(use_microphone=False, post_speech_silence_duration=0.3,
silero_deactivity_detection=True)` on the CTranslate2 folder given (the agent's
embedded tiny.en), on the CPU. A feeder thread plays the part of a microphone: every
32 ms (512 samples, the recorder's chunk) it hands `recorder.feed_audio` the chunk that
has just been "recorded", from the clip being played or silence. Another thread loops
on `recorder.text()` and stamps each final text on the monotonic clock.

Silero VAD: the recorder's default backend ("auto") runs the ONNX file that the PyPI
`silero-vad` package ships (onnxruntime), so nothing is loaded through torch.hub.
TORCH_HOME is pointed at an empty folder so no cached hub copy can stand in for it;
the backend in use is reported in the ready line.

Protocol, one JSON object per line. Stdin:
  {"clip": PATH, "off": S, "hold": BOOL, "timeout": S}
      play the clip (16 kHz mono s16le WAV); `off`: seconds into it where the speech
      ends; `hold`: the clip's noise goes on until a text arrives, then stops (steady
      noise); `timeout`: seconds after the end of speech to wait for a text.
Stdout (only this program's lines; everything else it or its libraries print goes
to stderr):
  {"peer": "ready", "vad": BACKEND, "load_s": S}
  {"peer": "trial", "clip": PATH, "started": T, "speech_end": T, "texts": [[T, TEXT]...]}
      T on time.monotonic() (CLOCK_MONOTONIC, shared by every process); texts are
      the final texts that arrived from the clip's start until the trial ended.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field
from typing import Any, TextIO

RATE = 16_000
CHUNK = 512
"""Samples per feed_audio call: RealtimeSTT's buffer_size."""
SETTLE_S = 0.6
"""After the first text following the end of speech, wait this long for more."""


@dataclass
class Clip:
    pcm: bytes
    started: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


class Feeder(threading.Thread):
    """Feeds the recorder in real time: chunk k is handed over when its last sample has
    been "recorded" (start + (k + 1) * 32 ms), as a microphone would deliver it."""

    def __init__(self, recorder: Any) -> None:
        super().__init__(name="peer-feeder", daemon=True)
        self.recorder = recorder
        self.lock = threading.Lock()
        self.clip: Clip | None = None
        self.offset = 0
        self.halt = threading.Event()

    def play(self, clip: Clip) -> None:
        with self.lock:
            self.clip, self.offset = clip, 0

    def cut(self) -> None:
        """Stop the clip now: silence from the next chunk on."""
        with self.lock:
            if self.clip is not None:
                self.clip.done.set()
            self.clip = None

    def _chunk(self, slot: float) -> bytes:
        size = 2 * CHUNK
        with self.lock:
            clip = self.clip
            if clip is None:
                return bytes(size)
            if self.offset == 0:
                clip.started = slot
            out = clip.pcm[self.offset: self.offset + size]
            self.offset += size
            if self.offset >= len(clip.pcm):
                clip.done.set()
                self.clip = None
        return out + bytes(size - len(out))

    def run(self) -> None:
        start = time.monotonic()
        k = 0
        while not self.halt.is_set():
            slot = start + k * CHUNK / RATE  # when this chunk's first sample is "spoken"
            delay = slot + CHUNK / RATE - time.monotonic()
            if delay > 0 and self.halt.wait(delay):
                break
            self.recorder.feed_audio(self._chunk(slot))
            k += 1


def read_clip(path: str) -> bytes:
    with wave.open(path, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise ValueError(f"{path}: not 16 kHz mono 16-bit")
        return w.readframes(w.getnframes())


def trial(feeder: Feeder, texts: queue.Queue[tuple[float, str]], ask: dict[str, Any]
          ) -> dict[str, Any]:
    clip = Clip(read_clip(ask["clip"]))
    while not texts.empty():  # left from an earlier trial
        texts.get_nowait()
    feeder.play(clip)
    while not clip.started:
        time.sleep(0.005)
    speech_end = clip.started + float(ask["off"])
    got: list[tuple[float, str]] = []
    deadline = speech_end + float(ask["timeout"])
    while True:
        try:
            at, text = texts.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        got.append((at, text))
        if at >= speech_end:
            if ask.get("hold"):
                feeder.cut()
            deadline = min(deadline, at + SETTLE_S)
    feeder.cut()
    return {"peer": "trial", "clip": ask["clip"], "started": clip.started,
            "speech_end": speech_end, "texts": got}


def listen(recorder: Any, texts: queue.Queue[tuple[float, str]], halt: threading.Event
           ) -> None:
    while not halt.is_set():
        text = recorder.text()
        if text:
            texts.put((time.monotonic(), text))


def make_recorder(model: str, compute_type: str) -> Any:
    from RealtimeSTT import AudioToTextRecorder

    return AudioToTextRecorder(
        model=model, device="cpu", compute_type=compute_type, language="en",
        use_microphone=False, spinner=False, no_log_file=True, level=logging.WARNING,
        post_speech_silence_duration=0.3, silero_deactivity_detection=True)


def private_stdout() -> TextIO:
    """This program's own stdout; fd 1 (inherited by the recorder's worker processes)
    becomes stderr, so nothing else lands among the JSON lines."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="CTranslate2 Whisper model folder")
    ap.add_argument("--compute-type", default="int8")
    args = ap.parse_args()
    out = private_stdout()
    os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="peer-torch-home-")
    began = time.monotonic()
    recorder = make_recorder(args.model, args.compute_type)
    texts: queue.Queue[tuple[float, str]] = queue.Queue()
    halt = threading.Event()
    feeder = Feeder(recorder)
    feeder.start()
    threading.Thread(target=listen, args=(recorder, texts, halt), daemon=True).start()
    vad = recorder.silero_vad_model.backend
    out.write(json.dumps({"peer": "ready", "vad": vad,
                          "load_s": round(time.monotonic() - began, 2)}) + "\n")
    try:
        for line in sys.stdin:
            if line.strip():
                out.write(json.dumps(trial(feeder, texts, json.loads(line))) + "\n")
    finally:
        halt.set()
        feeder.halt.set()
        recorder.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
