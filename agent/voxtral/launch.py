"""Starting and ending a vLLM process: its command line, the checks before it, the spawn
(own process group, dies with us), the group's termination, the pid file and the log.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.asr.config import VoxtralConfig
from agent.asr.voxtral_client import ServerError, api_key
from agent.paths import open_private, private_state, state_dir

log = logging.getLogger(__name__)


STOP_GRACE_S = 10.0
"""After SIGTERM, the seconds a server has to exit before SIGKILL."""

REALTIME_FLAGS = ("--enforce-eager",)
"""Added for the realtime model (voxtral.mode = "realtime"): vLLM's realtime examples serve
it eagerly; Voxtral Realtime refuses full CUDA graphs (vllm/model_executor/models/
voxtral_realtime.py), which eager mode never captures."""


def server_argv(cfg: VoxtralConfig, model_path: str) -> list[str]:
    """`vllm serve` with the flags Voxtral needs (Mistral formats), as configured."""
    argv = [*shlex.split(cfg.server_command), "serve", model_path,
            "--served-model-name", cfg.model,
            "--tokenizer_mode", "mistral", "--config_format", "mistral",
            "--load_format", "mistral",
            "--max-model-len", str(cfg.max_model_len),
            "--host", cfg.host, "--port", str(cfg.port),
            "--tensor-parallel-size", str(cfg.tensor_parallel_size),
            "--gpu-memory-utilization", f"{cfg.gpu_memory_utilization:g}"]
    if cfg.command_intent:
        argv += ["--tool-call-parser", "mistral", "--enable-auto-tool-choice"]
    if cfg.mode == "realtime":
        argv += REALTIME_FLAGS
    return argv + shlex.split(cfg.extra_args)


def server_env(cfg: VoxtralConfig) -> dict[str, str]:
    """The server's environment: ours, plus the API key (never on the command line)."""
    key = api_key(cfg)
    return {**os.environ, **({"VLLM_API_KEY": key} if key != "EMPTY" else {})}


def gpu_count() -> int:
    """GPUs that vLLM could use: what `nvidia-smi -L` lists (or 1 for a ROCm /dev/kfd)."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=15,
                                 check=False).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("nvidia-smi failed: %s", exc)
            out = ""
        count = sum(1 for line in out.splitlines() if line.startswith("GPU "))
        if count:
            return count
    return 1 if Path("/dev/kfd").exists() and shutil.which("rocm-smi") else 0


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or "localhost"."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def check_exposure(cfg: VoxtralConfig) -> None:
    """Refuse to start a server on a non-loopback host with no API key unless allowed
    (voxtral.allow_remote, --allow-remote); warn whenever it will be reachable."""
    if is_loopback(cfg.host):
        return
    keyless = api_key(cfg) == "EMPTY"
    if keyless and not cfg.allow_remote:
        raise ServerError(f"voxtral.host = {cfg.host!r} would open the vLLM server to the "
                          "network with no API key: keep 127.0.0.1, set voxtral.api_key, or "
                          "allow it (voxtral.allow_remote = true, or server start "
                          "--allow-remote)")
    log.warning("vLLM will listen on %s port %d, reachable from other machines%s", cfg.host,
                cfg.port, " with NO API key (voxtral.allow_remote)" if keyless else
                " (the API key is required)")


def preflight(cfg: VoxtralConfig) -> None:
    """Refuse, with one line, to start a server that cannot work here (or should not)."""
    check_exposure(cfg)
    cpu = "vLLM on CPU is not a supported way to serve Voxtral"
    if not cfg.use_gpu:
        raise ServerError(f"{cpu} (voxtral.use_gpu = false); use a GPU machine or a remote "
                          "server (voxtral.base_url)")
    try:
        program = shlex.split(cfg.server_command)[0]
    except (ValueError, IndexError):
        raise ServerError(f"voxtral.server_command {cfg.server_command!r} names no "
                          "program") from None
    if shutil.which(program) is None:
        raise ServerError(f"vLLM is not installed ('{program}' is not on PATH): install it "
                          "with pip install -U \"vllm[audio]\" on a machine with a GPU, or set "
                          "voxtral.base_url to a remote server")
    found = gpu_count()
    if found == 0:
        raise ServerError(f"no GPU found (nvidia-smi lists none): {cpu}; use a remote server "
                          "(voxtral.base_url)")
    if found < cfg.tensor_parallel_size:
        raise ServerError(f"voxtral.tensor_parallel_size = {cfg.tensor_parallel_size} but only "
                          f"{found} GPU(s) found")


_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n")
"""Run as `python -c _WITH_PARENT PARENT ARGV...`: SIGTERM when the thread that started it
dies (even by SIGKILL), no start at all if that parent is already gone, then exec ARGV in
place (same pid). A fresh interpreter does it, not a preexec_fn, which can deadlock in the
child of a process with threads."""


def _with_parent(argv: list[str], parent: int) -> list[str]:
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-c", _WITH_PARENT, str(parent), *argv]


def spawn(argv: list[str], env: dict[str, str], log_path: Path,
          detached: bool = False) -> subprocess.Popen[bytes]:
    """Start the server in its own process group, its output appended to `log_path`.  Unless
    `detached`, it gets SIGTERM when the spawning thread (or the whole agent) dies."""
    parent = os.getpid()
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = log_path.open("ab")
    except OSError as exc:
        raise ServerError(f"cannot write the server log {log_path}: "
                          f"{exc.strerror or exc}") from None
    with out:
        try:
            out.write(f"\n--- voxagent {time.strftime('%Y-%m-%d %H:%M:%S')}: "
                      f"{shlex.join(argv)}\n".encode())
            out.flush()
        except OSError as exc:
            raise ServerError(f"cannot write the server log {log_path}: "
                              f"{exc.strerror or exc}") from None
        try:
            return subprocess.Popen(
                argv if detached else _with_parent(argv, parent), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                close_fds=True)
        except OSError as exc:
            raise ServerError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None


def start_recorded(argv: list[str], env: dict[str, str], log_file: Path, port: int,
                   owner: int, grace: float, detached: bool = False) -> subprocess.Popen[bytes]:
    """Spawn the server with its pid record: the record's file is made and its space
    taken before anything starts (a read-only or full state folder starts nothing), then
    written with the pid and renamed into place. Whatever fails after the start, the
    process group is killed. Raise ServerError (one line)."""
    path = record_path(port)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    size = len(_record_bytes(Record(2**31, port, tuple(argv), str(log_file), owner)))
    try:
        private_state(path.parent)  # not a folder others own or can write in
        f = os.fdopen(open_private(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC), "r+b",
                      buffering=0)  # unbuffered: a write fails where it is made
    except OSError as exc:
        raise ServerError(f"cannot write the server's record {path}: "
                          f"{exc.strerror or exc}; nothing was started") from None
    proc: subprocess.Popen[bytes] | None = None
    try:
        with f:
            try:
                f.write(b" " * size)  # the space the record needs, taken before the start
                os.fsync(f.fileno())
            except OSError as exc:
                raise ServerError(f"cannot write the server's record {path}: "
                                  f"{exc.strerror or exc}; nothing was started") from None
            proc = spawn(argv, env, log_file, detached)
            f.seek(0)
            f.write(_record_bytes(Record(proc.pid, port, tuple(argv), str(log_file), owner)))
            f.truncate()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if proc is not None:
            how = terminate(proc.pid, grace, proc)
            log.warning("vLLM (pid %d) %s: its record could not be written", proc.pid, how)
        if isinstance(exc, OSError):
            raise ServerError(f"cannot write the server's record {path}: {exc.strerror or exc}"
                              f"; {'nothing was started' if proc is None else 'it was stopped'}"
                              ) from None
        raise
    return proc


def await_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, log_file: Path,
                stopping: threading.Event | None = None, poll: float = 0.25) -> str:
    """Poll /health until it answers 200 (connection refused means still starting): "" when
    ready, else why not, with the log's tail (the process is killed after `timeout`)."""
    from agent.asr.voxtral_client import health

    deadline = time.monotonic() + timeout
    while stopping is None or not stopping.is_set():
        code = proc.poll()
        if code is not None:
            return f"vLLM exited with status {code} while starting: {tail_line(log_file)}"
        if health(url, 2.0) == 200:
            return ""
        if time.monotonic() > deadline:
            terminate(proc.pid, 5.0, proc)
            return f"vLLM did not answer /health within {timeout:g} s: {tail_line(log_file)}"
        time.sleep(poll)
    return "stopped while starting"


def tail_line(path: Path) -> str:
    """The log's last lines on one line, for an error message."""
    lines = tail(path, 5)
    return " | ".join(lines) + f" (log: {path})" if lines else f"(nothing in {path})"


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(pid: int, grace: float, proc: subprocess.Popen[bytes] | None = None) -> str:
    """SIGTERM the process group led by `pid`, SIGKILL whatever is left after `grace`
    seconds; how it ended ("terminated", "killed" or "gone")."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc is not None:
                proc.poll()
            if not group_alive(pid):
                return "terminated"
            time.sleep(0.05)
        log.warning("vLLM (pid %d) still running %.0f s after SIGTERM: SIGKILL", pid, grace)
        os.killpg(pid, signal.SIGKILL)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        return "killed"
    return "gone"


def tail(path: Path, lines: int = 12) -> list[str]:
    """The last lines of the log (bytes that are not UTF-8 replaced)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def log_path(cfg: VoxtralConfig) -> Path:
    """The server's output, beside its pid record (record_path)."""
    return state_dir() / f"vllm-{cfg.port}.log"


# --- the pid file: what `voxagent server stop|status` find ---------------------------------

@dataclass(frozen=True, slots=True)
class Record:
    pid: int
    port: int
    argv: tuple[str, ...]
    log: str
    owner: int
    """The agent's pid when it manages the server; 0 for `voxagent server start`."""


def record_path(port: int) -> Path:
    return state_dir() / f"vllm-{port}.json"


def _record_bytes(rec: Record) -> bytes:
    return json.dumps({"pid": rec.pid, "port": rec.port, "argv": list(rec.argv),
                       "log": rec.log, "owner": rec.owner}).encode()


def read_record(port: int) -> Record | None:
    """The record of a server we started on `port` that still runs, else None (a stale
    record, whose process is gone or is now another program, is removed)."""
    path = record_path(port)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rec = Record(int(data["pid"]), int(data["port"]), tuple(data["argv"]), str(data["log"]),
                     int(data.get("owner", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    rest = list(rec.argv[1:])  # an interpreter may stand before a script's own name
    if not rest or _cmdline(rec.pid)[-len(rest):] != rest:
        path.unlink(missing_ok=True)
        return None
    return rec


def remove_record(port: int, pid: int) -> None:
    rec_path = record_path(port)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(rec_path.read_text(encoding="utf-8")).get("pid") == pid:
            rec_path.unlink()


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
