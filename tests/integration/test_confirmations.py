"""Commands that ask first, run for real (`voxagent run --input FILE --dry-run --json`):
a held command's yes counts only within commands.confirm_timeout_s of stream time and
only from the very next utterance (doubted speech ends it too); command intent asks
before what deletes, closes or repeats; dictated line breaks are typed as spaces.

Speech is espeak-ng's, the recogniser the embedded whisper model, or Voxtral served by
the vLLM protocol double (tests/integration/vllm_double.py) answering tool calls and
transcripts as scripted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fixture_modules import load_fixture
from tests.integration.vllm_support import Control, Double, free_port, speak, toml_config

TIMEOUT = 300
CLOSE = '[commands]\n"close window" = { do = "key alt+f4", confirm = true }\n'
ALT_F4 = [{"action": "key", "keys": "alt+f4", "count": 1}]


def silence(folder: Path, seconds: float) -> Path:
    """Silence at espeak-ng's rate (22.05 kHz mono), to join with its speech."""
    out = folder / f"silence-{seconds:g}.wav"
    subprocess.run(["sox", "-D", "-n", "-r", "22050", "-c", "1", "-b", "16", str(out), "trim", "0",
                    str(seconds)], check=True, timeout=60)
    return out


def joined(folder: Path, name: str, *parts: Path) -> Path:
    out = folder / f"{name}.wav"
    subprocess.run(["sox", "-D", *map(str, parts), str(out)], check=True, timeout=60)
    return out


def run(root: Path, audio: Path, config: str, *args: str) -> list[dict[str, object]]:
    """`voxagent run -v --input audio --dry-run --json --fast` with `config` and CLOSE as
    the user's files (a temporary home); its JSON lines (its log: LOG[root])."""
    return [json.loads(line) for line in run_text(root, audio, config, "--json", *args)]


def run_text(root: Path, audio: Path, config: str, *args: str) -> list[str]:
    """The same as run() without --json unless given: the lines it prints."""
    (root / "config" / "commands").mkdir(parents=True, exist_ok=True)
    (root / "config" / "config.toml").write_text(config)
    (root / "config" / "commands" / "mine.toml").write_text(CLOSE)
    env = {**os.environ, "VOXAGENT_CONFIG_DIR": str(root / "config"),
           "VOXAGENT_STATE_DIR": str(root / "state")}
    result = subprocess.run([sys.executable, "-m", "agent", "run", "-v", "--input", str(audio),
                             "--dry-run", "--fast", *args], env=env, cwd=root,
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    LOG[root] = result.stderr
    return result.stdout.splitlines()


LOG: dict[Path, str] = {}


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("said")
    salad = load_fixture("hard_clips").word_salad(seed=3, words=24)
    return {"close": speak(folder, "close", "close window"), "yes": speak(folder, "yes", "yes"),
            "talk": speak(folder, "talk", salad), "quiet": silence(folder, 10.0)}


def test_a_yes_in_time_performs_a_held_command(tmp_path: Path,
                                               said: dict[str, Path]) -> None:
    lines = run(tmp_path, joined(tmp_path, "in-time", said["close"], said["yes"]), "")
    asked, yes = lines
    assert (asked["command"], asked["actions"], asked["pending"]) == ("close window", [],
                                                                      "close window")
    assert float(yes["start"]) - float(asked["end"]) < 8.0  # type: ignore[arg-type]
    assert (yes["command"], yes["actions"]) == ("close window", ALT_F4)
    assert "pending" not in yes and "expired" not in yes


def test_a_yes_after_the_timeout_does_nothing(tmp_path: Path, said: dict[str, Path]) -> None:
    audio = joined(tmp_path, "late", said["close"], said["quiet"], said["yes"])
    asked, late = run(tmp_path, audio, "")
    assert asked["pending"] == "close window"
    assert float(late["start"]) - float(asked["end"]) > 8.0  # type: ignore[arg-type]
    assert (late["command"], late["actions"], late["expired"]) == (None, [], "close window")
    assert "agent.dispatch.dispatcher: no yes within 8 s: close window not done" \
        in LOG[tmp_path]
    # the setting: a longer wait takes the same yes
    asked, yes = run(tmp_path, audio, "[commands]\nconfirm_timeout_s = 30.0\n")
    assert yes["actions"] == ALT_F4 and "expired" not in yes


def test_the_human_line_says_what_waits_and_what_expired(tmp_path: Path,
                                                         said: dict[str, Path]) -> None:
    audio = joined(tmp_path, "late", said["close"], said["quiet"], said["yes"])
    asked, late = run_text(tmp_path, audio, "")
    assert ": say yes to close window (command, " in asked, asked
    assert ": not a command [no yes in time: close window] (command, " in late, late


def test_doubted_talk_ends_a_held_command(tmp_path: Path, said: dict[str, Path]) -> None:
    """Talk that goes on without a pause (cut at vad.max_utterance_s, so doubted) between
    the command and a yes that is well in time: the yes confirms nothing."""
    audio = joined(tmp_path, "talk", said["close"], said["talk"], said["yes"])
    lines = run(tmp_path, audio, "[vad]\nmax_utterance_s = 2.0\n"
                "[commands]\nconfirm_timeout_s = 60.0\n")
    asked, *talk, yes = lines
    assert asked["pending"] == "close window" and len(talk) >= 2
    assert all(t["actions"] == [] for t in talk)
    assert talk[0]["cancelled"] == "close window"
    assert f"heard {talk[0]['text']!r}, doubted (part of unbroken speech" in LOG[tmp_path]
    assert (yes["command"], yes["actions"]) == (None, [])
    assert not any("pending" in line for line in lines[1:])


# --- Voxtral (the vLLM double): command intent, dictated line breaks -------------------------

@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", flags=["--tool-call-parser", "mistral",
                                                       "--enable-auto-tool-choice"]) as d:
        yield d


@pytest.fixture(scope="module")
def start_over(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Talk no command matches, then "yes", then a command (the yes answers the guess)."""
    folder = tmp_path_factory.mktemp("start_over")
    parts = [speak(folder, "over", "well I suppose we could start over"),
             speak(folder, "yes", "yes"), speak(folder, "scroll", "scroll down")]
    return joined(folder, "session", *parts)


def key(keys: str, count: int = 1) -> dict[str, object]:
    return {"action": "key", "keys": keys, "count": count}


@pytest.mark.parametrize(("calls", "pending", "done"), [
    ([("press_chord_n_times", '{"chord": "backspace", "n": 100}')],
     "press backspace 100 times", [key("backspace", 100)]),
    ([("select_all", "{}"), ("press_chord", '{"chord": "backspace"}')],
     "press ctrl+a, press backspace", [key("ctrl+a"), key("backspace")]),
])
def test_intent_asks_before_it_deletes(tmp_path: Path, double: Double, start_over: Path,
                                       calls: list[tuple[str, str]], pending: str,
                                       done: list[dict[str, object]]) -> None:
    control = Control(double.url)
    control.clear()
    control.tool_call("start over", *calls)
    config = toml_config(double.port, tmp_path, "command_intent = true\n")
    guessed, yes, scroll = run(tmp_path, start_over, config, "--backend", "voxtral")
    assert (guessed["actions"], guessed["pending"]) == ([], pending)  # asked, not performed
    assert yes["actions"] == done
    assert scroll["actions"] == [{"action": "scroll", "direction": "down", "count": 1}]


def test_intent_asks_and_the_next_talk_ends_it(tmp_path: Path, double: Double,
                                               said: dict[str, Path]) -> None:
    folder = tmp_path / "said"
    folder.mkdir()
    audio = joined(folder, "session", speak(folder, "over", "well I suppose we could start over"),
                   speak(folder, "talk", "the weather is nice today"), said["yes"])
    control = Control(double.url)
    control.clear()
    control.tool_call("start over", ("press_chord_n_times", '{"chord": "ctrl+backspace", '
                                                            '"n": 50}'))
    config = toml_config(double.port, tmp_path, "command_intent = true\n")
    guessed, talk, yes = run(tmp_path, audio, config, "--backend", "voxtral")
    assert (guessed["actions"], guessed["pending"]) == ([], "press ctrl+backspace 50 times")
    assert (talk["actions"], talk["cancelled"]) == ([], "press ctrl+backspace 50 times")
    assert yes["actions"] == []


def test_dictated_line_breaks_are_typed_as_spaces(tmp_path: Path, double: Double) -> None:
    folder = tmp_path / "said"
    folder.mkdir()
    audio = joined(folder, "session", speak(folder, "start", "start dictation"),
                   speak(folder, "team", "dear team the report is attached"),
                   speak(folder, "friday", "please review it before friday"))
    control = Control(double.url)
    control.clear()
    control.written("report", "Dear team,\nthe report is attached.")
    control.written("friday", "Please review it\nbefore Friday.")
    lines = run(tmp_path, audio, toml_config(double.port, tmp_path), "--backend", "voxtral")
    start, team, friday = lines
    assert start["mode"] == "dictation"
    assert team["text"] == "Dear team,\nthe report is attached."  # as the server wrote it
    assert team["actions"] == [{"action": "type", "text": "Dear team, the report is attached."}]
    assert friday["actions"] == [{"action": "type", "text": " Please review it before Friday."}]
    assert not any("pending" in line or "cancelled" in line for line in lines)
