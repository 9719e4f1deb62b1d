"""The key check: a key command whose key others sound like ("control shift d": t?).

Each of those keys, written in place of the one heard, is scored against the hearing
(capability `score`) in each form a key is written in (agent/dispatch/keydoubt.py); the
command acts only when one clearly wins, else nothing is pressed and the decision asks.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from agent.asr.base import RecognitionError
from agent.decide.heard import Heard
from agent.dispatch.answer import Answer
from agent.dispatch.dispatcher import Dispatcher
from agent.messages import Hypothesis, Transcript

log = logging.getLogger(__name__)

KEY_MARGIN = 2.0
"""A key command whose key another sounds like acts only when the hearing explains one of
them by this much more (log-probability, summed over the forms it is written in) than
every other (key_checked, in_doubt)."""


def key_checked(heard: Heard, transcript: Transcript, answer: Answer,
                dispatcher: Dispatcher) -> tuple[Transcript, Answer, str]:
    """Decider.key_checked on a reading whose answer is known, for a recogniser that can
    score: the reading taken, its answer, and the question ("" when none)."""
    choices = answer.keys
    if choices is None:
        return transcript, answer, ""
    texts = [t for forms in choices.texts for t in forms]
    try:
        flat = heard.hearing.score(texts, heard.hint)
    except RecognitionError as exc:
        log.warning("could not check the key of %r: %s", transcript.text, exc)
        return transcript, answer, ""
    per = len(choices.texts[0])
    table = [flat[i:i + per] for i in range(0, len(flat), per)]
    scores = [sum(row) for row in table]
    close = in_doubt(table, KEY_MARGIN)
    log.info("heard %r; keys %s: %s", transcript.text,
             dict(zip(choices.chords, (round(s - scores[0], 2) for s in scores),
                      strict=True)),
             "in doubt" if len(close) > 1 else f"{choices.chords[close[0]]} taken")
    if len(close) > 1:
        return transcript, answer, "did you mean " + " or ".join(
            choices.chords[i] for i in close[:3]) + "?"
    if close[0] == 0:
        return transcript, answer, ""
    text = choices.texts[close[0]][0]
    top = transcript.alternatives[0].score if transcript.alternatives else 0.0
    taken = replace(transcript, text=text,
                    alternatives=(Hypothesis(text, top), *transcript.alternatives))
    return taken, dispatcher.answer(taken, heard.app), ""


def in_doubt(table: list[list[float]], margin: float) -> list[int]:
    """The choices in doubt, given each one's scores in each form it is written in (one
    row a choice): those whose summed score is at most `margin` below the best, and any
    that scores best in one form, best first.  One choice when it clearly wins: by the
    margin in sum, and in every form (espeak's "tee" is written "D" more readily than
    "T", while "tee" beats "dee": the forms disagree, and nothing is pressed)."""
    sums = [sum(row) for row in table]
    order = sorted(range(len(sums)), key=lambda i: sums[i], reverse=True)
    close = {i for i in order if sums[i] >= sums[order[0]] - margin}
    close |= {max(range(len(table)), key=lambda i: table[i][f]) for f in range(len(table[0]))}
    return [i for i in order if i in close]
