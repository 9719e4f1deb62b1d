"""The one place the agent is assembled: command library -> dispatcher, recogniser,
decide stage, worker and (given something to listen to) the pipeline.

`run`, `transcribe`, the live desktop session, the benches and the tests all call
build(), so each part is made one way and handed over whole (no slot filled later):

    agent = build(cfg, executor=DryRunExecutor(), listening=Listening(source, segmenter),
                  on_outcome=print)
    try:
        agent.pipeline.run()
    finally:
        agent.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from agent.actions.base import Executor
from agent.actions.launch import app_names
from agent.app import Pipeline
from agent.asr.base import ModelError, Recogniser, create
from agent.config import Config
from agent.decide import Decider
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.errors import CliError
from agent.listening import Listening
from agent.messages import ActivityEvent, Outcome
from agent.paths import command_folders
from agent.worker import Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Agent:
    """The assembled parts; `pipeline` is None when nothing was given to listen to
    (transcribe drives the worker itself)."""

    library: CommandLibrary
    dispatcher: Dispatcher
    recogniser: Recogniser
    decider: Decider
    worker: Worker
    pipeline: Pipeline | None

    def running(self) -> Pipeline:
        """The pipeline, for an agent built with something to listen to."""
        if self.pipeline is None:
            raise ValueError("the agent was built without listening and on_outcome")
        return self.pipeline

    def close(self) -> None:
        """Release the recogniser (its model, its server connection)."""
        self.recogniser.close()


def command_library(cfg: Config) -> CommandLibrary:
    """Built-in sets (unless disabled), then the user's; errors are logged, never fatal."""
    folders = command_folders(cfg.commands.builtin, cfg.commands.user_dir)
    return CommandLibrary(folders, app_names(cfg.apps))


def new_dispatcher(cfg: Config, library: CommandLibrary) -> Dispatcher:
    """The dispatcher over the library's commands, as [commands] configures it."""
    return Dispatcher(library.commands, cfg.commands.fuzzy_threshold,
                      controls=cfg.commands.typed_controls,
                      confirm_timeout_s=cfg.commands.confirm_timeout_s, words=library.words)


def load_recogniser(cfg: Config) -> Recogniser:
    """The configured backend ([recognition] backend: auto, voxtral or whisper), loaded;
    one that uses Voxtral may start a local vLLM server (voxtral.manage_server)."""
    from agent.voxtral.server import start_local

    transcriber = create(cfg.recognition.backend, cfg, start_server=start_local)
    try:
        transcriber.load()
    except ModelError as exc:
        raise CliError(str(exc)) from None
    return transcriber


def build(cfg: Config, *, executor: Executor, listening: Listening | None = None,
          on_outcome: Callable[[Outcome], None] | None = None,
          on_event: Callable[[ActivityEvent], None] | None = None,
          recogniser: Recogniser | None = None) -> Agent:
    """The agent for `cfg`, acting through `executor`; with `listening` and `on_outcome`,
    its pipeline too. The recogniser is loaded here unless one is given (already loaded,
    and then the caller's to close); one loaded here is closed again if the rest fails."""
    if (listening is None) != (on_outcome is None):
        raise ValueError("build(): a pipeline needs both listening and on_outcome")
    library = command_library(cfg)
    dispatch = new_dispatcher(cfg, library)
    owned = recogniser is None
    hears = load_recogniser(cfg) if recogniser is None else recogniser
    try:
        decider = Decider(hears, dispatch, cfg.commands,
                          intent_confirm=cfg.voxtral.intent_confirm)
        worker = Worker(hears, decider, executor, cfg.whisper.alternatives)
        pipeline = None if listening is None or on_outcome is None else Pipeline(
            listening, worker, on_outcome, on_event=on_event)
    except BaseException:
        if owned:
            hears.close()
        raise
    return Agent(library, dispatch, hears, decider, worker, pipeline)
