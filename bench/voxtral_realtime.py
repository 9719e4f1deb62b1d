"""End of speech to action: Voxtral Realtime, file Voxtral and whisper, against the vLLM double.

    .venv/bin/python bench/voxtral_realtime.py            # 3 rounds of 4 commands
    .venv/bin/python bench/voxtral_realtime.py --rounds 5 --partials

Starts tests/integration/vllm_double.py serving the realtime model (it "hears" with
faster-whisper tiny.en on this CPU, so its own times say nothing of Voxtral on a GPU: what
this shows is the plumbing), then plays espeak commands in real time through the real
segmenter, the way the capture thread does (by default the double hears each utterance
once, at its end, as its file endpoint does, so the three differ only in their plumbing;
--partials adds its CPU passes for partial text):
  realtime  frames go to the /v1/realtime stream while speech goes on; at the end the
            utterance is committed and the text taken when transcription.done arrives
  file      the closed utterance is sent to /v1/audio/transcriptions (same server)
  whisper   the closed utterance is decoded by the embedded faster-whisper
Each is timed from the end of speech (the last voiced frame, as the segmenter reports it,
on the paced clock) to the command being decided, and from the segmenter closing the
utterance (its hangover later) to the same point.  Prints median and p95; nothing is
asserted.  On a GPU, bench/voxtral_gpu.sh measures the real thing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.actions.launch import app_names
from agent.asr.base import Hint, Stream, create
from agent.asr.config import served
from agent.asr.voxtral import VoxtralRecogniser
from agent.asr.voxtral_realtime import RealtimeRecogniser
from agent.audio.file_source import FileSource
from agent.audio.vad import Segmenter
from agent.config import Config
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.messages import Transcript
from agent.paths import data_dir
from tests.integration.vllm_support import REALTIME_MODEL, Double, config, free_port, speak

PHRASES = ("scroll down", "new tab", "go back", "select all")


def play(path: Path, cfg: Config, stream_from: Callable[[], Stream] | None,
         hear: Callable[[bytes], Transcript] | None, hint: Hint, dispatcher: Dispatcher
         ) -> list[tuple[float, float, str]]:
    """Pace `path` like a microphone through the segmenter; each utterance streamed (when
    `stream_from`) or heard once closed: (s from end of speech, s from the close, command)."""
    seg = Segmenter(cfg.vad, cfg.audio.block_ms)
    ring: deque[bytes] = deque(maxlen=(cfg.vad.pre_roll_ms + 300) // cfg.audio.block_ms + 1)
    stream: Stream | None = None
    out = []
    started = time.monotonic()
    for frame in FileSource(path, cfg.audio.block_ms, fast=False).frames():
        if stream is not None:
            stream.feed(frame.pcm)
        else:
            ring.append(frame.pcm)
        utt = seg.feed(frame)
        if stream_from is not None and stream is None and seg.in_speech:
            stream = stream_from()
            for pcm in ring:
                stream.feed(pcm)
            ring.clear()
        if utt is None:
            continue
        closed = time.monotonic()
        if stream is not None:
            text = stream.finish(utt.pcm).decode(hint).text
            stream = None
        else:
            assert hear is not None
            text = hear(utt.pcm).text
        decision = dispatcher.dispatch(Transcript(text=text))
        now = time.monotonic()
        out.append((now - (started + utt.end), now - closed, decision.command or ""))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--partials", action="store_true", help="let the double hear partial text "
                   "while audio arrives (on a busy CPU its extra passes dominate the times)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="voxtral-realtime-"))
    files = [speak(tmp, f"p{i}", text, pause_s=0.8) for i, text in enumerate(PHRASES)]
    port = free_port()
    double = Double(port, tmp / "double.log", model=REALTIME_MODEL,
                    env={} if args.partials else {"VLLM_DOUBLE_RT_STEP_S": "1e9"}).start()
    cfg = replace(Config(), voxtral=config(port, tmp, mode="realtime", manage_server=False,
                                           request_timeout_s=30.0))
    realtime = RealtimeRecogniser(cfg)
    realtime.load()
    file = VoxtralRecogniser(replace(cfg, voxtral=served(cfg.voxtral)))
    file.load()
    whisper = create("whisper", cfg)
    whisper.load()
    dispatcher = Dispatcher(CommandLibrary([data_dir("commands")], app_names({})).commands)
    hint = Hint(tuple(dispatcher.vocabulary("")), 5)
    times: dict[str, list[tuple[float, float]]] = {"realtime": [], "file": [], "whisper": []}
    right: dict[str, int] = dict.fromkeys(times, 0)
    try:
        for _ in range(args.rounds):
            for path, said in zip(files, PHRASES, strict=True):
                runs = {"realtime": (realtime.stream, None),
                        "file": (None, lambda pcm: file.hear(pcm).decode(hint)),
                        "whisper": (None, lambda pcm: whisper.hear(pcm).decode(hint))}
                for name, (stream_from, hear) in runs.items():
                    for eos, closed, command in play(path, cfg, stream_from, hear, hint,
                                                     dispatcher):
                        times[name].append((eos, closed))
                        right[name] += command == said
    finally:
        realtime.close()
        file.close()
        whisper.close()
        double.stop()
    n = args.rounds * len(PHRASES)
    print(f"== end of speech -> command decided, through the double ({n} phrases each; "
          f"hangover {cfg.vad.hangover_ms} ms) ==")
    for name, pairs in times.items():
        eos = [a for a, _ in pairs]
        closed = [b for _, b in pairs]
        print(f"{name:8} from end of speech: median {statistics.median(eos):.3f} s, p95 "
              f"{np.percentile(eos, 95):.3f} s | from the close: median "
              f"{statistics.median(closed):.3f} s | right {right[name]}/{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
