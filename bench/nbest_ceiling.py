"""How far any matcher could take a recogniser: is the right command among its n best?

    .venv/bin/python bench/nbest_ceiling.py                      # held-out, 5 best, embedded model
    .venv/bin/python bench/nbest_ceiling.py --set dev --n 8
    .venv/bin/python bench/nbest_ceiling.py --model small.en     # a hub model, where it can be had

Each command said in command mode is cut from its session file (the segmenter's
300 ms pre-roll before it, 450 ms after it), recognised with the command
vocabulary as the prompt, and every one of the n hypotheses is dispatched by a
fresh dispatcher.  "top-1" counts utterances whose first hypothesis does exactly
the right thing; "oracle" counts those where any of the n does.  The oracle is
a ceiling for whatever picks among hypotheses (matching, rescoring, n-best
voting): a command that none of them carries needs a better acoustic model or
decoding constrained to the grammar.  Cuts are not the live pipeline (no
re-decode, no verification), so top-1 sits below bench/accuracy.py's figure.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.asr.base import Hint  # noqa: E402
from agent.audio.file_source import read_audio  # noqa: E402
from agent.build import command_library, load_recogniser, new_dispatcher  # noqa: E402
from agent.config import Config, load_config  # noqa: E402
from agent.messages import SAMPLE_RATE, Transcript  # noqa: E402
from bench.accuracy import ensure_set, fl  # noqa: E402

PRE_S, POST_S = 0.30, 0.45


@dataclass
class Tally:
    said: int = 0
    top1: int = 0
    oracle: int = 0

    def add(self, oks: list[bool]) -> None:
        self.said += 1
        self.top1 += bool(oks and oks[0])
        self.oracle += any(oks)

    def line(self, name: str) -> str:
        return (f"{name:<14} {self.said:>4}  top-1 {self.top1:>4} ({self.top1 / self.said:6.1%})"
                f"  oracle {self.oracle:>4} ({self.oracle / self.said:6.1%})")


def cut(audio: np.ndarray, start: float, end: float) -> bytes:
    """The phrase's audio (int16 at SAMPLE_RATE) with the segmenter's margins, as s16le."""
    piece = audio[max(0, int((start - PRE_S) * SAMPLE_RATE)):int((end + POST_S) * SAMPLE_RATE)]
    return piece.astype("<i2").tobytes()


def hypotheses_right(cfg: Config, library: Any, transcript: Transcript,
                     expected: Any) -> list[bool]:
    """For each hypothesis, whether a fresh dispatcher does exactly what was asked."""
    oks = []
    for hyp in transcript.alternatives:
        decision = new_dispatcher(cfg, library).dispatch(
            Transcript(text=hyp.text, alternatives=(hyp,), backend="whisper"))
        got = [a.to_json() for a in decision.actions]
        oks.append(fl.actions_match(expected.actions, got, expected.text))
    return oks


def command_utterances(session: Any) -> list[Any]:
    """Commands said while the agent was in command mode."""
    out, mode = [], "command"
    for u in session.utterances:
        if u.kind == "command" and mode == "command":
            out.append(u)
        mode = u.mode
    return out


def run(cfg: Config, folder: Path, n: int, limit: int) -> dict[str, Tally]:
    library = command_library(cfg)
    transcriber = load_recogniser(cfg)
    hint = Hint(tuple(new_dispatcher(cfg, library).vocabulary()), n)
    rows: dict[str, Tally] = {"all": Tally()}
    for session in fl.load_manifest(folder)[:limit or None]:
        audio = read_audio(session.path(folder))
        for u in command_utterances(session):
            transcript = transcriber.hear(cut(audio, u.start, u.end)).decode(hint)
            oks = hypotheses_right(cfg, library, transcript, u)
            rows["all"].add(oks)
            rows.setdefault(u.row, Tally()).add(oks)
            if not any(oks):
                heard = " | ".join(h.text for h in transcript.alternatives)
                print(f"  none right  {session.condition:<26} {u.say!r}: {heard}")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", choices=fl.SETS, default="heldout")
    p.add_argument("--n", type=int, default=5, help="hypotheses per utterance (beam >= n)")
    p.add_argument("--model", help="whisper model (default: the configured one)")
    p.add_argument("--limit", type=int, default=0, help="only the first N session files")
    args = p.parse_args(argv)
    cfg = load_config(None)
    whisper = replace(cfg.whisper, beam_size=max(args.n, cfg.whisper.beam_size),
                      model=args.model or cfg.whisper.model)
    cfg = replace(cfg, whisper=whisper, recognition=replace(cfg.recognition, backend="whisper"))
    rows = run(cfg, ensure_set(args.set, False), args.n, args.limit)
    print(f"set {args.set}, model {whisper.model}, {args.n} best, beam {whisper.beam_size}")
    for name, tally in rows.items():
        print(tally.line(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
