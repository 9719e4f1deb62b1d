"""End to end on a real X server: spoken audio in, real key events out.

`voxagent run --input FILE --fast` (not --dry-run) hears "new tab" and "type open the window"
(spoken by espeak-ng) and the focused Tk window on a private Xvfb receives ctrl+t and the
text, as real input events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

import pytest

from tests.integration import x11
from tests.integration.x11 import CTRL, SHIFT, KeylogWindow, XServer

x_server, keylog_window, keylog = x11.x_server, x11.keylog_window, x11.keylog  # fixtures

VOXAGENT = Path(sys.executable).with_name("voxagent")


def _run(args: list[str], tmp: Path, env: dict[str, str],
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The console script, with its config and state kept in `tmp`."""
    env = env | {"VOXAGENT_CONFIG_DIR": str(tmp / "config"),
                 "VOXAGENT_STATE_DIR": str(tmp / "state")}
    return subprocess.run([str(VOXAGENT), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _speak(phrases: list[str], folder: Path, flite: Collection[str] = ()) -> Path:
    """A 16 kHz WAV of the phrases, each after a second of silence (one utterance each),
    the same file on every run: sox's -D, as sox otherwise dithers 16-bit output with
    fresh random noise, and the model's n-best scores move with each draw (a "scratch
    that" whose n-best "scratch that" fell past the dispatcher's ALT_MARGIN in some
    draws was typed as "Scratch mark.", whether the keys went out or not).  Phrases in
    `flite` are said by flite's kal16 voice instead of espeak-ng, for words tiny.en does
    not hear from espeak-ng (its "select that" is heard as "select mark" or "note")."""
    parts = [folder / "silence.wav"]
    subprocess.run(["sox", "-D", "-n", "-r", "22050", "-c", "1", "-b", "16", str(parts[0]),
                    "trim", "0", "1.0"], check=True)
    for i, phrase in enumerate(phrases):
        spoken = folder / f"phrase{i}.wav"
        if phrase in flite:  # at espeak-ng's rate, for sox to join them
            said = folder / f"flite{i}.wav"
            subprocess.run(["flite", "-voice", "kal16", "-t", phrase, "-o", str(said)],
                           check=True)
            subprocess.run(["sox", "-D", str(said), "-r", "22050", str(spoken)], check=True)
        else:
            subprocess.run(["espeak-ng", "-w", str(spoken), phrase], check=True)
        parts += [spoken, parts[0]]
    out = folder / "speech.wav"
    subprocess.run(["sox", "-D", *map(str, parts), "-r", "16000", str(out)], check=True)
    return out


def test_spoken_audio_is_the_same_file_on_every_run(tmp_path: Path) -> None:
    """What the tests hear is fixed: with sox's default dither, each file differed."""
    made = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        made.append(_speak(["scratch that", "select that"], tmp_path / name,
                           flite={"select that"}).read_bytes())
    assert made[0] == made[1]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _speak(["new tab", "type open the window"], tmp_path_factory.mktemp("speech"))


def test_spoken_commands_reach_the_focused_window(keylog: KeylogWindow, x_server: XServer,
                                                  speech: Path, tmp_path: Path) -> None:
    done = _run(["run", "--input", str(speech), "--fast", "--json"], tmp_path, x_server.env())
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a for line in lines for a in line["actions"]][:1] == [
        {"action": "key", "keys": "ctrl+t", "count": 1}], done.stdout
    got = keylog.sync()
    keys = [(k["keysym"].lower(), k["state"] & (CTRL | SHIFT)) for k in got.keys]
    assert keys[0] == ("t", CTRL), got.keys
    assert got.text.casefold() == "open the window", done.stdout
    assert not any(e["send_event"] for e in got.events)


def test_acting_without_a_display_is_a_one_line_error(speech: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "PYNPUT_BACKEND")}
    done = _run(["run", "--input", str(speech), "--fast"], tmp_path, env, timeout=60)
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("voxagent: error:")
    assert "--dry-run" in lines[0]


def test_acting_on_an_unreachable_display_is_a_one_line_error(speech: Path,
                                                               tmp_path: Path) -> None:
    done = _run(["run", "--input", str(speech), "--fast"], tmp_path,
                {**os.environ, "DISPLAY": ":4093"}, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert ":4093" in lines[0]
    assert "--dry-run" in lines[0]
