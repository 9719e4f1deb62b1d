"""Runs the stages: source -> segmenter -> [queue] -> hear -> decide -> act.

Two threads: capture (source frames through the pure segmenter into a
bounded queue of utterances) and the worker (agent/worker.py: hear, decide,
act, one utterance at a time, so each is recognised with the vocabulary of the
mode the previous one left).  Shutdown sets an event, sends a stop marker, joins
with a timeout.  An utterance whose processing fails is reported with the error
and the worker goes on; after MAX_FAILURES failures in a row the pipeline stops
and run() raises PipelineError.

Where an utterance ends is the turn policy's (agent/turn.py), which the segmenter
consults on the capture thread; the worker hears the peeks it asks for and sends back
their verdicts, and an utterance it ends at a peek is queued like any other.

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
from collections.abc import Callable
from dataclasses import dataclass

from agent.audio.vad import Peek
from agent.listening import Listening
from agent.messages import Activity, ActivityEvent, AudioFrame, Outcome, Utterance
from agent.streaming import Streamer
from agent.turn import Verdict
from agent.worker import Worker

log = logging.getLogger(__name__)

_STOP = None
_JOIN_TIMEOUT_S = 5.0
MAX_FAILURES = 5
"""Utterances in a row whose processing may fail before the pipeline gives up."""


class PipelineError(RuntimeError):
    """The pipeline cannot go on (one line)."""


@dataclass
class PipelineStats:
    utterances: int = 0
    dropped_utterances: int = 0
    """Utterances the queue had no room for (live sources only); each is logged."""
    dropped_controls: int = 0
    """Control calls refused because too many were waiting; each is logged."""
    failures: int = 0
    """Utterances whose processing failed (each reported with its error)."""
    early_ends: int = 0
    """Utterances closed at a pause because they were a complete command (peeks), after
    vad.early_end_ms."""
    settled_ends: int = 0
    """Utterances closed at a pause after vad.settle_ms: a command more words could
    extend, or one found on a second try."""


class Pipeline:
    """One audio source carried through to actions; `run()` blocks until done or stopped."""

    def __init__(self, listening: Listening, worker: Worker,
                 on_outcome: Callable[[Outcome], None],
                 on_event: Callable[[ActivityEvent], None] | None = None) -> None:
        self.listening = listening
        self.source = listening.source
        self.worker = worker
        self._active = listening.segmenter
        self._on_outcome = on_outcome
        self._on_event = on_event
        self._hearing = False
        self._controls: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=64)
        self._queue: queue.Queue[Utterance | Peek | None] = queue.Queue(
            maxsize=listening.queue_size + 2)
        """Room for queue_size utterances (live: counted by _room), a peek and the stop."""
        self._room = threading.BoundedSemaphore(listening.queue_size)
        self._answers: queue.Queue[tuple[int, Verdict | None]] = queue.Queue()
        """The hearings' verdicts on peeks (worker to capture thread), for the turn policy."""
        self._asked: dict[int, Verdict] = {}
        self._complete: tuple[int, float] | None = None
        """(utterance, end of speech) of the pause whose peek was a complete command
        (worker thread): live, its whole peek can arrive while that close waits, and
        hearing it would only hold up the utterance."""
        """Peeks of the open utterance heard as a command that may end there (worker
        thread), by peek id: a later peek can be heard while the close at one waits."""
        self._streams = Streamer(worker.recogniser, self._emit)
        self._stop = threading.Event()
        self._failed_in_a_row = 0
        self.stats = PipelineStats()
        self.source_error: BaseException | None = None
        self.fatal: PipelineError | None = None

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
        if self.fatal is not None:
            raise self.fatal

    def stop(self) -> None:
        """Ask both threads to finish; safe to call from any thread, more than once."""
        self._stop.set()
        self.source.stop()
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            log.debug("queue full at stop; the worker sees the stop event")

    def _put(self, item: Utterance | Peek | None) -> None:
        if self.listening.live and isinstance(item, Peek):
            if self._queue.empty():  # only to an idle worker; never in an utterance's room
                self._queue.put_nowait(item)
            else:
                log.debug("worker busy: peek %d skipped", item.id)
            return
        if self.listening.live and item is not _STOP:
            if self._room.acquire(blocking=False):
                self._queue.put_nowait(item)
            else:
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
                self._answer_peeks(wait_for=None)
                utt = self._take(frame) if self.listening.gate else self._active.feed(frame)
                self._note_hearing()
                self._streams.frame(self._active, frame, utt)
                if utt is not None:
                    self._put(utt)
                if utt is None and (peek := self._peek()) is not None:
                    self._put(peek)
                    if not self.listening.live:  # a file waits for the answer
                        self._answer_peeks(wait_for=peek.id)
            utt = self._active.flush()
            if utt is not None and not self._stop.is_set():
                self._put(utt)
        except Exception as exc:  # noqa: BLE001 - handed to run(), which re-raises it
            self.source_error = exc
        finally:
            self._answer_peeks(wait_for=None)
            self._note_hearing(force_off=True)
            self._put(_STOP)

    def _peek(self) -> Peek | None:
        """A peek at a pause of the hands-free segmenter (push-to-talk ends on release)."""
        peek = self._active.take_peek()
        can = self.worker.recogniser.capabilities
        if peek is None or self._active is not self.listening.segmenter \
                or not (can.peek or can.stream):
            return None
        return peek

    def _answer_peeks(self, wait_for: int | None) -> None:
        """Hand the hearings' verdicts to the segmenter's turn policy (capture thread),
        which may close the utterance at once; with `wait_for`, until that peek's."""
        segmenter = self.listening.segmenter  # the one that takes peeks
        while True:
            try:
                peek_id, verdict = self._answers.get(timeout=0.2) if wait_for is not None \
                    else self._answers.get_nowait()
            except queue.Empty:
                if wait_for is None or self._stop.is_set():
                    return
                continue
            closed = segmenter.hear(peek_id, verdict) if segmenter is self._active else None
            if closed is not None:
                self._streams.frame(segmenter, None, closed)
                self._put(closed)
            if peek_id == wait_for:
                return

    def _take(self, frame: AudioFrame) -> Utterance | None:
        """One live frame through the gate: dropped, silenced, fed, or closing push-to-talk."""
        assert self.listening.gate is not None
        verdict = self.listening.gate.verdict(time.monotonic())
        segmenter = self.listening.segmenters[verdict.style]
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
            self._guarded("a control request", fn)

    def _next(self) -> Utterance | Peek | None:
        """The next utterance for the worker, or None when it is time to end."""
        while True:
            self._run_controls()
            try:
                utt = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return None
                continue
            if utt is _STOP:
                return None
            if isinstance(utt, Utterance) and self.listening.live:
                self._room.release()
            if not self._stop.is_set():
                return utt
            log.warning("stopping: utterance %.2f-%.2f s left unprocessed", utt.start, utt.end)

    def _work(self) -> None:
        while self.fatal is None and (utt := self._next()) is not None:
            self._run_controls()
            if isinstance(utt, Peek):
                self._consider(utt)
                continue
            self.stats.utterances += 1
            self._count_end(utt)
            self._emit(Activity.RECOGNISING, True)
            try:
                outcome = self._process(utt)
            finally:
                self._emit(Activity.RECOGNISING, False)
            self._guarded(f"reporting utterance {utt.start:.2f}-{utt.end:.2f} s",
                          lambda o=outcome: self._on_outcome(o))

    def _consider(self, peek: Peek) -> None:
        """A peek at a pause, heard (or the stream's partial text read): the verdict goes
        to the turn policy, which ends the utterance at this pause or lets it go on."""
        verdict: Verdict | None = None
        try:
            if not self._queue.empty():
                pass  # something newer is waiting: stale
            elif (peek.utterance, peek.end) == self._complete:
                pass  # this pause's first peek was a complete command: its close is due
            elif self._streams.on:  # the stream's partial text says whether it is complete
                verdict = Verdict.COMPLETE \
                    if self.worker.complete_so_far(self._streams.partial) else None
            elif (early := self.worker.consider(peek)) is not None:
                verdict = early.verdict
        except Exception as exc:  # noqa: BLE001 - the normal end still comes
            self._failed(f"peek at {peek.start:.2f}-{peek.end:.2f} s failed", exc)
        if verdict is not None:
            self._asked[peek.id] = verdict
        if verdict is Verdict.COMPLETE:
            self._complete = (peek.utterance, peek.end)
        self._answers.put((peek.id, verdict))

    def _count_end(self, utt: Utterance) -> None:
        """Count an utterance the turn policy ended at a peek (worker thread)."""
        asked, self._asked = self._asked, {}
        verdict = asked.get(utt.peek) if utt.peek >= 0 else None
        if verdict is None:
            return
        if verdict is Verdict.SETTLED:
            self.stats.settled_ends += 1
        else:
            self.stats.early_ends += 1

    def _process(self, utt: Utterance) -> Outcome:
        try:
            outcome = self.worker.process(utt, self._streams.take(utt))
        except Exception as exc:  # noqa: BLE001 - any bug: report this utterance, go on
            self._failed(f"utterance {utt.start:.2f}-{utt.end:.2f} s failed", exc)
            return self.worker.failed(utt, f"{type(exc).__name__}: {exc}")
        self._failed_in_a_row = 0
        return outcome

    def _guarded(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - logged, counted; the worker goes on
            self._failed(what, exc)

    def _failed(self, what: str, exc: Exception) -> None:
        """Log a failure once (the traceback at debug) and give up after too many."""
        self.stats.failures += 1
        self._failed_in_a_row += 1
        log.error("%s: %s: %s", what, type(exc).__name__, exc)
        log.debug("%s", what, exc_info=exc)
        if self._failed_in_a_row >= MAX_FAILURES and self.fatal is None:
            self.fatal = PipelineError(
                f"stopped after {MAX_FAILURES} failures in a row; the last: {what}: "
                f"{type(exc).__name__}: {exc}")
            self.stop()
