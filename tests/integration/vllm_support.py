"""Helpers for the tests that run the vLLM double: ports, a GPU probe that finds one, the
double as a subprocess, its control endpoints, configs that point at it."""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.asr.config import VoxtralConfig
from agent.asr.voxtral_client import health

DOUBLE = Path(__file__).with_name("vllm_double.py")
MODEL = "mistralai/Voxtral-Mini-3B-2507"
REALTIME_MODEL = "mistralai/Voxtral-Mini-4B-Realtime-2602"
SERVE_FLAGS = ["--tokenizer_mode", "mistral", "--config_format", "mistral",
               "--load_format", "mistral"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def double_command() -> str:
    """The server command that runs the double instead of vLLM."""
    return shlex.join([sys.executable, str(DOUBLE)])


def fake_gpu(folder: Path) -> Path:
    """A folder with an `nvidia-smi` that lists one GPU (prepend it to PATH): the GPU probe's
    double, so the manager's checks pass on a machine without one."""
    folder.mkdir(parents=True, exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: Double GPU (UUID: GPU-00000000)'\n")
    smi.chmod(0o755)
    return folder


def fake_model(folder: Path) -> Path:
    """A Mistral-format model folder (the double checks consolidated.safetensors is there)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps({"dim": 3072, "multimodal": {}}))
    (folder / "tekken.json").write_text("{}")
    (folder / "consolidated.safetensors").write_bytes(b"\0" * 64)
    return folder


def config(port: int, tmp: Path, **changes: Any) -> VoxtralConfig:
    """[voxtral] pointing at a double on `port`, started through the manager's own path."""
    base = VoxtralConfig(model=MODEL, port=port, server_command=double_command(),
                         startup_timeout_s=60.0, request_timeout_s=10.0)
    return replace(base, **changes)


def toml_config(port: int, tmp: Path, extra: str = "", request_timeout_s: float = 30.0) -> str:
    """The same as a config file a user would write (an utterance may take 30 s: the double
    hears with whisper on a loaded machine, and these tests are not about timeouts). The
    server's log is vllm-PORT.log in the state folder (VOXAGENT_STATE_DIR)."""
    return (f'[voxtral]\nport = {port}\nserver_command = {json.dumps(double_command())}\n'
            f"startup_timeout_s = 60.0\nrequest_timeout_s = {request_timeout_s}\n{extra}")


class Double:
    """The double started directly (not through the manager), for client tests."""

    def __init__(self, port: int, log: Path, env: dict[str, str] | None = None,
                 flags: list[str] | None = None, model: str = MODEL) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = log
        self._env = {**os.environ, **(env or {})}
        self._argv = [sys.executable, str(DOUBLE), "serve", model, *SERVE_FLAGS,
                      "--host", "127.0.0.1", "--port", str(port), *(flags or [])]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Double:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self._argv, env=self._env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_health(self.url, timeout, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> Double:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_health(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Seconds until /health answers 200; AssertionError if the process dies or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if health(url, 1.0) == 200:
            return time.monotonic() - started
        assert proc is None or proc.poll() is None, f"the double exited with {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError(f"{url}/health not ready within {timeout} s")


def wait_down(url: str, timeout: float = 20.0) -> None:
    started = time.monotonic()
    while health(url, 0.5) is not None:
        assert time.monotonic() - started < timeout, f"{url} still answers"
        time.sleep(0.05)


class Control:
    """The double's /_double/ endpoints."""

    def __init__(self, url: str) -> None:
        self.root = url.removesuffix("/v1")

    def _call(self, what: str, data: object | None = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(f"{self.root}/_double/{what}", data=body,
                                         method="GET" if body is None else "POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def fail(self, path: str, mode: str, times: int = 1, seconds: float = 5.0) -> None:
        self._call("fail", {"path": path, "mode": mode, "times": times, "seconds": seconds})

    def answer(self, path: str, body: bytes, times: int = 1) -> None:
        """The next `times` requests to `path` are answered 200 with exactly `body`."""
        self._call("fail", {"path": path, "mode": "answer", "times": times,
                            "body": base64.b64encode(body).decode("ascii")})

    def tool_call(self, when: str, *calls: tuple[str, str]) -> None:
        self._call("tool_call", {"when": when, "calls": [{"name": n, "arguments": a}
                                                         for n, a in calls]})

    def written(self, when: str, text: str) -> None:
        """Transcripts whose heard words contain `when` are answered as `text`."""
        self._call("written", {"when": when, "text": text})

    def requests(self) -> list[dict[str, Any]]:
        return list(self._call("requests"))

    def hits(self) -> list[dict[str, Any]]:
        """The requests a scripted fault took, as they arrived."""
        return list(self._call("hits"))

    def sessions(self) -> list[dict[str, Any]]:
        """The /v1/realtime sessions: bytes, running sha256, utterances, errors, open."""
        return list(self._call("realtime"))

    def clear(self) -> None:
        self._call("clear", {})


def process_alive(pid: int) -> bool:
    """Running (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def speak(folder: Path, name: str, words: str, pause_s: float = 0.4) -> Path:
    """espeak-ng says `words` into a WAV (22.05 kHz, as espeak writes it), padded with
    silence on both sides."""
    raw = folder / f"{name}-raw.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), words], check=True, timeout=60)
    out = folder / f"{name}.wav"
    subprocess.run(["sox", "-D", str(raw), str(out), "pad", str(pause_s), str(pause_s)], check=True,
                   timeout=60)
    return out


def pcm_of(path: Path) -> bytes:
    from agent.audio.file_source import read_audio

    return read_audio(path).tobytes()
