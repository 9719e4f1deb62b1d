"""Small mismatches between what the CLI said and did, each run for real: tiny.en is the
embedded model (no network), --config works after the subcommand, and `features` does not
call a feature "on" when no server can serve it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 180


def voxagent(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"VOXAGENT_CONFIG_DIR": str(tmp / "config"), "VOXAGENT_STATE_DIR": str(tmp / "state")}
    result = subprocess.run([sys.executable, "-m", "agent", *args], env=env | extra, cwd=tmp,
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def new_tab(tmp_path: Path) -> Path:
    path = tmp_path / "new-tab.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "new tab"], check=True, timeout=60)
    return path


def test_tiny_en_is_the_embedded_model_and_needs_no_network(tmp_path: Path,
                                                           new_tab: Path) -> None:
    empty = tmp_path / "hf"  # an empty hub cache, offline: a hub fetch would fail
    result = voxagent(tmp_path, "run", "--input", str(new_tab), "--dry-run", "--fast", "--json",
                      "--model", "tiny.en", "--backend", "whisper", HF_HOME=str(empty),
                      HF_HUB_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["command"] == "new tab"
    assert not empty.exists() or not any(empty.rglob("*.bin"))


def test_config_after_the_subcommand(tmp_path: Path, new_tab: Path) -> None:
    other = tmp_path / "no-builtins.toml"
    other.write_text("[commands]\nbuiltin = false\n")
    args = ["--input", str(new_tab), "--dry-run", "--fast", "--json", "--backend", "whisper"]
    default = voxagent(tmp_path, "run", *args)
    after = voxagent(tmp_path, "run", *args, "--config", str(other))
    before = voxagent(tmp_path, "--config", str(other), "run", *args)
    assert json.loads(default.stdout)["command"] == "new tab", default.stderr
    assert json.loads(after.stdout)["command"] is None, after.stderr
    assert json.loads(before.stdout)["command"] is None, before.stderr
    shown = voxagent(tmp_path, "config", "--config", str(other))
    assert shown.stdout.startswith(f"# effective configuration; file: {other}")
    missing = voxagent(tmp_path, "config", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2
    assert missing.stderr == f"voxagent: error: {tmp_path / 'nope.toml'}: no such config file\n"


def test_features_are_not_on_without_a_server(tmp_path: Path) -> None:
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir()
    config.write_text("[voxtral]\nport = 9\n")  # nothing answers there
    result = voxagent(tmp_path, "features")
    assert result.returncode == 0, result.stderr
    assert "(not answering)" in result.stdout.splitlines()[0]
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "no server" in rows["transcription"] and " on " not in rows["transcription"]
    assert all(" on " not in row for row in rows.values()), result.stdout
