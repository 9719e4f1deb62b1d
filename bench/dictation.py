"""Dictation as a user lives it: the live agent types what it hears into a Tk Text widget.

    .venv/bin/python bench/dictation.py                      # both sets, once each
    .venv/bin/python bench/dictation.py --sets human --limit 8 --trials 2
    .venv/bin/python bench/dictation.py --json > out.json    # the raw figures

(In a git worktree, set PYTHONPATH to it: the agent under test is imported from there.)

The rig of bench/live_latency.py: a private Xvfb with the Tk key-logging window
(tests/integration/keylog_window.py) focused, a PulseAudio virtual microphone fed in
real time, and `voxagent run` (live, embedded tiny.en, real XTEST input, no tray)
listening on it.  "start dictation" is said first (flite), then every clip, each
followed by GAP_S of silence.  After a clip the bench presses the window's sync key:
the reply holds the Text widget's whole content, which is then cleared.

Sets (nothing is downloaded or committed):
  human      recorded people, the clips bench/real_speech.py finds (pocketsphinx-testdata
             LibriVox and CMU cards, goforward, two-sentence LibriVox joins, alsa-utils'
             speaker names and Noise.wav, where nothing is said)
  synthetic  SENTENCES below, spoken by espeak-ng and flite voices (bench/live_clips.py)
  typed      the same sentences said as "type <sentence>" in command mode (the contract's
             free-text command), not in dictation
  short      SHORT below: short free-text commands in command mode ("type ...", the
             formatters), as a person types a word or two by voice

Figures per set:
  WER        word edits of the widget's final text against the reference over the
             reference's words (case, punctuation and hyphens aside; real_speech.words)
  exact      clips whose words are all right; for the synthetic set, whose references
             are written text, also clips whose widget text is the reference exactly
  lost       sentences of the reference of which fewer than half the words reach the
             widget (aligned); the target is 0
  corrected  clips where the agent typed text early and then corrected its tail with
             BackSpace (agent/worker.py _typed_early); the widget's final text counts
  latency    end of speech (the clip's last sample above 5% of its loudest 20 ms frame,
             as it was written to the microphone) -> the first character the widget
             reported after it; p50 and p95
  stages     per utterance, the agent's own figures (its JSON line), from the end of
             speech its segmenter saw: closed (the end-of-utterance wait), transcribed
             (heard and decided), performed (every character typed)
Figures only; nothing is asserted.  Results: bench/out/dictation.json, the agent's log
(-vv) bench/out/live_agent.log.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import live_clips as lc  # noqa: E402
import live_latency as ll  # noqa: E402
import real_speech as rs  # noqa: E402

from tests.e2e.rig import LiveAgent  # noqa: E402
from tests.integration import pulse, x11  # noqa: E402

OUT = REPO / "bench" / "out"
GAP_S = 2.0
"""Silence after each clip: longer than any end-of-utterance wait."""
TIMEOUT_S = 20.0
"""After the end of speech, how long to wait for the agent's report (a loaded machine
takes seconds)."""
END_SLACK_S = 0.6
"""The agent's end of speech (its stream time) may come this much before the clip's."""
QUIET_S = 1.2
"""The clip is over once no key came for this long (and its silence was played)."""
SENTENCES = [
    "The meeting is moved to Thursday afternoon.",
    "Please send me the report before noon.",
    "I will call you back in ten minutes.",
    "The train was late again this morning.",
    "We need more coffee in the kitchen.",
    "Thank you for your help with the project.",
    "Remember to water the plants on Friday.",
    "The weather should be better next week.",
    "She left the keys on the table. I found them later.",
    "Let us start with the second chapter. It is shorter.",
    "The printer on the third floor is broken again.",
    "Could you book a table for four people tonight?",
]
MARKS = ("encoded on", "decoded on", "scored", "free text", "heard at its whole peek", "doubted",
         "decoding", "typed")
"""Agent log lines kept per clip, with their arrival time from the end of speech: where
the time went."""
STAGE_MARKS = {"encoded": "encoded on", "free text": "free text",
               "reused": "heard at its whole peek"}
"""Stages timed from the agent's log: its first encoding after the end of speech (the
whole peek's hearing), the free-text decode and choice done, the closed utterance
taking that hearing."""
SHORT = [
    ("type hello world", "hello world"),
    ("snake case user name", "user_name"),
    ("type see you tomorrow", "see you tomorrow"),
    ("camel case get value", "getValue"),
    ("type thanks for the update", "thanks for the update"),
    ("title case project plan", "Project Plan"),
    ("type meet me at noon", "meet me at noon"),
    ("all caps stop here", "STOP HERE"),
]
"""Said, and what the contract says it types."""
VOICES = ["espeak-us", "flite-slt", "espeak-rp", "flite-awb", "espeak-us-f3"]


@dataclass(frozen=True)
class Item:
    set: str
    name: str
    pcm: bytes
    """s16le mono 16 kHz."""
    speech_off: float
    """Seconds into pcm where the speech ends."""
    said: str
    sentences: tuple[str, ...]


def to_pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


def speech_end(audio: np.ndarray) -> float:
    """Where the clip's speech ends: its last 20 ms frame above 5% of the loudest (the
    rule bench/real_speech.py trims by)."""
    return len(rs.trimmed(audio, end=True)) / lc.RATE


def human_items() -> list[Item]:
    found = rs.clips()
    books = [c for c in found if c.name.startswith("librivox/") and "+" not in c.name]
    joins = {f"{a.name}+{b.name[-4:]}": (a.said, b.said) for a, b in itertools.pairwise(books)}
    items = []
    for c in found:
        sentences = joins.get(c.name, (c.said,) if c.said else ())
        items.append(Item("human", c.name, to_pcm(c.audio), speech_end(c.audio), c.said,
                          tuple(sentences)))
    return items


def synthetic_items(work: Path, lead: str = "") -> list[Item]:
    """SENTENCES spoken; with `lead` ("type "), as that command in command mode."""
    import make_fixtures as mf

    items = []
    for i, text in enumerate(SENTENCES):
        voice = VOICES[i % len(VOICES)]
        audio = mf.synthesize(lc.VOICES[voice], lead + text, work)
        parts = tuple(s.strip() + "." if s.strip()[-1:] not in ".?!" else s.strip()
                      for s in text.replace("?", "?|").replace(". ", ".|").split("|"))
        items.append(Item("typed" if lead else "synthetic", f"{voice}/{i:02d}", to_pcm(audio),
                          len(audio) / lc.RATE, text, tuple(p for p in parts if p)))
    return items


def short_items(work: Path) -> list[Item]:
    import make_fixtures as mf

    items = []
    for i, (said, typed) in enumerate(SHORT):
        voice = VOICES[i % len(VOICES)]
        audio = mf.synthesize(lc.VOICES[voice], said, work)
        items.append(Item("short", f"{voice}/{i:02d}", to_pcm(audio), len(audio) / lc.RATE,
                          typed, (typed,)))
    return items


def aligned_hits(ref: list[str], hyp: list[str]) -> list[bool]:
    """For each reference word, whether a minimal word alignment matches it exactly."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), int)
    d[:, 0], d[0, :] = range(n + 1), range(m + 1)
    for i, j in itertools.product(range(1, n + 1), range(1, m + 1)):
        d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1,
                      d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    hits, i, j = [False] * n, n, m
    while i and j:
        if d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            hits[i - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return hits


def lost_sentences(sentences: tuple[str, ...], typed: str) -> list[str]:
    """Sentences of which fewer than half the words were typed (by alignment)."""
    words = [rs.words(s) for s in sentences]
    hits = aligned_hits([w for ws in words for w in ws], rs.words(typed))
    out, at = [], 0
    for sentence, ws in zip(sentences, words, strict=True):
        if ws and sum(hits[at:at + len(ws)]) * 2 < len(ws):
            out.append(sentence)
        at += len(ws)
    return out


class Session:
    """The running rig: Xvfb, the timed keylog window, the microphone, the agent."""

    def __init__(self, tmp: Path, stack: Any, config: str = "") -> None:
        x11.require_tools()
        self.server = x11.start_xvfb(tmp / "xvfb.log")
        stack.callback(x11.stop_process, self.server.process)
        self.window = ll.TimedKeylog.start(self.server, tmp / "keylog.txt")
        stack.callback(self.window.stop)
        self.window.focus()
        self.mic = stack.enter_context(pulse.virtual_microphone())
        self.agent = LiveAgent(self.mic, self.server, tmp / "agent", "--no-tray", "-vv",
                               config=config)
        stack.callback(ll.keep_log, self.agent, 0)
        self.mode = "command"
        opened = [at for at, line in (x for x in ll.drain(self.agent.err.lines) if x)
                  if "microphone open: stream time starts" in line]
        self.stream_start = opened[0] if opened else self.agent.listening_at
        """Monotonic time of the agent's stream time 0 (its utterances' start and end)."""

    def switch(self, phrase: str, mode: str) -> None:
        """Say `phrase` ("start dictation", "stop dictation") until the agent is in `mode`."""
        for _ in range(3):
            ll.drain(self.agent.out.lines)
            self.agent.say(phrase)
            try:
                self.mode = self.agent.next_json(timeout=10).get("mode", self.mode)
            except AssertionError:
                continue
            if self.mode == mode:
                self.window.sync()  # whatever it typed meanwhile goes
                return
        raise SystemExit(f"dictation: the agent did not enter {mode} mode")

    def play(self, item: Item) -> dict[str, Any]:
        commands = item.set in ("typed", "short")
        if commands and self.mode == "dictation":
            self.switch("stop dictation", "command")
        elif not commands and self.mode != "dictation":
            self.switch("start dictation", "dictation")
        ll.drain(self.window.keys)
        ll.drain(self.agent.out.lines)
        ll.drain(self.agent.err.lines)
        played = self.mic.say(item.pcm)
        gap = self.mic.silence(GAP_S)
        while not played.started_at:
            time.sleep(0.005)
        end = played.started_at + item.speech_off
        keys, lines = self.collect(end + TIMEOUT_S, gap, end - self.stream_start)
        text = self.window.sync().text
        self.mode = lines[-1].get("mode", self.mode) if lines else self.mode
        log = [(round(at - end, 3), line.split(": ", 2)[-1].strip())
               for at, line in (x for x in ll.drain(self.agent.err.lines) if x)
               if any(mark in line for mark in MARKS)]
        return record(item, text, keys, end, lines) | {"log": log}

    def collect(self, limit: float, gap: pulse.Clip, stream_end: float
                ) -> tuple[list[tuple[float, dict[str, Any]]], list[dict[str, Any]]]:
        """Keys and JSON lines until the silence after the clip is played, the agent has
        reported the utterance that ends the clip (its end, in stream time, near
        `stream_end`; or `limit` passed: nothing heard) and neither keys nor lines came
        for QUIET_S."""
        keys: list[tuple[float, dict[str, Any]]] = []
        lines: list[dict[str, Any]] = []
        last = time.monotonic()
        while True:
            now = time.monotonic()
            new_keys = ll.drain(self.window.keys)
            new_lines = [json.loads(x[1]) for x in ll.drain(self.agent.out.lines) if x]
            if new_keys or new_lines:
                last = now
            keys, lines = keys + new_keys, lines + new_lines
            quiet = now - last >= QUIET_S
            ended = any(ln.get("end", 0) > stream_end - END_SLACK_S for ln in lines)
            if (gap.ended_at and quiet and (ended or now > limit)) or now > limit + 30:
                return keys, lines
            time.sleep(0.01)


def record(item: Item, text: str, keys: list[tuple[float, dict[str, Any]]], end: float,
           lines: list[dict[str, Any]]) -> dict[str, Any]:
    after = [at for at, k in keys if at >= end and k.get("char")]
    ref, hyp = rs.words(item.said), rs.words(text)
    typing = [ln for ln in lines if any(a["action"] == "type" for a in ln.get("actions", []))]
    return {
        "set": item.set, "clip": item.name, "said": item.said, "typed": text,
        "ref_words": len(ref), "edits": rs.edits(ref, hyp),
        "exact_words": ref == hyp, "exact_text": text.strip() == item.said,
        "sentences": len(item.sentences), "lost": lost_sentences(item.sentences, text),
        "latency": round(after[0] - end, 3) if after and ref else None,
        "chars_before_end": sum(1 for at, k in keys if at < end and k.get("char")),
        "utterances": len(lines), "heard": [ln.get("text") for ln in lines],
        "modes": [ln.get("mode") for ln in lines],
        "stages": [ln.get("latency") for ln in typing],
        "corrected": any(a["action"] == "key" and a["keys"] == "backspace"
                         for ln in lines for a in ln.get("performed", [])),
    }


def mark_at(row: dict[str, Any], mark: str) -> float | None:
    """When (s from the end of speech) the first agent log line holding `mark` came."""
    return next((at for at, line in row.get("log", []) if mark in line), None)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(values, q)), 3)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    words = sum(r["ref_words"] for r in rows)
    lat = [r["latency"] for r in rows if r["latency"] is not None]
    last = [r["stages"][-1] for r in rows if r["stages"] and r["latency"] is not None]
    stage = {k: pct([s[k] for s in last if k in s], 50)
             for k in ("closed", "transcribed", "performed")}
    timed = [r for r in rows if r["latency"] is not None]
    stage |= {name: pct([t for r in timed if (t := mark_at(r, mark)) is not None], 50)
              for name, mark in STAGE_MARKS.items()}
    return {
        "clips": len(rows), "words": words,
        "wer": round(sum(r["edits"] for r in rows) / max(words, 1), 4),
        "exact_words": sum(r["exact_words"] for r in rows),
        "exact_text": sum(r["exact_text"] for r in rows),
        "lost_sentences": sum(len(r["lost"]) for r in rows),
        "sentences": sum(r["sentences"] for r in rows),
        "no_char": sum(1 for r in rows if r["ref_words"] and r["latency"] is None),
        "split": sum(1 for r in rows if r["utterances"] > 1),
        "corrected": sum(1 for r in rows if r.get("corrected")),
        "latency_p50": pct(lat, 50), "latency_p95": pct(lat, 95),
        "latency_mean": round(statistics.fmean(lat), 3) if lat else None,
        "stages_p50": stage,
    }


def ms(v: float | None) -> str:
    return "-" if v is None else f"{1000 * v:.0f}"


def table(sets: dict[str, dict[str, Any]]) -> str:
    head = ("| set | clips | WER | exact words | exact text | lost sentences | no text "
            "| corrected | end of speech -> first char p50 / p95 "
            "| closed / transcribed / performed p50 |")
    out = [head, "|" + " --- |" * 10]
    for name, s in sets.items():
        st = s["stages_p50"]
        exact_text = f"{s['exact_text']}/{s['clips']}" if name in ("synthetic", "short") else "-"
        out.append(f"| {name} | {s['clips']} | {100 * s['wer']:.1f}% | {s['exact_words']}/"
                   f"{s['clips']} | {exact_text} | {s['lost_sentences']}/{s['sentences']} | "
                   f"{s['no_char']} | {s['corrected']} | "
                   f"{ms(s['latency_p50'])} / {ms(s['latency_p95'])} ms | "
                   f"{ms(st['closed'])} / {ms(st['transcribed'])} / {ms(st['performed'])} ms |")
    out += ["", "where the time goes (p50, ms from the end of speech; closed, transcribed "
            "and performed from the agent's own end of speech):",
            "| set | encoded | free text decoded | closed | took the peek's hearing "
            "| transcribed | first char | performed |", "|" + " --- |" * 8]
    for name, s in sets.items():
        st = s["stages_p50"]
        out.append(f"| {name} | " + " | ".join(ms(st[k]) for k in (
            "encoded", "free text", "closed", "reused", "transcribed")) +
            f" | {ms(s['latency_p50'])} | {ms(st['performed'])} |")
    return "\n".join(out)


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="human,synthetic",
                    help="of human, synthetic, typed, short")
    ap.add_argument("--trials", type=int, default=1, help="times each clip is dictated")
    ap.add_argument("--limit", type=int, default=0, help="at most this many clips per set")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    ap.add_argument("--end-ms", type=int, default=0,
                    help="the agent's vad.end_ms (default: its default): how soon an "
                    "utterance may end, to see what a turn policy that ends dictation "
                    "sooner would give")
    ap.add_argument("--out", type=Path, default=OUT / "dictation.json")
    args = ap.parse_args(argv)
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    if not args.sets or set(args.sets) - {"human", "synthetic", "typed", "short"}:
        raise SystemExit("dictation: --sets takes human, synthetic, typed, short")
    if args.trials < 1 or args.limit < 0:
        raise SystemExit("dictation: --trials must be at least 1, --limit at least 0")
    return args


def items_for(args: argparse.Namespace, work: Path) -> list[Item]:
    chosen: list[Item] = []
    for name in args.sets:
        found = human_items() if name == "human" else short_items(work) \
            if name == "short" else synthetic_items(work, "type " if name == "typed" else "")
        chosen += found[:args.limit] if args.limit else found
    return [it for _ in range(args.trials) for it in chosen]


def run(items: list[Item], tmp: Path, config: str) -> list[dict[str, Any]]:
    import contextlib

    rows = []
    with contextlib.ExitStack() as stack:
        session = Session(tmp, stack, config)
        session.play(items[-1])  # warm-up, not counted: the first utterance pays for caches
        for item in items:
            rows.append(session.play(item))
            r = rows[-1]
            lat = "-" if r["latency"] is None else f"{1000 * r['latency']:.0f} ms"
            print(f"{r['set']:9} {r['clip']:40} {lat:>8} edits {r['edits']}/{r['ref_words']}"
                  f"{' LOST ' + repr(r['lost']) if r['lost'] else ''}  {r['typed']!r}",
                  file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the rig is torn down
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="voxagent-dictation-") as tmp_dir:
        items = items_for(args, Path(tmp_dir))
        config = f"[vad]\nend_ms = {args.end_ms}\n" if args.end_ms else ""
        rows = run(items, Path(tmp_dir), config)
    sets = {}
    for name in args.sets:
        these = [r for r in rows if r["set"] == name]
        sets[name] = summary(these)
    report = {"sets": sets, "end_ms": args.end_ms or None, "load_start": load,
              "load_end": os.getloadavg(), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(table(sets))
        print(f"(load average {load[0]:.1f} at the start; results: {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
