"""Runs what agent/build.py assembles from the config (what the CLI subcommands call)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from agent.actions.base import ActionError, Executor
from agent.actions.launch import app_names
from agent.app import PipelineError
from agent.asr.base import RecognitionError
from agent.audio.file_source import AudioFileError, FileSource
from agent.audio.mic_source import DeviceError, MicSource, resolve_device
from agent.audio.retrying import RetryingSource
from agent.audio.vad import Segmenter
from agent.build import build, command_library
from agent.config import Config
from agent.desktop.history import latency
from agent.desktop.signals import stop_on_signals
from agent.dispatch.collisions import Collision
from agent.dispatch.loader import (
    Command,
    Disable,
    command_files,
    merge,
    read_file,
)
from agent.dispatch.words import Word, replaced, replaced_message
from agent.errors import CliError
from agent.listening import Listening
from agent.logsetup import active_file
from agent.messages import Outcome, Utterance
from agent.paths import command_folders
from agent.worker import Worker

log = logging.getLogger(__name__)


def list_commands(cfg: Config) -> list[str]:
    lib = command_library(cfg)
    lines = []
    for c in sorted(lib.commands, key=lambda c: (c.mode.value, c.app, c.origin)):
        where = f"{c.mode.value}" + (f" app~{c.app}" if c.app else "")
        does = "; ".join(_describe_action(a.kind, a.arg, a.count, a.formatter) for a in c.actions)
        lines.append(f"{where:10} {c.name:32} {does:34} {c.origin}")
    for w in lib.words.entries:
        lines.append(f"{'words':10} {w.spoken:32} {'type ' + repr(w.written):34} {w.origin}")
    return lines


def _describe_action(kind: str, arg: str, count: str, fmt: str) -> str:
    text = f"{kind} {arg}" + (f":{fmt}" if fmt != "raw" else "")
    return text + (f" * {count}" if count != "1" else "")


def check_command_file(cfg: Config, path: Path) -> list[str]:
    """Every problem in `path`, one line each: its errors, and each collision of its
    commands with each other or with the active command files, loaded where the file
    would load (in place of a user file of that name, else after the others)."""
    apps = app_names(cfg.apps)
    entries, problems = read_file(path, apps)
    folders = command_folders(cfg.commands.builtin, cfg.commands.user_dir)
    order = [p for folder in folders for p in command_files(folder)]
    mine = _resolved(path)
    if not any(_resolved(p) == mine for p in order):
        order.append(mine)
    parsed: list[list[Command | Disable | Word]] = []
    for p in order:
        if _resolved(p) == mine:
            parsed.append(entries)
            continue
        others, errors = read_file(p, apps)
        if not errors:  # a broken file is skipped at load too
            parsed.append(others)
    found: list[Collision] = []
    merge(parsed, found)
    ours = {id(e) for e in entries}
    return problems + [c.message() for c in found
                       if id(c.dropped) in ours or id(c.kept) in ours] + [
        replaced_message(earlier, later, earlier if id(earlier) in ours else later)
        for earlier, later in replaced(parsed) if ours & {id(earlier), id(later)}]


def _resolved(path: Path) -> Path:
    """Where `path` leads; itself (absolute) when its links loop (Python 3.11's resolve()
    raises RuntimeError there; the file's read has said so in one line)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def transcribe_file(cfg: Config, path: Path, say: Callable[[str], None] = print) -> int:
    """say() the text of each utterance in the file, as the segmenter cuts it (silence
    says nothing); the file is read as it goes, so memory does not grow with its length.
    Each utterance is heard as `run --dry-run` hears it (the active vocabulary as a hint,
    n-best, the decide stage's second tries; modes change as commands say), so both
    print the same words for the same speech. An utterance the recogniser fails on ends
    it with one line and status 1."""
    from agent.actions.dryrun import DryRunExecutor

    try:
        source = FileSource(path, cfg.audio.block_ms, fast=True)
    except AudioFileError as exc:
        raise CliError(str(exc)) from None
    agent = build(cfg, executor=DryRunExecutor())
    try:
        for utt in _utterances(source, Segmenter(cfg.vad, cfg.audio.block_ms)):
            try:
                text = _heard_as_run(agent.worker, utt)
            except RecognitionError as exc:
                raise CliError(f"{path}: {utt.start:.2f}-{utt.end:.2f} s not recognised "
                               f"({exc}); the text before it was printed", 1) from None
            if text:
                say(text)
    except AudioFileError as exc:
        raise CliError(str(exc)) from None
    finally:
        agent.close()
    return 0


def _heard_as_run(worker: Worker, utt: Utterance) -> str:
    """The text `run` reports for `utt`: the worker's hearing and decision, without
    acting, and with a recognition failure raised (for transcribe's one line) rather
    than logged."""
    transcript, decision = worker.decider.decide(worker.hear(utt))
    return (decision.text or transcript.text).strip()


def _utterances(source: FileSource, segmenter: Segmenter) -> Iterator[Utterance]:
    for frame in source.frames():
        utt = segmenter.feed(frame)
        if utt is not None:
            yield utt
    last = segmenter.flush()
    if last is not None:
        yield last


def _executor(cfg: Config, dry_run: bool, app: str) -> Executor:
    if dry_run:
        from agent.actions.dryrun import DryRunExecutor

        return DryRunExecutor(app)
    from agent.actions.keyboard import DesktopExecutor

    try:
        return DesktopExecutor(cfg.apps, backend=cfg.keyboard.backend)
    except ActionError as exc:
        raise CliError(f"{exc} (use --dry-run to only report actions)") from None


class _Output:
    """Prints each outcome; a reader that went away (`| head -1`) stops the agent quietly,
    as SIGPIPE would."""

    def __init__(self, as_json: bool, source: FileSource | RetryingSource | None) -> None:
        self._print = _json_line if as_json else _human_line
        self._source = source
        """Where stream time starts (None: a file read as fast as possible)."""
        self.closed = False
        self.on_close: Callable[[], None] = lambda: None

    def report(self, o: Outcome) -> None:
        try:
            self._print(o, self.started_at)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self.closed = True
            self.on_close()

    @property
    def started_at(self) -> float | None:
        return None if self._source is None else self._source.started_at


def run_agent(cfg: Config, *, input_file: Path | None, dry_run: bool, as_json: bool,
              fast: bool, app: str = "", tray: bool = True) -> int:
    if input_file is None:
        return _run_live(cfg, dry_run=dry_run, as_json=as_json, app=app, tray=tray)
    try:
        source = FileSource(input_file, cfg.audio.block_ms, fast)
    except AudioFileError as exc:
        raise CliError(str(exc)) from None
    executor = _executor(cfg, dry_run, app)
    output = _Output(as_json, None if fast else source)
    agent = build(cfg, executor=executor,
                  listening=Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms)),
                  on_outcome=output.report)
    pipeline = agent.running()
    output.on_close = pipeline.stop
    stopped = stop_on_signals(pipeline.stop)
    try:
        pipeline.run()
    except AudioFileError as exc:  # the file changed or went away while it was read
        raise CliError(str(exc)) from None
    except PipelineError as exc:
        raise CliError(str(exc), 1) from None
    return stopped.exit_status(141 if output.closed else 0)


def _run_live(cfg: Config, *, dry_run: bool, as_json: bool, app: str, tray: bool) -> int:
    """The microphone, with the desktop around it (tray, hotkey, cues, history); a device
    that fails later is retried, not fatal."""
    from agent.desktop.session import LiveSession

    try:
        resolve_device(cfg.audio.device)
    except DeviceError as exc:
        raise CliError(f"{exc}".rstrip() if "--input" in str(exc)
                       else f"{exc} (or run on a recording with --input FILE)") from None
    inner = _executor(cfg, dry_run, app)
    session = LiveSession(cfg, tray=tray)  # starts nothing yet (threads start in run())
    source = session.source(lambda: MicSource(cfg.audio.device, cfg.audio.block_ms))
    output = _Output(as_json, source)

    def report(o: Outcome) -> None:
        output.report(o)
        session.controller.outcome(o, source.started_at)

    listening = Listening(source, Segmenter(cfg.vad, cfg.audio.block_ms), gate=session.gate,
                          held=session.held_segmenter(), live=True)
    agent = build(cfg, executor=session.executor(inner), listening=listening,
                  on_outcome=report, on_event=session.controller.activity)
    pipeline, library, dispatcher = agent.running(), agent.library, agent.dispatcher

    def reload() -> list[str]:
        """Read the files on the caller's thread (the controller's reload thread); swap the
        new set in on the worker, between utterances."""
        errors = library.reload()
        commands, words = library.commands, library.words
        pipeline.call(lambda: dispatcher.set_commands(commands, words))
        return errors

    output.on_close = session.stop
    stopped = stop_on_signals(session.stop)  # blocked by the CLI, before any thread started
    written = active_file()
    log.info("listening on the microphone; Ctrl+C to stop (%s)",
             f"log file: {written}" if written else "no log file")
    try:
        session.run(pipeline, dispatcher, reload, library.stamp)
    except PipelineError as exc:
        raise CliError(str(exc), 1) from None
    return stopped.exit_status(141 if output.closed else 0)


def _latency(o: Outcome, started_at: float | None) -> dict[str, float]:
    """Seconds from end of speech to: utterance closed, transcript ready, action performed
    (and the recogniser's own time); see agent/desktop/history.py."""
    return latency(o, started_at)


def _json_line(o: Outcome, started_at: float | None) -> None:
    line = o.to_json() | {"latency": _latency(o, started_at)}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _human_line(o: Outcome, started_at: float | None) -> None:
    d = o.decision
    acts = ", ".join(json.dumps(a.to_json()["action"]) + " " + " ".join(
        str(v) for k, v in a.to_json().items() if k != "action") for a in d.actions)
    what = f"{d.command} -> {acts}" if d.command and d.actions else (d.note or "-")
    what += "".join(f" [{k}: {v}]" for k, v in (("cancelled", d.cancelled),
                                                 ("no yes in time", d.expired)) if v)
    stamp = time.strftime("%H:%M:%S")
    took = _latency(o, started_at)
    delay = took.get("performed", took["recognised"])
    print(f"{stamp} [{o.utterance.start:7.2f}-{o.utterance.end:7.2f}] {d.text!r}: {what} "
          f"({d.mode.value}, {delay:.2f} s)", flush=True)
