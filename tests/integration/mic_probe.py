"""Record from agent.audio.mic_source.MicSource in a process of its own (for test_microphone).

    python mic_probe.py OUT --seconds S [--device SPEC] [--queue-blocks N]
                            [--stall-at T --stall-for W]

Prints `{"ready": true, "started_at": ...}` on stdout once the first frame arrived, then
records frames until S seconds of stream time, pausing (not iterating frames()) for W
wall seconds once stream time T is reached. Writes OUT.raw (every frame's PCM, in order)
and OUT.json (frame starts and lengths, overruns, status_flags, started_at). Logs go to
stderr. Run with the virtual microphone's environment: PortAudio lists devices once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from agent.audio.mic_source import MicSource


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--device", default="")
    p.add_argument("--queue-blocks", type=int, default=300)
    p.add_argument("--stall-at", type=float, default=-1.0)
    p.add_argument("--stall-for", type=float, default=0.0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s:%(name)s:%(message)s")
    mic = MicSource(args.device, block_ms=30, queue_blocks=args.queue_blocks)
    starts: list[float] = []
    lengths: list[int] = []
    stalled = False
    with args.out.with_suffix(".raw").open("wb") as raw:
        for frame in mic.frames():
            if not starts:
                print(json.dumps({"ready": True, "started_at": mic.started_at}), flush=True)
            starts.append(frame.start)
            lengths.append(len(frame.pcm))
            raw.write(frame.pcm)
            if not stalled and 0 <= args.stall_at <= frame.start:
                stalled = True
                time.sleep(args.stall_for)
            if frame.start >= args.seconds:
                mic.stop()
    args.out.with_suffix(".json").write_text(json.dumps({
        "starts": starts, "lengths": lengths, "overruns": mic.overruns,
        "status_flags": mic.status_flags, "started_at": mic.started_at,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
