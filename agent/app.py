"""Runs the stages: source -> [frame queue] -> gate -> segmenter -> turn policy -> hear ->
decide -> act.

Two threads, and an utterance crosses between them once, as frames: the capture thread
only takes the source's frames and puts them, stamped with the time they arrived, into a
bounded queue (live: a frame that finds it full is dropped, counted and logged, so the
source never waits; a file waits, so nothing is lost and a run is deterministic).  The
processing thread owns each utterance from its first frame to its action: the gate, the
segmenter and its turn policy (agent/turn.py); a peek the policy asks for is heard right
there and its verdict given back before the next frame; then hear, decide, act
(agent/worker.py), one utterance at a time, so each is recognised with the vocabulary of
the mode the previous one left.  Frames that arrive meanwhile wait in the queue and are
caught up afterwards: pauses are measured on the audio's clock, not the wall clock
(audio lost to a full queue ends the open utterance there: agent/turn.py).

An utterance whose processing fails is reported with the error and processing goes on;
after MAX_FAILURES failures in a row the pipeline stops and run() raises PipelineError.
Live, an optional gate (agent/desktop/gate.py) decides per frame, by the time the frame
arrived, what reaches the segmenter (listening off, push-to-talk, muted while a cue
plays); activity events (hearing, recognising) go to `on_event`; `call(fn)` runs fn on the
processing thread between frames (the tray changes the dispatcher's mode that way).
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

_END = None
"""Put after the source's last frame (or at stop): nothing more comes."""
_JOIN_TIMEOUT_S = 5.0
_POLL_S = 0.2
"""How often an idle processing thread looks at control calls and the stop event."""
MAX_FAILURES = 5
"""Utterances in a row whose processing may fail before the pipeline gives up."""

_Arrived = tuple[AudioFrame, float]
"""A frame and the time.monotonic() at which the capture thread took it from the source."""


class PipelineError(RuntimeError):
    """The pipeline cannot go on (one line)."""


@dataclass
class PipelineStats:
    utterances: int = 0
    frames: int = 0
    """Frames processed (through the gate and the segmenter)."""
    dropped_frames: int = 0
    """Frames the queue had no room for (live sources only); each run of them is logged."""
    dropped_controls: int = 0
    """Control calls refused because too many were waiting; each is logged."""
    failures: int = 0
    """Utterances whose processing failed (each reported with its error)."""
    early_ends: int = 0
    """Utterances closed at a pause because they were a complete command (peeks), after
    vad.early_end_ms."""
    settled_ends: int = 0
    """Utterances closed at a pause a little later: a command more words could extend,
    or one found on a second try."""


class Pipeline:
    """One audio source carried through to actions; `run()` blocks until done or stopped."""

    def __init__(self, listening: Listening, worker: Worker,
                 on_outcome: Callable[[Outcome], None],
                 on_event: Callable[[ActivityEvent], None] | None = None) -> None:
        if listening.queue_size < 1:
            raise ValueError(f"the frame queue needs room for a frame, not "
                             f"{listening.queue_size}")
        self.listening = listening
        self.source = listening.source
        self.worker = worker
        self._active = listening.segmenter
        self._on_outcome = on_outcome
        self._on_event = on_event
        self._hearing = False
        self._controls: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=64)
        self._frames: queue.Queue[_Arrived | None] = queue.Queue(
            maxsize=listening.queue_size)
        self._dropping: list[float] = []
        """Stream times of the first and last frame of the run of drops going on (live)."""
        self._verdicts: dict[int, Verdict] = {}
        """The open utterance's peeks heard as a command that may end there, by peek id."""
        self._streams = Streamer(worker.recogniser, self._emit)
        worker.on_partial = lambda text: self._emit(Activity.PARTIAL, True, text)
        self._stop = threading.Event()
        self._failed_in_a_row = 0
        self.stats = PipelineStats()
        self.source_error: BaseException | None = None
        self.fatal: PipelineError | None = None

    def run(self) -> None:
        capture = threading.Thread(target=self._capture, name="capture", daemon=True)
        processing = threading.Thread(target=self._process_all, name="processing",
                                      daemon=True)
        processing.start()
        capture.start()
        try:
            while processing.is_alive():
                processing.join(timeout=_POLL_S)
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
            self._frames.put_nowait(_END)
        except queue.Full:
            log.debug("queue full at stop; processing sees the stop event")

    def call(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the processing thread before the next frame (within 0.2 s when no
        frames come); for changes to the dispatcher from other threads. Never blocks."""
        try:
            self._controls.put_nowait(fn)
        except queue.Full:
            self.stats.dropped_controls += 1
            log.warning("processing busy: control request dropped (%d so far)",
                        self.stats.dropped_controls)

    # -- the capture thread: frames into the queue, nothing else

    def _capture(self) -> None:
        try:
            for frame in self.source.frames():
                self._deliver((frame, time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - handed to run(), which re-raises it
            self.source_error = exc
        finally:
            self._dropped_until(None)
            self._wait_put(_END)

    def _deliver(self, item: _Arrived) -> None:
        if not self.listening.live:
            self._wait_put(item)  # a file waits for processing: nothing is lost
            return
        try:
            self._frames.put_nowait(item)
        except queue.Full:
            self.stats.dropped_frames += 1
            frame = item[0]
            self._dropping = [self._dropping[0] if self._dropping else frame.start,
                              frame.start + frame.duration]
            return
        self._dropped_until(item[0])

    def _dropped_until(self, frame: AudioFrame | None) -> None:
        """A run of dropped frames is over (at `frame`, or at the end): log it once."""
        if not self._dropping:
            return
        first, last = self._dropping
        self._dropping = []
        log.warning("processing behind: dropped the audio %.2f-%.2f s (%d frames so far)",
                    first, last, self.stats.dropped_frames)

    def _wait_put(self, item: _Arrived | None) -> None:
        while not self._stop.is_set():
            try:
                self._frames.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    # -- the processing thread: an utterance from its first frame to its action

    def _process_all(self) -> None:
        item: _Arrived | None = None
        try:
            while self.fatal is None and (item := self._next()) is not None:
                self._take(*item)
            ended = item is None and self.fatal is None and self.source_error is None \
                and not self._stop.is_set()
            if ended and (utt := self._active.flush()) is not None:  # the source ended
                self._handle(utt)
        finally:
            self._note_hearing(force_off=True)

    def _next(self) -> _Arrived | None:
        """The next frame and when it arrived; None when it is time to end."""
        while True:
            self._run_controls()
            try:
                item = self._frames.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    return None
                continue
            return None if item is _END or self._stop.is_set() else item

    def _take(self, frame: AudioFrame, arrived: float) -> None:
        """One frame through the gate, the segmenter and the turn policy; a peek it asks
        for heard now; the utterance it closes heard, decided and acted on."""
        self.stats.frames += 1
        utt = self._gated(frame, arrived) if self.listening.gate else self._active.feed(frame)
        self._note_hearing()
        self._streams.frame(self._active, frame, utt)
        if utt is None and (peek := self._peek()) is not None:
            segmenter = self._active
            utt = segmenter.hear(peek.id, self._consider(peek))
            if utt is not None:  # ended at this pause, at once
                self._note_hearing()
                self._streams.frame(segmenter, None, utt)
        if utt is not None:
            self._handle(utt)

    def _gated(self, frame: AudioFrame, arrived: float) -> Utterance | None:
        """One live frame through the gate, judged by when it arrived: dropped, silenced,
        fed, or closing push-to-talk."""
        assert self.listening.gate is not None
        verdict = self.listening.gate.verdict(arrived)
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

    def _peek(self) -> Peek | None:
        """A peek at a pause of the hands-free segmenter (push-to-talk ends on release)."""
        peek = self._active.take_peek()
        can = self.worker.recogniser.capabilities
        if peek is None or self._active is not self.listening.segmenter \
                or not (can.peek or can.stream):
            return None
        return peek

    def _consider(self, peek: Peek) -> Verdict | None:
        """A peek at a pause, heard (or the stream's partial text read): whether the
        speech so far is a command that may end at this pause, for the turn policy."""
        verdict: Verdict | None = None
        try:
            if self._streams.on:  # the stream's partial text says whether it is complete
                verdict = Verdict.COMPLETE \
                    if self.worker.complete_so_far(self._streams.partial) else None
            elif (early := self.worker.consider(peek)) is not None:
                verdict = early.verdict
        except Exception as exc:  # noqa: BLE001 - the normal end still comes
            self._failed(f"peek at {peek.start:.2f}-{peek.end:.2f} s failed", exc)
        if verdict is not None:
            self._verdicts[peek.id] = verdict
        return verdict

    def _handle(self, utt: Utterance) -> None:
        self.stats.utterances += 1
        self._count_end(utt)
        self._emit(Activity.RECOGNISING, True)
        try:
            outcome = self._process(utt)
        finally:
            self._emit(Activity.RECOGNISING, False)
        self._guarded(f"reporting utterance {utt.start:.2f}-{utt.end:.2f} s",
                      lambda: self._on_outcome(outcome))

    def _count_end(self, utt: Utterance) -> None:
        """Count an utterance the turn policy ended at a peek."""
        verdicts, self._verdicts = self._verdicts, {}
        verdict = verdicts.get(utt.peek) if utt.peek >= 0 else None
        if verdict is Verdict.SETTLED:
            self.stats.settled_ends += 1
        elif verdict is Verdict.COMPLETE:
            self.stats.early_ends += 1

    def _process(self, utt: Utterance) -> Outcome:
        try:
            outcome = self.worker.process(utt, self._streams.take(utt))
        except Exception as exc:  # noqa: BLE001 - any bug: report this utterance, go on
            self._failed(f"utterance {utt.start:.2f}-{utt.end:.2f} s failed", exc)
            return self.worker.failed(utt, f"{type(exc).__name__}: {exc}")
        self._failed_in_a_row = 0
        return outcome

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

    def _guarded(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - logged, counted; processing goes on
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
