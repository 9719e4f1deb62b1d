"""Generate the tray icons and sound cues in assets/ (run it after changing them here).

    .venv/bin/python packaging/make_assets.py

Icons: assets/icons/<state>.png, 64x64 RGBA: a disc in the state's colour with a white
glyph (microphone, waves, dots, Z, !). Transparent pixels carry the disc's colour, so a
tray that ignores alpha (X11 embedding) shows a square of the same colour, not black.
Sounds: assets/sounds/<cue>.wav, 16-bit mono 22.05 kHz, short tones with soft edges.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image, ImageDraw

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SIZE = 64
COLOURS = {
    "idle": (158, 158, 158), "listening": (46, 125, 50), "hearing": (30, 136, 229),
    "recognising": (249, 168, 37), "asleep": (94, 53, 177), "error": (211, 47, 47),
}
"""State -> disc colour; tests/e2e/test_tray.py checks the screen for these."""
WHITE = (255, 255, 255, 255)
RATE = 22_050


def _mic(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle((25, 12, 39, 36), radius=7, fill=WHITE)
    d.arc((18, 20, 46, 44), start=0, end=180, fill=WHITE, width=3)
    d.line((32, 44, 32, 51), fill=WHITE, width=3)
    d.line((24, 51, 40, 51), fill=WHITE, width=3)


def _waves(d: ImageDraw.ImageDraw) -> None:
    _mic(d)
    for r in (6, 12):
        d.arc((32 - 14 - r, 24 - 14 - r, 32 + 14 + r, 24 + 14 + r), start=-35, end=35,
              fill=WHITE, width=2)
        d.arc((32 - 14 - r, 24 - 14 - r, 32 + 14 + r, 24 + 14 + r), start=145, end=215,
              fill=WHITE, width=2)


def _dots(d: ImageDraw.ImageDraw) -> None:
    for x in (18, 32, 46):
        d.ellipse((x - 5, 27, x + 5, 37), fill=WHITE)


def _zed(d: ImageDraw.ImageDraw) -> None:
    d.line((20, 18, 44, 18), fill=WHITE, width=5)
    d.line((44, 18, 20, 46), fill=WHITE, width=5)
    d.line((20, 46, 44, 46), fill=WHITE, width=5)


def _bang(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle((28, 12, 36, 38), radius=3, fill=WHITE)
    d.ellipse((27, 42, 37, 52), fill=WHITE)


def _idle(d: ImageDraw.ImageDraw) -> None:
    _mic(d)
    d.line((16, 50, 48, 14), fill=WHITE, width=4)


GLYPHS: dict[str, Callable[[ImageDraw.ImageDraw], None]] = {
    "idle": _idle, "listening": _mic, "hearing": _waves, "recognising": _dots,
    "asleep": _zed, "error": _bang,
}


def icon(state: str) -> Image.Image:
    colour = COLOURS[state]
    img = Image.new("RGBA", (SIZE, SIZE), (*colour, 0))
    d = ImageDraw.Draw(img)
    d.ellipse((1, 1, SIZE - 2, SIZE - 2), fill=(*colour, 255))
    GLYPHS[state](d)
    return img


def tones(*parts: tuple[float, float], volume: float = 0.3) -> np.ndarray:
    """(frequency Hz, seconds) pieces, each with 5 ms fades, joined."""
    out = []
    for freq, seconds in parts:
        t = np.arange(int(RATE * seconds)) / RATE
        wave = np.sin(2 * np.pi * freq * t)
        fade = min(len(t) // 2, int(0.005 * RATE))
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[len(wave) - fade:] *= ramp[::-1]
        out.append(wave)
    return (np.concatenate(out) * volume * 32767).astype(np.int16)


CUES = {
    "listening": tones((660, 0.045), (880, 0.045)),
    "done": tones((1320, 0.06)),
    "not_understood": tones((440, 0.08), (330, 0.08)),
    "asleep": tones((660, 0.06), (440, 0.06), (330, 0.08)),
}


def main() -> None:
    (ASSETS / "icons").mkdir(parents=True, exist_ok=True)
    (ASSETS / "sounds").mkdir(parents=True, exist_ok=True)
    for state in COLOURS:
        icon(state).save(ASSETS / "icons" / f"{state}.png", optimize=True)
    for name, pcm in CUES.items():
        soundfile.write(str(ASSETS / "sounds" / f"{name}.wav"), pcm, RATE, subtype="PCM_16")
    print(f"wrote {len(COLOURS)} icons and {len(CUES)} cues in {ASSETS}")


if __name__ == "__main__":
    main()
