"""How soon the segmenter finds the end of speech, in quiet and in noise.

    .venv/bin/python bench/endpoint.py                       # all conditions, ~1-2 min
    .venv/bin/python bench/endpoint.py --end-ms 96,160 --voices espeak-us

Spoken commands (espeak-ng and flite, tests/fixtures/make_fixtures.py) are put in
clips of 1 s silence + speech + 2 s after, and mixed with noise:
  clean        no noise
  steadyNN     pink or white noise over the whole clip at NN dB SNR (a fan, a hum)
  earlyNN      noise from 0.2-0.5 s before the speech to 1 s after it (a kettle, a tap)
  swellNN      the same, its level swelling +-8 dB four times a second (music, voices
               afar): the noise gate cannot track it, so webrtcvad alone holds on
  pause        two halves of a command with a 250 ms pause between them, no noise
The true end of speech is the last sample above -40 dB of the voice's peak.  Each clip
goes through the real Segmenter (real webrtcvad, real Silero) frame by frame, once per
variant: webrtcvad alone (end_model "none": today) and with Silero at each --end-ms.

Per condition and variant it prints the delay from the true end of speech to the frame
that closed the utterance (median / max, ms), how often the speech was closed before it
ended (split: must be 0 except where a pause is meant to split), left open until the clip
ended, missed (no utterance) and extra utterances (noise alone); and the delay to the
first peek after the end of speech.  Then the CPU: Silero ms per 32 ms chunk, and the
segmenter's CPU while hearing silence and while hearing steady noise, % of one core.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "fixtures"))
import make_fixtures as mf  # noqa: E402

from agent.audio.config import VadConfig  # noqa: E402
from agent.audio.endpoint import ModelOpinion, SileroModel  # noqa: E402
from agent.audio.vad import Segmenter  # noqa: E402
from agent.messages import SAMPLE_RATE, AudioFrame  # noqa: E402
from agent.turn import PEEK_MS, Verdict  # noqa: E402

FRAME_MS = 30
LEAD_S, TRAIL_S, PAUSE_S = 1.0, 2.0, 0.25
VOICES = {
    "espeak-us": mf.Voice("espeak-ng", "en-us", 150),
    "espeak-rp": mf.Voice("espeak-ng", "en-gb-x-rp", 160),
    "flite-slt": mf.Voice("flite", "slt"),
    "flite-kal16": mf.Voice("flite", "kal16"),
}
COMMANDS = ("copy", "undo", "select all", "close tab", "go back", "page down",
            "scroll down three times", "press escape", "press f five", "press letter b",
            "press control shift t", "press backspace five times", "type hello world",
            "snake case user name", "open terminal", "select all then copy")
PAUSED = (("press down", "five times"), ("scroll up", "two times"), ("select all", "then copy"),
          ("press tab", "twice"))


@dataclass
class Clip:
    pcm: np.ndarray
    """int16 samples at 16 kHz."""
    speech: tuple[float, float]
    """True start and end of speech, seconds."""
    split_ok: bool = False
    """A pause inside: closing at the pause is a split, not an error of the end finder."""


@dataclass
class Tally:
    delays: list[float] = field(default_factory=list)
    peeks: list[float] = field(default_factory=list)
    early: int = 0
    inner_peeks: int = 0
    """Peeks offered before the speech ended (pauses inside it)."""
    open: int = 0
    missed: int = 0
    extra: int = 0


def to_pcm(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 32767 / 32768) * 32768).astype(np.int16)


def swelling(noise: np.ndarray) -> np.ndarray:
    """Unit-power noise whose level swells +-8 dB at 4 Hz."""
    t = np.arange(len(noise)) / SAMPLE_RATE
    x = noise * 10 ** (8 * np.sin(2 * np.pi * 4 * t) / 20)
    return (x / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def with_noise(speech: np.ndarray, kind: str, snr_db: float, span: tuple[int, int],
               seed: int, n: int, at: int, swell: bool = False) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[at:at + len(speech)] = speech
    if kind == "none":
        return out
    power = float(np.mean(speech ** 2))
    a, b = span
    noise = mf.make_noise(kind, b - a, seed)
    noise = (swelling(noise) if swell else noise) * np.sqrt(power / 10 ** (snr_db / 10))
    out[a:b] += noise
    return out


def make_clips(voices: list[str], work: Path, pause_s: float = PAUSE_S
               ) -> dict[str, list[Clip]]:
    conds: dict[str, list[Clip]] = {}
    rate = SAMPLE_RATE
    seed = 0
    for vname in voices:
        voice = VOICES[vname]
        for text in COMMANDS:
            seed += 1
            speech = mf.synthesize(voice, text, work)
            at, n = int(LEAD_S * rate), int((LEAD_S + TRAIL_S) * rate) + len(speech)
            span = (LEAD_S, LEAD_S + len(speech) / rate)
            conds.setdefault("clean", []).append(
                Clip(to_pcm(with_noise(speech, "none", 0, (0, n), seed, n, at)), span))
            kind = "pink" if seed % 2 else "white"
            for snr in (20, 12):
                steady = with_noise(speech, kind, snr, (0, n), seed, n, at)
                conds.setdefault(f"steady{snr}", []).append(Clip(to_pcm(steady), span))
                lead = 0.5 if seed % 2 else 0.2
                noisy = (int(at - lead * rate), at + len(speech) + rate)
                early = with_noise(speech, kind, snr, noisy, seed, n, at)
                conds.setdefault(f"early{snr}", []).append(Clip(to_pcm(early), span))
                swell = with_noise(speech, kind, snr, noisy, seed, n, at, swell=True)
                conds.setdefault(f"swell{snr}", []).append(Clip(to_pcm(swell), span))
        for first, second in PAUSED:
            a, b = mf.synthesize(voice, first, work), mf.synthesize(voice, second, work)
            speech = np.concatenate([a, np.zeros(int(pause_s * rate), np.float32), b])
            at, n = int(LEAD_S * rate), int((LEAD_S + TRAIL_S) * rate) + len(speech)
            clip = with_noise(speech, "none", 0, (0, n), 0, n, at)
            conds.setdefault("pause", []).append(
                Clip(to_pcm(clip), (LEAD_S, LEAD_S + len(speech) / rate), split_ok=True))
    return conds


def frames_of(pcm: np.ndarray) -> list[AudioFrame]:
    n = SAMPLE_RATE * FRAME_MS // 1000
    return [AudioFrame(pcm[i:i + n].tobytes(), i / SAMPLE_RATE)
            for i in range(0, len(pcm) - n + 1, n)]


def run_clip(seg: Segmenter, clip: Clip, tally: Tally, early: bool = False) -> None:
    """One clip through the segmenter.  With `early`, every peek is heard as a complete
    command: the utterance closes once the pause has lasted early_end_ms (the worst
    case of early endpointing: what it would split if every prefix were a command)."""
    s0, s1 = clip.speech
    closes: list[tuple[float, float, float]] = []  # (closed at, utt start, utt end)
    peek_after: float | None = None
    frames = frames_of(clip.pcm)
    for f in frames:
        utt = seg.feed(f)
        now = f.start + f.duration
        peek = seg.take_peek()
        if peek is not None and early:
            utt = seg.hear(peek.id, Verdict.COMPLETE)
        if utt is not None:
            closes.append((now, utt.start, utt.end))
        if peek is not None and now < s1:
            tally.inner_peeks += 1
        elif peek is not None and peek_after is None:
            peek_after = now - s1
    utt = seg.flush()
    if utt is not None:
        tally.open += 1
        closes.append((frames[-1].start + frames[-1].duration, utt.start, utt.end))
    speech = [c for c in closes if c[1] < s1 and c[2] > s0]
    tally.extra += len(closes) - len(speech)
    if not speech:
        tally.missed += 1
        return
    tally.early += sum(1 for c in speech if c[0] < s1)
    final = [c for c in speech if c[0] >= s1]
    if final:
        tally.delays.append(final[0][0] - s1)
    if peek_after is not None:
        tally.peeks.append(peek_after)


class TimedModel:
    """SileroModel with the CPU time of its calls counted."""

    def __init__(self) -> None:
        self.model = SileroModel()
        self.ns = 0
        self.calls = 0

    def reset(self) -> None:
        self.model.reset()

    def __call__(self, chunk: np.ndarray) -> float:
        t = time.thread_time_ns()
        p = self.model(chunk)
        self.ns += time.thread_time_ns() - t
        self.calls += 1
        return p


def ms(xs: list[float]) -> str:
    if not xs:
        return "   -  /   -  "
    return f"{statistics.median(xs) * 1000:5.0f} / {max(xs) * 1000:5.0f}"


@dataclass
class Knobs:
    """What this bench tries beyond the config: constants of the agent (agent/turn.py,
    agent/audio/endpoint.py), set once from the command line."""

    hysteresis: float = 0.0
    peek_ms: int = PEEK_MS


KNOBS = Knobs()


def idle_cpu(cfg: VadConfig, model: TimedModel, bursts: bool) -> float:
    """% of one core the segmenter uses over 60 s of near silence (-70 dBFS), or of
    2 s of white noise at -30 dBFS every 4 s (webrtcvad opens on it, so Silero runs)."""
    rng = np.random.default_rng(1)
    n = 60 * SAMPLE_RATE
    x = rng.standard_normal(n).astype(np.float32) * 10 ** (-70 / 20)
    if bursts:
        on = (np.arange(n) // (2 * SAMPLE_RATE)) % 2 == 1
        x[on] = rng.standard_normal(int(on.sum())).astype(np.float32) * 10 ** (-30 / 20)
    opinion = ModelOpinion(model, cfg.end_threshold, KNOBS.hysteresis) \
        if cfg.end_model == "silero" else None
    seg = Segmenter(cfg, FRAME_MS, opinion=opinion, peek_ms=KNOBS.peek_ms) if opinion \
        else Segmenter(cfg, FRAME_MS, peek_ms=KNOBS.peek_ms)
    frames = frames_of(to_pcm(x))
    t = time.thread_time()
    for f in frames:
        seg.feed(f)
    return (time.thread_time() - t) / 60 * 100


def segmenter(cfg: VadConfig, model: TimedModel) -> Segmenter:
    if cfg.end_model == "silero":
        return Segmenter(cfg, FRAME_MS, opinion=ModelOpinion(model, cfg.end_threshold,
                                                             KNOBS.hysteresis),
                         peek_ms=KNOBS.peek_ms)
    return Segmenter(cfg, FRAME_MS, peek_ms=KNOBS.peek_ms)


def add(total: Tally, t: Tally) -> None:
    total.delays += t.delays
    total.peeks += t.peeks
    total.early, total.open = total.early + t.early, total.open + t.open
    total.missed, total.extra = total.missed + t.missed, total.extra + t.extra
    total.inner_peeks += t.inner_peeks


def row(cond: str, variant: str, n: str, t: Tally, note: str = "") -> str:
    return (f"{cond:9} {variant:11} {n:>3}  {ms(t.delays):>21}  {t.early:5} {t.open:4} "
            f"{t.missed:6} {t.extra:5}  {ms(t.peeks):>19}  {t.inner_peeks:5}{note}")


def report_endpoints(conds: dict[str, list[Clip]], variants: dict[str, VadConfig],
                     model: TimedModel, early: dict[str, int] | None = None) -> None:
    print(f"{'condition':9} {'variant':11} {'n':>3}  end->close med/max ms  split open "
          "missed extra  end->peek med/max ms  inner peeks")
    every = {v: Tally() for v in variants}
    for cname, clips in conds.items():
        for vname, cfg in variants.items():
            t = Tally()
            for clip in clips:
                run_clip(segmenter(cfg, model), clip, t, vname in (early or {}))
            if cname != "pause":
                add(every[vname], t)
            print(row(cname, vname, str(len(clips)), t))
    for vname, a in every.items():
        print(row("all-noise", vname, "", a, "  (all but pause)"))


def report_cpu(base: VadConfig, model: TimedModel) -> None:
    per_chunk = model.ns / max(1, model.calls) / 1e6
    print(f"Silero: {per_chunk:.3f} ms CPU per 32 ms chunk ({model.calls} chunks), "
          f"{per_chunk / 32 * 100:.2f}% of a core if it ran all the time")
    for label, bursts in (("silence", False), ("noise bursts", True)):
        calls = model.calls
        plain = idle_cpu(replace(base, end_model="none"), model, bursts)
        with_silero = idle_cpu(replace(base, end_model="silero"), model, bursts)
        print(f"segmenter CPU over 60 s of {label}: webrtcvad {plain:.3f}% of a core, with "
              f"Silero {with_silero:.3f}% (Silero ran {model.calls - calls} chunks)")


def main(argv: list[str] | None = None) -> int:
    dflt, knobs = VadConfig(), Knobs()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--end-ms", default="160,250,450", help="Silero end_ms values to try")
    ap.add_argument("--threshold", type=float, default=dflt.end_threshold)
    ap.add_argument("--hysteresis", type=float, default=knobs.hysteresis)
    ap.add_argument("--peek-ms", type=int, default=knobs.peek_ms)
    ap.add_argument("--voices", default=",".join(VOICES))
    ap.add_argument("--early-ms", default="",
                    help="also close at every peek once the pause lasts this long (ms, "
                    "comma-separated): what early endpointing would split at worst")
    ap.add_argument("--pause-ms", type=int, default=round(PAUSE_S * 1000),
                    help="the pause inside the 'pause' clips")
    args = ap.parse_args(argv)
    KNOBS.hysteresis, KNOBS.peek_ms = args.hysteresis, args.peek_ms
    base = VadConfig(end_threshold=args.threshold)
    variants = {"webrtcvad": replace(base, end_model="none")}
    for e in args.end_ms.split(","):
        variants[f"silero {e}"] = replace(base, end_model="silero", end_ms=int(e))
    early = {}
    for e in filter(None, args.early_ms.split(",")):
        name = f"early {e}"
        variants[name] = replace(base, end_model="silero", end_ms=dflt.end_ms,
                                 early_end_ms=int(e))
        early[name] = int(e)
    with tempfile.TemporaryDirectory() as tmp:
        conds = make_clips(args.voices.split(","), Path(tmp), args.pause_ms / 1000)
    print(f"{sum(len(c) for c in conds.values())} clips, {FRAME_MS} ms frames, "
          f"peek_ms {args.peek_ms}, threshold {args.threshold}, hysteresis {args.hysteresis}")
    model = TimedModel()
    report_endpoints(conds, variants, model, early)
    report_cpu(base, model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
