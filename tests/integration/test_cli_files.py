"""`voxagent run --input` and `transcribe` on awkward files, and how `run` ends, run for
real as subprocesses with the embedded model: transcribe goes through the segmenter (one
line per utterance, nothing for silence); bad samples, truncated files and empty audio
give one line and keep what can be kept; an unreadable config is one line; SIGINT and
SIGTERM end `run` with 130 and 143.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.integration.test_cli import (
    NEW_TAB,
    TIMEOUT,
    Audio,
    Home,
    _without_root_file_access,
    audio,
    dry_run,
    home,
    json_lines,
    one_line_error,
    speak,
    voxagent,
)

__all__ = ["audio", "home"]  # fixtures, shared with test_cli.py

MONO16 = ("-r", "16000", "-c", "1", "-b", "16")


def joined(folder: Path, name: str, *parts: np.ndarray, rate: int = 16000) -> Path:
    """Float32 mono pieces one after another, as a WAV (float samples) named `name`."""
    path = folder / name
    soundfile.write(path, np.concatenate(parts), rate, subtype="FLOAT")
    return path


def samples(path: Path) -> np.ndarray:
    return soundfile.read(path, dtype="float32")[0]


def the_one_warning(result: subprocess.CompletedProcess[str], path: Path) -> str:
    """stderr is exactly one warning line, naming the file (no numpy warning, no trace)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("voxagent: warning: ") and str(path) in lines[0], lines[0]
    return lines[0]


def run_file(home: Home, path: Path) -> subprocess.CompletedProcess[str]:
    """`run --input PATH --dry-run --json --fast` on whisper (no line about Voxtral)."""
    return voxagent(home, "run", "--input", path, "--dry-run", "--json", "--fast",
                    "--backend", "whisper")


def assert_only_new_tab(result: subprocess.CompletedProcess[str]) -> None:
    (line,) = json_lines(result)
    assert {k: line[k] for k in NEW_TAB} == NEW_TAB, line


# --- transcribe through the segmenter ------------------------------------------------------

def test_transcribe_prints_each_utterance_and_nothing_for_silence(
        home: Home, audio: Audio, tmp_path: Path) -> None:
    gap = np.zeros(3 * 16000, np.float32)
    count = speak(tmp_path, "count.wav", "one two three four five", *MONO16)
    two = joined(tmp_path, "two.wav", samples(audio.sentence), gap, samples(count))
    result = voxagent(home, "transcribe", two)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.lower().splitlines()
    assert "fox" in first and "four" not in first
    assert "four" in second or "4" in second

    silence = tmp_path / "silence-44k-stereo.wav"
    soundfile.write(silence, np.zeros((120 * 44100, 2), np.int16), 44100)
    result = voxagent(home, "transcribe", silence)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


# --- bad audio: one line, nothing lost ----------------------------------------------------

def test_nan_and_inf_samples_are_cleaned_with_one_warning(
        home: Home, audio: Audio, tmp_path: Path) -> None:
    bad = np.zeros(16000, np.float32)
    bad[100:600] = np.nan
    bad[800] = np.inf
    bad[900:950] = -np.inf
    path = joined(tmp_path, "nan.wav", bad, samples(audio.new_tab))
    result = run_file(home, path)
    assert_only_new_tab(result)
    assert "NaN or infinite" in the_one_warning(result, path)
    result = voxagent(home, "transcribe", "--backend", "whisper", path)
    assert result.stdout.strip() and result.returncode == 0
    assert "NaN or infinite" in the_one_warning(result, path)


def test_truncated_wav_keeps_what_is_there_and_warns_once(
        home: Home, audio: Audio, tmp_path: Path) -> None:
    whole = tmp_path / "whole.wav"
    subprocess.run(["sox", "-D", str(audio.new_tab), *MONO16, str(whole), "pad", "0", "4"],
                   check=True)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:-2 * 16000 * 3])  # the last 3 s of silence gone
    result = run_file(home, cut)
    assert_only_new_tab(result)
    assert "truncated" in the_one_warning(result, cut)


def test_truncated_flac_keeps_what_decodes_and_warns_once(
        home: Home, audio: Audio, tmp_path: Path) -> None:
    whole = tmp_path / "whole.flac"
    subprocess.run(["sox", "-D", str(audio.new_tab), *MONO16, str(whole), "pad", "0", "4"],
                   check=True)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[:-40])  # into the last frame (of silence)
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.read(cut)  # rejected whole by a plain read
    result = run_file(home, cut)
    assert_only_new_tab(result)
    assert "damaged or truncated" in the_one_warning(result, cut)


def test_zero_length_audio_says_it_is_empty(home: Home, tmp_path: Path) -> None:
    header_only = tmp_path / "header-only.wav"
    soundfile.write(header_only, np.zeros((0, 1), np.float32), 16000)
    no_bytes = tmp_path / "no-bytes.wav"
    no_bytes.write_bytes(b"")
    for path in (header_only, no_bytes):
        for result in (dry_run(home, path), voxagent(home, "transcribe", path)):
            line = one_line_error(result)
            assert str(path) in line and "empty" in line


# --- an unreadable config ------------------------------------------------------------------

@pytest.mark.parametrize("locked", ["folder", "file"])
def test_unreadable_config_is_one_line_naming_it(home: Home, locked: str) -> None:
    path = home.config("[vad]\nhangover_ms = 500\n")
    (home.config_dir if locked == "folder" else path).chmod(0)
    try:
        for args in (("config",), ("commands",), ("transcribe", "x.wav")):
            result = voxagent(home, *args, preexec_fn=_without_root_file_access)
            line = one_line_error(result)
            assert line == f"voxagent: error: {path}: cannot read: Permission denied"
    finally:
        home.config_dir.chmod(0o755)


# --- how `run` ends ----------------------------------------------------------------------

@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_run_stopped_by_a_signal_exits_128_plus_its_number(
        home: Home, audio: Audio, tmp_path: Path, sig: signal.Signals, status: int) -> None:
    long = tmp_path / "long.wav"  # "new tab", then 10 minutes of silence, in real time
    subprocess.run(["sox", "-D", str(audio.new_tab), str(long), "pad", "0", "600"], check=True)
    proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--input", str(long),
                             "--dry-run", "--json"], env=home.env(), cwd=home.root / "cwd",
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        first = json.loads(proc.stdout.readline())  # running: the first utterance is out
        assert first["command"] == "new tab"
        proc.send_signal(sig)
        assert proc.wait(timeout=TIMEOUT) == status
    finally:
        proc.kill()
        proc.wait()
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr


def test_transcribe_ends_with_one_line_when_an_utterance_fails(
        home: Home, audio: Audio, tmp_path: Path) -> None:
    """Voxtral (the vLLM double) answers the first utterance, then fails with a 500: the
    first is printed, then one line names the file and the utterance, status 1."""
    from tests.integration.vllm_support import Control, Double, free_port, toml_config

    gap = np.zeros(2 * 16000, np.float32)
    two = joined(tmp_path, "two.wav", samples(audio.sentence), gap, samples(audio.new_tab))
    with Double(free_port(), tmp_path / "vllm.log") as double:
        home.config(toml_config(double.port, tmp_path, "manage_server = false\n"))
        control = Control(double.url)
        control.fail("/v1/audio/transcriptions", "500", times=1)
        failed = voxagent(home, "transcribe", "--backend", "voxtral", two)
        control.clear()
        both = voxagent(home, "transcribe", "--backend", "voxtral", two)
    line = one_line_error(failed)
    assert failed.returncode == 1 and failed.stdout == ""
    assert str(two) in line and "not recognised" in line and " s " in line
    assert both.returncode == 0, both.stderr
    assert len(both.stdout.splitlines()) == 2
