"""Peak memory of `run --input --fast` and `transcribe` on long files.

    .venv/bin/python bench/memory.py                         # 2 h of silence, 44.1 kHz stereo
    .venv/bin/python bench/memory.py --minutes 30 --speech-minutes 20
    .venv/bin/python bench/memory.py --only run --keep /tmp/membench

The files are generated in a temporary folder (never in the repository) block by
block, so the generator itself stays small: silence (16-bit WAV at --rate, with
--channels), and with --speech-minutes a file of espeak-ng sentences with pauses
between them (needs espeak-ng). Each command runs as a child process of this
script; its peak resident set is the kernel's ru_maxrss for that child (what
/usr/bin/time -v reports as "Maximum resident set size"). For the speech file
the transcribe row also gives how many utterances were printed and how many
sentences were said.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "We walked along the river until the sun went down.",
    "Please remember to water the plants on Thursday.",
    "The meeting was moved to the small room upstairs.",
    "A cup of tea is the best way to start the morning.",
    "Our train was late again because of the snow.",
)


@dataclass(frozen=True)
class Figure:
    command: str
    file: str
    peak_mb: float
    """Peak resident set of the child, MB (ru_maxrss)."""
    seconds: float
    """Wall time, s."""
    cpu: float
    """User + system CPU time of the child, s (steadier than wall time on a busy machine)."""
    status: int
    lines: int
    """Lines the command printed on stdout."""


def write_silence(path: Path, minutes: float, rate: int, channels: int) -> None:
    """A silent 16-bit WAV, written one minute at a time."""
    import soundfile

    block = np.zeros((rate * 60, channels), dtype=np.int16)
    whole, rest = divmod(round(minutes * 60 * rate), rate * 60)
    with soundfile.SoundFile(str(path), "w", rate, channels, "PCM_16") as f:
        for _ in range(whole):
            f.write(block)
        f.write(block[:rest])


def write_speech(path: Path, minutes: float, rate: int, channels: int,
                 folder: Path) -> int:
    """espeak-ng sentences, each followed by 0.8 s of silence, for `minutes`; returns how
    many sentences were said."""
    import soundfile
    import soxr

    clips = []
    for i, text in enumerate(SENTENCES):
        wav = folder / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-s", "160", "-w", str(wav), text], check=True)
        data, r = soundfile.read(str(wav), dtype="float32")
        clips.append(soxr.resample(data, r, rate).astype(np.float32))
    gap = np.zeros(int(0.8 * rate), dtype=np.float32)
    total, said = round(minutes * 60 * rate), 0
    with soundfile.SoundFile(str(path), "w", rate, channels, "PCM_16") as f:
        written = 0
        while written < total:
            clip = np.concatenate([clips[said % len(clips)], gap])
            f.write(np.repeat(clip[:, None], channels, axis=1))
            written += len(clip)
            said += 1
    return said


def measure(argv: list[str], label: str, file: Path) -> Figure:
    """Run `argv`, count its stdout lines, and read its peak RSS from wait4()."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ | {"PYTHONPATH": str(REPO)})
    assert proc.stdout is not None and proc.stderr is not None
    lines = sum(1 for _ in proc.stdout)
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        print(f"# {label} {file.name} exited {proc.returncode}: {err.strip()[-300:]}",
              file=sys.stderr)
    return Figure(label, file.name, usage.ru_maxrss / 1024, time.monotonic() - started,
                  usage.ru_utime + usage.ru_stime, proc.returncode, lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=120.0, help="length of the silent file")
    p.add_argument("--rate", type=int, default=44100)
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--speech-minutes", type=float, default=0.0,
                   help="also a speech file this long (espeak-ng); 0 = none")
    p.add_argument("--only", choices=("run", "transcribe"), help="one command only")
    p.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = p.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="voxagent-membench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        files: list[tuple[Path, int]] = []
        silence = folder / f"silence-{args.minutes:g}min-{args.rate}-{args.channels}ch.wav"
        if not silence.exists():
            write_silence(silence, args.minutes, args.rate, args.channels)
        files.append((silence, 0))
        if args.speech_minutes:
            speech = folder / f"speech-{args.speech_minutes:g}min.wav"
            files.append((speech, write_speech(speech, args.speech_minutes, args.rate,
                                               args.channels, folder)))
        commands = {
            "run --input --fast": ["run", "--dry-run", "--json", "--fast", "--backend",
                                   "whisper", "--input"],
            "transcribe": ["transcribe", "--backend", "whisper"],
        }
        if args.only:
            commands = {k: v for k, v in commands.items() if k.startswith(args.only)}
        print(f"{'command':<20} {'file':<40} {'peak RSS':>10} {'wall':>8} {'cpu':>8} "
              f"{'exit':>5} {'lines':>6}")
        for path, said in files:
            for label, cmd in commands.items():
                f = measure([sys.executable, "-m", "agent", *cmd, str(path)], label, path)
                extra = f"  ({said} sentences said)" if said else ""
                print(f"{f.command:<20} {f.file:<40} {f.peak_mb:>7.0f} MB {f.seconds:>7.1f}s "
                      f"{f.cpu:>7.1f}s {f.status:>5} {f.lines:>6}{extra}", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
