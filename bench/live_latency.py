"""Live latency on the end-to-end rig: end of speech to the keystroke arriving in a window,
and the agent's CPU use while it listens to silence.

    .venv/bin/python bench/live_latency.py              # 20 commands, 20 s of silence
    .venv/bin/python bench/live_latency.py --trials 40 --silence 60

The rig of tests/e2e: a private Xvfb with the Tk key-logging window focused, a
PulseAudio virtual microphone fed in real time, and `voxagent run` (live, real
XTEST input, no tray host) listening on it. Each trial plays a spoken command
(flite, voice slt) and times, on one monotonic clock:

  end of speech   when the last voiced sample of the clip was written to the microphone
  keystroke       when the window reported the command's key (its stdout line arrived)

and reads the agent's own JSON latency parts (closed, transcribed, performed, from
its stream clock). Then the microphone plays silence and the agent's CPU time
(utime + stime from /proc) is sampled: percent of one core while listening.

Figures only; nothing is asserted. Results also go to bench/out/live_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.rig import LiveAgent, spoken  # noqa: E402
from tests.integration import pulse, x11  # noqa: E402

COMMANDS = {"new tab": "t", "close tab": "w", "copy": "c", "paste": "v", "undo": "z",
            "find": "f", "select all": "a", "reload page": "r", "save file": "s"}
"""Spoken command -> the letter it presses with ctrl."""
CTRL = 0x4


@dataclass
class TimedKeylog(x11.KeylogWindow):
    """The keylog window, with the arrival time of every key it reports."""

    keys: queue.Queue[tuple[float, dict[str, Any]]] = field(default_factory=queue.Queue)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            at = time.monotonic()
            message = json.loads(line)
            if message.get("event") == "key":
                self.keys.put((at, message))
            self.lines.put(line)
        self.lines.put(None)

    def wait_key(self, letter: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            at, key = self.keys.get(timeout=max(0.0, deadline - time.monotonic()))
            if key["keysym"].lower() == letter and key["state"] & CTRL:
                return at


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95(xs: list[float]) -> float:
    return float(np.percentile(xs, 95))


def trials(agent: LiveAgent, window: TimedKeylog, n: int) -> list[dict[str, Any]]:
    results = []
    names = list(COMMANDS)
    for i in range(n):
        phrase = names[i % len(names)]
        clip = agent.mic.play_file(spoken(phrase).path)
        agent.mic.silence(1.0)
        clip.wait()
        speech_end = clip.started_at + spoken(phrase).off
        try:
            key_at = window.wait_key(COMMANDS[phrase], timeout=15)
            line = agent.next_json(timeout=5)
        except queue.Empty:
            results.append({"phrase": phrase, "missed": True})
            print(f"{phrase!r}: no keystroke", flush=True)
            continue
        got = {"phrase": phrase, "keystroke": round(key_at - speech_end, 3),
               **{k: line["latency"].get(k) for k in ("closed", "transcribed", "performed")}}
        results.append(got)
        print(json.dumps(got), flush=True)
        time.sleep(0.3)
    return results


def silence_cpu(agent: LiveAgent, seconds: float) -> float:
    agent.mic.silence(seconds + 2)
    time.sleep(2)  # settle
    before, t0 = cpu_seconds(agent.proc.pid), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu_seconds(agent.proc.pid) - before, time.monotonic() - t0
    return 100 * used / wall


def summary(results: list[dict[str, Any]], cpu: float) -> dict[str, Any]:
    hit = [r for r in results if not r.get("missed")]
    out: dict[str, Any] = {"trials": len(results), "missed": len(results) - len(hit),
                           "cpu_percent_listening_to_silence": round(cpu, 1)}
    for part in ("keystroke", "closed", "transcribed", "performed"):
        xs = [r[part] for r in hit if r.get(part) is not None]
        if xs:
            out[part] = {"median": round(statistics.median(xs), 3), "p95": round(p95(xs), 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--silence", type=float, default=20.0, help="seconds of silence for CPU")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxagent-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        x11.require_tools()
        server = x11.start_xvfb(tmp / "xvfb.log")
        window = TimedKeylog.start(server, tmp / "keylog.txt")
        try:
            window.focus()
            with pulse.virtual_microphone() as mic:
                agent = LiveAgent(mic, server, tmp / "agent", "--no-tray")
                try:
                    results = trials(agent, window, args.trials)
                    cpu = silence_cpu(agent, args.silence)
                finally:
                    agent.stop()
        finally:
            window.stop()
            x11.stop_process(server.process)
    report = summary(results, cpu) | {"machine": {"cores": os.cpu_count()}}
    out = REPO / "bench" / "out" / "live_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": report, "trials": results}, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
