"""Second tries for an utterance that matched no command, cheapest first.

1. Re-decode a key command begun but not understood ("Press time."), forced to
   begin with the command's words and prompted with key names only.
2. Re-hear the audio a little lower, then lower and slower (agent/audio/variants.py),
   in command mode, when what was heard is short: voices that tiny.en mishears often
   come out right that way.
3. Verify near misses: score commands close to what was heard against the audio.

Each try is taken only if it makes a command match, so speech that is not a
command still does nothing.  Recognition here happens on the worker thread, in
the same recogniser; a failure of a second try logs a warning and keeps what was
first heard.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.asr.base import Hint, RecognitionError, Transcriber
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.normalize import normalize
from agent.messages import Hypothesis, Mode, Transcript, Utterance

if TYPE_CHECKING:
    from agent.config import CommandsConfig

log = logging.getLogger(__name__)

REHEAR_WORDS = 8
"""Only what was heard as this many words or fewer is heard again: commands are short
(a chain of three is six words), and a long sentence is not worth two more decodes."""


class Recovery:
    """What the pipeline does when nothing matched (see the module doc)."""

    def __init__(self, transcriber: Transcriber, dispatcher: Dispatcher,
                 cfg: CommandsConfig, alternatives: int = 5) -> None:
        self.transcriber = transcriber
        self.dispatcher = dispatcher
        self._cfg = cfg
        self._alternatives = alternatives

    def recover(self, utt: Utterance, hint: Hint, transcript: Transcript,
                app: str = "") -> Transcript:
        """A transcript that matches a command, else `transcript` itself."""
        if self._cfg.refocus:
            again = self.refocused(utt, transcript, app)
            if again is not transcript:
                return again
        for name in self._cfg.rehear if self._worth_rehearing(transcript) else ():
            again = self.reheard(utt, hint, transcript, app, name)
            if again is not transcript:
                return again
        if self._cfg.verify_margin > 0:
            return self.verified(utt, hint, transcript, app)
        return transcript

    def _worth_rehearing(self, transcript: Transcript) -> bool:
        """In command mode, what was heard short enough to be a command.  Dictated text and
        speech while asleep are left as heard: a variant could only turn them into a command
        nobody said ("wake up"), and would slow dictation down."""
        return (self.dispatcher.mode is Mode.COMMAND
                and len(normalize(transcript.text).split()) <= REHEAR_WORDS)

    def _taken(self, transcript: Transcript, again: Transcript, app: str, how: str) -> Transcript:
        """`again` (its time added) if it matches a command, else the first transcript."""
        taken = self.dispatcher.matches(again, app)
        log.info("heard %r; %s: %r (%s)", transcript.text, how, again.text,
                 "taken" if taken else "no command either")
        if not taken:
            return transcript
        return replace(again, seconds=transcript.seconds + again.seconds)

    def refocused(self, utt: Utterance, transcript: Transcript, app: str = "") -> Transcript:
        """A key command begun but not understood ("press time") is decoded again, forced
        to begin with the command's words and prompted with key names only; the new
        transcript is taken only if it matches a command ("Press tab.")."""
        focus = self.dispatcher.focus(transcript, app)
        if focus is None:
            return transcript
        try:
            again = self.transcriber.transcribe(
                utt.pcm, Hint(focus.phrases, self._alternatives, prefix=focus.prefix))
        except RecognitionError as exc:
            log.warning("could not decode %r again: %s", transcript.text, exc)
            return transcript
        return self._taken(transcript, again, app, f"again, from {focus.prefix!r}")

    def reheard(self, utt: Utterance, hint: Hint, transcript: Transcript, app: str,
                name: str) -> Transcript:
        """The utterance recognised again as the audio variant `name` ("lower", "slower")."""
        from agent.audio.variants import variant  # numpy, only when needed

        try:
            again = self.transcriber.transcribe(variant(name, utt.pcm), hint)
        except RecognitionError as exc:
            log.warning("could not hear %r again %s: %s", transcript.text, name, exc)
            return transcript
        return self._taken(transcript, again, app, f"heard {name}")

    def verified(self, utt: Utterance, hint: Hint, transcript: Transcript,
                 app: str = "") -> Transcript:
        """Near-miss commands scored against the audio; one that explains it almost as
        well as what was heard takes its place."""
        score = getattr(self.transcriber, "score", None)
        if score is None:
            return transcript
        candidates = self.dispatcher.candidates(transcript, app)
        if not candidates:
            return transcript
        try:
            scores = score(utt.pcm, hint, [normalize(transcript.text), *candidates])
        except RecognitionError as exc:
            log.warning("could not verify candidates: %s", exc)
            return transcript
        best = pick_candidate(candidates, scores[1:], scores[0], self._cfg.verify_margin)
        log.info("heard %r; candidates %s; picked %r", transcript.text,
                 dict(zip(candidates, (round(s - scores[0], 2) for s in scores[1:]),
                          strict=True)), best)
        if best is None:
            return transcript
        top = transcript.alternatives[0].score if transcript.alternatives else 0.0
        return replace(transcript, text=best,
                       alternatives=(Hypothesis(best, top), *transcript.alternatives))


def pick_candidate(candidates: list[str], scores: list[float], heard: float,
                   margin: float) -> str | None:
    """The best-scoring candidate, if it is at most `margin` below what was heard."""
    if not candidates:
        return None
    best = max(range(len(candidates)), key=lambda i: scores[i])
    return candidates[best] if scores[best] >= heard - margin else None
