"""Latency of the real pipeline in real time, and the recogniser's real-time factor.

    .venv/bin/python bench/latency.py                      # 1 full dev session file (~4 min)
    .venv/bin/python bench/latency.py --script short       # quicker: the short dev sessions
    .venv/bin/python bench/latency.py --set heldout --limit 1 --no-peer

Runs `voxagent run --input FILE --dry-run --json` WITHOUT --fast (the file is
paced like a microphone) and reads each JSON line's latency field, all in
seconds from the end of speech:
  closed      the segmenter closed the utterance (its hangover)
  recognised  recognition time (wall time in the recogniser)
  performed   the action was performed: what a user waits for
and prints their medians (and p95 of `performed`), plus the real-time factor:
recognition seconds / seconds of audio the recogniser was given (the speech,
plus the segmenter's pre-roll and tail).

Peer: the same utterances (same audio span) through faster-whisper's plain
`WhisperModel.transcribe()` with the same model, beam size and compute type,
in this process after the pipeline runs, so the figures share a machine state.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import ensure_set, fl, run_pipeline


def p95(xs: list[float]) -> float:
    return float(np.percentile(xs, 95))


def fmt(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"median {statistics.median(xs):.3f} s, p95 {p95(xs):.3f} s (n={len(xs)})"


def peer_times(spans: list[tuple[Path, float, float]]) -> tuple[list[float], list[float]]:
    """Seconds faster-whisper's WhisperModel.transcribe() takes on each (file, from, to)
    span, and the span lengths."""
    import soundfile
    from faster_whisper import WhisperModel

    from agent.asr.models import resolve_model
    from agent.audio.file_source import to_pipeline_pcm
    from agent.config import Config

    cfg = Config().whisper
    model = WhisperModel(str(resolve_model(cfg.model, cfg.download_root)), device=cfg.device,
                         compute_type=cfg.compute_type, cpu_threads=cfg.cpu_threads)
    audio: dict[Path, np.ndarray] = {}
    model.transcribe(np.zeros(16000, np.float32), language="en")  # warm up, like the pipeline
    secs, lengths = [], []
    for path, a, b in spans:
        if path not in audio:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
            audio[path] = to_pipeline_pcm(data, rate).astype(np.float32) / 32768.0
        clip = audio[path][int(a * 16000): int(b * 16000)]
        started = time.monotonic()
        segments, _ = model.transcribe(clip, language=cfg.language, beam_size=cfg.beam_size)
        " ".join(s.text for s in segments)  # decoding happens while iterating
        secs.append(time.monotonic() - started)
        lengths.append(len(clip) / 16000)
    return secs, lengths


def by_outcome(lines: list[dict[str, Any]]) -> dict[str, list[float]]:
    """End of speech to done, for utterances that typed text (free text: type, formatters,
    dictation, which wait for the full end and one more decode), for those that did
    something else, and for those that did nothing (ordinary speech and missed commands,
    which also pay for every second try)."""
    out: dict[str, list[float]] = {"typed text": [], "acted": [], "did nothing": []}
    for ln in lines:
        typed = any(a.get("action") == "type" for a in ln["actions"])
        kind = "typed text" if typed else "acted" if ln["actions"] else "did nothing"
        out[kind].append(ln["latency"]["performed"])
    return out


def _rounded(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=fl.SETS, default="dev")
    p.add_argument("--script", default=fl.FULL, help="which script's files (default: full)")
    p.add_argument("--limit", type=int, default=1, help="session files (0 = all; default 1)")
    p.add_argument("--no-peer", action="store_true", help="skip plain faster-whisper")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = p.parse_args(argv)

    from agent.config import Config
    from agent.turn import TAIL_MS

    vad = Config().vad
    folder = ensure_set(args.set, False)
    sessions = [s for s in fl.load_manifest(folder) if s.script == args.script]
    if args.limit:
        sessions = sessions[:args.limit]
    if not sessions:
        print("latency: no session files selected", file=sys.stderr)
        return 2
    lines: list[dict[str, Any]] = []
    spans: list[tuple[Path, float, float]] = []
    files = []
    for s in sessions:
        got, _err, wall = run_pipeline(s.path(folder), fast=False)
        print(f"{s.file}: {len(got)} utterances, {s.seconds:.1f} s of audio in {wall:.1f} s",
              file=sys.stderr, flush=True)
        files.append({"file": s.file, "audio_s": s.seconds, "wall_s": round(wall, 2),
                      "utterances": len(got)})
        lines += got
        spans += [(s.path(folder), max(0.0, ln["start"] - vad.pre_roll_ms / 1000),
                   ln["end"] + TAIL_MS / 1000) for ln in got]
    lat = [ln["latency"] for ln in lines]
    performed = [x["performed"] for x in lat]
    closed = [x["closed"] for x in lat]
    recog = [x["recognised"] for x in lat]
    lengths = [b - a for _, a, b in spans]
    rtf = [r / n for r, n in zip(recog, lengths, strict=True)]
    result: dict[str, Any] = {
        "files": files,
        "performed": {"median": statistics.median(performed), "p95": p95(performed)},
        "closed_median": statistics.median(closed),
        "recognised_median": statistics.median(recog),
        "recognised_p95": p95(recog),
        "utterance_audio_median_s": statistics.median(lengths),
        "rtf_median": statistics.median(rtf),
        "hangover_ms": vad.hangover_ms,
        "performed_by_outcome": {k: {"median": statistics.median(v), "p95": p95(v), "n": len(v)}
                                 for k, v in by_outcome(lines).items() if v},
    }
    if not args.no_peer:
        secs, plens = peer_times(spans)
        prtf = [t / n for t, n in zip(secs, plens, strict=True)]
        result["peer"] = {"transcribe_median": statistics.median(secs),
                          "transcribe_p95": p95(secs), "rtf_median": statistics.median(prtf),
                          "ratio_pipeline_to_peer": statistics.median(recog)
                          / statistics.median(secs)}
    if args.json:
        print(json.dumps(_rounded(result), indent=1))
        return 0
    print(f"== latency, real time, {len(lines)} utterances in {len(files)} files "
          f"({args.set}/{args.script}) ==")
    print(f"end of speech -> action performed: {fmt(performed)}")
    for outcome, times in by_outcome(lines).items():
        print(f"  utterances that {outcome + ':':<12}     {fmt(times)}")
    print(f"  segmenter closed (hangover {vad.hangover_ms} ms): {fmt(closed)}")
    print(f"  recognition:                       {fmt(recog)}")
    print(f"recogniser real-time factor: median {result['rtf_median']:.3f} "
          f"(utterance audio median {result['utterance_audio_median_s']:.2f} s)")
    if "peer" in result:
        pr = result["peer"]
        print(f"peer, faster-whisper WhisperModel.transcribe() on the same spans: "
              f"median {pr['transcribe_median']:.3f} s, p95 {pr['transcribe_p95']:.3f} s, "
              f"RTF {pr['rtf_median']:.3f}; pipeline recognition / peer = "
              f"{pr['ratio_pipeline_to_peer']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
