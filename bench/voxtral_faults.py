"""Utterances lost, and latency per utterance, while the Voxtral server answers badly.

    nice .venv/bin/python bench/voxtral_faults.py [--commands 9] [--fast] [FAULT ...]

Starts tests/integration/vllm_double.py, answering at once (it takes no time of its own:
on a loaded CPU a double that hears with whisper times out and measures nothing), and runs
the real pipeline, `voxagent run
--input FILE --dry-run --json --backend auto` paced in real time, on a recording of
`--commands` spoken commands (espeak-ng), once per fault, every request of the run given
that fault: a healthy server (the baseline: it answers "Scroll down." to every utterance,
a command, so the pipeline does what it does with one), an answer that is not UTF-8, one
that is not JSON, one without its text, 3,000 words, 1 MB of text (file mode), and a
realtime stream that never sends `done` (mode = "realtime"; file Voxtral answers as the
healthy server).  Per fault it prints the utterances lost (a
JSON line without text, or none), those whose command is the one said (the healthy
double answers "Scroll down." to all, so it gets only the first of each round right), the
backends that heard them, and the p50 and p95 of the
latency fields of the JSON lines (seconds from the end of speech to the transcript, and to
the action).  Figures only; nothing is asserted (the tests in
tests/integration/test_voxtral_faults.py do that).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.vllm_support import (
    REALTIME_MODEL,
    Control,
    Double,
    free_port,
    speak,
    toml_config,
)

TRANSCRIPTIONS = "/v1/audio/transcriptions"
SAID = ("scroll down", "new tab", "select all", "copy", "paste", "undo", "close tab",
        "scroll up", "next tab", "go back", "reload page", "page down")
"""Said in turn; none changes the mode (so every one is a command to act on)."""
WORDS_3000 = json.dumps({"text": " ".join(["word"] * 3000)}).encode()
MEGABYTE = json.dumps({"text": "spam " * 200_000}).encode()
HEALTHY = json.dumps({"text": "Scroll down."}).encode()
FAULTS: dict[str, tuple[str, bytes | None]] = {
    "healthy": ("file", HEALTHY),
    "not-utf8": ("file", b'{"text": "caf\xe9 \xff\xfe"}'),
    "not-json": ("file", b'{"text": "scroll down'),
    "no-text": ("file", b'{"usage": {"type": "duration", "seconds": 2}}'),
    "3000-words": ("file", WORDS_3000),
    "1mb-text": ("file", MEGABYTE),
    "realtime-no-done": ("realtime", HEALTHY),
}


def recording(tmp: Path, count: int) -> Path:
    clips = [speak(tmp, f"c{i}", SAID[i % len(SAID)], pause_s=0.6) for i in range(count)]
    out = tmp / "session.wav"
    subprocess.run(["sox", *map(str, clips), str(out)], check=True, timeout=120)
    return out


def run(tmp: Path, fault: str, wav: Path, fast: bool) -> list[dict[str, Any]]:
    mode, body = FAULTS[fault]
    port = free_port()
    home = tmp / fault
    (home / "config").mkdir(parents=True)
    extra = 'mode = "realtime"\nmanage_server = false\n' if mode == "realtime" else \
        "manage_server = false\n"
    (home / "config" / "config.toml").write_text(toml_config(port, home, extra,
                                                             request_timeout_s=4.0))
    model = REALTIME_MODEL if mode == "realtime" else "mistralai/Voxtral-Mini-3B-2507"
    with Double(port, home / "double.log", env={"VLLM_DOUBLE_ASR": "echo"},
                model=model) as double:
        control = Control(double.url)
        if body is not None:
            control.answer(TRANSCRIPTIONS, body, times=999)
        if fault == "realtime-no-done":
            control.fail("/v1/realtime", "no_done", times=999)
        env = {**os.environ, "VOXAGENT_CONFIG_DIR": str(home / "config"),
               "VOXAGENT_STATE_DIR": str(home / "state")}
        argv = [sys.executable, "-m", "agent", "run", "--input", str(wav), "--dry-run",
                "--json", "--backend", "auto", *(["--fast"] if fast else [])]
        done = subprocess.run(argv, env=env, cwd=home, capture_output=True, text=True,
                              timeout=900, check=False)
    if done.returncode != 0:
        print(f"{fault}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    (home / "stderr.txt").write_text(done.stderr)
    (home / "stdout.jsonl").write_text(done.stdout)
    return [json.loads(line) for line in done.stdout.splitlines()]


def pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    values = sorted(values)
    return f"{values[min(len(values) - 1, round(q * (len(values) - 1)))]:.2f}"


def report(fault: str, lines: list[dict[str, Any]], count: int) -> None:
    lost = count - sum(1 for x in lines if x.get("text"))
    said = [SAID[i % len(SAID)] for i in range(count)]
    right = sum(1 for x, s in zip(lines, said, strict=False) if x.get("command") == s)
    backends = Counter(x.get("backend") for x in lines)
    recognised = [x["latency"].get("transcribed", x["latency"]["recognised"]) for x in lines]
    performed = [x["latency"]["performed"] for x in lines if "performed" in x["latency"]]
    print(f"{fault:17} lost {lost}/{count}  right {right}/{count}  backends {dict(backends)}  "
          f"transcribed p50 "
          f"{pct(recognised, 0.5)} p95 {pct(recognised, 0.95)} s  performed p50 "
          f"{pct(performed, 0.5)} p95 {pct(performed, 0.95)} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("faults", nargs="*", help=f"some of {', '.join(FAULTS)} (default: all)")
    ap.add_argument("--commands", type=int, default=9)
    ap.add_argument("--fast", action="store_true", help="not paced (no 'performed' field)")
    args = ap.parse_args()
    unknown = sorted(set(args.faults) - set(FAULTS))
    if unknown:
        ap.error(f"unknown fault {', '.join(unknown)}: choose from {', '.join(FAULTS)}")
    args.faults = args.faults or list(FAULTS)
    tmp = Path(tempfile.mkdtemp(prefix="voxtral-faults-"))
    wav = recording(tmp, args.commands)
    for fault in args.faults:
        report(fault, run(tmp, fault, wav, args.fast), args.commands)
    print(f"(runs kept in {tmp})")


if __name__ == "__main__":
    main()
