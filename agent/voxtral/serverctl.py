"""`voxagent server start|stop|status|logs`: a vLLM server that outlives the command.

`start` launches it detached (its own session, recorded in the state folder) and waits
for /health; the agent then attaches to it and leaves it running when it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from agent.asr.base import ModelError
from agent.asr.config import VoxtralConfig
from agent.asr.voxtral_client import ServerError, VoxtralClient, VoxtralError, health
from agent.errors import CliError
from agent.voxtral import launch, models


def _local(cfg: VoxtralConfig) -> VoxtralClient:
    if cfg.base_url:
        raise CliError(f"voxtral.base_url is set ({cfg.base_url}): that server is managed "
                       "where it runs, not from here")
    return VoxtralClient(cfg)


def start(args: argparse.Namespace, cfg: VoxtralConfig) -> int:
    client = _local(cfg)
    if health(client.url, 2.0) == 200:
        rec = launch.read_record(cfg.port)
        print(f"vLLM already answers at {client.url}" + (f" (pid {rec.pid})" if rec else ""))
        return 0
    try:
        launch.preflight(cfg)
        path = models.ensure(cfg)
    except (ServerError, ModelError) as exc:
        raise CliError(str(exc), 1) from None
    argv = launch.server_argv(cfg, str(path))
    log_file = launch.log_path(cfg)
    try:
        proc = launch.start_recorded(argv, launch.server_env(cfg), log_file, cfg.port, 0,
                                     launch.STOP_GRACE_S, detached=True)
    except ServerError as exc:
        raise CliError(str(exc), 1) from None
    if args.no_wait:
        print(f"vLLM starting (pid {proc.pid}); log: {log_file}")
        return 0
    print(f"vLLM starting (pid {proc.pid}), waiting for {client.url}/health; log: {log_file}",
          file=sys.stderr)
    error = "interrupted while it was starting"
    try:
        error = launch.await_ready(proc, client.url, cfg.startup_timeout_s, log_file)
    finally:  # a start that did not end ready leaves nothing running
        if error:
            how = launch.terminate(proc.pid, launch.STOP_GRACE_S, proc)
            launch.remove_record(cfg.port, proc.pid)
            print(f"vLLM (pid {proc.pid}) {how}", file=sys.stderr)
    if error:
        raise CliError(error, 1)
    print(f"vLLM ready at {client.url} (pid {proc.pid})")
    return 0


def stop(args: argparse.Namespace, cfg: VoxtralConfig) -> int:
    client = _local(cfg)
    rec = launch.read_record(cfg.port)
    if rec is None:
        if health(client.url, 2.0) is not None:
            raise CliError(f"a server answers at {client.url} but voxagent did not start it "
                           "(no record); stop it where it was started", 1)
        print(f"no vLLM server is running on port {cfg.port}")
        return 0
    how = launch.terminate(rec.pid, launch.STOP_GRACE_S)
    launch.remove_record(cfg.port, rec.pid)
    print(f"vLLM (pid {rec.pid}) {how}")
    return 0


def status(args: argparse.Namespace, cfg: VoxtralConfig) -> int:
    client = VoxtralClient(cfg)
    code = health(client.url, 2.0)
    rec = None if cfg.base_url else launch.read_record(cfg.port)
    state = "ready" if code == 200 else "not answering" if code is None else f"HTTP {code}"
    print(f"url: {client.url}\nhealth: {state}")
    if rec is not None:
        owner = "voxagent server start" if rec.owner == 0 else f"the agent (pid {rec.owner})"
        print(f"pid: {rec.pid} (started by {owner})\nlog: {rec.log}")
    if code == 200:
        try:
            for m in client.models():
                print(f"model: {m.get('id')} (max_model_len {m.get('max_model_len')})")
        except VoxtralError as exc:
            print(f"models: {exc}")
    return 0 if code == 200 else 1


def logs(args: argparse.Namespace, cfg: VoxtralConfig) -> int:
    rec = launch.read_record(cfg.port)
    path = launch.log_path(cfg) if rec is None else Path(rec.log)
    if not path.exists():
        raise CliError(f"{path}: no server log yet", 1)
    for line in launch.tail(path, max(1, args.lines)):
        print(line)
    if args.follow:
        _follow(path)
    return 0


def _follow(path: Path) -> None:
    with path.open("rb") as f, contextlib.suppress(KeyboardInterrupt):
        f.seek(0, 2)
        while True:
            line = f.readline()
            if line:
                sys.stdout.write(line.decode("utf-8", errors="replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.2)
