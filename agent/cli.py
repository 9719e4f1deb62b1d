"""The `voxagent` command: run, transcribe, commands, devices, config."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent import __version__
from agent.asr.base import BACKENDS
from agent.config import Config, ConfigError, load_config
from agent.errors import CONFIG_ERROR, LOCK_HELD, CliError
from agent.paths import config_file

log = logging.getLogger("agent")


def _common(suppress: bool) -> argparse.ArgumentParser:
    """--config and -v, taken before or after the subcommand (the subcommand's copy leaves
    the value alone unless given, so `--config F run` keeps F)."""
    p = argparse.ArgumentParser(add_help=False)
    unset: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("--config", type=Path, help="config file (default: the user's config.toml)",
                   **({"default": None} | unset))
    p.add_argument("-v", "--verbose", action="count", help="more log output",
                   **({"default": 0} | unset))
    return p


class _Sub:
    """add_parser with the common options (--config, -v) on every subcommand."""

    def __init__(self, sub: Any) -> None:
        self._sub = sub
        self._common = _common(suppress=True)

    def add_parser(self, name: str, **kw: Any) -> argparse.ArgumentParser:
        return self._sub.add_parser(name, parents=[self._common], **kw)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voxagent", description="Talk to your computer; it acts.",
                                parents=[_common(suppress=False)])
    p.add_argument("--version", action="version", version=f"voxagent {__version__}")
    sub = _Sub(p.add_subparsers(dest="command", metavar="COMMAND"))

    run = sub.add_parser("run", help="listen and act (microphone, or --input FILE)")
    run.add_argument("--input", type=Path, help="audio file (WAV/FLAC) instead of the microphone")
    run.add_argument("--dry-run", action="store_true", help="perform nothing; report actions")
    run.add_argument("--json", action="store_true", help="one JSON object per utterance")
    run.add_argument("--fast", action="store_true", help="feed the file as fast as possible")
    run.add_argument("--model", help="Whisper model: embedded, base.en, small.en or a folder")
    run.add_argument("--device", help="input device name or index (overrides the config)")
    run.add_argument("--app", default="",
                     help="window class to assume in --dry-run (per-application commands)")
    run.add_argument("--push-to-talk", action="store_true",
                     help="start in push-to-talk: speech is taken only while the hotkey is held")
    run.add_argument("--hotkey", help="push-to-talk key (default F9; overrides the config)")
    run.add_argument("--toggle", action="store_true",
                     help="the hotkey toggles push-to-talk on and off instead of being held")
    run.add_argument("--no-tray", action="store_true", help="no tray icon")
    run.add_argument("--no-sounds", action="store_true", help="no sound cues")

    tr = sub.add_parser("transcribe", help="print what is said in an audio file")
    tr.add_argument("file", type=Path)
    tr.add_argument("--model", help="Whisper model: embedded, base.en, small.en or a folder")
    for parser in (run, tr):
        parser.add_argument("--backend", choices=tuple(sorted(BACKENDS)),
                            help="recogniser (overrides [recognition] backend)")

    cmds = sub.add_parser("commands", help="list the active commands, or check a file")
    cmds.add_argument("--check", type=Path, metavar="FILE", help="validate a command file")

    sub.add_parser("devices", help="list audio input devices")
    sub.add_parser("config", help="print the effective configuration")
    from agent.doctor import add_parser as add_doctor
    from agent.install import add_parsers as add_install
    from agent.voxtral.cli import add_parsers

    add_doctor(sub)
    add_install(sub)  # init, autostart
    add_parsers(sub)  # server, features, ask, summarize
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from agent.logsetup import setup

    setup(args.verbose)
    if args.command is None:
        build_parser().print_help()
        return 2
    try:
        if args.command in _WITHOUT_CONFIG:  # a broken config is theirs to report or fix
            return int(_WITHOUT_CONFIG[args.command](args))
        cfg = load_config(args.config or config_file())
        if args.config is not None and not args.config.exists():
            raise ConfigError(f"{args.config}: no such config file")
        return _COMMANDS[args.command](args, cfg)
    except (CliError, ConfigError) as exc:
        for line in str(exc).splitlines():  # a config file's problems: one line each
            print(f"voxagent: error: {line}", file=sys.stderr)
        return getattr(exc, "status", CONFIG_ERROR)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`voxagent commands | head`): stop quietly, as a
        # SIGPIPE-killed program would, and keep the exit-time flush from failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _with_overrides(args: argparse.Namespace, cfg: Config) -> Config:
    if getattr(args, "model", None):
        cfg = replace(cfg, whisper=replace(cfg.whisper, model=args.model))
    if getattr(args, "backend", None):
        cfg = replace(cfg, recognition=replace(cfg.recognition, backend=args.backend))
    if getattr(args, "device", None):
        cfg = replace(cfg, audio=replace(cfg.audio, device=args.device))
    return _desktop_overrides(args, cfg)


def _desktop_overrides(args: argparse.Namespace, cfg: Config) -> Config:
    d = cfg.desktop
    if getattr(args, "push_to_talk", False):
        d = replace(d, listen="push_to_talk")
    if getattr(args, "hotkey", None):
        from agent.desktop.hotkey_base import ALLOWED_KEYS, canonical_key

        key = canonical_key(args.hotkey)
        if key is None:
            raise CliError(f"--hotkey {args.hotkey!r}: expected {ALLOWED_KEYS}")
        d = replace(d, hotkey=key)
    if getattr(args, "toggle", False):
        d = replace(d, hotkey_style="toggle")
    if getattr(args, "no_sounds", False):
        d = replace(d, sounds=False)
    return replace(cfg, desktop=d) if d != cfg.desktop else cfg


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from agent.lock import LockHeld, acquire
    from agent.logsetup import add_file
    from agent.paths import PrivateError

    cfg = _with_overrides(args, cfg)
    held = None
    if not args.dry_run:  # two agents acting on the same speech would both act
        try:
            held = acquire()
        except LockHeld as exc:
            raise CliError(str(exc), LOCK_HELD) from None
        except PrivateError as exc:  # the lock there would not keep a second agent out
            raise CliError(f"{exc}; an acting run keeps its single-instance lock there: use "
                           "a state folder of your own (VOXAGENT_STATE_DIR), or --dry-run",
                           CONFIG_ERROR) from None
        except OSError as exc:
            raise CliError(f"cannot take the single-instance lock: {exc}", 1) from None
    add_file()  # a live run names it in its "listening" line, once it has started
    if args.input is None:  # live: before any thread starts (see agent/desktop/signals.py)
        from agent.desktop.signals import block_signals

        block_signals()
    from agent.runner import run_agent

    try:
        return run_agent(cfg, input_file=args.input, dry_run=args.dry_run, as_json=args.json,
                         fast=args.fast, app=args.app, tray=not args.no_tray)
    finally:
        if held is not None:
            held.release()


def cmd_transcribe(args: argparse.Namespace, cfg: Config) -> int:
    from agent.runner import transcribe_file

    return transcribe_file(_with_overrides(args, cfg), args.file,
                           lambda text: print(text, flush=True))


def cmd_commands(args: argparse.Namespace, cfg: Config) -> int:
    from agent.runner import check_command_file, list_commands

    if args.check:
        errors = check_command_file(cfg, args.check)
        for line in errors:
            print(line, file=sys.stderr)
        if not errors:
            print(f"{args.check}: ok")
        return 1 if errors else 0
    for line in list_commands(cfg):
        print(line)
    return 0


def cmd_devices(args: argparse.Namespace, cfg: Config) -> int:
    from agent.audio.mic_source import DeviceError, list_input_devices

    try:
        devices = list_input_devices()
    except DeviceError as exc:
        raise CliError(str(exc), 1) from None
    if not devices:
        raise CliError("no audio input device found", 1)
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:3d}  {d.name}  ({d.channels} ch, {d.default_rate:.0f} Hz)")
    return 0


def cmd_config(args: argparse.Namespace, cfg: Config) -> int:
    from agent.actions.launch import DEFAULT_APPS, resolve_app
    from agent.config import describe

    print(f"# effective configuration; file: {cfg.source or str(config_file()) + ' (absent)'}")
    print("\n".join(describe(cfg)))
    print("\n# apps used by launch actions (first installed default unless set above)")
    for name in sorted(set(DEFAULT_APPS) | set(cfg.apps)):
        argv = resolve_app(name, cfg.apps)
        print(f"# {name} = {json.dumps(list(argv)) if argv else 'not found'}")
    return 0


def cmd_voxtral(args: argparse.Namespace, cfg: Config) -> int:
    from agent.voxtral.cli import COMMANDS

    return int(COMMANDS[args.command](args, cfg))


def _doctor(args: argparse.Namespace) -> int:
    from agent.doctor import cmd_doctor

    return cmd_doctor(args)


def _install(args: argparse.Namespace) -> int:
    from agent.install import COMMANDS

    return COMMANDS[args.command](args)


_WITHOUT_CONFIG: dict[str, Any] = {"doctor": _doctor, "init": _install, "autostart": _install}
"""Subcommands that run whatever the config holds."""
_COMMANDS: dict[str, Any] = {
    "run": cmd_run, "transcribe": cmd_transcribe, "commands": cmd_commands,
    "devices": cmd_devices, "config": cmd_config,
    **dict.fromkeys(("server", "features", "ask", "summarize"), cmd_voxtral),
}

