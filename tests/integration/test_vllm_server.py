"""The vLLM server manager, run for real against the double through the same code path that
starts `vllm serve` (the server command is configurable): a slow start (connection refused
until it listens), start failures and a startup timeout with the log's tail in the error,
crash and restart with backoff, SIGTERM then SIGKILL after the grace period, attaching to a
server that already answers, the server dying with a killed agent, and the `voxagent
server` commands.  A stand-in `nvidia-smi` lists one GPU, so the GPU check passes here.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agent.asr.base import ModelError
from agent.asr.config import VoxtralConfig
from agent.asr.voxtral import VoxtralRecogniser
from agent.asr.voxtral_client import ServerError, health
from agent.config import Config
from agent.voxtral import launch
from agent.voxtral.server import ServerManager, Supervision, start_local
from tests import namespace
from tests.integration.vllm_support import (
    Double,
    config,
    fake_gpu,
    fake_model,
    free_port,
    process_alive,
    toml_config,
    wait_down,
)

TIMEOUT = 120


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A GPU (as far as nvidia-smi says) and a state folder of our own."""
    monkeypatch.setenv("PATH", f"{fake_gpu(tmp_path / 'gpu')}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VOXAGENT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


QUICK = Supervision(restart_backoff_s=0.2, stop_grace_s=3.0)
"""Restarts and stops that do not keep the tests waiting."""


def manager(cfg: VoxtralConfig, supervision: Supervision = QUICK, **env: str) -> ServerManager:
    """A manager of the double; its log is launch.log_path(cfg), in the state folder (the
    model goes beside that folder, which a test may make read-only)."""
    model = fake_model(launch.log_path(cfg).parent.parent / "model")
    argv = launch.server_argv(cfg, str(model))
    url = f"http://127.0.0.1:{cfg.port}/v1"
    return ServerManager(cfg, argv, url, launch.log_path(cfg),
                         {**launch.server_env(cfg), "VLLM_DOUBLE_ASR": "echo", **env},
                         supervision)


@pytest.fixture
def managers() -> Iterator[list[ServerManager]]:
    made: list[ServerManager] = []
    yield made
    for m in made:
        m.stop()


def test_slow_start_is_waited_for_then_sigterm_stops_it(machine: Path,
                                                         managers: list[ServerManager]) -> None:
    cfg = config(free_port(), machine)
    m = manager(cfg, VLLM_DOUBLE_STARTUP_S="1.5")
    managers.append(m)
    started = time.monotonic()
    m.start()
    time.sleep(0.5)
    assert m.state == "starting"
    assert health(m.url, 0.5) is None  # connection refused: still starting
    m.wait_ready(30)
    assert time.monotonic() - started >= 1.5
    assert health(m.url, 1.0) == 200
    pid = m.pid
    assert pid is not None and launch.read_record(cfg.port) is not None
    log_text = launch.log_path(cfg).read_text()
    assert "serve " in log_text and "--tokenizer-mode='mistral'" not in log_text
    assert "Application startup complete" in log_text
    m.stop()
    assert not process_alive(pid)
    assert "Shutting down (SIGTERM)" in launch.log_path(cfg).read_text()
    assert launch.read_record(cfg.port) is None
    assert m.state == "stopped"


@pytest.mark.parametrize(("env", "extra", "expected"), [
    ({"VLLM_DOUBLE_FAIL_START": "CUDA out of memory. Tried to allocate 2.00 GiB"}, "",
     "CUDA out of memory"),
    ({}, "--no-such-flag", "unrecognized arguments: --no-such-flag"),
])
def test_a_failed_start_says_why_with_the_log_tail(machine: Path, managers: list[ServerManager],
                                                   env: dict[str, str], extra: str,
                                                   expected: str) -> None:
    cfg = config(free_port(), machine, extra_args=extra)
    m = manager(cfg, replace(QUICK, max_restarts=0), **env)
    managers.append(m)
    m.start()
    with pytest.raises(ServerError) as info:
        m.wait_ready(30)
    message = str(info.value)
    assert "while starting" in message and expected in message
    assert str(launch.log_path(cfg)) in message
    assert "\n" not in message
    deadline = time.monotonic() + 10
    while m.state != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_startup_timeout_kills_it(machine: Path, managers: list[ServerManager]) -> None:
    cfg = config(free_port(), machine, startup_timeout_s=1.0)
    m = manager(cfg, replace(QUICK, max_restarts=0), VLLM_DOUBLE_STARTUP_S="60")
    managers.append(m)
    m.start()
    deadline = time.monotonic() + 10
    while m.pid is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = m.pid
    with pytest.raises(ServerError, match=r"did not answer /health within 1 s: .*vLLM API"):
        m.wait_ready(30)
    assert not process_alive(pid)


def test_a_crash_is_restarted_with_backoff(machine: Path, managers: list[ServerManager]) -> None:
    counter = machine / "starts"
    cfg = config(free_port(), machine)
    m = manager(cfg, replace(QUICK, restart_backoff_s=0.4), VLLM_DOUBLE_CRASH_AFTER_S="0.5",
                VLLM_DOUBLE_CRASHES="2",
                VLLM_DOUBLE_COUNTER=str(counter))
    managers.append(m)
    m.start()
    m.wait_ready(30)
    first = m.pid
    started = time.monotonic()
    deadline = started + 30
    while not (m.starts == 3 and m.state == "ready"):  # two crashes, restarted twice
        assert time.monotonic() < deadline, (m.starts, m.state, m.error)
        time.sleep(0.05)
    took = time.monotonic() - started
    assert took >= 0.5 + 0.4 + 0.5 + 0.8  # each life 0.5 s, then backoff 0.4 s, then 0.8 s
    assert m.pid != first and counter.read_text() == "3"
    assert "EngineCore died unexpectedly" in m.error  # why it last went down
    time.sleep(1.0)
    assert m.state == "ready" and health(m.url, 1.0) == 200  # the third life stays up


def test_it_gives_up_after_max_restarts(machine: Path, managers: list[ServerManager]) -> None:
    cfg = config(free_port(), machine)
    m = manager(cfg, replace(QUICK, restart_backoff_s=0.1, max_restarts=1),
                VLLM_DOUBLE_CRASH_AFTER_S="0.2", VLLM_DOUBLE_CRASHES="99",
                VLLM_DOUBLE_COUNTER=str(machine / "starts"))
    managers.append(m)
    m.start()
    deadline = time.monotonic() + 30
    while m.state != "failed":
        assert time.monotonic() < deadline, m.state
        time.sleep(0.05)
    assert m.starts == 2 and "gave up after 2 failed starts in a row" in m.error


def test_sigkill_after_the_grace_period(machine: Path, managers: list[ServerManager],
                                        caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(free_port(), machine)
    m = manager(cfg, replace(QUICK, stop_grace_s=1.0), VLLM_DOUBLE_IGNORE_SIGTERM="1")
    managers.append(m)
    m.start()
    m.wait_ready(30)
    pid = m.pid
    assert pid is not None
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        m.stop()
    assert 1.0 <= time.monotonic() - started < 5.0
    assert not process_alive(pid)
    assert "SIGKILL" in caplog.text


def test_attaches_to_a_server_that_already_answers(machine: Path) -> None:
    port = free_port()
    cfg = config(port, machine)
    with Double(port, machine / "other.log", env={"VLLM_DOUBLE_ASR": "echo"}) as other:
        backend = VoxtralRecogniser(replace(Config(), voxtral=cfg))
        backend.load()
        assert backend.attached and backend.server is None and backend.state() == "attached"
        backend.close()
        assert health(other.url, 1.0) == 200  # not ours: left running
        wrong = VoxtralRecogniser(replace(Config(), voxtral=replace(cfg, model="acme/other")))
        with pytest.raises(ModelError, match="serves mistralai/Voxtral-Mini-3B-2507, not "
                                             "acme/other"):
            wrong.load()
    alone = VoxtralRecogniser(replace(Config(), voxtral=replace(cfg, manage_server=False)),
                               start_server=start_local)
    with pytest.raises(ModelError, match=r"no vLLM server answers .*manage_server = false"):
        alone.load()
    with pytest.raises(ModelError, match=r"no vLLM server answers .*starts no server"):
        VoxtralRecogniser(replace(Config(), voxtral=cfg)).load()  # given no way to start one


def test_start_refuses_without_vllm_or_a_gpu(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither vllm nor nvidia-smi
    cfg = replace(config(free_port(), tmp_path), server_command="vllm")
    with pytest.raises(ModelError, match="vLLM is not installed"):
        VoxtralRecogniser(replace(Config(), voxtral=cfg), start_server=start_local).load()
    cfg = config(free_port(), tmp_path)  # the double is "installed", but there is no GPU
    with pytest.raises(ModelError, match=r"no GPU found .*vLLM on CPU is not a supported"):
        VoxtralRecogniser(replace(Config(), voxtral=cfg), start_server=start_local).load()


AGENT = """
import sys, time
from dataclasses import replace
from agent.config import Config
from agent.asr.voxtral import VoxtralRecogniser
from agent.asr.config import VoxtralConfig
from agent.voxtral.server import start_local
cfg = VoxtralConfig(**__import__("json").loads(sys.argv[1]))
backend = VoxtralRecogniser(replace(Config(), voxtral=cfg), start_server=start_local)
backend.load()
print(backend.server.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_server_does_not_outlive_the_agent(machine: Path, how: signal.Signals) -> None:
    cfg = config(free_port(), machine, model=str(fake_model(machine / "model")))
    fields = {k: getattr(cfg, k) for k in ("model", "port", "server_command",
                                           "startup_timeout_s")}
    agent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(AGENT), json.dumps(fields)],
                             env={**os.environ, "VLLM_DOUBLE_ASR": "echo"},
                             stdout=subprocess.PIPE, text=True)
    assert agent.stdout is not None
    try:
        server_pid = int(agent.stdout.readline())
        url = f"http://127.0.0.1:{cfg.port}/v1"
        assert health(url, 1.0) == 200
        agent.send_signal(how)
        agent.wait(TIMEOUT)
    finally:
        agent.kill()  # (if a check above failed; the server then goes with it)
        agent.wait(TIMEOUT)
    wait_down(url)
    deadline = time.monotonic() + 10
    while process_alive(server_pid):
        assert time.monotonic() < deadline, "the server outlived the agent"
        time.sleep(0.05)
    assert "Shutting down (SIGTERM)" in launch.log_path(cfg).read_text()


def voxagent(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXAGENT_CONFIG_DIR": str(home / "config"),
           "VOXAGENT_STATE_DIR": str(home / "state"), "VLLM_DOUBLE_ASR": "echo"}
    return subprocess.run([sys.executable, "-m", "agent", *args], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False, cwd=home)


def test_server_commands(machine: Path) -> None:
    port = free_port()
    (machine / "config").mkdir()
    model = fake_model(machine / "model")
    (machine / "config" / "config.toml").write_text(
        toml_config(port, machine, f"model = {json.dumps(str(model))}\n"))
    try:
        started = voxagent(machine, "server", "start")
        assert started.returncode == 0, started.stderr
        assert f"vLLM ready at http://127.0.0.1:{port}/v1" in started.stdout
        status = voxagent(machine, "server", "status")
        assert status.returncode == 0, status.stderr
        assert "health: ready" in status.stdout and "started by voxagent server start" in \
            status.stdout and f"model: {model} (max_model_len 4864)" in status.stdout
        again = voxagent(machine, "server", "start")
        assert "already answers" in again.stdout
        logs = voxagent(machine, "server", "logs", "-n", "50")
        assert "Application startup complete" in logs.stdout
        stopped = voxagent(machine, "server", "stop")
        assert stopped.returncode == 0 and "terminated" in stopped.stdout, stopped.stderr
        wait_down(f"http://127.0.0.1:{port}/v1")
        down = voxagent(machine, "server", "status")
        assert down.returncode == 1 and "health: not answering" in down.stdout
        assert "no vLLM server is running" in voxagent(machine, "server", "stop").stdout
    finally:  # a detached server must not outlive a failed test
        voxagent(machine, "server", "stop")


def test_server_start_without_vllm_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text('[voxtral]\nserver_command = '
                                                     '"no-such-vllm"\n')
    result = voxagent(tmp_path, "server", "start")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("voxagent: error: vLLM is not installed ('no-such-vllm'")


# --- a failed start leaves nothing running (issue 12, item 4) -----------------------------

def _mount_tmpfs(folder: Path, how: str) -> None:
    """A real state folder that is read-only ("ro") or full ("full"): a small tmpfs."""
    namespace.mount_tmpfs(folder, "64k", "0700")
    if how == "ro":
        namespace.make_read_only(folder)
    else:
        with pytest.raises(OSError, match="No space"), \
                (folder / "filler").open("wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)


@pytest.fixture
def small_state(machine: Path) -> Iterator[Path]:
    """Where the test mounts the state folder (the test is marked `mounts`)."""
    folder = machine / "state"
    yield folder
    namespace.unmount(folder)


def servers_on(port: int) -> list[int]:
    """Pids of processes whose command line serves `port` (the double, however started)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--port" in argv and str(port).encode() in argv and process_alive(int(proc.name)):
                found.append(int(proc.name))
    return found


@pytest.mark.mounts
@pytest.mark.parametrize(("how", "why"), [("ro", "Read-only file system"),
                                          ("full", "No space left on device")])
def test_server_start_with_an_unwritable_state_folder_starts_nothing(
        machine: Path, small_state: Path, how: str, why: str) -> None:
    port = free_port()
    (machine / "config").mkdir()
    model = fake_model(machine / "model")
    (machine / "config" / "config.toml").write_text(
        toml_config(port, machine, f"model = {json.dumps(str(model))}\n"))
    _mount_tmpfs(small_state, how)
    result = voxagent(machine, "server", "start")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines() == [
        f"voxagent: error: cannot write the server's record {small_state}/vllm-{port}.json: "
        f"{why}; nothing was started"]
    assert servers_on(port) == [] and health(f"http://127.0.0.1:{port}/v1", 1.0) is None
    assert "no vLLM server is running" in voxagent(machine, "server", "stop").stdout
    assert not [p for p in small_state.iterdir() if p.name != "filler"]  # no temp file left


def test_an_interrupted_server_start_stops_the_server(machine: Path) -> None:
    """A failure after the process started (here Ctrl+C while it loads) kills its group
    and removes its record: one line, no traceback, nothing left running."""
    port = free_port()
    (machine / "config").mkdir()
    model = fake_model(machine / "model")
    (machine / "config" / "config.toml").write_text(
        toml_config(port, machine, f"model = {json.dumps(str(model))}\n"))
    env = {**os.environ, "VOXAGENT_CONFIG_DIR": str(machine / "config"),
           "VOXAGENT_STATE_DIR": str(machine / "state"), "VLLM_DOUBLE_ASR": "echo",
           "VLLM_DOUBLE_STARTUP_S": "600"}
    start = subprocess.Popen([sys.executable, "-m", "agent", "server", "start"], env=env,
                             stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             cwd=machine)
    try:
        assert start.stderr is not None
        line = start.stderr.readline()
        assert line.startswith("vLLM starting (pid "), line
        pid = int(line.split("(pid ")[1].split(")")[0])
        assert launch.read_record(port) is not None and launch.read_record(port).pid == pid
        log_file = machine / "state" / f"vllm-{port}.log"
        deadline = time.monotonic() + TIMEOUT
        while "vLLM API server version" not in log_file.read_text():  # it is loading
            assert start.poll() is None and time.monotonic() < deadline, log_file.read_text()
            time.sleep(0.05)
        start.send_signal(signal.SIGINT)
        rest = start.stderr.read()
        assert start.wait(TIMEOUT) == 130
    finally:
        start.kill()
        start.wait(TIMEOUT)
    assert "Traceback" not in rest and rest.splitlines() == [f"vLLM (pid {pid}) terminated"]
    assert not process_alive(pid) and servers_on(port) == []
    assert launch.read_record(port) is None


@pytest.mark.mounts
def test_the_agents_server_on_a_read_only_state_folder(
        machine: Path, small_state: Path, managers: list[ServerManager],
        monkeypatch: pytest.MonkeyPatch) -> None:
    crashed: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    _mount_tmpfs(small_state, "ro")
    cfg = config(free_port(), machine)
    m = manager(cfg, replace(QUICK, max_restarts=0))
    managers.append(m)
    m.start()
    with pytest.raises(ServerError, match=r"cannot write the server's record .*Read-only file "
                                          r"system; nothing was started"):
        m.wait_ready(30)
    deadline = time.monotonic() + TIMEOUT
    while m.state != "failed":
        assert time.monotonic() < deadline, m.state
        time.sleep(0.05)
    assert m.pid is None and servers_on(cfg.port) == [] and crashed == []


def test_the_monitor_thread_ends_with_one_line(machine: Path, managers: list[ServerManager],
                                               monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    crashed: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    cfg = config(free_port(), machine)
    m = manager(cfg)
    managers.append(m)

    def broken() -> None:
        raise RuntimeError("the listener broke")

    m.on_ready = broken
    with caplog.at_level(logging.ERROR):
        m.start()
        deadline = time.monotonic() + TIMEOUT
        while m.state != "failed":
            assert time.monotonic() < deadline, m.state
            time.sleep(0.05)
    assert crashed == [] and "vLLM monitor stopped: RuntimeError: the listener broke" in \
        caplog.text
    assert m.pid is not None and not process_alive(m.pid) and launch.read_record(cfg.port) is None


# --- a server open to the network -------------------------------------------------------------

def test_a_non_loopback_host_without_a_key_is_refused(machine: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    (machine / "config").mkdir()
    model = fake_model(machine / "model")
    (machine / "config" / "config.toml").write_text(
        toml_config(port, machine, f'model = {json.dumps(str(model))}\nhost = "0.0.0.0"\n'))
    result = voxagent(machine, "server", "start")
    assert result.returncode == 1 and result.stderr.splitlines() == [
        "voxagent: error: voxtral.host = '0.0.0.0' would open the vLLM server to the network "
        "with no API key: keep 127.0.0.1, set voxtral.api_key, or allow it "
        "(voxtral.allow_remote = true, or server start --allow-remote)"]
    assert servers_on(port) == []
    with pytest.raises(ModelError, match="would open the vLLM server to the network"):
        VoxtralRecogniser(replace(Config(), voxtral=config(port, machine, host="0.0.0.0")),
                           start_server=start_local).load()
    with caplog.at_level(logging.WARNING):
        launch.check_exposure(config(port, machine, host="0.0.0.0", allow_remote=True))
        launch.check_exposure(config(port, machine, host="192.0.2.7", api_key="k"))
        launch.check_exposure(config(port, machine, host="localhost"))
        launch.check_exposure(config(port, machine, host="::1"))
    assert [r.getMessage().split(",")[1] for r in caplog.records] == [
        " reachable from other machines with NO API key (voxtral.allow_remote)",
        " reachable from other machines (the API key is required)"]
