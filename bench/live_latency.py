"""Live latency on the end-to-end rig, clean and in noise, beside RealtimeSTT in the same run.

    sh bench/peer/setup.sh                    # once: bench/.peer-venv (peer + Piper voice)
    .venv/bin/python bench/live_latency.py                # 40 trials, then the peer
    .venv/bin/python bench/live_latency.py --trials 10 --no-peer
    .venv/bin/python bench/live_latency.py --conditions clean,onset-12 --voices flite-slt,piper-joe

(In a git worktree, set PYTHONPATH to it: the agent under test is imported from there.)

voxagent: the rig of tests/e2e, a private Xvfb with the Tk key-logging window focused,
a PulseAudio virtual microphone fed in real time, and `voxagent run` (live, real XTEST
input, no tray host) listening on it. Each trial plays one clip of bench/live_clips.py
(a key command in one of six voices, clean, in steady noise or in noise that starts
0.5 s before the speech and ends 1 s after it; 12 and 20 dB SNR) and takes, on one
monotonic clock:

  end of speech   when the clip's last voiced sample was written to the microphone
  key press       when the window reported the first (non-modifier) key after it

A clean warm-up trial comes first and is not counted.
"Right": exactly one key press in the trial, the command's key with its modifiers
(nothing pressed twice). Steady noise goes on until the first key press (at most 8 s
after the speech). Then the microphone plays silence and the agent's CPU time
(utime + stime from /proc, its process tree) is sampled: percent of one core while
listening. Peak RSS is VmHWM of the agent's processes.

The peer, after voxagent in the same run (never at the same time): RealtimeSTT 1.1.2,
post_speech_silence_duration 0.3 s and silero_deactivity_detection on, the same
embedded tiny.en folder, fed the same clips in real time through feed_audio by
bench/peer/driver.py in bench/.peer-venv; timed from the end of speech to its final
text; "right" when the words of all its final texts in the trial are the command's (a
stray text on the noise counts against it; voxagent matches commands, the peer only
transcribes, so the two counts are not like for like). Its idle CPU (its feeder thread
included) and peak RSS (VmHWM summed over its processes) are taken the same way.
Ratio: the peer's p50 over voxagent's ("N x faster" / "slower").

Figures only; nothing is asserted. Other work on the machine shows in the figures: the
load average at the start and end is recorded. Results go to bench/out/live_latency.json
(the clips to bench/out/live_clips/).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import live_clips as lc  # noqa: E402
import live_report as lr  # noqa: E402

from tests.e2e.rig import LiveAgent  # noqa: E402
from tests.integration import pulse, x11  # noqa: E402

OUT = REPO / "bench" / "out"
TIMEOUT_S = 10.0
"""Seconds after the end of speech (or after steady noise stops) to wait for a key."""
SETTLE_S = 1.5
"""After the first key, how long more keys (a second action) are still counted."""


@dataclass
class TimedKeylog(x11.KeylogWindow):
    """The keylog window, with the arrival time of every key it reports."""

    keys: queue.Queue[tuple[float, dict[str, Any]]] = field(default_factory=queue.Queue)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            at = time.monotonic()
            message = json.loads(line)
            if message.get("event") == "key" and message["keysym"] not in x11.MODIFIER_KEYSYMS:
                self.keys.put((at, message))
            self.lines.put(line)
        self.lines.put(None)

    def keys_until(self, deadline: float, first_only: bool = False
                   ) -> list[tuple[float, dict[str, Any]]]:
        got = []
        while not (first_only and got):
            try:
                got.append(self.keys.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return got


def drain(q: queue.Queue[Any]) -> list[Any]:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def key_matches(key: dict[str, Any], want: tuple[str, int]) -> bool:
    mask = x11.CTRL | x11.SHIFT | x11.ALT | x11.SUPER
    return key["keysym"].lower() == want[0] and key["state"] & mask == want[1]


def agent_trial(agent: LiveAgent, window: TimedKeylog, trial: lc.Trial, clip: lc.Clip
                ) -> dict[str, Any]:
    drain(window.keys)
    drain(agent.out.lines)
    played = agent.mic.say(clip.pcm)
    while not played.started_at:
        time.sleep(0.005)
    speech_end = played.started_at + clip.speech_off
    wait = TIMEOUT_S + (lc.STEADY_HOLD_S if clip.hold else 0.0)
    keys = window.keys_until(speech_end + wait, first_only=True)
    if clip.hold:
        agent.mic.clear()  # the steady noise stops once the agent acted (or gave up)
    keys += window.keys_until(time.monotonic() + SETTLE_S)
    lines = [json.loads(item[1]) for item in drain(agent.out.lines) if item]
    want = lc.COMMANDS[trial.phrase]
    result = lr.trial_record(trial) | {
        "latency": round(keys[0][0] - speech_end, 3) if keys else None,
        "keys": [f"{k['keysym']}/{k['state']:#x}" for _, k in keys],
        "right": len(keys) == 1 and key_matches(keys[0][1], want),
        "heard": [ln.get("text") for ln in lines],
        "mode": lines[-1].get("mode") if lines else None,
        "agent_parts": next((ln["latency"] for ln in lines if ln.get("actions")), None)}
    print(lr.trial_line("voxagent", result), flush=True)
    return result


@dataclass
class AgentRun:
    results: list[dict[str, Any]] = field(default_factory=list)
    idle_cpu: float | None = None
    peak_rss_mb: float = 0.0
    restarts: int = 0


def run_agent(trials: list[lc.Trial], clips: dict[int, lc.Clip], silence: float,
              tmp: Path) -> AgentRun:
    run = AgentRun()
    x11.require_tools()
    server = x11.start_xvfb(tmp / "xvfb.log")
    window = TimedKeylog.start(server, tmp / "keylog.txt")
    try:
        window.focus()
        with pulse.virtual_microphone() as mic:
            agent = LiveAgent(mic, server, tmp / "agent0", "--no-tray")
            try:
                agent_trial(agent, window, trials[0], clips[trials[0].index])  # warm-up
                for trial in trials[1:]:
                    run.results.append(agent_trial(agent, window, trial, clips[trial.index]))
                    if run.results[-1]["mode"] not in (None, "command"):
                        agent = restart(agent, run, tmp)
                run.idle_cpu = lr.idle_cpu(agent.proc.pid, silence)
            finally:
                run.peak_rss_mb = max(run.peak_rss_mb, lr.peak_rss_mb(agent.proc.pid))
                keep_log(agent, run.restarts)
    finally:
        window.stop()
        x11.stop_process(server.process)
    return run


def keep_log(agent: LiveAgent, run: int) -> None:
    """Stop the agent and keep its own log file (with times), to see where a slow trial's
    time went."""
    err = agent.stop()
    file = agent.state / "voxagent.log"
    log = file.read_text(errors="replace") if file.exists() else err
    OUT.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if run == 0 else os.O_APPEND)
    with os.fdopen(os.open(OUT / "live_agent.log", flags, 0o600), "w") as f:
        f.write(log)  # what was heard: private, as the agent's own log is


def restart(agent: LiveAgent, run: AgentRun, tmp: Path) -> LiveAgent:
    """A misheard command left command mode (sleep, dictation): start afresh."""
    print("voxagent left command mode; restarting it", flush=True)
    run.peak_rss_mb = max(run.peak_rss_mb, lr.peak_rss_mb(agent.proc.pid))
    keep_log(agent, run.restarts)
    run.restarts += 1
    return LiveAgent(agent.mic, agent.server, tmp / f"agent{run.restarts}", "--no-tray")


def selection(arg: str, known: list[str], what: str) -> list[str]:
    chosen = [s.strip() for s in arg.split(",") if s.strip()] if arg else known
    unknown = [s for s in chosen if s not in known]
    if unknown or not chosen:
        raise SystemExit(f"live_latency: unknown {what} {', '.join(unknown) or '(none)'}; "
                         f"known: {', '.join(known)}")
    return chosen


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=40, help="trials in all (default 40)")
    ap.add_argument("--conditions", default="", help=f"of {', '.join(lc.CONDITIONS)}")
    ap.add_argument("--voices", default="", help=f"of {', '.join(lc.VOICES)}")
    ap.add_argument("--silence", type=float, default=20.0, help="seconds of silence for CPU")
    ap.add_argument("--no-peer", action="store_true", help="voxagent only")
    ap.add_argument("--out", type=Path, default=OUT / "live_latency.json")
    args = ap.parse_args(argv)
    if args.trials < 1:
        raise SystemExit("live_latency: --trials must be at least 1")
    args.conditions = [lc.CONDITIONS[c] for c in
                       selection(args.conditions, list(lc.CONDITIONS), "condition")]
    args.voices = selection(args.voices, list(lc.VOICES), "voice")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    notes = lr.availability(args)
    for note in notes:
        print(f"note: {note}", flush=True)
    trials = [lc.warm_up(args.voices), *lc.plan(args.trials, args.conditions, args.voices)]
    clips = lc.make_clips(trials, OUT / "live_clips")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="voxagent-bench-") as tmp_dir:
        agent = run_agent(trials, clips, args.silence, Path(tmp_dir))
    peer = None
    if not args.no_peer:
        try:
            peer = lr.run_peer(trials, clips, args.silence, OUT)
        except RuntimeError as exc:  # its log is in bench/out/live_peer.log
            notes.append(f"the peer failed: {exc}")
    report = lr.report(trials[1:], agent, peer, notes, load_start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(lr.table(report))
    print(f"(results: {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
