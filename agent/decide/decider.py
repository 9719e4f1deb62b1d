"""The decide stage: candidates from one hearing, then the dispatcher's decision.

hear -> candidates -> decide -> act, in one direction.  The pipeline hands this stage
the utterance's Hearing (agent/asr/base.py) and its first transcript; everything tried
here decodes against that same hearing, using only the capabilities the recogniser
declared.  The dispatcher answers one question per reading (Dispatcher.answer: what it
matches, its free-text lead, a key in doubt, or the key command it begins and its near
misses: agent/dispatch/answer.py); which second tries to make is a pure function of
that answer (second_tries), and the dispatcher acts on the answer of the reading taken
(Dispatcher.apply), which is where the mode and a held command change.  Cheapest first,
each only while nothing matched:

1. the transcript as decoded (its best hypothesis);
2. refocus (capability `prefix`): a key command begun but not understood ("Press time.")
   is decoded again, forced to begin with the command's words, prompted with key names;
3. rehear: the audio a little lower or slower, heard anew (agent/audio/variants.py), in
   command mode, when what was heard is short;
4. verify (capability `score`): near-miss commands scored against the hearing; one that
   explains the audio almost as well as what was heard is taken;
5. wide (`retry_wide`): refocus and verify once more on the full window (Hint.thorough),
   which goes wrong on other utterances than the fitted one; last, as the dearest;
6. intent (capability `intent`): the backend picks commands as tool calls; the
   dispatcher checks and performs them, asking first when the guess is risky.

A key command matched by its words (as heard or by steps 2-5) whose key others sound like
("control shift d": t?) is scored against the hearing with each of them in place, and
acts only when one clearly wins; else nothing is pressed and the decision asks
(key_checked, capability `score`).

This module makes the one pass (decide, and settled and prepare at a pause) and the
free-text decode; steps 2-5 are agent/decide/second.py, step 6 agent/decide/intent.py,
the key check agent/decide/keys.py.

Each try is taken only if it makes a command match, so speech that is not a command
still does nothing, and a transcript the recogniser doubts (agent/asr/guard.py) never
acts (in dictation, a doubted first decode is judged again as decoded without the
prompt, which is what dictation types: Decider._plainly).  When the command takes free
text (type, formatters) or in dictation, the text is
decoded once more without the command-vocabulary prompt, which pulls free words toward
command words, forced to follow the command's words as first heard (capability
`prefix`).  While it is still the same command, the first reading, that plain one or
one of its n-best is taken, whichever the hearing explains best per word with the
prompt, never one with fewer words than the plain one (`free_text = "best"`,
capability `score`; bench/free_text.py, bench/real_speech.py), or the plain one
(`free_text = "plain"`).  A failure of a second try logs a warning and keeps what
was first heard (a failed scoring of the readings: the plain one).  The second tries'
results, and the free-text decode, are kept for the latest hearing: a pause's whole
peek (agent/worker.py) and the utterance that ends at that pause share one hearing, and
the end does not redo them.  At a whole peek of free text, which waits for the end,
prepare() makes the free-text decode while the speaker is silent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.asr import guard
from agent.asr.base import Capabilities, Hint, Recogniser, RecognitionError
from agent.decide.heard import Heard
from agent.decide.intent import by_intent
from agent.decide.keys import key_checked
from agent.decide.second import SecondTries, second_tries
from agent.dispatch.answer import Answer
from agent.dispatch.dictating import typed_by
from agent.dispatch.dispatcher import Dispatcher
from agent.messages import Decision, Mode, Transcript

if TYPE_CHECKING:
    from agent.dispatch.config import CommandsConfig

log = logging.getLogger(__name__)


class Decider:
    """Turns a Heard into (the transcript acted on, the Decision); see the module doc."""

    def __init__(self, recogniser: Recogniser, dispatcher: Dispatcher, cfg: CommandsConfig,
                 *, intent_confirm: str = "risky") -> None:
        self._recogniser = recogniser
        self.dispatcher = dispatcher
        self._cfg = cfg
        self.tries = SecondTries(recogniser, dispatcher, cfg)
        """The second tries (agent/decide/second.py), by name."""
        self._intent_confirm = intent_confirm
        """"always": every command picked by intent waits for a spoken yes."""
        self._memo: tuple[tuple[object, ...], dict[str, Transcript]] | None = None
        """The latest hearing's key, and what was tried on it by name (each second try,
        the free-text decode)."""

    @property
    def _can(self) -> Capabilities:
        return self._recogniser.capabilities

    @property
    def wide_free_text(self) -> bool:
        """Free text is decoded again on the full window (Hint.thorough): every
        `free_text` but "first"."""
        return self._cfg.free_text != "first"

    def decide(self, heard: Heard) -> tuple[Transcript, Decision]:
        """hearing -> candidates -> decision -> actions, in one pass: the first reading
        and the grammar's answer for it; the reading taken (a second try's, the free
        text's, the key the hearing prefers); then the dispatcher acts on its answer."""
        heard, answer = self._first(heard, self._ask(heard, heard.transcript))
        utt, transcript = heard.utterance, heard.transcript
        if transcript.doubt:
            log.info("heard %r, doubted (%s): not acted on", transcript.text, transcript.doubt)
            return transcript, self.dispatcher.ignore(
                transcript.text.strip(), f"doubted: {transcript.doubt}", start=utt.start)
        transcript, answer = self._taken_reading(heard, answer)
        transcript, answer, question = self._key_checked(heard, transcript, answer)
        if question:  # nothing is pressed; as any utterance but a yes, it ends a held command
            return transcript, replace(self.dispatcher.ignore(
                transcript.text.strip(), question, start=utt.start), question=question)
        decision = self.dispatcher.apply(answer, start=utt.start, end=utt.end)
        if decision.command is None and not decision.actions and self._can.intent:
            intended = by_intent(heard, transcript, decision.mode, self.dispatcher,
                                 confirm_always=self._intent_confirm == "always")
            if intended is not None:  # it keeps what this utterance ended
                decision = replace(intended, expired=decision.expired,
                                   cancelled=decision.cancelled)
        return transcript, decision

    def first_look(self, fast: Heard) -> tuple[Decision, str] | None:
        """The decision on a fast hearing (agent/worker.py types it early), and what it
        types, when it only types: dictation that is no command nor sounds like one
        ("Scratch mark."), or a command's free text ("type ...", formatters); not doubted,
        no edit, no mode change.  None otherwise (the dispatcher may have changed: the
        caller restores it)."""
        answer = self.dispatcher.answer(fast.transcript, fast.app)
        if fast.transcript.doubt or answer.awaiting:
            return None
        if answer.mode is Mode.DICTATION:
            if answer.matched or self.dispatcher.candidates(fast.transcript, fast.app):
                return None
        elif answer.mode is not Mode.COMMAND or answer.lead is None \
                or fast.utterance.unbroken:
            return None
        decision = self.dispatcher.apply(answer, start=fast.utterance.start,
                                         end=fast.utterance.end)
        typed = typed_by(decision.actions)
        return (decision, typed) if typed else None

    def takes_text(self, heard: Heard) -> bool:
        """Whether the reading (not doubted) is a command's free text ("type ...")."""
        return not heard.transcript.doubt and self._ask(heard, heard.transcript).takes_text

    def settled(self, heard: Heard) -> Transcript | None:
        """At a pause while the speaker may go on: the transcript a command would be
        decided on now (as heard, or from a second try), when it performs a command with
        no free text in command mode; else None.  No free-text decode, no intent: those
        wait for the end.  The second tries' results are kept for this hearing, so when
        the utterance ends at this pause with the same audio, decide() does not redo
        them."""
        first = heard.transcript
        if first.doubt or heard.utterance.unbroken:
            return None
        answer = self._ask(heard, first)
        if answer.mode is not Mode.COMMAND or answer.awaiting:
            return None
        found = first if answer.matched else self._second_tries(heard, answer)
        if found is not first:
            answer = self._ask(heard, found)
        if found.doubt or not answer.matched or answer.takes_text:
            return None
        return found

    def prepare(self, heard: Heard) -> None:
        """At a pause where the utterance waits for its end (free text, dictation): the
        free-text decode decide() would make, made now, while the speaker is silent, and
        kept for this hearing; nothing is decided."""
        if heard.transcript.doubt:
            return
        answer = self._ask(heard, heard.transcript)
        if answer.awaiting or answer.mode is Mode.SLEEP:
            return
        if answer.mode is Mode.DICTATION:
            if not answer.matched:
                self._free_text(heard, "", answer.mode)
            return
        if not heard.utterance.unbroken and answer.lead is not None:
            self._free_text(heard, answer.lead, answer.mode)

    def _ask(self, heard: Heard, transcript: Transcript) -> Answer:
        """The grammar's answer for one reading of this utterance."""
        return self.dispatcher.answer(transcript, heard.app)

    def _first(self, heard: Heard, answer: Answer) -> tuple[Heard, Answer]:
        """The first reading as it may be acted on, and its answer: doubted when part of
        unbroken speech (outside dictation); in dictation, a doubted one heard plainly
        (_plainly)."""
        transcript = heard.transcript
        if heard.utterance.unbroken and answer.mode is not Mode.DICTATION:
            transcript = replace(transcript, doubt=transcript.doubt or "part of unbroken speech "
                                 "longer than vad.max_utterance_s")
            return replace(heard, transcript=transcript), answer
        if transcript.doubt and answer.mode is Mode.DICTATION and not answer.awaiting:
            plainly = self._plainly(heard)
            if plainly is not heard:
                return plainly, self._ask(plainly, plainly.transcript)
        return heard, answer

    def _taken_reading(self, heard: Heard, answer: Answer) -> tuple[Transcript, Answer]:
        """The reading to act on, with its answer: the first when it matches a command
        without free text; a second try's when it matches nothing; the free text decoded
        again when it has some."""
        first = heard.transcript
        if not answer.matched:
            taken = self._second_tries(heard, answer)
        elif answer.lead is not None:
            taken = self._free_text(heard, answer.lead, answer.mode)
        else:
            return first, answer
        return (first, answer) if taken is first else (taken, self._ask(heard, taken))

    def _plainly(self, heard: Heard) -> Heard:
        """Dictation whose first decode is doubted, heard as the free-text decode hears it
        (no prompt, the full window), when the guard does not doubt that one.  The prompt
        makes free words look unlikely, short spelled letters above all ("B." with it:
        no-speech 0.64, log-prob -1.35, "speech unlikely"; without it: 0.59), and what
        dictation types is the plain decode anyway; doubted too, nothing is typed."""
        first = heard.transcript
        try:
            plain = heard.hearing.decode(Hint(self.dispatcher.words.phrases,
                                              heard.hint.alternatives, thorough=True))
        except RecognitionError as exc:
            log.warning("could not decode %r without the prompt: %s", first.text, exc)
            return heard
        why = plain.doubt or ("nothing heard" if not plain.text.strip() else "heard as a command"
                              if self._ask(heard, plain).matched else "")
        log.info("heard %r, doubted (%s); without the prompt %r: %s", first.text, first.doubt,
                 plain.text, f"doubted too ({why})" if why else "not doubted, taken")
        if why:
            return heard
        return replace(heard, transcript=replace(plain, seconds=first.seconds + plain.seconds))

    def _free_text(self, heard: Heard, lead: str, mode: Mode) -> Transcript:
        """_plain on the first transcript, once per hearing (in `mode`)."""
        return self._once(heard, mode, "free text",
                          lambda h: self._plain(h, h.transcript, lead))

    def _second_tries(self, heard: Heard, answer: Answer) -> Transcript:
        """The first reading of an utterance that matched nothing (`answer`), or the first
        second try's reading that matches a command (second_tries: which, in order)."""
        first = heard.transcript
        if answer.mode is Mode.DICTATION:
            return self._free_text(heard, "", answer.mode)
        for name in second_tries(answer, self._cfg, self._can):
            again = self._once(heard, answer.mode, name,
                               lambda h, name=name: self.tries.attempt(h, name, answer))
            if again is not first:
                return again
        return first

    def _once(self, heard: Heard, mode: Mode, name: str,
              attempt: Callable[[Heard], Transcript]) -> Transcript:
        """`attempt(heard)`, made once per hearing, first transcript, hint, app and `mode`
        (only the latest hearing's results are kept)."""
        key = (heard.hearing, heard.transcript, heard.hint, heard.app, mode)
        if self._memo is None or self._memo[0][0] is not key[0] \
                or self._memo[0][1] is not key[1] or self._memo[0][2:] != key[2:]:
            self._memo = (key, {})
        done = self._memo[1]
        if name not in done:
            done[name] = attempt(heard)
        return done[name]

    def key_checked(self, heard: Heard, transcript: Transcript) -> tuple[Transcript, str]:
        """A key command whose key others sound like ("press control shift d"): each of
        those keys, written in place of the one heard, scored against the hearing
        (capability `score`) in each form a key is written in.  The transcript of the one
        that wins (in_doubt), or, when none does, the transcript and a question naming
        those in doubt ("did you mean ctrl+shift+d or ctrl+shift+t?")."""
        taken, _, question = self._key_checked(heard, transcript, self._ask(heard, transcript))
        return taken, question

    def _key_checked(self, heard: Heard, transcript: Transcript,
                     answer: Answer) -> tuple[Transcript, Answer, str]:
        """key_checked on a reading whose answer is known (agent/decide/keys.py), when the
        recogniser can score: the reading taken, its answer, and the question ("" when
        none)."""
        if not self._can.score:
            return transcript, answer, ""
        return key_checked(heard, transcript, answer, self.dispatcher)

    def _plain(self, heard: Heard, transcript: Transcript, lead: str) -> Transcript:
        """Free text decoded again after the command's words as heard (`lead`: "Type";
        "" in dictation) without the vocabulary prompt, which pulls free words toward
        command words; taken when it still means the same command."""
        how = self._cfg.free_text
        if how == "first" or not heard.hint.phrases or (lead and not self._can.prefix):
            return transcript
        hint = replace(heard.hint, thorough=True) if how == "thorough" else \
            Hint(self.dispatcher.words.phrases, heard.hint.alternatives, prefix=lead,
                 thorough=True)
        try:
            plain = heard.hearing.decode(hint)
        except RecognitionError as exc:
            log.warning("could not decode %r without the prompt: %s", transcript.text, exc)
            return transcript
        same = self._ask(heard, plain).command == self._ask(heard, transcript).command
        if plain.doubt or not plain.text.strip() or not same:
            return transcript
        if how == "best" and self._can.score:
            return self._best_reading(heard, transcript, plain)
        log.info("free text %r, decoded again (%s) %r: taken", transcript.text, how, plain.text)
        return replace(plain, seconds=transcript.seconds + plain.seconds)

    def _best_reading(self, heard: Heard, first: Transcript, plain: Transcript) -> Transcript:
        """Of the first reading, the plain one and its n-best (the same command), the one
        whose words, in one surface form, the hearing with the vocabulary prompt (and the
        user's words) explains
        best: punctuation and case, which the two prompts favour differently, weigh
        nothing, and the plain decode's n-best often holds the words both missed.
        A reading that drops words the audio holds must never win, so (pick_reading)
        readings are weighed per word, as the decoder's beam weighs its own hypotheses (a
        total log-probability favours whichever says less: "That is not a valid
        password." over "... Please try again."), and one with fewer words than the plain
        decode (no prompt, the full window, not doubted), or that the guard finds
        degenerate (a loop, a runaway), is not weighed at all."""
        name = self._ask(heard, first).command
        readings = [first, plain, *(replace(plain, text=h.text, alternatives=(h,))
                                    for h in plain.alternatives[1:]
                                    if self._ask(heard, Transcript(h.text)).command == name)]
        forms = list(dict.fromkeys(surface_form(r.text) for r in readings))
        left_out = left_out_readings(forms, surface_form(plain.text), heard.utterance.duration)
        weighed = [i for i in range(len(forms)) if i not in left_out]
        try:
            scores = weighed_scores(heard, forms, weighed, replace(
                heard.hint, phrases=heard.hint.phrases + self.dispatcher.words.phrases))
        except RecognitionError as exc:
            log.warning("could not score the readings of %r: %s", first.text, exc)
            return replace(plain, seconds=first.seconds + plain.seconds)
        best, left_out = pick_reading(forms, scores, surface_form(plain.text),
                                      heard.utterance.duration)
        taken = next(r for r in readings if surface_form(r.text) == forms[best])
        log.info("free text %r, plain %r; readings %s%s: took %r", first.text, plain.text,
                 {f: round(scores[i], 2) if len(weighed) > 1 and i in weighed else "-"
                  for i, f in enumerate(forms)},
                 "".join(f", not {forms[i]!r} ({why})" for i, why in left_out.items()),
                 taken.text)
        return replace(taken, seconds=first.seconds + plain.seconds)

def weighed_scores(heard: Heard, forms: list[str], weighed: list[int],
                   hint: Hint) -> list[float]:
    """Each reading's score against the hearing prompted with `hint`, for those `weighed` and
    only when there are two or more to choose from (0 for the rest): a scoring pass is a
    forced decode on the 30 s encoder output, time the text is not typed in."""
    scores = [0.0] * len(forms)
    if len(weighed) > 1:
        got = heard.hearing.score([forms[i] + "." for i in weighed], hint)
        for i, score in zip(weighed, got, strict=True):
            scores[i] = score
    return scores


def surface_form(text: str) -> str:
    """`text` reduced to its words (apostrophes kept), lower case, the first capitalised:
    one surface form for readings that differ only in punctuation and case."""
    return " ".join(re.sub(r"[^\w' ]+", " ", text).lower().split()).capitalize()


def pick_reading(forms: list[str], scores: list[float], plain: str,
                 seconds: float) -> tuple[int, dict[int, str]]:
    """The index of the reading to take among `forms` (surface forms, `plain` among them)
    scored `scores` (log-probabilities, the end included) for `seconds` of audio, and why
    each reading left out was: one with fewer words than the plain decode has dropped
    some, one the guard finds degenerate cannot have been said; of the rest, the best
    log-probability per word (and the end)."""
    left_out = left_out_readings(forms, plain, seconds)
    weighed = [i for i in range(len(forms)) if i not in left_out] or [forms.index(plain)]
    return max(weighed, key=lambda i: scores[i] / (len(forms[i].split()) + 1)), left_out


def left_out_readings(forms: list[str], plain: str, seconds: float) -> dict[int, str]:
    """The readings pick_reading does not weigh, and why: fewer words than the plain
    decode, or degenerate.  Known before any scoring, so those are never scored."""
    least = len(plain.split())
    left_out: dict[int, str] = {}
    for i, form in enumerate(forms):
        said = len(form.split())
        if said < least:
            left_out[i] = f"{least - said} word{'s' if least - said > 1 else ''} fewer than "\
                "the plain decode"
        elif why := guard.degenerate(form, seconds):
            left_out[i] = why
    return left_out

