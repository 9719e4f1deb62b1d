"""Free text (type, formatters, dictation): which reading to take, per selection rule.

    .venv/bin/python bench/free_text.py                          # dev and heldout
    .venv/bin/python bench/free_text.py --set dev --limit 2
    .venv/bin/python bench/free_text.py --cache /tmp/ft.json     # reuse what was heard

Each free-text utterance of a set (the rows formatters and type, and dictated text)
is taken as the live segmenter cuts its session file (the utterance overlapping
the phrase most; no early ends at pauses, unlike `run`; --cut: fixed margins,
bench/nbest_ceiling.py) and decided as the pipeline does with `commands.free_text = "first"`
(agent/decide/: the prompted decode, second tries when it matched nothing).  When
that reading types free text, the plain decode is made as `free_text = "plain"` makes
it (the command's words as heard, no vocabulary prompt, the 30 s window), and every
reading at hand (the first, the plain one and its n-best, all kept only while they are
the same command) is scored against the hearing: log P(text | audio) with the
vocabulary prompt and without it, on the window fitted to the utterance and on 30 s.
A rule picks one reading from those figures; per rule and row it prints how many came
out exactly right (fixturelib's comparison rules); "best (agent/decide/)" is what
`free_text = "best"` took (the rule "form vocab/30 n-best").  What was heard and scored is
written to --cache (JSON), so rules can be tried again without the model.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.asr.base import Hint  # noqa: E402
from agent.asr.hearing import FULL_WINDOW_S  # noqa: E402
from agent.asr.whisper import WhisperRecogniser  # noqa: E402
from agent.audio.file_source import FileSource, read_audio  # noqa: E402
from agent.audio.vad import Segmenter  # noqa: E402
from agent.build import command_library, new_dispatcher  # noqa: E402
from agent.config import load_config  # noqa: E402
from agent.decide import Decider, Heard  # noqa: E402
from agent.messages import Mode, Transcript, Utterance  # noqa: E402
from agent.runner import _utterances  # noqa: E402
from agent.worker import Worker  # noqa: E402
from bench.accuracy import ensure_set, fl  # noqa: E402
from bench.nbest_ceiling import cut  # noqa: E402

ROWS = ("formatters", "type")
SCORED = (("vocab", "fit"), ("vocab", "30"), ("plain", "fit"), ("plain", "30"))
"""(prompt, window) pairs each reading is scored under."""


def free_text_utterances(session: Any) -> list[Any]:
    """Formatters and type said in command mode, and dictated text."""
    out, mode = [], "command"
    for u in session.utterances:
        if (u.kind == "command" and u.row in ROWS and mode == "command") or \
                u.kind == "dictated":
            out.append(u)
        mode = u.mode
    return out


class Judge:
    """Whether a transcript, dispatched in the utterance's mode, does what was asked."""

    def __init__(self, cfg: Any, library: Any) -> None:
        self._cfg, self._library = cfg, library

    def dispatcher(self, mode: Mode) -> Any:
        d = new_dispatcher(self._cfg, self._library)
        d.set_mode(mode)
        return d

    def __call__(self, transcript: Transcript, u: Any) -> bool:
        decision = self.dispatcher(mode_of(u)).dispatch(transcript)
        got = [a.to_json() for a in decision.actions]
        return fl.actions_match(u.actions, got, u.text) and decision.mode.value == u.mode


def mode_of(u: Any) -> Mode:
    return Mode.DICTATION if u.kind == "dictated" else Mode.COMMAND


def hear_one(whisper: WhisperRecogniser, cfg: Any, judge: Judge, utt: Utterance,
             u: Any) -> dict[str, Any]:
    """What the first and plain decodes heard, and every reading's scores."""
    dispatcher = judge.dispatcher(mode_of(u))
    first_way = Decider(whisper, dispatcher, replace(cfg.commands, free_text="first"))
    plain_way = Decider(whisper, dispatcher, replace(cfg.commands, free_text="plain"))
    hint = Hint(tuple(dispatcher.vocabulary()), cfg.whisper.alternatives)
    hearing = whisper.hear(utt.pcm)
    heard = Heard(utt, hearing, Worker._checked(utt, hearing.decode(hint)), hint)
    first, _ = first_way.decide(heard)
    name = dispatcher.command_name(first)
    lead = dispatcher.answer(first).lead if u.kind != "dictated" else ""
    readings = [first]
    if lead is not None and not first.doubt and (name is not None or u.kind == "dictated"):
        plain = plain_way._plain(replace(heard, transcript=first), first, lead)
        if plain is not first:
            readings.append(plain)
            readings += [Transcript(h.text, (h,), plain.backend) for h in plain.alternatives[1:]
                         if dispatcher.command_name(Transcript(h.text)) == name]
    texts = list(dict.fromkeys(r.text.strip() for r in readings))
    scores = {}
    for prompt, window in SCORED:
        hearing._decoded_on = hearing.window if window == "fit" else FULL_WINDOW_S
        scores[f"{prompt}/{window}"] = hearing.score(
            texts, hint if prompt == "vocab" else Hint((), 1))
    forms = list(dict.fromkeys(canonical(t) for t in texts))
    for prompt, window in SCORED:
        hearing._decoded_on = hearing.window if window == "fit" else FULL_WINDOW_S
        scores[f"canon {prompt}/{window}"] = hearing.score(
            [f + "." for f in forms], hint if prompt == "vocab" else Hint((), 1))
    best = first
    if len(readings) > 1:  # what free_text = "best" takes: one of the readings
        best_way = Decider(whisper, dispatcher, replace(cfg.commands, free_text="best"))
        best = best_way._plain(replace(heard, transcript=first), first, lead)
    ok = {r.text.strip(): judge(r, u) for r in readings}
    return {"say": u.say, "row": u.row if u.kind != "dictated" else "dictated",
            "first": first.text.strip(), "plain": readings[1].text.strip()
            if len(readings) > 1 else None, "texts": texts, "ok": [ok[t] for t in texts],
            "scores": scores, "lead": lead, "forms": forms,
            "form_of": [forms.index(canonical(t)) for t in texts],
            "best": texts.index(best.text.strip())}


def canonical(text: str) -> str:
    """`text` in one surface form: its words, lower case, the first capitalised."""
    words = re.sub(r"[^\w' ]+", " ", text).lower().split()
    return " ".join(words).capitalize()


def segmented(cfg: Any, path: Path) -> list[Utterance]:
    """The file's utterances as the live segmenter cuts them (no early ends at pauses)."""
    source = FileSource(path, cfg.audio.block_ms, fast=True)
    return list(_utterances(source, Segmenter(cfg.vad, cfg.audio.block_ms)))


def overlapping(utts: list[Utterance], u: Any) -> Utterance | None:
    """The segmenter's utterance that overlaps the phrase most (None: none does)."""
    best = max(utts, key=lambda t: min(t.end, u.end) - max(t.start, u.start), default=None)
    return best if best is not None and min(best.end, u.end) > max(best.start, u.start) \
        else None


def collect(set_name: str, limit: int, segmenter: bool) -> list[dict[str, Any]]:
    cfg = load_config(None)
    library = command_library(cfg)
    judge = Judge(cfg, library)
    whisper = WhisperRecogniser(cfg)
    whisper.load()
    folder = ensure_set(set_name, False)
    out = []
    sessions = [s for s in fl.load_manifest(folder) if s.script == fl.FULL]
    for session in sessions[:limit or None]:
        audio = read_audio(session.path(folder))
        utts = segmented(cfg, session.path(folder)) if segmenter else []
        for u in free_text_utterances(session):
            pcm = cut(audio, u.start, u.end)
            utt = overlapping(utts, u) if segmenter else \
                Utterance(pcm, u.start, u.end, voiced=u.end - u.start)
            if utt is None:
                print(f"  {session.condition:<26} {u.say!r}: not heard", file=sys.stderr)
                continue
            rec = hear_one(whisper, cfg, judge, utt, u)
            out.append(rec | {"set": set_name, "condition": session.condition})
            print(f"  {session.condition:<26} {u.say!r}: first {rec['first']!r} plain "
                  f"{rec['plain']!r}", file=sys.stderr, flush=True)
    return out


Rule = Callable[[dict[str, Any]], int]
"""A rule picks the index of one of a record's texts (0: the first reading)."""


def by_score(*keys: str, nbest: bool = False, per_token: bool = False) -> Rule:
    def pick(rec: dict[str, Any]) -> int:
        if rec["plain"] is None:
            return 0
        pool = range(len(rec["texts"])) if nbest else \
            sorted({0, rec["texts"].index(rec["plain"])})

        def total(i: int) -> float:
            s = sum(rec["scores"][k][i] for k in keys)
            return s / (1 + len(rec["texts"][i].split())) if per_token else s
        return max(pool, key=total)
    return pick


def by_form(*keys: str, nbest: bool = True) -> Rule:
    """The reading whose words, in one surface form, score best; the first reading
    with those words (the first decode, then the plain one, then its n-best)."""
    def pick(rec: dict[str, Any]) -> int:
        if rec["plain"] is None:
            return 0
        pool = range(len(rec["texts"])) if nbest else \
            sorted({0, rec["texts"].index(rec["plain"])})
        order = [0, rec["texts"].index(rec["plain"]), *range(len(rec["texts"]))]
        forms = {rec["form_of"][i] for i in pool}
        best = max(forms, key=lambda f: sum(rec["scores"]["canon " + k][f] for k in keys))
        return next(i for i in order if rec["form_of"][i] == best)
    return pick


def plain_rule(rec: dict[str, Any]) -> int:
    return 0 if rec["plain"] is None else rec["texts"].index(rec["plain"])


RULES: dict[str, Rule] = {
    "first": lambda rec: 0,
    "plain": plain_rule,
    "best (agent/decide/)": lambda rec: rec["best"],
    "oracle (first or plain)": lambda rec: plain_rule(rec) if rec["ok"][plain_rule(rec)]
    else 0,
}
for _keys in (("vocab/fit",), ("vocab/30",), ("plain/fit",), ("plain/30",),
              ("vocab/fit", "plain/fit"), ("vocab/30", "plain/30"),
              ("vocab/fit", "plain/30"), ("vocab/30", "plain/fit"),
              ("vocab/fit", "vocab/30", "plain/fit", "plain/30")):
    RULES["sum " + "+".join(_keys)] = by_score(*_keys)
    RULES["sum " + "+".join(_keys) + " n-best"] = by_score(*_keys, nbest=True)
    RULES["form " + "+".join(_keys)] = by_form(*_keys, nbest=False)
    RULES["form " + "+".join(_keys) + " n-best"] = by_form(*_keys)


def tally(records: list[dict[str, Any]]) -> None:
    for set_name in dict.fromkeys(r["set"] for r in records):
        recs = [r for r in records if r["set"] == set_name]
        rows = list(dict.fromkeys(r["row"] for r in recs))
        print(f"== {set_name}: right per rule ({len(recs)} free-text utterances, "
              f"{sum(r['plain'] is not None for r in recs)} with a plain reading) ==")
        print(f"{'rule':52} " + " ".join(f"{row:>12}" for row in rows) + f" {'all':>8}")
        for name, rule in RULES.items():
            right: dict[str, int] = defaultdict(int)
            for r in recs:
                right[r["row"]] += r["ok"][rule(r)]
            print(f"{name:52} " + " ".join(
                f"{right[row]:>5}/{sum(r['row'] == row for r in recs):<6}" for row in rows)
                + f" {sum(right.values()):>8}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", choices=fl.SETS, action="append", help="default: both")
    p.add_argument("--limit", type=int, default=0, help="only the first N session files")
    p.add_argument("--cut", action="store_true", help="cut each phrase with fixed margins "
                   "(bench/nbest_ceiling.py) instead of the live segmenter's cuts")
    p.add_argument("--cache", type=Path, help="JSON of what was heard: read if it exists, "
                   "else written")
    args = p.parse_args(argv)
    if args.cache and args.cache.exists():
        records = json.loads(args.cache.read_text(encoding="utf-8"))
    else:
        records = [r for s in args.set or fl.SETS for r in collect(s, args.limit, not args.cut)]
        if args.cache:
            args.cache.write_text(json.dumps(records, indent=1), encoding="utf-8")
    tally(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
