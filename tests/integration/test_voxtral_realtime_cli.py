"""Voxtral Realtime from the command line, against the vLLM double's /v1/realtime: `run
--input FILE --dry-run --json` names the backend voxtral-realtime (auto and voxtral), acts
once per utterance when the connection drops mid-utterance, `server start --realtime`
serves the streaming model with its flags; and bench/voxtral_gpu.sh refuses clearly
without a GPU or the weights (no GPU here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.asr.config import served
from agent.voxtral import launch
from tests.integration.vllm_support import (
    REALTIME_MODEL,
    Control,
    Double,
    config,
    fake_gpu,
    fake_model,
    free_port,
    speak,
    toml_config,
    wait_down,
)

TIMEOUT = 180


@pytest.fixture(scope="module")
def said(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("said")
    session = folder / "session.wav"
    subprocess.run(["sox", "-D", str(speak(folder, "scroll", "scroll down")),
                    str(speak(folder, "sleep", "go to sleep")), str(session)],
                   check=True, timeout=60)
    return {"session": session}


@pytest.fixture(scope="module")
def hearing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    """Serves the realtime model and hears with faster-whisper."""
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", model=REALTIME_MODEL) as d:
        yield d


def realtime_records(double: Double) -> list[dict[str, Any]]:
    return [r for r in Control(double.url).requests() if r["path"] == "/v1/realtime"]


# --- the command line -------------------------------------------------------------------------


def voxagent(home: Path, *args: str | Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    run_env = {**os.environ, "VOXAGENT_CONFIG_DIR": str(home / "config"),
               "VOXAGENT_STATE_DIR": str(home / "state"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "agent", *map(str, args)], env=run_env,
                          cwd=home, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)


def home_for(tmp: Path, port: int, extra: str = "") -> Path:
    (tmp / "config").mkdir(exist_ok=True)
    (tmp / "config" / "config.toml").write_text(
        toml_config(port, tmp, f'mode = "realtime"\nmanage_server = false\n{extra}'))
    return tmp


@pytest.mark.parametrize("backend_name", ["auto", "voxtral"])
def test_run_json_names_the_realtime_backend(hearing: Double, said: dict[str, Path],
                                             tmp_path: Path, backend_name: str) -> None:
    Control(hearing.url).clear()
    home = home_for(tmp_path, hearing.port)
    result = voxagent(home, "run", "--input", said["session"], "--dry-run", "--json",
                      "--backend", backend_name)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["backend"], x["command"]) for x in lines] == [
        ("voxtral-realtime", "scroll down"), ("voxtral-realtime", "go to sleep")]
    assert lines[0]["actions"] == [{"action": "scroll", "direction": "down", "count": 1}]
    assert [r["text"] for r in realtime_records(hearing)] == ["Scroll down.", "Go to sleep."]


def test_live_run_streams_each_utterance_while_it_is_spoken(
        hearing: Double, said: dict[str, Path], tmp_path: Path) -> None:
    # paced in real time, as from the microphone: the capture thread sends each frame
    # to the socket as it arrives, so an utterance reaches the server in many appends
    Control(hearing.url).clear()
    home = home_for(tmp_path, hearing.port)
    result = voxagent(home, "run", "--input", said["session"], "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["backend"], x["command"]) for x in lines] == [
        ("voxtral-realtime", "scroll down"), ("voxtral-realtime", "go to sleep")]
    records = realtime_records(hearing)
    assert [r["text"] for r in records] == ["Scroll down.", "Go to sleep."]
    # a whole recording sent at once goes in one append of up to 2 s; these were streamed
    assert all(r["appends"] >= 10 for r in records), [r["appends"] for r in records]


def test_run_after_a_dropped_connection_acts_once_per_utterance(
        hearing: Double, said: dict[str, Path], tmp_path: Path) -> None:
    Control(hearing.url).clear()
    Control(hearing.url).fail("/v1/realtime", "drop")
    result = voxagent(home_for(tmp_path, hearing.port), "run", "--input", said["session"],
                      "--dry-run", "--json", "--fast", "--backend", "auto")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["backend"], x["command"]) for x in lines] == [
        ("voxtral", "scroll down"), ("voxtral-realtime", "go to sleep")]
    assert [r["path"] for r in Control(hearing.url).requests()] == [
        "/v1/audio/transcriptions", "/v1/realtime"]


def test_server_start_realtime_serves_the_streaming_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXAGENT_STATE_DIR", str(tmp_path / "state"))
    port = free_port()
    gpu = fake_gpu(tmp_path / "gpu")
    model = fake_model(tmp_path / "realtime-model")
    home = tmp_path
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text(
        toml_config(port, home, f"realtime_model = {json.dumps(str(model))}\n"))
    env = {"PATH": f"{gpu}{os.pathsep}{os.environ['PATH']}", "VLLM_DOUBLE_ASR": "echo"}
    try:
        started = voxagent(home, "server", "start", "--realtime", env=env)
        assert started.returncode == 0, started.stderr
        status = voxagent(home, "server", "status", env=env)
        assert f"model: {model} (max_model_len 4864)" in status.stdout, status.stdout
        rec = launch.read_record(port)
        assert rec is not None and "--enforce-eager" in rec.argv
        assert rec.argv[rec.argv.index("--served-model-name") + 1] == str(model)
    finally:
        voxagent(home, "server", "stop", env=env)
    wait_down(f"http://127.0.0.1:{port}/v1")
    file_argv = launch.server_argv(served(config(port, tmp_path)), "m")
    assert "--enforce-eager" not in file_argv  # the file model is served as before


# --- bench/voxtral_gpu.sh: its refusals, here where there is no GPU ---------------------------

GPU_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "voxtral_gpu.sh"


def gpu_script(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(GPU_SCRIPT), *args], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False,
                          env={**os.environ, "PYTHON": sys.executable,
                               "HF_HOME": str(tmp / "hf"), **env})


def cached(hf_home: Path, model: str) -> None:
    """The model's Mistral-format files in a Hugging Face cache, as a download leaves them."""
    repo = hf_home / "hub" / f"models--{model.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    fake_model(repo / "snapshots" / ("0" * 40))


def test_gpu_script_refuses_without_a_gpu_or_the_weights(tmp_path: Path) -> None:
    no_gpu = gpu_script(tmp_path, NVIDIA_SMI=str(tmp_path / "no-such-nvidia-smi"))
    assert no_gpu.returncode == 2 and no_gpu.stderr.splitlines() == [
        "voxtral_gpu.sh: no GPU: '" + str(tmp_path / "no-such-nvidia-smi") + " -L' lists none "
        "(Voxtral through vLLM needs a CUDA GPU; this script is for a GPU machine)"]
    smi = str(fake_gpu(tmp_path / "gpu") / "nvidia-smi")
    no_weights = gpu_script(tmp_path, NVIDIA_SMI=smi)
    assert no_weights.returncode == 3 and no_weights.stderr.splitlines() == [
        f"voxtral_gpu.sh: the weights of mistralai/Voxtral-Mini-3B-2507 are not in the Hugging "
        f"Face cache ({tmp_path / 'hf'}); nothing is downloaded here: run 'huggingface-cli "
        "download mistralai/Voxtral-Mini-3B-2507' first"]
    cached(tmp_path / "hf", "mistralai/Voxtral-Mini-3B-2507")
    half = gpu_script(tmp_path, NVIDIA_SMI=smi)
    assert half.returncode == 3 and "weights of mistralai/Voxtral-Mini-4B-Realtime-2602 are " \
        "not in the Hugging Face cache" in half.stderr
    cached(tmp_path / "hf", REALTIME_MODEL)
    found = gpu_script(tmp_path, "--skip-install", NVIDIA_SMI=smi)
    assert found.returncode == 4 and found.stderr.count(" found at ") == 2
    assert found.stderr.splitlines()[-1].startswith("voxtral_gpu.sh: no vLLM in ")
