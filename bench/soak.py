"""Soak: hours of mixed audio through the real pipeline; memory, false actions, lost commands.

    .venv/bin/python bench/soak.py                        # 2 h of audio, --fast
    .venv/bin/python bench/soak.py --hours 0.25           # a quicker look
    .venv/bin/python bench/soak.py --hours 0.1 --real-time   # paced like a microphone
    .venv/bin/python bench/soak.py --json > soak.json

Assembles one long FLAC in a temporary folder (never kept unless --keep DIR):
spoken commands cut from the committed fixtures (tests/fixtures/spoken, command
mode, no mode changes), files of the false-action set (word salad, sentences,
paragraphs, conversations, babble, noise alone; tests/fixtures/talk.py) and
silence, in a seeded random order with 1.5-3 s of silence between blocks.  The
file is written block by block, so this process stays small.

Runs `voxagent run --input FILE --dry-run --json --fast` (--real-time: without
--fast) with the built-in defaults, samples the agent's RSS from /proc every
--sample-s seconds, and reports:
  peak RSS        the kernel's high-water mark for the agent (wait4 ru_maxrss), and
                  the largest sample
                  (--json also gives every [wall s, MB] sample)
  RSS drift       least-squares slope of RSS over wall time after warm-up (the first
                  10% of the run, at least 60 s), in MB per wall hour and per audio hour
  false actions   lines with actions that overlap no placed command
  commands        each placed command should give exactly one JSON line at its time
                  (overlapping it, 0.25 s slack) whose actions are the phrase's:
                  ok, misheard (one line, other actions or none), lost (no line),
                  split (several lines), doubled (several lines with actions)
and the command results per hour of audio, so a decline shows.
Targets (issue 12): RSS under 400 MB and flat; zero false actions; nothing lost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import REPO, ensure_set, fl

RATE = 16_000
SLACK_S = fl.SLACK_S
TARGET_RSS_MB = 400.0
WARMUP_SHARE = 0.1
WARMUP_MIN_WALL_S = 60.0
"""RSS samples from the first 10% of the run (at least this many wall seconds) are left
out of the drift fit: the model loads and the first long utterances size the buffers."""


@dataclass(frozen=True)
class Clip:
    """A piece of audio to place, and what it should do."""

    name: str
    kind: str
    """command, a talk kind (salad, babble, ...) or silence."""
    audio: np.ndarray
    """int16 samples at RATE."""
    actions: tuple[dict[str, Any], ...] = ()
    text_rule: str = "exact"


@dataclass
class Placed:
    clip: Clip
    start: float
    end: float


def command_clips() -> list[Clip]:
    """Commands said in command mode, with no mode change, from the committed fixtures."""
    clips = []
    for s in fl.load_manifest(fl.COMMITTED_DIR):
        audio, rate = soundfile.read(str(s.path(fl.COMMITTED_DIR)), dtype="int16")
        assert rate == RATE, s.file
        for u in s.utterances:
            if u.kind != "command" or u.mode != "command" or any(
                    a["action"] in ("mode", "listen") for a in u.actions):
                continue
            a, b = int((u.start - 0.05) * RATE), int((u.end + 0.05) * RATE)
            clips.append(Clip(f"{s.condition}:{u.id}", "command", audio[max(0, a):b],
                              tuple(u.actions), u.text))
    return clips


def talk_clips() -> list[Clip]:
    folder = ensure_set(fl.TALK_SET, regenerate=False)
    return [Clip(s.condition, s.script,
                 soundfile.read(str(s.path(folder)), dtype="int16")[0])
            for s in fl.load_manifest(folder)]


def assemble(path: Path, hours: float, seed: int) -> list[Placed]:
    """Write the long file block by block; where each clip went."""
    rng = random.Random(seed)
    commands, talks = command_clips(), talk_clips()
    total = int(hours * 3600 * RATE)
    placed: list[Placed] = []
    pos = 0
    with soundfile.SoundFile(str(path), "w", RATE, 1, "PCM_16", format="FLAC") as out:
        while pos < total:
            roll = rng.random()
            if roll < 0.5:
                clip = rng.choice(commands)
            elif roll < 0.8:
                clip = rng.choice(talks)
            else:
                clip = Clip("silence", "silence",
                            np.zeros(int(rng.uniform(5, 90) * RATE), np.int16))
            gap = np.zeros(int(rng.uniform(1.5, 3.0) * RATE), np.int16)
            out.write(gap)
            pos += len(gap)
            placed.append(Placed(clip, pos / RATE, (pos + len(clip.audio)) / RATE))
            out.write(clip.audio)
            pos += len(clip.audio)
        out.write(np.zeros(2 * RATE, np.int16))
    return placed


# ---------------------------------------------------------------- running

def rss_mb(pid: int) -> float | None:
    """Resident set size of `pid` in MB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def run(path: Path, fast: bool, sample_s: float) -> dict[str, Any]:
    """Run the agent on `path`; its JSON lines, RSS samples, peak and wall time."""
    import subprocess

    argv = [sys.executable, "-m", "agent", "run", "--input", str(path), "--dry-run", "--json",
            *(["--fast"] if fast else [])]
    lines: list[dict[str, Any]] = []
    err: list[str] = []
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    bad: list[str] = []

    def read_lines() -> None:
        for raw in proc.stdout:
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                bad.append(raw)  # keep draining, or the agent blocks on a full pipe

    readers = [threading.Thread(target=read_lines, daemon=True),
               threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)]
    for t in readers:
        t.start()
    samples: list[tuple[float, float, float]] = []  # wall s, audio s (last line's end), MB
    while readers[0].is_alive():
        mb = rss_mb(proc.pid)
        if mb is not None:
            samples.append((time.monotonic() - started, lines[-1]["end"] if lines else 0.0, mb))
        readers[0].join(sample_s)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    if proc.returncode != 0 or bad:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}, {len(bad)} stdout lines "
                           f"not JSON {bad[:3]}: {''.join(err)[-2000:]}")
    return {"lines": lines, "samples": samples, "peak_mb": usage.ru_maxrss / 1024,
            "wall_s": time.monotonic() - started, "stderr": "".join(err)}


# ---------------------------------------------------------------- judging

def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys over xs (None with fewer than 3 points or no spread)."""
    if len(xs) < 3 or max(xs) - min(xs) <= 0:
        return None
    return float(np.polyfit(np.array(xs), np.array(ys), 1)[0])


def memory(result: dict[str, Any], audio_s: float) -> dict[str, Any]:
    """Peak and drift.  The fit is over wall time (samples are evenly spaced in it); per
    audio hour divides by the run's overall speed (audio seconds per wall second)."""
    samples = result["samples"]
    warm = max(WARMUP_MIN_WALL_S, WARMUP_SHARE * result["wall_s"])
    after = [s for s in samples if s[0] >= warm]
    per_wall_h = slope([s[0] / 3600 for s in after], [s[2] for s in after])
    speed = audio_s / result["wall_s"]
    return {"peak_mb": round(result["peak_mb"], 1),
            "peak_sampled_mb": round(max((s[2] for s in samples), default=0.0), 1),
            "after_warmup_mb": [round(min(s[2] for s in after), 1),
                                round(max(s[2] for s in after), 1)] if after else None,
            "drift_mb_per_audio_h": None if per_wall_h is None else round(per_wall_h / speed, 1),
            "drift_mb_per_wall_h": None if per_wall_h is None else round(per_wall_h, 1),
            "samples": len(samples), "samples_after_warmup": len(after),
            "warmup_wall_s": round(warm, 1)}


def _overlaps(p: Placed, ln: dict[str, Any]) -> bool:
    return min(ln["end"], p.end + SLACK_S) > max(ln["start"], p.start - SLACK_S)


def judge(placed: list[Placed], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Every placed command against the lines at its time; lines with actions elsewhere."""
    commands = [p for p in placed if p.clip.kind == "command"]
    owned: set[int] = set()
    outcomes: list[tuple[Placed, str, list[dict[str, Any]]]] = []
    i = 0
    for p in commands:  # both lists are in time order
        while i < len(lines) and lines[i]["end"] < p.start - SLACK_S:
            i += 1
        mine = [j for j in range(i, len(lines)) if lines[j]["start"] <= p.end + SLACK_S
                and _overlaps(p, lines[j])]
        owned.update(mine)
        got = [lines[j] for j in mine]
        acting = [ln for ln in got if ln["actions"]]
        if not got:
            verdict = "lost"
        elif len(acting) > 1:
            verdict = "doubled"
        elif len(got) > 1:
            verdict = "split"
        elif fl.actions_match(list(p.clip.actions), got[0]["actions"], p.clip.text_rule):
            verdict = "ok"
        else:
            verdict = "misheard"
        outcomes.append((p, verdict, got))
    false = [ln for j, ln in enumerate(lines) if ln["actions"] and j not in owned]
    return {"outcomes": outcomes, "false": false}


def _during(placed: list[Placed], ln: dict[str, Any]) -> str:
    """The clips a line overlaps (by name), or "a gap"."""
    return ", ".join(p.clip.name for p in placed if _overlaps(p, ln)) or "a gap"


def summary(placed: list[Placed], run_: dict[str, Any], audio_s: float) -> dict[str, Any]:
    judged = judge(placed, run_["lines"])
    verdicts = ("ok", "misheard", "lost", "split", "doubled")
    counts = {v: sum(o[1] == v for o in judged["outcomes"]) for v in verdicts}
    hours: dict[int, dict[str, int]] = {}
    for p, v, _ in judged["outcomes"]:
        hours.setdefault(int(p.start // 3600), dict.fromkeys(verdicts, 0))[v] += 1
    kinds: dict[str, float] = {}
    for p in placed:
        kinds[p.clip.kind] = kinds.get(p.clip.kind, 0.0) + p.end - p.start
    return {
        "audio_s": round(audio_s, 1), "wall_s": round(run_["wall_s"], 1),
        "speed": round(audio_s / run_["wall_s"], 2),
        "seconds_by_kind": {k: round(v, 1) for k, v in sorted(kinds.items())},
        "utterances": len(run_["lines"]),
        "modes_left": sorted({ln["mode"] for ln in run_["lines"]} - {"command"}),
        "memory": memory(run_, audio_s),
        "rss_samples": [[round(w, 1), round(mb, 1)] for w, _a, mb in run_["samples"]],
        "commands": {"placed": len(judged["outcomes"]), **counts},
        "commands_per_hour": {f"{h}-{h + 1} h": c for h, c in sorted(hours.items())},
        "false_actions": len(judged["false"]),
        "false": [{k: ln[k] for k in ("start", "end", "text", "command", "actions")}
                  | {"during": _during(placed, ln)} for ln in judged["false"]],
        "not_ok": [{"clip": p.clip.name, "at": round(p.start, 2), "verdict": v,
                    "heard": [ln["text"] for ln in got],
                    "did": [a for ln in got for a in ln["actions"]],
                    "expected": list(p.clip.actions)}
                   for p, v, got in judged["outcomes"] if v != "ok"],
    }


def print_summary(s: dict[str, Any], fast: bool) -> None:
    m, c = s["memory"], s["commands"]
    print(f"== soak: {s['audio_s'] / 3600:.2f} h of audio ({'--fast' if fast else 'real time'}) "
          f"in {s['wall_s'] / 60:.1f} min wall ({s['speed']}x real time), "
          f"{s['utterances']} utterances ==")
    print("audio by kind (s): " + ", ".join(f"{k} {v:g}" for k, v in s["seconds_by_kind"].items()))
    print(f"peak RSS {m['peak_mb']:.0f} MB (largest sample {m['peak_sampled_mb']:.0f} MB; "
          f"target < {TARGET_RSS_MB:.0f} MB)")
    print(f"RSS after warm-up ({m['warmup_wall_s']:.0f} s wall): {m['after_warmup_mb']} MB; drift "
          f"{m['drift_mb_per_audio_h']} MB per audio hour, {m['drift_mb_per_wall_h']} MB per "
          f"wall hour ({m['samples_after_warmup']} of {m['samples']} samples)")
    print(f"false actions: {s['false_actions']}; modes other than command reached: "
          f"{s['modes_left'] or 'none'}")
    print(f"commands: {c['placed']} placed, {c['ok']} ok, {c['misheard']} misheard, "
          f"{c['lost']} lost, {c['split']} split, {c['doubled']} doubled")
    for h, v in s["commands_per_hour"].items():
        print(f"  {h}: " + ", ".join(f"{k} {n}" for k, n in v.items()))
    for f in s["false"]:
        print(f"false action [{f['start']:.2f}-{f['end']:.2f}] during {f['during']}: heard "
              f"{f['text']!r} -> {json.dumps(f['actions'])}")
    for n in s["not_ok"]:
        print(f"{n['verdict']:8} {n['clip']} at {n['at']:.2f} s: heard {n['heard']} -> "
              f"{json.dumps(n['did'])}; expected {json.dumps(n['expected'])}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=2.0, help="hours of audio (default 2)")
    p.add_argument("--real-time", action="store_true", help="pace the file (no --fast)")
    p.add_argument("--sample-s", type=float, default=5.0, help="RSS sampling interval, s")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--keep", type=Path, help="write the long file into this folder and keep it")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = p.parse_args(argv)
    if args.hours <= 0:
        print("soak: --hours must be positive", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="voxagent-soak-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"soak-{args.hours:g}h-seed{args.seed}.flac"
        placed = assemble(path, args.hours, args.seed)
        audio_s = soundfile.info(str(path)).duration
        print(f"{path}: {audio_s / 3600:.2f} h, {path.stat().st_size / 1e6:.0f} MB, "
              f"{len(placed)} blocks; running the agent ...", file=sys.stderr, flush=True)
        os.environ["VOXAGENT_CONFIG_DIR"] = tmp  # built-in defaults, not the user's config
        try:
            result = run(path, not args.real_time, args.sample_s)
        except RuntimeError as exc:
            print(f"soak: {exc}", file=sys.stderr)
            return 1
    s = summary(placed, result, audio_s)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        print_summary(s, not args.real_time)
    return 0


if __name__ == "__main__":
    sys.exit(main())
