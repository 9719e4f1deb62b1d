"""[voxtral] and [recognition]: defaults, refusals, the `vllm serve` command line, and the
checks that refuse to start a server that cannot work (no vLLM, no GPU, CPU)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from agent.asr.config import VoxtralConfig
from agent.asr.voxtral_client import (
    ServerError,
    VoxtralError,
    base_url,
    error_message,
    transcription_text,
)
from agent.config import Config, ConfigError, load_config
from agent.voxtral import launch


def test_defaults() -> None:
    v = Config().voxtral
    assert (v.model, v.host, v.port, v.max_model_len) == (
        "mistralai/Voxtral-Mini-3B-2507", "127.0.0.1", 8000, 4864)
    assert (v.max_audio_s, v.chunk_s, v.command_intent, v.manage_server) == (
        900.0, 30.0, False, True)
    assert Config().recognition.backend == "auto"


def test_sections_load_and_bad_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[recognition]\nbackend = "whisper"\n[voxtral]\nport = 9001\n'
                    'base_url = "http://gpu-box:8000/v1"\ncommand_intent = true\n')
    cfg = load_config(path)
    assert cfg.recognition.backend == "whisper"
    assert (cfg.voxtral.port, cfg.voxtral.command_intent) == (9001, True)
    assert base_url(cfg.voxtral) == "http://gpu-box:8000/v1"
    for bad, key in (('[recognition]\nbackend = "gpu"\n', "recognition.backend"),
                     ("[voxtral]\nport = 0\n", "voxtral.port"),
                     ("[voxtral]\ngpu_memory_utilization = 2.0\n",
                      "voxtral.gpu_memory_utilization"),
                     ("[voxtral]\nwhisper = 1\n", "voxtral.whisper")):
        path.write_text(bad)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert str(path) in str(info.value) and key in str(info.value)
        assert "\n" not in str(info.value)


def test_base_url_for_a_local_server() -> None:
    assert base_url(VoxtralConfig(host="0.0.0.0", port=8123)) == "http://127.0.0.1:8123/v1"
    assert base_url(VoxtralConfig(host="::1")) == "http://[::1]:8000/v1"


def test_the_serve_command_line() -> None:
    cfg = VoxtralConfig(server_command="'/opt/vllm env/bin/vllm'",
                        extra_args="--enforce-eager", gpu_memory_utilization=0.8)
    argv = launch.server_argv(cfg, "/models/voxtral")
    assert argv[:3] == ["/opt/vllm env/bin/vllm", "serve", "/models/voxtral"]
    joined = shlex.join(argv)
    for flags in ("--served-model-name mistralai/Voxtral-Mini-3B-2507",
                  "--tokenizer_mode mistral --config_format mistral --load_format mistral",
                  "--max-model-len 4864", "--host 127.0.0.1 --port 8000",
                  "--tensor-parallel-size 1", "--gpu-memory-utilization 0.8"):
        assert flags in joined
    assert argv[-1] == "--enforce-eager"
    assert "--enable-auto-tool-choice" not in argv
    intent = launch.server_argv(VoxtralConfig(command_intent=True), "m")
    assert "--tool-call-parser mistral --enable-auto-tool-choice" in shlex.join(intent)


def test_the_api_key_goes_in_the_environment_not_the_command_line() -> None:
    cfg = VoxtralConfig(api_key="s3cret")
    assert "s3cret" not in launch.server_argv(cfg, "m")
    assert launch.server_env(cfg)["VLLM_API_KEY"] == "s3cret"


def refusal(cfg: VoxtralConfig) -> str:
    with pytest.raises(ServerError) as info:
        launch.preflight(cfg)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_refuses_cpu_missing_vllm_and_no_gpu(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert "vLLM on CPU is not a supported" in refusal(VoxtralConfig(use_gpu=False))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert "vLLM is not installed" in refusal(VoxtralConfig())
    fake_vllm = bin_dir / "vllm"
    fake_vllm.write_text("#!/bin/sh\nexit 0\n")
    fake_vllm.chmod(0o755)
    no_gpu = refusal(VoxtralConfig())
    assert "no GPU found" in no_gpu and "vLLM on CPU is not a supported" in no_gpu
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: Double (UUID: GPU-0)'\n")
    smi.chmod(0o755)
    launch.preflight(VoxtralConfig())  # vllm and a GPU: fine
    assert "only 1 GPU" in refusal(VoxtralConfig(tensor_parallel_size=2))


def test_vllm_error_bodies_and_text_replies() -> None:
    assert error_message({"message": "The model `x` does not exist.", "code": 404}, "") == \
        "The model `x` does not exist."  # the client hands over the inner object
    assert error_message({"error": {"message": "bad\n  thing"}}, "") == "bad thing"
    assert error_message("Unauthorized", "") == "Unauthorized"
    assert error_message(None, "Error code: 502") == "Error code: 502"
    assert transcription_text('{"text": " New tab. ", "usage": {"seconds": 1}}') == "New tab."
    assert transcription_text("New tab.\n", plain=True) == "New tab."
    assert transcription_text(b'{"text": "caf\xc3\xa9"}') == "caf\u00e9"


@pytest.mark.parametrize(("body", "why"), [
    (b'{"text": "caf\xe9"}', r"not UTF-8 \(byte 0xe9 at 13\)"),
    (b'{"text": "New tab.', "not JSON"),
    (b"New tab.", "not JSON"),  # plain text where JSON was asked for
    (b"[" * 100_000, "not JSON"),  # nested past the parser's recursion limit
    (b'["New tab."]', "a JSON list, not an object"),
    (b'{"usage": {"seconds": 1}}', '"text" is missing'),
    (b'{"text": 42}', '"text" is a int'),
    (b'{"text": null}', '"text" is a NoneType'),
])
def test_a_malformed_transcription_answer_is_a_failure(body: bytes, why: str) -> None:
    with pytest.raises(VoxtralError, match=why) as info:
        transcription_text(body)
    assert str(info.value).startswith("voxtral transcription: ")
    assert "\n" not in str(info.value)
