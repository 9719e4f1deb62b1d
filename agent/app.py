"""Wires the stages: source -> segmenter -> [queue] -> recogniser -> dispatcher -> executor.

Two threads: capture (source frames through the pure segmenter into a
bounded queue of utterances) and the worker (recognise, dispatch, perform, one
utterance at a time, so each is recognised with the vocabulary of the mode
the previous one left).  Shutdown sets an event, sends a stop marker, joins
with a timeout.

Live, an optional gate (agent/desktop/gate.py) decides per frame what reaches
the segmenter (listening off, push-to-talk, muted while a cue plays); activity
events (hearing, recognising) go to `on_event`; `call(fn)` runs fn on the worker
thread between utterances (the tray changes the dispatcher's mode that way).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from agent.actions.base import ActionError, Executor
from agent.asr.base import Hint, RecognitionError, Transcriber
from agent.audio.vad import Segmenter
from agent.dispatch.dispatcher import Dispatcher
from agent.messages import (
    Activity,
    ActivityEvent,
    AudioFrame,
    Decision,
    ListenStyle,
    Outcome,
    Transcript,
    Utterance,
)
from agent.recovery import Recovery

log = logging.getLogger(__name__)

_STOP = None
_JOIN_TIMEOUT_S = 5.0


class AudioSource(Protocol):
    started_at: float

    def frames(self) -> Iterator[AudioFrame]: ...

    def stop(self) -> None: ...


class FrameVerdict(Protocol):
    take: bool
    style: ListenStyle
    close: bool
    muted: bool


class Gate(Protocol):
    """Decides, per arriving frame, what the segmenter gets (see agent/desktop/gate.py)."""

    def verdict(self, now: float) -> FrameVerdict: ...


@dataclass
class PipelineStats:
    utterances: int = 0
    dropped_utterances: int = 0
    """Utterances the queue had no room for (live sources only); each is logged."""
    dropped_controls: int = 0
    """Control calls refused because too many were waiting; each is logged."""


class Pipeline:
    """One audio source carried through to actions; `run()` blocks until done or stopped."""

    def __init__(self, source: AudioSource, segmenter: Segmenter, transcriber: Transcriber,
                 dispatcher: Dispatcher, executor: Executor,
                 on_outcome: Callable[[Outcome], None], *, alternatives: int = 5,
                 recovery: Recovery | None = None, live: bool = False,
                 queue_size: int = 16,
                 gate: Gate | None = None, held_segmenter: Segmenter | None = None,
                 on_event: Callable[[ActivityEvent], None] | None = None) -> None:
        self.source = source
        self.segmenter = segmenter
        self._segmenters = {ListenStyle.HANDS_FREE: segmenter,
                            ListenStyle.PUSH_TO_TALK: held_segmenter or segmenter}
        """Hands-free cuts on voice activity; push-to-talk uses one whose hangover is long,
        so the release of the key, not a pause, closes the utterance."""
        self._active = segmenter
        self._gate = gate
        self._on_event = on_event
        self._hearing = False
        self._controls: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=64)
        self.transcriber = transcriber
        self.dispatcher = dispatcher
        self.executor = executor
        self._on_outcome = on_outcome
        self._alternatives = alternatives
        self._recovery = recovery
        """Second tries when nothing matched (agent/recovery.py); None = none."""
        self._live = live
        self._queue: queue.Queue[Utterance | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self.stats = PipelineStats()
        self.source_error: BaseException | None = None

    def run(self) -> None:
        capture = threading.Thread(target=self._capture, name="capture", daemon=True)
        worker = threading.Thread(target=self._work, name="recogniser", daemon=True)
        worker.start()
        capture.start()
        try:
            while worker.is_alive():
                worker.join(timeout=0.2)
        finally:
            self.stop()
            capture.join(timeout=_JOIN_TIMEOUT_S)
        if self.source_error is not None:
            raise self.source_error

    def stop(self) -> None:
        """Ask both threads to finish; safe to call from any thread, more than once."""
        self._stop.set()
        self.source.stop()
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            log.debug("queue full at stop; the worker sees the stop event")

    def _put(self, item: Utterance | None) -> None:
        if self._live and item is not _STOP:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.stats.dropped_utterances += 1
                log.warning("recogniser behind: dropped utterance %.2f-%.2f s (%d so far)",
                            item.start, item.end, self.stats.dropped_utterances)
            return
        while not self._stop.is_set():  # a file waits for the recogniser: nothing is lost
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def call(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the worker thread before the next utterance (within 0.2 s when idle);
        for changes to the dispatcher from other threads. Never blocks."""
        try:
            self._controls.put_nowait(fn)
        except queue.Full:
            self.stats.dropped_controls += 1
            log.warning("worker busy: control request dropped (%d so far)",
                        self.stats.dropped_controls)

    def _capture(self) -> None:
        try:
            for frame in self.source.frames():
                utt = self._take(frame) if self._gate is not None else self._active.feed(frame)
                self._note_hearing()
                if utt is not None:
                    self._put(utt)
            utt = self._active.flush()
            if utt is not None and not self._stop.is_set():
                self._put(utt)
        except Exception as exc:  # noqa: BLE001 - handed to run(), which re-raises it
            self.source_error = exc
        finally:
            self._note_hearing(force_off=True)
            self._put(_STOP)

    def _take(self, frame: AudioFrame) -> Utterance | None:
        """One live frame through the gate: dropped, silenced, fed, or closing push-to-talk."""
        assert self._gate is not None
        verdict = self._gate.verdict(time.monotonic())
        segmenter = self._segmenters[verdict.style]
        if segmenter is not self._active:  # the style changed: start afresh
            self._active.reset()
            self._active = segmenter
        utt = segmenter.close_now() if verdict.close else None
        if not verdict.take:
            segmenter.reset()
            return utt
        if verdict.muted:  # our own cue: skipped, the open utterance (if any) kept
            return utt
        return segmenter.feed(frame)

    def _note_hearing(self, force_off: bool = False) -> None:
        hearing = self._active.in_speech and not force_off
        if hearing != self._hearing:
            self._hearing = hearing
            self._emit(Activity.HEARING, hearing)

    def _emit(self, activity: Activity, on: bool, detail: str = "") -> None:
        if self._on_event is not None:
            self._on_event(ActivityEvent(activity, on, detail, time.monotonic()))

    def _run_controls(self) -> None:
        while True:
            try:
                fn = self._controls.get_nowait()
            except queue.Empty:
                return
            fn()

    def _work(self) -> None:
        while True:
            self._run_controls()
            try:
                utt = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if utt is _STOP:
                return
            if self._stop.is_set():
                log.warning("stopping: utterance %.2f-%.2f s left unprocessed", utt.start, utt.end)
                continue
            self._run_controls()
            self.stats.utterances += 1
            self._emit(Activity.RECOGNISING, True)
            try:
                outcome = self.process(utt)
            finally:
                self._emit(Activity.RECOGNISING, False)
            self._on_outcome(outcome)

    def process(self, utt: Utterance) -> Outcome:
        """Recognise, dispatch and perform one utterance; never drops it."""
        app = self.executor.active_app()
        hint = Hint(tuple(self.dispatcher.vocabulary(app)), self._alternatives)
        try:
            transcript = self.transcriber.transcribe(utt.pcm, hint)
        except RecognitionError as exc:
            log.error("utterance %.2f-%.2f s not recognised: %s", utt.start, utt.end, exc)
            transcript = Transcript(text="", backend=getattr(self.transcriber, "name", ""))
            decision = Decision("", None, (), self.dispatcher.mode, note=f"error: {exc}")
            return Outcome(utt, transcript, decision, time.monotonic(), (str(exc),))
        if self._recovery is not None and not self.dispatcher.matches(transcript, app):
            transcript = self._recovery.recover(utt, hint, transcript, app)
        recognised_at = time.monotonic()
        decision = self.dispatcher.dispatch(transcript, app)
        decision = self._intended(utt, transcript, decision, app)
        errors: list[str] = []
        for action in decision.actions:
            try:
                self.executor.perform(action)
            except ActionError as exc:
                errors.append(str(exc))
                log.error("%s", exc)
        return Outcome(utt, transcript, decision, time.monotonic(), tuple(errors),
                       recognised_at=recognised_at)

    def _intended(self, utt: Utterance, transcript: Transcript, decision: Decision,
                  app: str) -> Decision:
        """When no command matched, a recogniser that understands intent (Voxtral with
        command_intent on) may pick one as a tool call, which the dispatcher performs."""
        intent = getattr(self.transcriber, "intent", None)
        if intent is None or decision.command is not None or decision.actions:
            return decision
        return intent(utt.pcm, transcript, self.dispatcher, app) or decision
