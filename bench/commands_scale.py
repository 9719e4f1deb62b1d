"""Start and match time with many commands: the built-in set plus N generated ones.

    .venv/bin/python bench/commands_scale.py                  # N = 50, 1000, 10000
    .venv/bin/python bench/commands_scale.py --counts 50 250 --rounds 5

For each N a user command file of N distinct spoken forms ("open report alpha",
"toggle panel seven", ...) is written to a temporary folder (never the repository),
then:
- load: the command library built as `run` builds it at start (read, parse, merge with
  the collision check) and the dispatcher made from it: wall and CPU seconds (CPU time
  is what it costs whatever else the machine runs);
- match: per utterance, what the worker asks the dispatcher (the vocabulary prompt,
  whether it matches, the decision, whether it is complete; for what matches nothing,
  the focus and the candidates to verify), over built-in commands, generated ones,
  near misses and ordinary speech; p50 and p95 of CPU milliseconds over every round;
- whether each built-in check ("copy", "new tab", ...) still decides what it should.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.dispatch.dispatcher import Dispatcher  # noqa: E402
from agent.dispatch.loader import CommandLibrary  # noqa: E402
from agent.messages import Transcript  # noqa: E402
from agent.paths import data_dir  # noqa: E402

VERBS = ("open", "show", "hide", "toggle", "focus", "start", "stop", "build", "deploy",
         "check", "clear", "load", "sort", "mark", "pin", "share", "lock", "ping", "sync",
         "test", "merge", "fold", "rename", "print", "zoom")
NOUNS = ("report", "panel", "server", "branch", "ticket", "folder", "sidebar", "terminal",
         "project", "invoice", "calendar", "playlist", "console", "browser", "chart",
         "table", "layer", "bucket", "cluster", "notebook")
NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
         "seven", "eleven", "red", "green")
KEYS = tuple(f"ctrl+alt+{c}" for c in "abcdefghijklmnopqrstuvwxyz")

BUILTIN_CHECKS = {
    "copy": "copy", "Copy.": "copy", "new tab": "new tab", "paste": "paste",
    "press control shift t": "press <chord>", "type hello world": "type <text>",
    "select all then copy": "select all then copy", "close tag": "close tab",
}
"""Utterance -> the command (chain) it must still decide, whatever N is."""
ORDINARY = ("well I suppose we could start over", "the meeting was moved upstairs",
            "coffee", "can you hear me", "")


def generated(n: int, seed: int = 0) -> list[str]:
    """`n` distinct spoken forms made of a verb, a noun and a name."""
    combos = [f"{v} {o} {x}" for v in VERBS for o in NOUNS for x in NAMES]
    if n > len(combos):
        raise SystemExit(f"at most {len(combos)} generated commands")
    return random.Random(seed).sample(combos, n)


def write_commands(folder: Path, forms: list[str]) -> None:
    lines = ["[commands]"] + [f'"{f}" = "key {KEYS[i % len(KEYS)]}"'
                              for i, f in enumerate(forms)]
    (folder / "many.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def load(folder: Path) -> tuple[Dispatcher, float, float]:
    """The dispatcher as `run` makes it at start; wall and CPU seconds it took."""
    t0, c0 = time.perf_counter(), time.process_time()
    library = CommandLibrary([data_dir("commands"), folder])
    dispatcher = Dispatcher(library.commands)
    return dispatcher, time.perf_counter() - t0, time.process_time() - c0


def one_pass(dispatcher: Dispatcher, text: str) -> tuple[float, str | None]:
    """Seconds for what the worker asks the dispatcher about one utterance; the command."""
    transcript = Transcript(text)
    t0 = time.process_time()
    dispatcher.vocabulary()
    found = dispatcher.matches(transcript)
    name = dispatcher.command_name(transcript)
    dispatcher.complete(text)
    if not found:
        dispatcher.focus(transcript)
        dispatcher.candidates(transcript)
    return time.process_time() - t0, name


def measure(n: int, rounds: int) -> dict[str, object]:
    forms = generated(n)
    with tempfile.TemporaryDirectory(prefix="voxagent-bench-") as tmp:
        folder = Path(tmp)
        write_commands(folder, forms)
        dispatcher, load_s, load_cpu = load(folder)
    rng = random.Random(1)
    times: list[float] = []
    wrong: list[str] = []
    for _ in range(rounds):  # other generated commands each round: nothing cached for them
        picks = rng.sample(forms, min(10, n))
        near = [f.replace("o", "u", 1) for f in picks[:5]]  # a slip in one letter
        for text in [*BUILTIN_CHECKS, *picks, *near, *ORDINARY]:
            seconds, name = one_pass(dispatcher, text)
            times.append(seconds)
            want = BUILTIN_CHECKS.get(text, text if text in picks else None)
            if (text in BUILTIN_CHECKS or text in picks) and name != want:
                wrong.append(f"{text!r} -> {name!r}")
    q = statistics.quantiles(times, n=20)
    return {"n": n, "commands": len(dispatcher.commands), "load_s": load_s, "load_cpu": load_cpu,
            "p50_ms": statistics.median(times) * 1e3, "p95_ms": q[18] * 1e3,
            "utterances": len(times), "wrong": sorted(set(wrong))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--counts", type=int, nargs="+", default=[50, 1000, 10000])
    p.add_argument("--rounds", type=int, default=3, help="passes over the utterances")
    args = p.parse_args()
    print(f"{'generated':>9} {'loaded':>7} {'load s':>7} {'cpu s':>6} {'match p50 ms':>13} "
          f"{'p95 ms':>8} {'utterances':>10}  wrong")
    for n in args.counts:
        r = measure(n, args.rounds)
        print(f"{r['n']:>9} {r['commands']:>7} {r['load_s']:>7.2f} {r['load_cpu']:>6.2f} "
              f"{r['p50_ms']:>13.2f} "
              f"{r['p95_ms']:>8.2f} {r['utterances']:>10}  "
              f"{'; '.join(r['wrong']) or '-'}", flush=True)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
