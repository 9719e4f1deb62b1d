"""Hearing one utterance: encoder and decode time, and top-1 accuracy, per window policy.

    .venv/bin/python bench/hearing.py                       # the committed spoken fixtures
    .venv/bin/python bench/hearing.py --set dev --limit 3   # session files of a generated set
    .venv/bin/python bench/hearing.py --set dev --only espeak-rp-pink10 flite-slt-white20
    .venv/bin/python bench/hearing.py --policy 30 --policy 5,8,10,15,20,30 --policy 3,5,8,30

Each command said in command mode, and each ordinary sentence, is cut from its
session file (bench/nbest_ceiling.py: the segmenter's pre-roll and a tail), heard
once per window policy (in turn, so every policy sees the same machine state) with
the command vocabulary as the prompt, and decoded once.  A policy is the list of
window sizes (s) an utterance is fitted to; "30" is the classic padded window.
Per policy it prints:
  encoder     seconds in the encoder (both windows when the guard fell back)
  decode      the rest: the beam search (and the second one after a fallback)
  hear+decode wall seconds of hear(pcm).decode(hint)
  right       commands whose first hypothesis does exactly the right thing
  fallbacks   decodes the guard sent to the 30 s window
  doubted     transcripts marked doubted (commands: a loss; sentences: harmless)
  sentences that acted   ordinary sentences whose first hypothesis did something
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.asr.base import Hint  # noqa: E402
from agent.asr.hearing import WINDOWS_S  # noqa: E402
from agent.asr.whisper import WhisperRecogniser  # noqa: E402
from agent.audio.file_source import read_audio  # noqa: E402
from agent.build import command_library, new_dispatcher  # noqa: E402
from agent.config import load_config  # noqa: E402
from bench.accuracy import ensure_set, fl  # noqa: E402
from bench.nbest_ceiling import cut, hypotheses_right  # noqa: E402


@dataclass
class Tally:
    encoder: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)
    right: int = 0
    commands: int = 0
    fallbacks: int = 0
    doubted_commands: int = 0
    doubted_sentences: int = 0
    sentences: int = 0
    sentences_acted: int = 0


def utterances(session: Any) -> list[Any]:
    """Commands and ordinary sentences said while the agent was in command mode."""
    out, mode = [], "command"
    for u in session.utterances:
        if u.kind in ("command", "speech") and mode == "command":
            out.append(u)
        mode = u.mode
    return out


def p(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def ms(xs: list[float]) -> str:
    return f"p50 {1000 * p(xs, 50):6.0f} ms, p95 {1000 * p(xs, 95):6.0f} ms"


def hear_one(whisper: WhisperRecogniser, pcm: bytes, hint: Hint, tally: Tally,
             expected: Any, judge: Any, verbose: str) -> None:
    hearing = whisper.hear(pcm)
    started = time.monotonic()
    transcript = hearing.decode(hint)
    tally.total.append(time.monotonic() - started)
    tally.encoder.append(hearing.encode_seconds)
    tally.decode.append(tally.total[-1] - hearing.encode_seconds)
    tally.fallbacks += len(hearing.encoded_windows) > 1
    oks = judge(transcript, expected)
    if expected.kind == "command":
        tally.commands += 1
        tally.right += bool(oks and oks[0])
        tally.doubted_commands += bool(transcript.doubt)
    else:
        tally.sentences += 1
        tally.doubted_sentences += bool(transcript.doubt)
        tally.sentences_acted += bool(oks and not oks[0]) and not transcript.doubt
    last = hearing.last
    if verbose and (transcript.doubt or len(hearing.encoded_windows) > 1 or not oks[0]):
        signals = f"lp {last.avg_logprob:.2f} ns {last.no_speech_prob:.2f}" if last else ""
        print(f"  {verbose:<10} {expected.kind:<7} {expected.say!r} -> {transcript.text!r} "
              f"[{'right' if oks and oks[0] else 'wrong'}; windows {hearing.encoded_windows}; "
              f"{signals}; doubt {transcript.doubt!r}]", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p_.add_argument("--set", choices=fl.SETS, help="a generated set (default: the committed "
                    "spoken fixtures)")
    p_.add_argument("--limit", type=int, default=0, help="only the first N session files")
    p_.add_argument("--only", nargs="+", metavar="CONDITION", help="only these conditions")
    p_.add_argument("--script", default=fl.FULL, help="which script's files (default: full)")
    p_.add_argument("--policy", action="append", metavar="S,S,...",
                    help="window sizes in seconds (repeatable; default: 30 and "
                    f"{','.join(map(str, WINDOWS_S))})")
    p_.add_argument("--verbose", action="store_true", help="print misses, fallbacks, doubts")
    args = p_.parse_args(argv)
    policies = [tuple(int(x) for x in s.split(",")) for s in
                (args.policy or ["30", ",".join(map(str, WINDOWS_S))])]
    folder = ensure_set(args.set, False) if args.set else fl.COMMITTED_DIR
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="  %(name)s: %(message)s")
    cfg = load_config(None)
    library = command_library(cfg)
    hint = Hint(tuple(new_dispatcher(cfg, library).vocabulary()), cfg.whisper.alternatives)
    whisper = WhisperRecogniser(cfg)
    whisper.load()

    def judge(transcript: Any, expected: Any) -> list[bool]:
        return hypotheses_right(cfg, library, transcript, expected)

    tallies = {pol: Tally() for pol in policies}
    sessions = [s for s in fl.load_manifest(folder) if s.script == args.script
                and (not args.only or s.condition in args.only)]
    for session in sessions[:args.limit or None]:
        audio = read_audio(session.path(folder))
        for u in utterances(session):
            pcm = cut(audio, u.start, u.end)
            for pol in policies:
                whisper.windows = pol
                hear_one(whisper, pcm, hint, tallies[pol], u, judge,
                         ",".join(map(str, pol)) if args.verbose else "")
    print(f"== hearing, {folder.name}: tiny.en ({cfg.whisper.model}), beam "
          f"{cfg.whisper.beam_size}, {cfg.whisper.alternatives} best ==")
    base = statistics.median(tallies[policies[0]].total)
    for pol, t in tallies.items():
        print(f"windows {','.join(map(str, pol)):<18} encoder {ms(t.encoder)} | "
              f"decode {ms(t.decode)} | hear+decode {ms(t.total)} "
              f"({base / statistics.median(t.total):.1f}x) | "
              f"right {t.right}/{t.commands} | fallbacks {t.fallbacks} | doubted "
              f"{t.doubted_commands} commands, {t.doubted_sentences}/{t.sentences} sentences"
              f" | sentences that acted {t.sentences_acted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
