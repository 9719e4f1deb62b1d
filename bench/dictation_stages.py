"""Where a dictated utterance's decoding time goes, stage by stage, in CPU time.

    .venv/bin/python bench/dictation_stages.py
    git archive main | tar -x -C /tmp/old && \\
        .venv/bin/python bench/dictation_stages.py --agent-src /tmp/old    # main's agent

The clips of bench/dictation.py (recorded people and synthetic voices) are each heard,
decided and acted on as the pipeline does it in dictation mode (agent/worker.py
Worker.process: the first decode with the vocabulary prompt, agent/decide/'s
free-text step; a dry run), in this process, with the real model (embedded tiny.en).
Every encoding, decode and scoring pass is timed: process CPU time (all of CTranslate2's
threads; what the work costs whatever else the machine runs) and wall time.  Printed:
per stage, the clips that ran it and its p50 / mean per clip; the whole, p50 and p95;
and "before typing": the stages' time until the first text was typed (dictation typed
early, agent/worker.py _typed_early, types before its full-window work).
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


CURRENT: dict[str, list[float]] = defaultdict(list)
"""The clip being decided: each stage's CPU seconds (and wall seconds, as "<stage> wall")."""


def instrument() -> None:
    """Wrap WhisperHearing's encoder, decode and scoring calls to add their CPU and wall
    seconds to CURRENT under the stage's name."""
    from agent.asr.hearing import WhisperHearing

    inner: list[list[float]] = []
    """Per call being timed, the CPU and wall seconds of the timed calls inside it (a
    decode encodes its window first): each stage counts its own time only."""

    def timed(name: Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *args: Any) -> Any:
            stage = name(self, *args)
            cpu, wall = time.process_time(), time.perf_counter()
            inner.append([0.0, 0.0])
            try:
                out = fn(self, *args)
            finally:
                nested = inner.pop()
            took = [time.process_time() - cpu, time.perf_counter() - wall]
            if inner:
                inner[-1][0] += took[0]
                inner[-1][1] += took[1]
            if stage:
                CURRENT[stage].append(took[0] - nested[0])
                CURRENT[stage + " wall"].append(took[1] - nested[1])
            return out
        return run

    WhisperHearing.encoded = timed(  # type: ignore[method-assign]
        lambda self, w: "" if w in self._encoded else f"encode {'30' if w >= 30 else 'fitted'} s",
        WhisperHearing.encoded)
    WhisperHearing._generated = timed(  # type: ignore[method-assign]
        lambda self, w, h: "decode " + ("prompted" if h.phrases else "no prompt")
        + (" 30 s" if w >= 30 else " fitted"),
        WhisperHearing._generated)
    WhisperHearing.score = timed(lambda self, texts, h: "score",  # type: ignore[method-assign]
                                 WhisperHearing.score)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agent-src", type=Path, help="run the agent's code from this checkout")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sys.path[:0] = [str(args.agent_src or REPO), str(REPO / "bench")]
    from agent.actions.dryrun import DryRunExecutor  # first: `agent` comes from --agent-src
    from agent.asr.whisper import WhisperRecogniser
    from agent.build import command_library, new_dispatcher
    from agent.config import Config
    from agent.decide import Decider
    from agent.messages import Mode, Utterance
    from agent.worker import Worker

    dt = importlib.import_module("dictation")  # after `agent`, which it would take from here

    cfg = Config()
    recogniser = WhisperRecogniser(cfg)
    recogniser.load()
    dispatcher = new_dispatcher(cfg, command_library(cfg))
    dispatcher.set_mode(Mode.DICTATION)
    decider = Decider(recogniser, dispatcher, cfg.commands)

    class Typing(DryRunExecutor):
        """Notes the stages' time so far when the first text is typed."""

        def perform(self, action: Any) -> None:
            if action.to_json()["action"] == "type" and "before typing" not in CURRENT:
                CURRENT["before typing"] = [sum(sum(v) for k, v in CURRENT.items()
                                                if not k.endswith(" wall"))]
                CURRENT["before typing wall"] = [sum(sum(v) for k, v in CURRENT.items()
                                                     if k.endswith(" wall"))]
            super().perform(action)

    worker = Worker(recogniser, decider, Typing(), cfg.whisper.alternatives)
    with tempfile.TemporaryDirectory() as tmp:
        items = [i for i in dt.human_items() + dt.synthetic_items(Path(tmp)) if i.said]
    per_clip: list[dict[str, float]] = []
    instrument()
    for item in items:
        CURRENT.clear()
        worker.process(Utterance(item.pcm, 0.0, len(item.pcm) / 32000))
        dispatcher.set_mode(Mode.DICTATION)  # a fresh field: each clip starts anew
        per_clip.append({k: sum(v) for k, v in CURRENT.items()})
    report(per_clip, args.json)
    return 0


def report(per_clip: list[dict[str, float]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(per_clip, indent=1))
        return
    stages = sorted({k for c in per_clip for k in c if not k.endswith(" wall")})
    print("| stage | clips | CPU p50 / mean ms | wall p50 / mean ms |")
    print("| --- | --- | --- | --- |")
    for s in stages:
        cpu = [c[s] for c in per_clip if s in c]
        wall = [c[s + " wall"] for c in per_clip if s in c]
        print(f"| {s} | {len(cpu)}/{len(per_clip)} | {1000 * np.median(cpu):.0f} / "
              f"{1000 * np.mean(cpu):.0f} | {1000 * np.median(wall):.0f} / "
              f"{1000 * np.mean(wall):.0f} |")
    total = [sum(v for k, v in c.items() if not k.endswith(" wall")
                 and not k.startswith("before")) for c in per_clip]
    wall = [sum(v for k, v in c.items() if k.endswith(" wall")
                and not k.startswith("before")) for c in per_clip]
    print(f"| all | {len(total)} | {1000 * np.median(total):.0f} / p95 "
          f"{1000 * np.percentile(total, 95):.0f} | {1000 * np.median(wall):.0f} / p95 "
          f"{1000 * np.percentile(wall, 95):.0f} |")


if __name__ == "__main__":
    sys.exit(main())
