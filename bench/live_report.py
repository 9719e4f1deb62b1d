"""Figures of bench/live_latency.py: process CPU and memory from /proc, the peer's run,
per-condition statistics and the printed table."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import live_clips as lc
import numpy as np

from tests.fixtures.fixturelib import normal_text
from tests.integration.test_microphone import Lines

DRIVER = lc.REPO / "bench" / "peer" / "driver.py"
PEER_TIMEOUT_S = 10.0
PEER_START_S = 300.0


# ---------------------------------------------------------------- processes

def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from the parent ids in /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a process that ended while we looked
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += parents.get(p, [])
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def idle_cpu(pid: int, seconds: float) -> float:
    """Percent of one core the process tree uses while the microphone plays silence."""
    time.sleep(2.0)  # settle after the last trial
    pids = process_tree(pid)
    before, t0 = cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    return round(100 * (cpu_seconds(pids) - before) / (time.monotonic() - t0), 2)


def peak_rss_mb(pid: int) -> float:
    """Sum of VmHWM (peak resident set) over the process tree, MB."""
    total = 0
    for p in process_tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += next((int(ln.split()[1]) for ln in status.splitlines()
                       if ln.startswith("VmHWM:")), 0)
    return round(total / 1024, 1)


# ---------------------------------------------------------------- the peer

class Peer:
    """bench/peer/driver.py in bench/.peer-venv: RealtimeSTT fed through feed_audio."""

    def __init__(self, model: Path, compute_type: str, log: Path) -> None:
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                [str(lc.PEER_PYTHON), str(DRIVER), str(model), "--compute-type", compute_type],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        assert self.proc.stdout is not None
        self.log = log
        self.out = Lines(self.proc.stdout)
        self.ready = self._next("ready", PEER_START_S)

    def _next(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, line = self.out.next(max(0.0, deadline - time.monotonic()), f"peer {kind}")
            except AssertionError as exc:
                raise RuntimeError(f"{exc}; see {self.log}") from None
            message = json.loads(line)
            if message.get("peer") == kind:
                return message

    def trial(self, clip: lc.Clip) -> dict[str, Any]:
        assert self.proc.stdin is not None
        ask = {"clip": str(clip.path), "off": clip.speech_off, "hold": clip.hold,
               "timeout": PEER_TIMEOUT_S + (lc.STEADY_HOLD_S if clip.hold else 0.0)}
        self.proc.stdin.write(json.dumps(ask) + "\n")
        self.proc.stdin.flush()
        return self._next("trial", clip.speech_off + ask["timeout"] + 60)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def peer_record(trial: lc.Trial, got: dict[str, Any]) -> dict[str, Any]:
    after = [(at, text) for at, text in got["texts"] if at >= got["speech_end"]]
    heard = " ".join(text for _, text in got["texts"])
    return trial_record(trial) | {
        "latency": round(after[0][0] - got["speech_end"], 3) if after else None,
        "right": normal_text(heard, "words") == normal_text(trial.phrase, "words"),
        "heard": [text for _, text in got["texts"]]}


def run_peer(trials: list[lc.Trial], clips: dict[int, lc.Clip], silence: float,
             out: Path) -> dict[str, Any]:
    from agent.asr.models import resolve_model
    from agent.config import Config

    cfg = Config().whisper
    model = resolve_model(cfg.model, cfg.download_root)
    peer = Peer(model, cfg.compute_type, out / "live_peer.log")
    run: dict[str, Any] = {"results": [], "vad": peer.ready["vad"], "model": str(model)}
    try:
        peer.trial(clips[trials[0].index])  # the warm-up
        for trial in trials[1:]:
            run["results"].append(peer_record(trial, peer.trial(clips[trial.index])))
            print(trial_line("peer", run["results"][-1]), flush=True)
        run["idle_cpu"] = idle_cpu(peer.proc.pid, silence)
        run["peak_rss_mb"] = peak_rss_mb(peer.proc.pid)
    finally:
        peer.stop()
    return run


# ---------------------------------------------------------------- figures

def trial_record(trial: lc.Trial) -> dict[str, Any]:
    return {"trial": trial.index, "condition": trial.condition.name, "noise": trial.noise,
            "voice": trial.voice, "phrase": trial.phrase}


def trial_line(who: str, r: dict[str, Any]) -> str:
    took = f"{r['latency']:6.2f} s" if r["latency"] is not None else "  none  "
    number = f"#{r['trial']}" if r["trial"] >= 0 else "warm-up"
    return (f"{who:8} {number:7} {r['condition']:9} {r['noise']:5} {r['voice']:12} "
            f"{r['phrase']!r:15} {took} {'right' if r['right'] else 'WRONG'} {r['heard']}")


def stats(results: list[dict[str, Any]]) -> dict[str, Any]:
    xs = [r["latency"] for r in results if r["latency"] is not None]
    out: dict[str, Any] = {"n": len(results), "timed": len(xs),
                           "right": sum(r["right"] for r in results)}
    if xs:
        out |= {"p50": round(float(np.percentile(xs, 50)), 3),
                "p95": round(float(np.percentile(xs, 95)), 3)}
    return out


def ratio(agent: dict[str, Any], peer: dict[str, Any]) -> str:
    if "p50" not in agent or "p50" not in peer or min(agent["p50"], peer["p50"]) <= 0:
        return "-"
    r = peer["p50"] / agent["p50"]
    return f"{r:.2f}x faster" if r >= 1 else f"{1 / r:.2f}x slower"


def by_condition(results: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    table = {c: stats([r for r in results if r["condition"] == c]) for c in names}
    return table | {"overall": stats(results)}


def report(trials: list[lc.Trial], agent: Any, peer: dict[str, Any] | None,
           notes: list[str], load_start: tuple[float, ...]) -> dict[str, Any]:
    names = list(dict.fromkeys(t.condition.name for t in trials))
    out: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "loadavg_start": load_start,
                    "loadavg_end": os.getloadavg()},
        "notes": notes,
        "voxagent": {"by_condition": by_condition(agent.results, names),
                     "idle_cpu_percent": agent.idle_cpu, "peak_rss_mb": agent.peak_rss_mb,
                     "restarts": agent.restarts, "trials": agent.results}}
    if peer is not None:
        by = by_condition(peer["results"], names)
        out["peer"] = {"by_condition": by, "silero_backend": peer["vad"],
                       "idle_cpu_percent": peer["idle_cpu"],
                       "peak_rss_mb": peer["peak_rss_mb"], "trials": peer["results"]}
        out["ratio_p50"] = {c: ratio(a, by[c])
                            for c, a in out["voxagent"]["by_condition"].items()}
    return out


def _cells(s: dict[str, Any]) -> str:
    if "p50" not in s:
        return f"{'-':>6} {'-':>6} {s['right']:>3}/{s['n']:<3}"
    return f"{s['p50']:6.2f} {s['p95']:6.2f} {s['right']:>3}/{s['n']:<3}"


def table(rep: dict[str, Any]) -> str:
    va = rep["voxagent"]
    peer = rep.get("peer")
    head = f"{'condition':10} {'voxagent p50':>12} {'p95':>6} {'right':>7}"
    if peer:
        head += f" | {'peer p50':>8} {'p95':>6} {'right':>7} | voxagent vs peer (p50)"
    lines = ["", "end of speech -> key press (voxagent) / final text (peer), seconds", head]
    for cond, s in va["by_condition"].items():
        row = f"{cond:10} {_cells(s):>27}"
        if peer:
            row += f" | {_cells(peer['by_condition'][cond]):>23} | {rep['ratio_p50'][cond]}"
        lines.append(row)
    lines.append(f"idle CPU (% of one core, hearing silence): voxagent {va['idle_cpu_percent']}"
                 + (f", peer {peer['idle_cpu_percent']}" if peer else ""))
    lines.append(f"peak RSS (VmHWM, MB): voxagent {va['peak_rss_mb']}"
                 + (f", peer {peer['peak_rss_mb']} (summed over its processes)" if peer
                    else ""))
    if peer:
        lines.append("peer: RealtimeSTT 1.1.2, post_speech_silence_duration 0.3 s, "
                     f"silero_deactivity_detection, Silero backend {peer['silero_backend']}")
    m = rep["machine"]
    lines.append(f"load average at start / end: {m['loadavg_start'][0]:.2f} / "
                 f"{m['loadavg_end'][0]:.2f} on {m['cores']} cores")
    lines += [f"note: {n}" for n in rep["notes"]]
    return "\n".join(lines)


def availability(args: Any) -> list[str]:
    """Drop what cannot run here (the Piper voice, the peer without bench/.peer-venv)
    and say so."""
    notes = []
    if not lc.piper_available():
        if args.voices == [lc.PIPER]:
            raise SystemExit("live_latency: the piper-joe voice needs bench/.peer-venv "
                             "(sh bench/peer/setup.sh)")
        if lc.PIPER in args.voices:
            args.voices.remove(lc.PIPER)
            notes.append("no neural voice: bench/.peer-venv is missing "
                         "(sh bench/peer/setup.sh)")
        if not args.no_peer:
            args.no_peer = True
            notes.append("no peer: bench/.peer-venv is missing (sh bench/peer/setup.sh)")
    return notes
