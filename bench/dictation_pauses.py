"""How soon dictation could end at a pause, and how often that would cut a sentence.

    .venv/bin/python bench/dictation_pauses.py               # both sets of bench/dictation.py
    .venv/bin/python bench/dictation_pauses.py --json

The clips of bench/dictation.py (recorded people and synthetic voices), each followed by
2 s of silence, go through the agent's own segmenter (agent/audio/vad.py, the default
[vad] settings: webrtcvad, Silero's end opinion), frame by frame in stream time, no
model.  Today a dictated utterance ends at vad.end_ms (or the hangover).  The policy
measured here closes it at the first whole peek whose pause then lasts N ms
(Segmenter.close_if_paused, as the turn policy closes commands at early_end_ms or
settle_ms).  Per N: the clips cut into more than one utterance (a pause of N ms inside
what was said as one dictation), and from the end of speech to the close of the last
utterance, p50 and p95.  Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import dictation as dt  # noqa: E402

from agent.audio.vad import Pausing, Segmenter  # noqa: E402
from agent.config import VadConfig  # noqa: E402
from agent.messages import AudioFrame  # noqa: E402

FRAME_MS = 30
PAUSES_MS = (150, 200, 250, 300, 350, 400)


def closes(item: dt.Item, pause_ms: int | None) -> list[float]:
    """Stream times (s) at which the segmenter closed utterances in the clip and 2 s of
    silence after it: at vad.end_ms (pause_ms None), or at a whole peek once its pause
    lasted pause_ms."""
    seg = Segmenter(VadConfig(), frame_ms=FRAME_MS)
    pcm = item.pcm + bytes(int(2 * dt.GAP_S * 16000))
    step = 2 * 16 * FRAME_MS
    out, pending = [], None
    for i in range(len(pcm) // step):
        at = i * FRAME_MS / 1000
        if seg.feed(AudioFrame(pcm[i * step:(i + 1) * step], at)) is not None:
            out.append(at + FRAME_MS / 1000)
            pending = None
        peek = seg.take_peek()
        if pause_ms is not None and peek is not None and peek.whole:
            pending = peek.id
        if pending is not None:
            closed = seg.close_if_paused(pending, pause_ms or 0)
            if closed is not Pausing.PAUSING:
                pending = None
                if closed is not None:
                    out.append(at + FRAME_MS / 1000)
    return out


def row(items: list[dt.Item], pause_ms: int | None) -> dict[str, Any]:
    cut, delays, names = 0, [], []
    for item in items:
        if not item.said:
            continue
        got = closes(item, pause_ms)
        cut += len(got) > 1
        names += [item.name] if len(got) > 1 else []
        if got:
            delays.append(got[-1] - item.speech_off)
    return {"pause_ms": pause_ms, "clips": sum(bool(i.said) for i in items), "cut": cut,
            "close_p50": round(float(np.percentile(delays, 50)), 3),
            "close_p95": round(float(np.percentile(delays, 95)), 3), "cut_clips": names}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"human": dt.human_items(), "synthetic": dt.synthetic_items(Path(tmp))}
    rows = [{"set": name} | row(items, n) for name, items in sets.items()
            for n in (None, *PAUSES_MS)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("| set | close at | clips cut in two or more | end of speech -> close p50 / p95 |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        how = "vad.end_ms (today)" if r["pause_ms"] is None else f"whole peek + {r['pause_ms']} ms"
        print(f"| {r['set']} | {how} | {r['cut']}/{r['clips']} | "
              f"{1000 * r['close_p50']:.0f} / {1000 * r['close_p95']:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
