"""The Voxtral model manager against the Hugging Face hub double: only the Mistral-format
files are downloaded (once), the weights are then found offline, absent-and-offline is one
clear line, and `voxagent server start` serves the folder they were downloaded to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.hub_double import HubDouble
from tests.integration.vllm_support import fake_gpu, free_port, toml_config, wait_down

TIMEOUT = 180
REPO = "mistralai/Voxtral-Mini-3B-2507"
SCRIPT = """
import sys
from agent.asr.base import ModelError
from agent.voxtral import models
from agent.asr.config import VoxtralConfig
cfg = VoxtralConfig(model=sys.argv[1])
try:
    found = models.status(cfg)
    print(found.source, found.path)
    print(models.ensure(cfg))
except ModelError as exc:
    print(f"ModelError: {exc}", file=sys.stderr)
    sys.exit(3)
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model repository's layout: Mistral files, plus HF shards we must not fetch."""
    folder = tmp_path_factory.mktemp("voxtral-repo")
    (folder / "params.json").write_text(json.dumps({"dim": 3072, "multimodal": {}}))
    (folder / "tekken.json").write_text(json.dumps({"config": {"pattern": "x"}}))
    (folder / "config.json").write_text(json.dumps({"model_type": "voxtral"}))
    (folder / "consolidated.safetensors").write_bytes(os.urandom(200_000))
    (folder / "model-00001-of-00002.safetensors").write_bytes(os.urandom(150_000))
    (folder / "README.md").write_text("# Voxtral\n")
    return folder


@pytest.fixture(scope="module")
def hub(repo: Path) -> Iterator[HubDouble]:
    with HubDouble({REPO: repo}) as h:
        yield h


def env(tmp: Path, hub: HubDouble, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("HF_", "HUGGING_FACE_", "TRANSFORMERS_"))}
    return {**base, "HF_HOME": str(tmp / "hf"), "HF_ENDPOINT": hub.endpoint,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "VOXAGENT_CONFIG_DIR": str(tmp / "config"), "VOXAGENT_STATE_DIR": str(tmp / "state"),
            "VLLM_DOUBLE_ASR": "echo", **extra}


def manager(tmp: Path, hub: HubDouble, spec: str = REPO,
            **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, spec], env=env(tmp, hub, **extra),
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def fetched(hub: HubDouble) -> str:
    """Every path and query the hub and its CDN served, as one text to search."""
    return " ".join(f"{r['path']}?{r.get('query', '')}" for r in hub.requests()
                    if r["method"] in ("GET", "HEAD"))


def test_downloads_the_mistral_files_once_then_works_offline(tmp_path: Path,
                                                             hub: HubDouble) -> None:
    hub.clear()
    first = manager(tmp_path, hub)
    assert first.returncode == 0, first.stderr
    absent, path = first.stdout.splitlines()
    assert absent == "absent None"
    folder = Path(path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "consolidated.safetensors", "params.json", "tekken.json"]
    served = fetched(hub)
    assert "consolidated.safetensors" in served
    assert "model-00001-of-00002" not in served and "README.md" not in served
    hub.clear()
    again = manager(tmp_path, hub, HF_HUB_OFFLINE="1")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"cache {folder}", str(folder)]
    assert hub.requests() == []


def test_absent_and_offline_is_one_clear_line(tmp_path: Path, hub: HubDouble) -> None:
    result = manager(tmp_path, hub, HF_HUB_OFFLINE="1")
    assert result.returncode == 3, result
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ModelError: Voxtral model {REPO} is not downloaded and offline "
                           "mode is on (HF_HUB_OFFLINE)")


def test_unknown_model_and_bad_folder(tmp_path: Path, hub: HubDouble) -> None:
    unknown = manager(tmp_path, hub, "mistralai/No-Such-Model")
    assert unknown.returncode == 3
    assert "is not on" in unknown.stderr and "No-Such-Model" in unknown.stderr
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "params.json").write_text("{}")
    half = manager(tmp_path, hub, str(folder))
    assert half.returncode == 3
    assert "not a Mistral-format Voxtral folder (no consolidated.safetensors, tekken.json)" \
        in half.stderr


def test_server_start_serves_the_downloaded_folder(tmp_path: Path, hub: HubDouble) -> None:
    port = free_port()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(toml_config(port, tmp_path))
    gpu = fake_gpu(tmp_path / "gpu")
    run_env = env(tmp_path, hub, PATH=f"{gpu}{os.pathsep}{os.environ['PATH']}")

    def voxagent(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent", *args], env={**run_env, **extra},
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)

    try:
        started = voxagent("server", "start")
        assert started.returncode == 0, started.stderr
        status = voxagent("server", "status")
        assert f"model: {REPO} (max_model_len 4864)" in status.stdout
        (record,) = (tmp_path / "state").glob("vllm-*.json")
        argv = json.loads(record.read_text())["argv"]
        snapshot = argv[argv.index("serve") + 1]
        assert (Path(snapshot) / "consolidated.safetensors").is_file()
        assert str(tmp_path / "hf") in snapshot  # the cache it was downloaded to
    finally:
        voxagent("server", "stop")
    wait_down(f"http://127.0.0.1:{port}/v1")
    hub.clear()
    offline = voxagent("server", "start", HF_HUB_OFFLINE="1")  # found, not fetched again
    try:
        assert offline.returncode == 0, offline.stderr
        assert "consolidated.safetensors" not in fetched(hub)
    finally:
        voxagent("server", "stop")
