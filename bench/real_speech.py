"""Dictation of recorded human speech: what the real pipeline types against plain tiny.en.

    .venv/bin/python bench/real_speech.py                 # every clip found
    .venv/bin/python bench/real_speech.py --json > out.json
    .venv/bin/python bench/real_speech.py --log /tmp/rs.log    # the agent's -v log
    git archive main | tar -x -C /tmp/old && \
        .venv/bin/python bench/real_speech.py --agent-src /tmp/old    # main's agent

The clips are recordings of people (no synthesis), read from Debian packages at run
time; none is committed.  Install them with

    apt-get install -y pocketsphinx-testdata alsa-utils

- pocketsphinx-testdata (/usr/share/pocketsphinx/test/data; BSD-2, Carnegie Mellon
  University): five LibriVox sentences of "Sense and Sensibility" (LibriVox
  recordings are in the public domain) and five CMU "cards" phrases, with their
  transcripts, and goforward.raw ("go forward ten meters", its pocketsphinx test).
  Pairs of consecutive LibriVox sentences are also joined, the silence between them
  cut to 0.3 s (one utterance to the segmenter), into two-sentence dictations, where a
  decode may drop one.
- alsa-utils (/usr/share/sounds/alsa; GPL-2): a person saying the eight speaker
  names ("Front Left", ...), and Noise.wav, where nothing is said (any word typed
  there counts as an inserted word).

One session file is made: espeak-ng's "start dictation", then every clip with 2 s of
silence after it; it goes through `voxagent run --input FILE --dry-run --json --fast`
(the real segmenter, recogniser, decide stage and dispatcher; the default config, or
--free-text to set commands.free_text).  What each clip typed
is what the actions of the lines whose speech overlaps it leave (typed text, Return
keys and BackSpace).  The plain
decode is faster-whisper tiny.en on the clip alone: beam 5, no prompt.  Printed:
word error rate of each against the transcripts (words only: case, punctuation and
hyphens aside, numbers as words), clips exactly right, and the clips that lost a
word the plain decode heard (a word of the transcript that the plain decode holds
and the typed text lacks; the target is 0).  Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import wave
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.audio.file_source import read_audio  # noqa: E402
from agent.messages import SAMPLE_RATE  # noqa: E402

SPHINX = Path("/usr/share/pocketsphinx/test/data")
ALSA = Path("/usr/share/sounds/alsa")
INSTALL = "apt-get install -y pocketsphinx-testdata alsa-utils"
GAP_S = 2.0
JOIN_S = 0.3
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
           "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
           "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SPELLED = {"mr": "mister", "mrs": "missus", "dr": "doctor", "meters": "metres"}


@dataclass
class Clip:
    name: str
    audio: np.ndarray
    """float32 mono at SAMPLE_RATE."""
    said: str


def sphinx_clips() -> list[Clip]:
    """The LibriVox and cards clips with their transcripts, and goforward.raw."""
    clips = []
    for folder, table in (("librivox", "transcription"), ("cards", "cards.transcription")):
        for line in (SPHINX / folder / table).read_text().splitlines():
            m = re.match(r"\s*<s>(.*)</s>\s*\((\S+)\)", line)
            if m:
                audio = read_audio(SPHINX / folder / f"{m[2]}.wav").astype(np.float32) / 32768
                clips.append(Clip(f"{folder}/{m[2]}", audio, " ".join(m[1].split())))
    raw = np.fromfile(SPHINX / "goforward.raw", "<i2").astype(np.float32) / 32768
    clips.append(Clip("goforward", raw, "go forward ten meters"))
    books = [c for c in clips if c.name.startswith("librivox/")]
    silence = np.zeros(int(JOIN_S * SAMPLE_RATE), np.float32)
    for a, b in itertools.pairwise(books):
        joined = np.concatenate([trimmed(a.audio, end=True), silence,
                                 trimmed(b.audio, end=False)])
        clips.append(Clip(f"{a.name}+{b.name[-4:]}", joined, f"{a.said} {b.said}"))
    return clips


def trimmed(audio: np.ndarray, end: bool) -> np.ndarray:
    """`audio` without the silence at its end (or start): 20 ms frames quieter than 5% of
    the loudest frame."""
    frames = audio[:len(audio) // 320 * 320].reshape(-1, 320)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > 0.05 * rms.max())
    return audio[:(loud[-1] + 1) * 320] if end else audio[loud[0] * 320:]


def alsa_clips() -> list[Clip]:
    return [Clip(f"alsa/{p.stem}", read_audio(p).astype(np.float32) / 32768,
                 "" if p.stem == "Noise" else p.stem.replace("_", " ").lower())
            for p in sorted(ALSA.glob("*.wav"))]


def clips() -> list[Clip]:
    missing = [str(p) for p in (SPHINX, ALSA) if not p.is_dir()]
    if missing:
        sys.exit(f"real_speech: {', '.join(missing)} missing: {INSTALL}")
    return sphinx_clips() + alsa_clips()


def number_words(n: int) -> list[str]:
    if n < 20:
        return [NUMBERS[n]]
    if n < 100:
        return [TENS[n // 10]] + ([NUMBERS[n % 10]] if n % 10 else [])
    return [str(n)]


def words(text: str) -> list[str]:
    """Lower-case words, punctuation and hyphens aside, numbers and titles spelled out."""
    out: list[str] = []
    for found in re.findall(r"[a-z0-9']+", text.lower().replace("-", " ")):
        w = found.strip("'")
        out += number_words(int(w)) if w.isdigit() else [SPELLED.get(w, w)] if w else []
    return out


def edits(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def lost(ref: list[str], plain: list[str], typed: list[str]) -> list[str]:
    """Words of the transcript the plain decode holds and the typed text lacks."""
    return sorted(((Counter(plain) & Counter(ref)) - Counter(typed)).elements())


def plain_decodes(all_clips: list[Clip]) -> list[str]:
    from faster_whisper import WhisperModel

    from agent.asr.models import loadable, resolve_model
    from agent.config import Config

    cfg = Config().whisper
    with loadable(resolve_model(cfg.model, cfg.download_root)) as folder:
        model = WhisperModel(str(folder), device="cpu", compute_type=cfg.compute_type)
        out = []
        for c in all_clips:
            segments, _ = model.transcribe(c.audio, language="en", beam_size=5,
                                           vad_filter=False, without_timestamps=True)
            out.append(" ".join(s.text.strip() for s in segments).strip())
    return out


def session(all_clips: list[Clip], folder: Path) -> tuple[Path, list[tuple[float, float]]]:
    """The session file and each clip's span in it, in seconds."""
    lead = folder / "start.wav"
    subprocess.run(["espeak-ng", "-w", str(lead), "start dictation"], check=True)
    parts = [read_audio(lead).astype(np.float32) / 32768,
             np.zeros(int(1.5 * SAMPLE_RATE), np.float32)]
    spans, at = [], sum(len(p) for p in parts) / SAMPLE_RATE
    for c in all_clips:
        spans.append((at, at + len(c.audio) / SAMPLE_RATE))
        parts += [c.audio, np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)]
        at = spans[-1][1] + GAP_S
    path = folder / "session.wav"
    pcm = (np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return path, spans


def typed_per_clip(path: Path, spans: list[tuple[float, float]], log: Path | None,
                   free_text: str, agent_src: Path | None) -> list[str]:
    """What the agent typed for each clip (its lines' type actions, by overlap)."""
    config = path.with_name("config.toml")  # the defaults, not the user's config
    config.write_text(f'[commands]\nfree_text = "{free_text}"\n' if free_text else "")
    cmd = [str(REPO / ".venv" / "bin" / "voxagent"), *(["-v"] if log else []), "run",
           "--config", str(config), "--input", str(path), "--dry-run", "--json", "--fast"]
    env = {**os.environ, "PYTHONPATH": str(agent_src)} if agent_src else None
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    if log:
        log.write_text(done.stderr)
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    typed = [""] * len(spans)
    for line in lines:
        overlap = [min(e, line["end"]) - max(s, line["start"]) for s, e in spans]
        best = max(range(len(spans)), key=lambda i: overlap[i])
        if overlap[best] > 0:
            typed[best] = performed(typed[best], line["actions"])
    return typed


def performed(text: str, actions: list[dict[str, Any]]) -> str:
    """`text` after the line's actions: typed text added, Return keys as newlines,
    BackSpace deleting (dictation typed early, then corrected: agent/worker.py)."""
    for a in actions:
        if a["action"] == "type":
            text += a["text"]
        elif a["action"] == "key" and a["keys"] in ("enter", "backspace"):
            count = int(a.get("count", 1))
            text = text + "\n" * count if a["keys"] == "enter" else text[:max(0, len(text) - count)]
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="per-clip results as JSON")
    ap.add_argument("--log", type=Path, help="write the agent's -v log here")
    ap.add_argument("--free-text", default="", choices=("", "best", "plain", "thorough", "first"),
                    help="commands.free_text for the agent (default: its default)")
    ap.add_argument("--agent-src", type=Path,
                    help="run the agent's code from this checkout (git archive of another "
                    "commit), for figures before and after a change")
    args = ap.parse_args()
    all_clips = clips()
    with tempfile.TemporaryDirectory() as tmp:
        path, spans = session(all_clips, Path(tmp))
        typed = typed_per_clip(path, spans, args.log, args.free_text, args.agent_src)
    plain = plain_decodes(all_clips)
    rows: list[dict[str, Any]] = []
    for c, t, p in zip(all_clips, typed, plain, strict=True):
        ref, tw, pw = words(c.said), words(t), words(p)
        rows.append({"clip": c.name, "said": c.said, "typed": t, "plain": p,
                     "ref_words": len(ref), "typed_edits": edits(ref, tw),
                     "plain_edits": edits(ref, pw), "lost": lost(ref, pw, tw)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    report(rows)


def report(rows: list[dict[str, Any]]) -> None:
    total = sum(r["ref_words"] for r in rows)
    for r in rows:
        mark = "LOST " + " ".join(r["lost"]) if r["lost"] else ""
        print(f"{r['clip']:52} typed {r['typed']!r}\n{'':52} plain {r['plain']!r} {mark}")
    print(f"\n{len(rows)} clips, {total} words of recorded human speech")
    for who in ("typed", "plain"):
        wer = sum(r[f"{who}_edits"] for r in rows) / total
        right = sum(r[f"{who}_edits"] == 0 for r in rows)
        print(f"{who:6} (dictation)  word error rate {100 * wer:.1f}%, exactly right "
              f"{right}/{len(rows)}" if who == "typed" else
              f"{who:6} (tiny.en b5)  word error rate {100 * wer:.1f}%, exactly right "
              f"{right}/{len(rows)}")
    print(f"clips that lost a word the plain decode heard: "
          f"{sum(bool(r['lost']) for r in rows)}")


if __name__ == "__main__":
    main()
