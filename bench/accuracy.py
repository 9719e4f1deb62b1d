"""Command accuracy and false triggers of the real pipeline on spoken session files.

    .venv/bin/python bench/accuracy.py                    # the held-out set (made if missing)
    .venv/bin/python bench/accuracy.py --set dev --limit 2
    .venv/bin/python bench/accuracy.py --json > result.json

Each session file (tests/fixtures/make_fixtures.py; manifest.json beside it) is
run through `voxagent run --input FILE --dry-run --json --fast`.  The JSON
lines are paired with the expected utterances by order, or, when the
segmenter produced a different count, by time overlap with the phrases'
known positions: a phrase may then get no line (unheard) or several (split:
its outcome is the actions of all its lines, in order, and the mode after the
last), and phrases one line spans are "merged" (see fixturelib.judge).

Scoring (tests/fixtures/fixturelib.py):
  command accuracy   commands (kind "command") whose actions came out exactly right
                     and left the expected mode.  `type` texts: formatted ones
                     (user_name, getValue...) exactly; "type TEXT" case-insensitively
                     with trailing . , ; : ! ? ignored; dictated text by its words only
                     (case, punctuation and spacing ignored).
  dictation accuracy utterances in dictation typed right (kind "dictated")
  asleep             commands said in sleep mode that did nothing (kind "asleep")
  false triggers     ordinary sentences in command mode that did anything (kind "speech")
  utterance accuracy every expected utterance right, whatever its kind
  wrong actions      actions performed that the expected ones do not hold (a wrong key,
                     count or command, a false trigger), and the key presses among them
  asked              utterances where a key was in doubt: nothing pressed, the line's
                     "note" asks which was meant
  corrected          utterances whose free text was typed early, then corrected or
                     deleted (the line's "performed"): keys the net actions do not show
Merged phrases count as wrong, except ordinary speech, which counts as a false
trigger only if the merged line did something none of its commands asked for.
A missed mode switch makes the utterances after it fail too: that is counted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
OUT = REPO / "bench" / "out"


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fl = _load("fixturelib", FIXTURES / "fixturelib.py")


def ensure_set(set_name: str, regenerate: bool) -> Path:
    """The folder of `set_name`'s session files, generating them if needed."""
    folder = OUT / set_name
    if regenerate or not (folder / fl.MANIFEST).exists():
        print(f"generating the {set_name} set into {folder} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(FIXTURES / "make_fixtures.py"), "--set", set_name],
                       check=True, stdout=sys.stderr)
    return folder


CONFIG: Path | None = None
"""A config file for every run (--config), to compare settings; None: the defaults."""


def run_pipeline(path: Path, fast: bool = True, extra: tuple[str, ...] = ()
                 ) -> tuple[list[dict[str, Any]], str, float]:
    """JSON lines, stderr and wall seconds of `voxagent run --input path --dry-run --json`."""
    argv = [sys.executable, "-m", "agent", *(["--config", str(CONFIG)] if CONFIG else []),
            "run", "--input", str(path), "--dry-run", "--json",
            *(["--fast"] if fast else []), *extra]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    lines = [json.loads(s) for s in done.stdout.splitlines() if s.strip()]
    return lines, done.stderr, wall


@dataclass
class Result:
    condition: str
    exp: Any
    """fixturelib.Expected"""
    group: Any
    """fixturelib.Group: the lines that belong to this phrase (and phrases merged with it)"""
    ok: bool
    false_trigger: bool

    def to_json(self) -> dict[str, Any]:
        lines = self.group.lines
        return {"condition": self.condition, "id": self.exp.id, "say": self.exp.say,
                "kind": self.exp.kind, "row": self.exp.row, "ok": self.ok,
                "expected": self.exp.actions, "expected_mode": self.exp.mode,
                "merged_with": [e.say for e in self.group.expected if e is not self.exp],
                "heard": [ln["text"] for ln in lines], "done": self.group.actions,
                "asked": [ln["note"] for ln in lines if "note" in ln],
                "mode": lines[-1]["mode"] if lines else None}


@dataclass
class SessionRun:
    session: Any
    results: list[Result]
    lines: int
    merged: int
    """Phrases the segmenter merged with a neighbour."""
    missed: int
    """Phrases the segmenter produced no line for."""
    wall: float
    recognised: list[float] = field(default_factory=list)
    corrected: int = 0
    """Lines whose "performed" differs from their actions: free text typed early, then
    corrected or withdrawn (agent/worker.py _show)."""


def evaluate(folder: Path, session: Any) -> SessionRun:
    lines, _err, wall = run_pipeline(session.path(folder))
    results = []
    groups = fl.align(session.utterances, lines)
    for g in groups:
        ft = fl.false_trigger(g)
        results += [Result(session.condition, e, g, ok, ft and e.kind == "speech")
                    for e, ok in fl.judge(g)]
    return SessionRun(session, results, len(lines),
                      sum(len(g.expected) for g in groups if g.merged),
                      sum(len(g.expected) for g in groups if not g.lines), wall,
                      [ln["latency"]["recognised"] for ln in lines if "latency" in ln],
                      sum("performed" in ln for ln in lines))


def rate(results: list[Result], kind: str) -> tuple[int, int]:
    sel = [r for r in results if r.exp.kind == kind]
    if kind == "speech":  # false triggers: sentences that did something
        return sum(r.false_trigger for r in sel), len(sel)
    return sum(r.ok for r in sel), len(sel)


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.1f}%)" if d else "-"


def summary(results: list[Result]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, kind in (("command", "command"), ("dictation", "dictated"), ("asleep", "asleep"),
                      ("false_triggers", "speech")):
        n, d = rate(results, kind)
        out[key] = {"n": n, "of": d, "rate": round(n / d, 4) if d else None}
    n = sum(r.ok for r in results)
    out["utterances"] = {"n": n, "of": len(results),
                         "rate": round(n / len(results), 4) if results else None}
    return out


def wrong_actions(misses: list[dict[str, Any]]) -> dict[str, Any]:
    """Actions performed that the expected ones do not hold (each expected action excuses
    one performed equal to it), whatever the utterance's kind: a wrong key, a wrong count,
    a false trigger.  From the report's misses, which hold every utterance not right
    (phrases merged into one line share their lines' actions: counted once); "keys"
    counts the key presses among them."""
    groups: dict[tuple[str, str, str], tuple[list[Any], list[dict[str, Any]]]] = {}
    for m in misses:
        at = (m["condition"], json.dumps(m["heard"]), json.dumps(m["done"])) \
            if m["merged_with"] else (m["condition"], m["id"], "")
        groups.setdefault(at, (m["done"], []))[1].extend(m["expected"])
    wrong: list[dict[str, Any]] = []
    for done, wanted in groups.values():
        left = list(wanted)
        for a in done:
            if a in left:
                left.remove(a)
            else:
                wrong.append(a)
    return {"n": len(wrong), "keys": sum(a["action"] == "key" for a in wrong)}


def report(runs: list[SessionRun], set_name: str) -> dict[str, Any]:
    every = [r for run in runs for r in run.results]
    rows: dict[str, list[Result]] = defaultdict(list)
    for r in every:
        if r.exp.kind == "command":
            rows[r.exp.row].append(r)
    return {
        "set": set_name,
        "conditions": [{
            "condition": run.session.condition, "file": run.session.file,
            "voice": run.session.voice, "noise": run.session.noise, "note": run.session.note,
            "expected": len(run.session.utterances), "lines": run.lines,
            "merged": run.merged, "missed_by_segmenter": run.missed,
            "wall_s": round(run.wall, 1), "corrected": run.corrected,
            "recognised_median_s": round(statistics.median(run.recognised), 3)
            if run.recognised else None,
        } | summary(run.results) for run in runs],
        "overall": summary(every),
        "rows": {row: {"n": sum(r.ok for r in rs), "of": len(rs)} for row, rs in rows.items()},
        "misses": [r.to_json() for r in every if not r.ok],
        "wrong_actions": wrong_actions([r.to_json() for r in every if not r.ok]),
        "asked": sum(bool(r.to_json()["asked"]) for r in every),
        "corrected": sum(run.corrected for run in runs),
    }


def print_report(rep: dict[str, Any]) -> None:
    def line(name: str, s: dict[str, Any], extra: str = "") -> None:
        print(f"{name:34} commands {pct(s['command']['n'], s['command']['of']):17} "
              f"false triggers {pct(s['false_triggers']['n'], s['false_triggers']['of']):14} "
              f"dictation {pct(s['dictation']['n'], s['dictation']['of']):14} "
              f"asleep {pct(s['asleep']['n'], s['asleep']['of']):14} "
              f"all {pct(s['utterances']['n'], s['utterances']['of'])}{extra}")

    print(f"== {rep['set']} set: command accuracy per condition ==")
    for c in rep["conditions"]:
        seg = "" if c["lines"] == c["expected"] and not c["merged"] else \
            (f"  [segmenter: {c['lines']} lines for {c['expected']} phrases, "
             f"{c['merged']} merged, {c['missed_by_segmenter']} unheard]")
        line(c["condition"] + (" (hard)" if c["note"] else ""), c, seg)
    line("OVERALL", rep["overall"])
    print("\n== command accuracy per contract row (all conditions) ==")
    print("  " + ", ".join(f"{row} {v['n']}/{v['of']}" for row, v in sorted(rep["rows"].items())))
    wrong = rep["wrong_actions"]
    print(f"\n== wrong actions (done, but not what was said): {wrong['n']}, "
          f"of them key presses: {wrong['keys']}; nothing done but asked (a key in doubt): "
          f"{rep['asked']} ==")
    print(f"== typed early, then corrected or withdrawn (\"performed\"): {rep['corrected']} ==")
    print(f"\n== misses ({len(rep['misses'])}) ==")
    for m in rep["misses"]:
        did = json.dumps(m["done"]) if m["done"] else "nothing"
        merged = f" (merged with {m['merged_with']})" if m["merged_with"] else ""
        asked = f" asked {m['asked']}" if m["asked"] else ""
        print(f"{m['condition']:26} [{m['kind']:8}] {m['say']!r}{merged}: heard {m['heard']}"
              f" -> {did}{asked}"
              f" (mode {m['mode']}); expected {json.dumps(m['expected'])} "
              f"(mode {m['expected_mode']})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=fl.SETS, default="heldout")
    p.add_argument("--limit", type=int, default=0, help="only the first N session files")
    p.add_argument("--only", nargs="+", metavar="CONDITION", help="only these conditions")
    p.add_argument("--script", default=fl.FULL, help="which script's files (default: full)")
    p.add_argument("--regenerate", action="store_true", help="remake the session files first")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.add_argument("--config", type=Path, help="run with this config file (default: none)")
    args = p.parse_args(argv)
    global CONFIG  # noqa: PLW0603 - one setting for the whole run
    CONFIG = args.config.resolve() if args.config else None
    folder = ensure_set(args.set, args.regenerate)
    sessions = [s for s in fl.load_manifest(folder) if s.script == args.script
                and (not args.only or s.condition in args.only)]
    if args.limit:
        sessions = sessions[:args.limit]
    if not sessions:
        print("accuracy: no session files selected", file=sys.stderr)
        return 2
    runs = []
    for s in sessions:
        run = evaluate(folder, s)
        runs.append(run)
        sm = summary(run.results)
        print(f"{s.file}: commands {pct(sm['command']['n'], sm['command']['of'])}, false "
              f"triggers {pct(sm['false_triggers']['n'], sm['false_triggers']['of'])}, "
              f"{run.lines} lines for {len(s.utterances)} phrases, {run.wall:.0f} s",
              file=sys.stderr, flush=True)
    rep = report(runs, args.set)
    if args.json:
        print(json.dumps(rep, indent=1))
    else:
        print_report(rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
