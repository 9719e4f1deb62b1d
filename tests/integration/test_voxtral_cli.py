"""The Voxtral commands run for real against the vLLM double (attached to, as to a server
started elsewhere): `transcribe --backend voxtral`, `ask`, `summarize`, `features`, and
`run --backend voxtral` with command intent (a tool call performs a command no words
matched; a risky one waits for "yes").  Failures are one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration import x11
from tests.integration.vllm_support import (
    Control,
    Double,
    free_port,
    speak,
    toml_config,
)

TIMEOUT = 180
x_server = x11.x_server  # fixture


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("said")
    scroll = speak(folder, "scroll", "scroll down")
    lower = speak(folder, "lower", "make the page go lower")
    close = speak(folder, "close", "get rid of this window")
    yes = speak(folder, "yes", "yes")
    session = folder / "session.wav"
    subprocess.run(["sox", "-D", str(scroll), str(lower), str(close), str(yes), str(session)],
                   check=True, timeout=60)
    return {"scroll": scroll, "session": session}


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", flags=["--tool-call-parser", "mistral",
                                                       "--enable-auto-tool-choice"]) as d:
        yield d


class Home:
    def __init__(self, root: Path, port: int, extra: str = "") -> None:
        self.root = root
        (root / "config").mkdir(exist_ok=True)
        (root / "config" / "config.toml").write_text(toml_config(port, root, extra))

    def voxagent(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "VOXAGENT_CONFIG_DIR": str(self.root / "config"),
               "VOXAGENT_STATE_DIR": str(self.root / "state")}
        return subprocess.run([sys.executable, "-m", "agent", *map(str, args)], env=env,
                              cwd=self.root, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("voxagent: error: ")
    return line


def test_transcribe_ask_summarize_features(tmp_path: Path, double: Double,
                                           said: dict[str, Path]) -> None:
    home = Home(tmp_path, double.port)
    heard = home.voxagent("transcribe", said["scroll"], "--backend", "voxtral")
    assert heard.returncode == 0, heard.stderr
    assert heard.stdout.strip() == "Scroll down."
    answer = home.voxagent("ask", said["scroll"], "What did they say?")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "heard: Scroll down.; asked: What did they say?"
    summary = home.voxagent("summarize", said["scroll"])
    assert summary.returncode == 0 and summary.stdout.startswith("heard: Scroll down.; asked: "
                                                                 "Summarise this recording")
    features = home.voxagent("features")
    assert features.returncode == 0
    rows = {line.split()[0]: line for line in features.stdout.splitlines()[1:]}
    assert set(rows) == {"transcription", "summarization", "qa", "command_intent"}
    assert "off (voxtral.command_intent = false)" in rows["command_intent"]
    assert f"{double.url} (ready)" in features.stdout


def test_failures_are_one_line(tmp_path: Path, said: dict[str, Path]) -> None:
    home = Home(tmp_path, free_port(), "manage_server = false\nqa = false\n")
    assert "qa: off (voxtral.qa = false)" in one_line_error(
        home.voxagent("ask", said["scroll"], "what?"))
    assert "no vLLM server answers" in one_line_error(
        home.voxagent("transcribe", said["scroll"], "--backend", "voxtral"))
    assert "no such file" in one_line_error(home.voxagent("summarize", tmp_path / "none.wav"))


def test_run_with_command_intent(tmp_path: Path, double: Double, said: dict[str, Path]) -> None:
    control = Control(double.url)
    control.clear()
    control.tool_call("page go lower", ("scroll_down_n_times", '{"n": 3}'))
    control.tool_call("window", ("close_window", "{}"))
    home = Home(tmp_path, double.port, "command_intent = true\n")
    result = home.voxagent("run", "--input", said["session"], "--dry-run", "--json", "--fast",
                           "--backend", "voxtral")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x["backend"] for x in lines] == ["voxtral"] * 4
    scroll, lower, close, yes = lines
    assert scroll["actions"] == [{"action": "scroll", "direction": "down", "count": 1}]
    assert lower["actions"] == [{"action": "scroll", "direction": "down", "count": 3}]
    assert (close["command"], close["actions"]) == ("close window", [])  # risky: asks first
    assert yes["actions"] == [{"action": "key", "keys": "alt+f4", "count": 1}]
    chats = [r for r in control.requests() if r["path"] == "/v1/chat/completions"]
    assert len(chats) == 2  # only for the two utterances no command matched


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A request no command matches, then "yes", then an ordinary command."""
    folder = tmp_path_factory.mktemp("shell")
    parts = [speak(folder, "shell", "put my shell command in"), speak(folder, "yes", "yes"),
             speak(folder, "scroll", "scroll down")]
    session = folder / "session.wav"
    subprocess.run(["sox", "-D", *map(str, parts), str(session)], check=True, timeout=60)
    return session


@pytest.mark.parametrize(("controls", "typed"), [("confirm", "rm -rf ~/Documents\nexit"),
                                                 ("strip", "rm -rf ~/Documents exit")])
def test_intent_never_types_a_newline_before_a_spoken_yes(tmp_path: Path, double: Double,
                                                          shell: Path, controls: str,
                                                          typed: str) -> None:
    control = Control(double.url)
    control.clear()
    control.tool_call("shell", ("type_text", json.dumps({"text": "rm -rf ~/Documents\nexit"})))
    home = Home(tmp_path, double.port, "command_intent = true\n"
                f'[commands]\ntyped_controls = "{controls}"\n')
    result = home.voxagent("run", "--input", shell, "--dry-run", "--json", "--fast",
                           "--backend", "voxtral")
    assert result.returncode == 0, result.stderr
    asked, yes, scroll = (json.loads(line) for line in result.stdout.splitlines())
    assert (asked["command"], asked["actions"]) == ("type <text>", [])  # held: nothing typed
    assert yes["actions"] == [{"action": "type", "text": typed}]
    assert scroll["actions"] == [{"action": "scroll", "direction": "down", "count": 1}]
    assert "error" not in asked and "error" not in scroll


def test_a_failed_utterance_and_a_failed_launch_show_an_error(
        tmp_path: Path, double: Double, said: dict[str, Path], x_server: x11.XServer) -> None:
    control = Control(double.url)
    control.clear()
    control.fail("/v1/audio/transcriptions", "500")
    terminal = speak(tmp_path, "terminal", "open terminal")
    session = tmp_path / "session.wav"
    subprocess.run(["sox", "-D", str(said["scroll"]), str(terminal), str(session)], check=True,
                   timeout=60)
    home = Home(tmp_path, double.port, '[apps]\nterminal = ["/nonexistent/terminal"]\n')
    env = x_server.env(VOXAGENT_CONFIG_DIR=str(tmp_path / "config"),
                       VOXAGENT_STATE_DIR=str(tmp_path / "state"))
    result = subprocess.run([sys.executable, "-m", "agent", "run", "--input", str(session),
                             "--json", "--fast", "--backend", "voxtral"], env=env,
                            cwd=home.root, capture_output=True, text=True, timeout=TIMEOUT,
                            check=False)
    assert result.returncode == 0, result.stderr
    failed, launch = (json.loads(line) for line in result.stdout.splitlines())
    assert (failed["text"], failed["command"], failed["actions"]) == ("", None, [])
    assert failed["error"] == ("voxtral transcription: HTTP 500: EngineCore encountered an "
                               "issue. See stack trace (above) for the root cause.")
    assert launch["command"] == "open terminal"
    assert launch["actions"] == [{"action": "launch", "app": "terminal"}]
    assert launch["error"] == ("cannot start /nonexistent/terminal for 'terminal': No such "
                               "file or directory")
    contract = {"start", "end", "text", "command", "actions", "mode", "backend", "latency"}
    assert set(failed) == set(launch) == contract | {"error"}


def test_ask_a_stalled_server_waits_one_timeout(tmp_path: Path, double: Double,
                                               said: dict[str, Path]) -> None:
    """/health answers but the engine does not: `ask` gives up after one timeout (it is
    not retried) and says that."""
    control = Control(double.url)
    control.clear()
    control.fail("/v1/chat/completions", "hang", times=5, seconds=60.0)
    home = Home(tmp_path, double.port, "feature_timeout_s = 2.0\n")
    line = one_line_error(home.voxagent("ask", said["scroll"], "What did they say?"))
    assert line == "voxagent: error: voxtral chat: no answer within 2 s (not tried again)"
    assert control.hits() == [{"path": "/v1/chat/completions", "mode": "hang"}]
    control.clear()
