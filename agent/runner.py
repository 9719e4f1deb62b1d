"""Builds the stages from the config and runs them (what the CLI subcommands call)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from agent.actions.base import ActionError, Executor
from agent.actions.launch import app_names
from agent.asr.base import Hint, ModelError, Transcriber, create
from agent.audio.file_source import AudioFileError, FileSource, read_audio
from agent.audio.mic_source import DeviceError, MicSource, resolve_device
from agent.audio.vad import Segmenter
from agent.cli import CliError, install_signal_handlers
from agent.config import Config
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandFileError, CommandLibrary, parse_file
from agent.messages import Outcome
from agent.paths import data_dir, user_commands_dir

log = logging.getLogger(__name__)


def command_library(cfg: Config) -> CommandLibrary:
    """Built-in sets (unless disabled), then the user's; errors are logged, never fatal."""
    folders = [data_dir("commands")] if cfg.commands.builtin else []
    folders.append(user_commands_dir(cfg.commands.user_dir))
    return CommandLibrary(folders, app_names(cfg.apps))


def list_commands(cfg: Config) -> list[str]:
    lib = command_library(cfg)
    lines = []
    for c in sorted(lib.commands, key=lambda c: (c.mode.value, c.app, c.origin)):
        where = f"{c.mode.value}" + (f" app~{c.app}" if c.app else "")
        does = "; ".join(_describe_action(a.kind, a.arg, a.count, a.formatter) for a in c.actions)
        lines.append(f"{where:10} {c.name:32} {does:34} {c.origin}")
    return lines


def _describe_action(kind: str, arg: str, count: str, fmt: str) -> str:
    text = f"{kind} {arg}" + (f":{fmt}" if fmt != "raw" else "")
    return text + (f" * {count}" if count != "1" else "")


def check_command_file(cfg: Config, path: Path) -> list[str]:
    try:
        parse_file(path, app_names(cfg.apps))
    except CommandFileError as exc:
        return [str(exc)]
    return []


def load_transcriber(cfg: Config) -> Transcriber:
    transcriber = create("whisper", cfg)
    try:
        transcriber.load()
    except ModelError as exc:
        raise CliError(str(exc)) from None
    return transcriber


def transcribe_file(cfg: Config, path: Path) -> str:
    try:
        pcm = read_audio(path)
    except AudioFileError as exc:
        raise CliError(str(exc)) from None
    transcriber = load_transcriber(cfg)
    return transcriber.transcribe(pcm.tobytes(), Hint()).text


def _executor(cfg: Config, dry_run: bool, app: str) -> Executor:
    if dry_run:
        from agent.actions.dryrun import DryRunExecutor

        return DryRunExecutor(app)
    from agent.actions.keyboard import DesktopExecutor

    try:
        return DesktopExecutor(cfg.apps, cfg.keyboard.key_delay_ms)
    except ActionError as exc:
        raise CliError(f"{exc} (use --dry-run to only report actions)") from None


def run_agent(cfg: Config, *, input_file: Path | None, dry_run: bool, as_json: bool,
              fast: bool, app: str = "") -> int:
    from agent.app import Pipeline

    if input_file is not None:
        try:
            source: FileSource | MicSource = FileSource(input_file, cfg.audio.block_ms, fast)
        except AudioFileError as exc:
            raise CliError(str(exc)) from None
    else:
        try:
            resolve_device(cfg.audio.device)
        except DeviceError as exc:
            raise CliError(f"{exc}".rstrip() if "--input" in str(exc)
                           else f"{exc} (or run on a recording with --input FILE)") from None
        source = MicSource(cfg.audio.device, cfg.audio.block_ms, cfg.audio.queue_blocks)
    executor = _executor(cfg, dry_run, app)
    library = command_library(cfg)
    dispatcher = Dispatcher(library.commands, cfg.commands.fuzzy_threshold,
                            cfg.commands.alternative_margin)
    transcriber = load_transcriber(cfg)
    printer = _json_line if as_json else _human_line
    closed: list[bool] = []

    def report(o: Outcome) -> None:
        try:
            printer(o, None if fast else source.started_at)
        except BrokenPipeError:
            # whoever reads our output went away (`| head -1`): stop quietly, as SIGPIPE would
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            closed.append(True)
            pipeline.stop()

    pipeline = Pipeline(source, Segmenter(cfg.vad, cfg.audio.block_ms), transcriber, dispatcher,
                        executor, report,
                        alternatives=cfg.whisper.alternatives,
                        verify_margin=cfg.commands.verify_margin, live=input_file is None)
    install_signal_handlers(pipeline.stop)
    if input_file is None:
        log.warning("listening on the microphone; Ctrl+C to stop")
    try:
        pipeline.run()
    except DeviceError as exc:
        raise CliError(str(exc), 1) from None
    return 141 if closed else 0


def _latency(o: Outcome, started_at: float | None) -> dict[str, float]:
    """Seconds from end of speech to: utterance closed, transcript ready, action performed.
    Only recognition time when the audio was not paced in real time (`started_at` None)."""
    if started_at is None:
        return {"recognised": round(o.transcript.seconds, 3)}
    speech_end = started_at + o.utterance.end
    return {
        "closed": round(o.utterance.closed_at - speech_end, 3),
        "recognised": round(o.transcript.seconds, 3),
        "performed": round(o.performed_at - speech_end, 3),
    }


def _json_line(o: Outcome, started_at: float | None) -> None:
    line = o.to_json() | {"latency": _latency(o, started_at)}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _human_line(o: Outcome, started_at: float | None) -> None:
    d = o.decision
    acts = ", ".join(json.dumps(a.to_json()["action"]) + " " + " ".join(
        str(v) for k, v in a.to_json().items() if k != "action") for a in d.actions)
    what = f"{d.command} -> {acts}" if d.command else (d.note or "-")
    stamp = time.strftime("%H:%M:%S")
    took = _latency(o, started_at)
    delay = took.get("performed", took["recognised"])
    print(f"{stamp} [{o.utterance.start:7.2f}-{o.utterance.end:7.2f}] {d.text!r}: {what} "
          f"({d.mode.value}, {delay:.2f} s)", flush=True)
