"""Second tries: a first reading that matched nothing, tried again on the same hearing.

Which ones, in order, is a pure function of the grammar's answer (second_tries): refocus
(capability `prefix`) for a key command begun, rehear (agent/audio/variants.py) in command
mode when what was heard is short, verify (capability `score`) for near misses, then
refocus and verify on the full window (`retry_wide`).  Each is taken only if it makes a
command match; a failed one logs a warning and keeps the first reading.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.asr.base import Capabilities, Hint, Recogniser, RecognitionError
from agent.decide.heard import Heard
from agent.dispatch.answer import Answer
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.normalize import normalize
from agent.messages import Hypothesis, Mode, Transcript

if TYPE_CHECKING:
    from agent.dispatch.config import CommandsConfig

log = logging.getLogger(__name__)

REHEAR_WORDS = 8
"""Only what was heard as this many words or fewer is heard again: commands are short
(a chain of three is six words), and a long sentence is not worth two more decodes."""


class SecondTries:
    """The second tries on the decide stage's recogniser and grammar, by name (attempt)."""

    def __init__(self, recogniser: Recogniser, dispatcher: Dispatcher,
                 cfg: CommandsConfig) -> None:
        self._recogniser = recogniser
        self._dispatcher = dispatcher
        self._cfg = cfg

    def _ask(self, heard: Heard, transcript: Transcript) -> Answer:
        """The grammar's answer for one reading of this utterance."""
        return self._dispatcher.answer(transcript, heard.app)

    def attempt(self, heard: Heard, name: str, answer: Answer) -> Transcript:
        """The second try `name` (as second_tries names it) on the first reading."""
        wide = name.endswith(" wide")
        if name.startswith("refocus"):
            return self.refocused(heard, thorough=wide, answer=answer)
        if name.startswith("verify"):
            return self.verified(heard, thorough=wide, answer=answer)
        return self.reheard(heard, name.removeprefix("rehear "))

    def _taken(self, heard: Heard, again: Transcript, how: str) -> Transcript:
        """`again` (its time added) if it matches a command, else the first transcript."""
        first = heard.transcript
        taken = not again.doubt and self._ask(heard, again).matched
        log.info("heard %r; %s: %r (%s)", first.text, how, again.text,
                 "taken" if taken else "no command either")
        if not taken:
            return first
        return replace(again, seconds=first.seconds + again.seconds)

    def refocused(self, heard: Heard, thorough: bool = False,
                  answer: Answer | None = None) -> Transcript:
        """A key command begun but not understood ("press time"), decoded again from the
        command's words on the same hearing (`thorough`: on the full window); taken only
        if it matches ("Press tab.").  `answer`: the grammar's for the first reading."""
        focus = (answer or self._ask(heard, heard.transcript)).focus
        if focus is None:
            return heard.transcript
        hint = Hint(focus.phrases, heard.hint.alternatives, prefix=focus.prefix,
                    thorough=thorough)
        try:
            again = heard.hearing.decode(hint)
        except RecognitionError as exc:
            log.warning("could not decode %r again: %s", heard.transcript.text, exc)
            return heard.transcript
        wide = ", with more context" if thorough else ""
        return self._taken(heard, again, f"again, from {focus.prefix!r}{wide}")

    def reheard(self, heard: Heard, name: str) -> Transcript:
        """The utterance heard anew as the audio variant `name` ("lower", "slower")."""
        from agent.audio.variants import variant  # numpy, only when needed

        try:
            again = self._recogniser.hear(variant(name, heard.utterance.pcm)).decode(heard.hint)
        except RecognitionError as exc:
            log.warning("could not hear %r again %s: %s", heard.transcript.text, name, exc)
            return heard.transcript
        return self._taken(heard, again, f"heard {name}")

    def verified(self, heard: Heard, thorough: bool = False,
                 answer: Answer | None = None) -> Transcript:
        """Near-miss commands scored against the hearing (`thorough`: on the full window);
        one that explains it almost as well as what was heard takes its place.  `answer`:
        the grammar's for the first reading."""
        transcript = heard.transcript
        candidates = list((answer or self._ask(heard, transcript)).near)
        if not candidates:
            return transcript
        hint = replace(heard.hint, thorough=thorough)
        try:
            scores = heard.hearing.score([normalize(transcript.text), *candidates], hint)
        except RecognitionError as exc:
            log.warning("could not verify candidates: %s", exc)
            return transcript
        best = pick_candidate(candidates, scores[1:], scores[0], self._cfg.verify_margin)
        log.info("heard %r; candidates%s %s; picked %r", transcript.text,
                 " on the full window" if thorough else "",
                 dict(zip(candidates, (round(s - scores[0], 2) for s in scores[1:]),
                          strict=True)), best)
        if best is None:
            return transcript
        top = transcript.alternatives[0].score if transcript.alternatives else 0.0
        return replace(transcript, text=best,
                       alternatives=(Hypothesis(best, top), *transcript.alternatives))


def second_tries(answer: Answer, cfg: CommandsConfig, can: Capabilities) -> tuple[str, ...]:
    """Which second tries a first reading that matched nothing (`answer`) gets, in order,
    by name (pure): refocus (a key command begun), rehear per variant (in
    command mode, when short), verify (near misses to score), then refocus and verify on
    the full window (retry_wide).  Each is taken only if it makes a command match."""
    refocus = cfg.refocus and can.prefix and answer.focus is not None
    verify = cfg.verify_margin > 0 and can.score and bool(answer.near)
    rehear = answer.mode is Mode.COMMAND and len(normalize(answer.text).split()) <= REHEAR_WORDS
    return (*(["refocus"] if refocus else []),
            *([f"rehear {name}" for name in cfg.rehear] if rehear else []),
            *(["verify"] if verify else []),
            *(["refocus wide"] if refocus and cfg.retry_wide else []),
            *(["verify wide"] if verify and cfg.retry_wide else []))


def pick_candidate(candidates: list[str], scores: list[float], heard: float,
                   margin: float) -> str | None:
    """The best-scoring candidate, if it is at most `margin` below what was heard."""
    if not candidates:
        return None
    best = max(range(len(candidates)), key=lambda i: scores[i])
    return candidates[best] if scores[best] >= heard - margin else None
