"""The worker's pass over one utterance: hear -> candidates -> decide -> act.

Data flows one way: the recogniser hears the audio once (agent/asr/base.py Hearing),
the decide stage (agent/decide/) finds candidates on that hearing and the dispatcher
decides, then the executor acts.  No stage calls back into the one that called it.
Free text (dictation, a command's "type ...") goes through twice where a peek is cheap:
typed early as a pause in it hears it (its whole peek) or as the window fitted to it
hears it at its end, then heard on the full window, decided as always, and its typed
tail corrected (_show, _settle).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from agent.actions.base import ActionError, Executor
from agent.asr.base import Hint, Recogniser, RecognitionError, Stream
from agent.asr.guard import coverage_doubt
from agent.audio.vad import Peek
from agent.decide import Decider, Heard
from agent.dispatch.dictating import corrected
from agent.dispatch.dispatcher import Dispatcher, State
from agent.messages import Action, Decision, Mode, Outcome, Transcript, Utterance
from agent.turn import Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Early:
    """A peek heard as a command that may end at its pause (the turn policy says when)."""

    heard: Heard
    """The speech so far, heard; its transcript is the one to decide on if the utterance
    ends at this peek."""
    verdict: Verdict
    """COMPLETE: nothing said next could extend it; SETTLED: a command with no free text,
    as heard or on a second try, at a whole peek (all the utterance's audio: a first
    peek's stops PEEK_MS after the speech, which can cut a final consonant)."""


@dataclass(frozen=True, slots=True)
class Shown:
    """The free text an open utterance typed before its final reading (Worker._show)."""

    utterance: int
    """The utterance's index."""
    saved: State
    """The dispatcher before the utterance typed anything: its final reading is decided
    from there."""
    after: State
    """The dispatcher after the latest early typing (what the window holds)."""
    heard: Heard
    decision: Decision
    """The latest early decision: what the window holds from this utterance."""
    typed: str
    """What that decision typed, as the window holds it."""
    performed: tuple[Action, ...]
    """Every action performed for the utterance so far, in order."""
    at: float
    """time.monotonic() when the utterance's text was first ready to type, in seconds."""
    errors: tuple[str, ...] = ()
    """An early typing that failed: nothing more is typed or corrected."""


END_MARKS = ".,;:?!"
"""Punctuation that a pause's hearing ends with, and that the rest of the sentence often
changes ("Front." then "Front, left.")."""


def held_back(heard: Heard) -> Heard:
    """`heard` with each reading's last END_MARKS cut: at a pause the speaker may go on,
    so the mark is typed at the end of the utterance, not typed then deleted."""
    t = heard.transcript

    def cut(text: str) -> str:
        return text.rstrip().rstrip(END_MARKS)

    alternatives = tuple(replace(h, text=cut(h.text)) for h in t.alternatives)
    return replace(heard, transcript=replace(t, text=cut(t.text), alternatives=alternatives))


class Worker:
    """Hears, decides and acts on one utterance at a time (on the pipeline's processing thread)."""

    def __init__(self, recogniser: Recogniser, decider: Decider, executor: Executor,
                 alternatives: int = 5) -> None:
        self.recogniser = recogniser
        self.decider = decider
        self.executor = executor
        self._alternatives = alternatives
        self._whole: Heard | None = None
        """The latest whole peek, heard: when the utterance ends at that pause its audio
        is the same, and so is its hearing."""
        self.on_partial: Callable[[str], None] | None = None
        """Told what a peek heard (the speech so far, not doubted), to show it while the
        person speaks (the pipeline sends it on as Activity.PARTIAL)."""
        self._free_text_in = -1
        """The open utterance (its index) whose speech so far a peek heard as a command's
        free text ("type ..."): its later hearings are quick, to be typed early."""
        self._early: dict[int, Early] = {}
        """The peeks of the open utterance heard as a command that may end there, by peek id:
        the one it ends at is acted on."""
        self._shown: Shown | None = None
        """The free text the open utterance typed early, to correct at its end."""

    @property
    def dispatcher(self) -> Dispatcher:
        return self.decider.dispatcher

    def process(self, utt: Utterance, stream: Stream | None = None) -> Outcome:
        """Hear (from `stream`, when the utterance was streamed while spoken), decide and
        act on one utterance; a recognition or action error is reported in the outcome
        (anything else is the pipeline's to report)."""
        earlies, self._early = self._early, {}
        shown, self._shown = self._shown_of(utt.index), None
        early = earlies.get(utt.peek) if utt.peek >= 0 else None
        try:
            if early is not None:
                heard = replace(early.heard, utterance=utt)
            else:
                heard = self._heard_at_peek(utt) if stream is None else None
                heard = heard or self.hear(utt, stream)
        except RecognitionError as exc:
            log.error("utterance %.2f-%.2f s not recognised: %s", utt.start, utt.end, exc)
            return self._left(shown, utt) if shown is not None else self.failed(utt, str(exc))
        if early is None and self._types_early(heard, streamed=stream is not None):
            shown = self._show(heard, shown)
        if shown is not None:
            return self._settle(shown, heard)
        try:
            return self.conclude(self._full(heard))
        except RecognitionError as exc:
            log.error("utterance %.2f-%.2f s not recognised: %s", utt.start, utt.end, exc)
            return self.failed(utt, str(exc))

    def _heard_at_peek(self, utt: Utterance) -> Heard | None:
        """`utt` as its last whole peek heard it, when that peek had all of its audio
        (the utterance ended at that pause) and the same window is focused."""
        whole, self._whole = self._whole, None
        if whole is None:
            return None
        seen = whole.utterance
        if (seen.index, seen.voiced, seen.pcm) != (utt.index, utt.voiced, utt.pcm) \
                or whole.app != self.executor.active_app():
            return None
        log.debug("utterance %.2f-%.2f s: heard at its whole peek", utt.start, utt.end)
        return replace(whole, utterance=utt)

    def consider(self, peek: Peek) -> Early | None:
        """The speech so far, heard at a pause: Early when it is a command that may end
        here (kept to act on if the utterance ends at this peek), else None."""
        mode = self.dispatcher.mode
        if mode is Mode.SLEEP or (mode is Mode.DICTATION and not peek.whole):
            return None  # dictation ends as usual; its text is decoded again meanwhile
        utt = Utterance(peek.pcm, peek.start, peek.end, index=peek.utterance,
                        voiced=peek.voiced)
        try:
            heard = self.hear(utt)
        except RecognitionError as exc:
            log.info("peek %.2f-%.2f s not recognised: %s", peek.start, peek.end, exc)
            return None
        if peek.whole:
            self._whole = heard
        if self.on_partial is not None and not heard.transcript.doubt:
            self.on_partial(heard.transcript.text.strip())
        if mode is Mode.DICTATION:
            if self._types_early(heard):  # typed now; its full-window work waits for the end
                self._show_at(heard)
            else:
                self.decider.prepare(heard)
            return None
        if heard.hint.quick:  # a quick reading is at most typed early, never acted on
            self._show_at(heard)  # as a command
            return None
        early = None if heard.transcript.doubt else self._verdict(heard, peek)
        if early is not None:
            self._early[peek.id] = early
        elif self._types_early(heard) and self.decider.takes_text(heard):
            self._free_text_in = peek.utterance
            self._show_at(heard)
        return early

    def _show_at(self, heard: Heard) -> None:
        """At a peek: the free text heard so far typed, or what the open utterance typed
        at an earlier pause turned into it (_show); its last mark held back (held_back)."""
        self._shown = self._show(held_back(heard), self._shown_of(heard.utterance.index))

    def _shown_of(self, utterance: int) -> Shown | None:
        """What utterance `utterance` typed early; None for another's (one dropped unheard:
        the window keeps its text)."""
        shown = self._shown
        return shown if shown is not None and shown.utterance == utterance else None

    def _verdict(self, heard: Heard, peek: Peek) -> Early | None:
        verdict = self.dispatcher.complete(heard.transcript.text, heard.app)
        log.debug("peek %.2f-%.2f s: %r %s", peek.start, peek.end, heard.transcript.text,
                  verdict.reason)
        if verdict.complete:
            return Early(heard, Verdict.COMPLETE)
        if not peek.whole:
            return None  # the whole peek of this pause decides
        settled = self.decider.settled(heard)
        if settled is None:  # it waits for the end: free text is decoded again meanwhile,
            if not self._types_early(heard):  # unless it is typed early at the end
                self.decider.prepare(heard)
            return None
        return Early(replace(heard, transcript=settled), Verdict.SETTLED)

    def complete_so_far(self, text: str) -> bool:
        """Whether `text`, a streaming recogniser's partial text at a pause, is a complete
        command nothing could extend (act as soon as the stream's final text is in)."""
        return self.dispatcher.mode is Mode.COMMAND and bool(text.strip()) and \
            self.dispatcher.complete(text, self.executor.active_app()).complete

    def conclude(self, heard: Heard) -> Outcome:
        """Decide and act on an utterance already heard."""
        transcript, decision = self.decider.decide(heard)
        recognised_at = time.monotonic()
        errors = self._act(decision)
        return Outcome(heard.utterance, transcript, decision, time.monotonic(), errors,
                       recognised_at=recognised_at)

    def hear(self, utt: Utterance, stream: Stream | None = None) -> Heard:
        """The utterance heard once, with its first transcript (doubted when its words
        cannot account for the speech); raise RecognitionError.  Dictation, whose free
        text is decoded again on the full window (Hint.thorough), is heard there from the
        first decode, or, where a peek is cheap (a local model, no stream), first
        quickly (Hint.quick) on the window fitted to it, to be typed early
        (_show); so is a command's free text once a peek heard it ("type ...")."""
        app = self.executor.active_app()
        wide = self.dispatcher.mode is Mode.DICTATION and self.decider.wide_free_text
        fast = wide and stream is None and self.recogniser.capabilities.peek
        free = self.dispatcher.mode is Mode.COMMAND and utt.index == self._free_text_in
        hint = Hint(tuple(self.dispatcher.vocabulary(app)), self._alternatives,
                    thorough=wide and not fast, quick=fast or (free and stream is None))
        hearing = stream.finish(utt.pcm) if stream is not None else self.recogniser.hear(utt.pcm)
        return Heard(utt, hearing, self._checked(utt, hearing.decode(hint)), hint, app)

    def _types_early(self, heard: Heard, streamed: bool = False) -> bool:
        """Whether what `heard` types may be typed as first heard, its full hearing to
        come: dictation's fast hearing (hear()); with a local model, a command's free
        text ("type ...", formatters), which decide() decodes again on the full window."""
        mode = self.dispatcher.mode
        if mode is Mode.DICTATION:
            return heard.hint.quick
        return mode is Mode.COMMAND and not streamed and self.decider.wide_free_text \
            and self.recogniser.capabilities.peek

    def _full(self, fast: Heard) -> Heard:
        """The hearing decided on after the early typing: dictation's, heard again on the
        full window; a command's as it is (decide() decodes its free text there)."""
        if not fast.hint.quick:
            return fast
        hint = replace(fast.hint, thorough=True, quick=False)
        return replace(fast, hint=hint, transcript=self._checked(
            fast.utterance, fast.hearing.decode(hint)))

    def _show(self, fast: Heard, shown: Shown | None) -> Shown | None:
        """Type what `fast` types, at once, when it only types free text
        (Decider.first_look), or turn what the utterance typed before (`shown`) into it;
        the dispatcher is left as after that typing.  `shown` as it was when `fast`
        types nothing, another window is focused, or an earlier typing failed."""
        if shown is not None and (shown.errors or fast.app != shown.heard.app):
            return shown
        saved = shown.saved if shown is not None else self.dispatcher.saved()
        self.dispatcher.restore(saved)
        early = self.decider.first_look(fast)
        if early is None:
            self.dispatcher.restore(shown.after if shown is not None else saved)
            return shown
        decision, typed = early
        fix = decision.actions if shown is None else corrected(shown.typed, decision.actions)
        at = time.monotonic()
        try:
            errors = self._act(replace(decision, actions=fix))
        except Exception as exc:  # noqa: BLE001 - a route's bug, at a peek too: reported
            self.dispatcher.forget_typed()  # with the utterance, as at its end
            log.error("typing %r failed: %s: %s", typed, type(exc).__name__, exc)
            errors = (f"{type(exc).__name__}: {exc}",)
        if shown is None:
            return Shown(fast.utterance.index, saved, self.dispatcher.saved(), fast,
                         decision, typed, fix, at, errors=errors)
        if fix:
            log.info("typed %r as heard so far; now %r", shown.typed, typed)
        return replace(shown, after=self.dispatcher.saved(), heard=fast, decision=decision,
                       typed=typed, performed=shown.performed + fix, errors=errors)

    def _settle(self, shown: Shown, heard: Heard) -> Outcome:
        """The end of an utterance that typed early: heard on the full window, decided
        from the dispatcher as it was before the utterance typed, and what it typed
        corrected to that (only the differing tail deleted and typed again,
        agent/dispatch/dictating.py corrected).  Left as typed when a typing failed,
        another window is focused, or the full hearing fails."""
        utt = heard.utterance
        if shown.errors:
            return self._left(shown, utt)
        try:
            full = self._full(heard)
        except RecognitionError as exc:
            log.warning("utterance %.2f-%.2f s: typed as first heard, not heard on the full "
                        "window: %s", utt.start, utt.end, exc)
            return self._left(shown, utt)
        if self.executor.active_app() != shown.heard.app:
            log.info("the focused window changed: %r left as first heard", shown.typed)
            return self._left(shown, utt)
        self.dispatcher.restore(shown.saved)
        transcript, final = self.decider.decide(full)
        fix = corrected(shown.typed, final.actions)
        if fix:
            log.info("typed %r as first heard; corrected: %s", shown.typed,
                     [a.to_json() for a in fix])
        errors = self._act(replace(final, actions=fix))
        performed = shown.performed + fix
        return Outcome(utt, transcript, final, time.monotonic(), errors, recognised_at=shown.at,
                       performed=performed if performed != final.actions else ())

    @staticmethod
    def _left(shown: Shown, utt: Utterance) -> Outcome:
        """The outcome of an utterance whose early text stays as typed."""
        return Outcome(utt, shown.heard.transcript, shown.decision, time.monotonic(),
                       shown.errors, recognised_at=shown.at)

    def failed(self, utt: Utterance, error: str) -> Outcome:
        """The outcome of an utterance that could not be heard or decided: nothing done
        (and a held command ended, as by any utterance that is not its yes)."""
        transcript = Transcript(text="", backend=self.recogniser.name)
        self.dispatcher.forget_typed()  # it may have failed halfway through typing
        decision = self.dispatcher.ignore("", f"error: {error}", start=utt.start)
        return Outcome(utt, transcript, decision, time.monotonic(), (error,))

    @staticmethod
    def _checked(utt: Utterance, transcript: Transcript) -> Transcript:
        """Any backend's transcript, doubted when its words cannot account for the speech."""
        doubt = transcript.doubt or coverage_doubt(transcript.text, utt.voiced)
        return transcript if doubt == transcript.doubt else replace(transcript, doubt=doubt)

    def _act(self, decision: Decision) -> tuple[str, ...]:
        errors: list[str] = []
        for action in decision.actions:
            try:
                self.executor.perform(action)
            except ActionError as exc:
                errors.append(str(exc))
                log.error("%s", exc)
        if errors:
            self.dispatcher.forget_typed()
        return tuple(errors)
