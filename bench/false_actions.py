"""False actions of the real pipeline on speech that is not a command, and on noise.

    .venv/bin/python bench/false_actions.py                 # the whole set (made if missing)
    .venv/bin/python bench/false_actions.py --kind salad conversation babble
    .venv/bin/python bench/false_actions.py --config no-bias.toml   # e.g. bias_vocabulary = false
    .venv/bin/python bench/false_actions.py --json > result.json

Each file of the false-action set (tests/fixtures/talk.py: word salad, sentences,
a read paragraph, conversations, babble, noise alone; several voices, noise
kinds and SNRs) is run through `voxagent run --input FILE --dry-run --json
--fast` with the real model and the built-in defaults (an empty config folder;
--config FILE to measure another configuration).  Nothing in the set is a
command, so every utterance with a non-empty `actions` is a false action.

Per file, per kind and overall it prints:
  utterances     JSON lines (utterances the segmenter closed and the recogniser heard)
  false actions  utterances that did anything, and their share of the utterances
  heard          share of the speech seconds that utterances cover: a pipeline that dropped
                 the speech would look safe, this shows it (for noise alone: the share of
                 the noise the segmenter let through to the recogniser)
and, for every false action, what was heard and what it did.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import ensure_set, fl, run_pipeline


def evaluate(folder: Path, session: Any) -> dict[str, Any]:
    lines, _err, wall = run_pipeline(session.path(folder))
    speech = sum(b - a for a, b in session.spans)
    # "performed": what reached the window, when it differs from the net effect (free
    # text typed at a pause, then deleted when the utterance proved no command)
    false = [ln for ln in lines if ln.get("actions") or ln.get("performed")]
    return {"condition": session.condition, "kind": session.script, "file": session.file,
            "noise": session.noise, "voices": session.voice.get("voices", []),
            "note": session.note, "seconds": session.seconds, "speech_s": round(speech, 2),
            "utterances": len(lines), "heard_text": sum(bool(ln["text"].strip()) for ln in lines),
            "false_actions": len(false),
            "heard_share": round(fl.covered(session.spans, lines) / speech, 3) if speech else None,
            "wall_s": round(wall, 1),
            "false": [{"start": ln["start"], "end": ln["end"], "text": ln["text"],
                       "command": ln["command"], "actions": ln["actions"],
                       "performed": ln.get("performed", ln["actions"])} for ln in false]}


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = sum(r["utterances"] for r in rows)
    f = sum(r["false_actions"] for r in rows)
    speech = sum(r["speech_s"] for r in rows)
    heard = sum((r["heard_share"] or 0) * r["speech_s"] for r in rows)
    return {"files": len(rows), "files_with_false_actions": sum(bool(r["false_actions"])
                                                                for r in rows),
            "utterances": n, "false_actions": f, "rate": round(f / n, 4) if n else None,
            "audio_s": round(sum(r["seconds"] for r in rows), 1),
            "heard_share": round(heard / speech, 3) if speech else None}


def report(rows: list[dict[str, Any]], config: str) -> dict[str, Any]:
    kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        kinds[r["kind"]].append(r)
    return {"config": config, "files": rows,
            "kinds": {k: totals(rs) for k, rs in kinds.items()}, "overall": totals(rows)}


def _noise(n: dict[str, Any]) -> str:
    if n["kind"] == "none":
        return "clean"
    return f"{n['kind']} {n['dbfs']:g} dBFS" if "dbfs" in n else f"{n['kind']} {n['snr_db']:g} dB"


def _rate(t: dict[str, Any]) -> str:
    return f"{t['false_actions']}/{t['utterances']}" + (
        f" ({100 * t['rate']:.1f}%)" if t["rate"] is not None else "")


def print_report(rep: dict[str, Any]) -> None:
    print(f"== false actions per file ({rep['config']}) ==")
    print(f"{'file':40} {'kind':12} {'noise':16} {'audio':>6} {'utts':>5} {'false':>6} "
          f"{'heard':>6}")
    for r in rep["files"]:
        heard = f"{100 * r['heard_share']:.0f}%" if r["heard_share"] is not None else "-"
        print(f"{r['condition']:40} {r['kind']:12} {_noise(r['noise']):16} "
              f"{r['seconds']:5.1f}s {r['utterances']:5d} {r['false_actions']:6d} {heard:>6}")
    print("\n== per kind ==")
    for k, t in [*rep["kinds"].items(), ("OVERALL", rep["overall"])]:
        heard = f"{100 * t['heard_share']:.0f}%" if t["heard_share"] is not None else "-"
        print(f"{k:14} files {t['files']:3d} ({t['files_with_false_actions']} with false actions)"
              f"  audio {t['audio_s']:7.1f} s  false actions {_rate(t):18} heard {heard}")
    false = [(r["condition"], f) for r in rep["files"] for f in r["false"]]
    print(f"\n== false actions ({len(false)}) ==")
    for cond, f in false:
        print(f"{cond:40} [{f['start']:6.2f}-{f['end']:6.2f}] heard {f['text']!r} -> "
              f"{f['command']!r} {json.dumps(f['actions'])}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", nargs="+", help="only these kinds (salad, sentences, paragraph, "
                   "conversation, babble, noise)")
    p.add_argument("--only", nargs="+", metavar="CONDITION", help="only these files")
    p.add_argument("--config", type=Path, help="run with this config file (default: none)")
    p.add_argument("--regenerate", action="store_true", help="remake the set first")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = p.parse_args(argv)
    folder = ensure_set(fl.TALK_SET, args.regenerate)
    sessions = [s for s in fl.load_manifest(folder)
                if (not args.kind or s.script in args.kind)
                and (not args.only or s.condition in args.only)]
    if not sessions:
        print("false_actions: no files selected", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="voxagent-config-") as conf:
        if args.config:
            if not args.config.is_file():
                print(f"false_actions: {args.config}: no such config file", file=sys.stderr)
                return 2
            shutil.copy(args.config, Path(conf) / "config.toml")
        os.environ["VOXAGENT_CONFIG_DIR"] = conf  # the children read it, not the user's config
        rows = []
        for s in sessions:
            row = evaluate(folder, s)
            rows.append(row)
            print(f"{s.file}: {row['false_actions']} false actions in {row['utterances']} "
                  f"utterances, {row['wall_s']:.0f} s", file=sys.stderr, flush=True)
    rep = report(rows, str(args.config) if args.config else "built-in defaults")
    if args.json:
        print(json.dumps(rep, indent=1))
    else:
        print_report(rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
