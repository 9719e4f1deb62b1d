"""The Voxtral subcommands: `server start|stop|status|logs`, `features`, `ask`, `summarize`.

Registered from agent/cli.py; every handler takes (args, cfg) and returns the exit status,
raising CliError for a one-line failure.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import CliError

if TYPE_CHECKING:
    from agent.asr.voxtral import VoxtralRecogniser
    from agent.config import Config


def add_parsers(sub: Any) -> None:
    server = sub.add_parser("server", help="the local vLLM server for Voxtral")
    action = server.add_subparsers(dest="server_action", metavar="ACTION", required=True)
    start = action.add_parser("start", help="start it in the background (downloads the "
                              "model once) and wait until it is ready")
    start.add_argument("--no-wait", action="store_true", help="return once it is launched")
    start.add_argument("--allow-remote", action="store_true",
                       help="let it listen on a non-loopback voxtral.host with no API key")
    start.add_argument("--realtime", action="store_true", help="serve the streaming model "
                       "(voxtral.realtime_model), as voxtral.mode = \"realtime\" does")
    action.add_parser("stop", help="stop the server `server start` (or an agent) started")
    action.add_parser("status", help="is it running, ready, and what does it serve")
    logs = action.add_parser("logs", help="print the end of the server's log")
    logs.add_argument("-n", "--lines", type=int, default=40, help="how many lines")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")

    sub.add_parser("features", help="list the Voxtral features and whether they are on")
    ask = sub.add_parser("ask", help="ask Voxtral a question about a recording")
    ask.add_argument("file", type=Path)
    ask.add_argument("question")
    summ = sub.add_parser("summarize", help="summarise a recording with Voxtral")
    summ.add_argument("file", type=Path)


def cmd_server(args: argparse.Namespace, cfg: Config) -> int:

    from agent.asr.config import served
    from agent.voxtral import serverctl

    vox = cfg.voxtral
    if getattr(args, "allow_remote", False):
        vox = replace(vox, allow_remote=True)
    if getattr(args, "realtime", False):
        vox = replace(vox, mode="realtime")
    actions = {"start": serverctl.start, "stop": serverctl.stop, "status": serverctl.status,
               "logs": serverctl.logs}
    return int(actions[args.server_action](args, served(vox)))


def cmd_features(args: argparse.Namespace, cfg: Config) -> int:
    from agent.asr.voxtral_client import VoxtralClient, health
    from agent.asr.voxtral_features import FEATURES

    client = VoxtralClient(cfg.voxtral)
    code = health(client.url, 2.0)
    where = "ready" if code == 200 else "not answering" if code is None else f"HTTP {code}"
    print(f"server: {client.url} ({where}); recognition backend: {cfg.recognition.backend}")
    down = "" if code == 200 else "no server (voxagent server start)"
    for feature in FEATURES.values():
        why = feature.availability(cfg.voxtral)
        state = why or down or "on"
        print(f"{feature.name:15} {state:40} {feature.description}")
    return 0


def _connected(cfg: Config) -> VoxtralRecogniser:
    from agent.asr.base import ModelError
    from agent.asr.voxtral import VoxtralRecogniser
    from agent.asr.voxtral_client import require_openai
    from agent.voxtral.server import start_local

    backend = VoxtralRecogniser(cfg, start_server=start_local)
    try:
        require_openai()
        backend.load()
    except ModelError as exc:
        raise CliError(str(exc), 1) from None
    return backend


def _run_feature(cfg: Config, name: str, path: Path, text: str = "") -> int:
    from agent.asr.voxtral_client import VoxtralError
    from agent.asr.voxtral_features import FeatureRequest, get
    from agent.audio.file_source import AudioFileError, read_audio

    try:
        pcm = read_audio(path).tobytes()
        feature = get(name, cfg.voxtral)
    except (AudioFileError, VoxtralError) as exc:
        raise CliError(str(exc)) from None
    backend = _connected(cfg)
    try:
        started = time.monotonic()
        result = feature.execute(backend.client, FeatureRequest(pcm, text))
    except VoxtralError as exc:
        raise CliError(str(exc), 1) from None
    finally:
        backend.close()
    print(result.text)
    print(f"({name} by voxtral in {time.monotonic() - started:.1f} s)", file=sys.stderr)
    return 0


def cmd_ask(args: argparse.Namespace, cfg: Config) -> int:
    return _run_feature(cfg, "qa", args.file, args.question)


def cmd_summarize(args: argparse.Namespace, cfg: Config) -> int:
    return _run_feature(cfg, "summarization", args.file)


COMMANDS = {"server": cmd_server, "features": cmd_features, "ask": cmd_ask,
            "summarize": cmd_summarize}
