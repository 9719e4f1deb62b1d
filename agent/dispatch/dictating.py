"""Dictation into one text field: the joining state and editing by voice.

`Field` remembers what this agent typed into the field it types into: the last characters
(for joining, agent/dispatch/joining.py) and a bounded stack of what each utterance typed
(for "scratch that"). Both describe text at the cursor, so they are forgotten whenever
something else may have moved it: a command other than typing, a mode change, another
focused window, a confirmation asked for. A gap of FORGET_AFTER_S without typing forgets
the stack: deleting blind is the costly mistake; the last characters stay (a space too
many is the worst that follows). In command mode every `type <text>` starts afresh, typed
as heard (the contract's "types TEXT as heard"): between commands the person may have
clicked anywhere.

Editing by voice: the edit actions of commands/dictation.toml ("scratch that" = "edit
scratch"), which `Field.edit` turns into keys:
- scratch: BackSpace times what the last utterance typed, the joining space and Return
  keys included; again, one further back. select: shift+Left over its words. no_space:
  the next utterance joins without a space;
- new_line, new_paragraph (Return once, twice: the only way dictation presses Return),
  comma, period, question_mark (said alone: in place of a mark this agent typed last).
Within a dictated utterance (`Field.dictate`), in English words:
- "replace <words> with <words>" alone: within the last utterance only, deleted back to
  the words and retyped, the new words cased for where they go; not found there, the
  utterance is dictated text like any other (no dictated word is lost: "Replace the
  filter with a new one." is typed);
- at the end: "new line", "new paragraph", "comma", "period" / "full stop", "question
  mark" (in place of the model's own mark there), "stop dictation" (the text before it
  is typed, then command mode). One after "a", "the", "trial", ... (_LEADS: "put a
  comma", "a trial period") is text.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from agent.dispatch.joining import SENTENCE_ENDS, cased, joined, no_space
from agent.messages import Action, KeyAction, Mode, ModeAction, TypeAction

STACK = 32
"""How many utterances "scratch that" can go back."""
FORGET_AFTER_S = 30.0
"""Seconds (stream time) without typing after which the scratch stack is forgotten."""
_TAIL = 8
"""Characters of what was typed kept for joining (the rules look at the last few)."""

_S = r"[\s,.;:!?-]*"
_REPLACE = re.compile(rf"^{_S}replace[\s,]+(.+?),?\s+with\s+(.+?){_S}$", re.IGNORECASE)
_LEADS = ("a", "an", "the", "this", "that", "no", "one", "each", "every", "per", "same",
          "time", "trial", "grace", "waiting", "notice", "long", "short")
"""Words after which "period", "comma", ... at the end are the words themselves ("a trial
period", "put a comma")."""
_ENDING = re.compile(
    r"(?:^|(?<=[\s,.;:!?-]))(?:(?P<lead>" + "|".join(_LEADS) + r")\s+)?"
    r"(?P<cmd>new\s*line|new\s*paragraph|comma|period|full\s+stop|question\s+mark"
    r"|stop\s+dictation)" + _S + "$", re.IGNORECASE)
_MARKS = {"comma": ",", "period": ".", "fullstop": ".", "questionmark": "?",
          "question_mark": "?"}
_RETURNS = {"newline": "\n", "newparagraph": "\n\n", "new_line": "\n", "new_paragraph": "\n\n"}


@dataclass(frozen=True, slots=True)
class Entry:
    """What one utterance typed, and what had been typed before it (the tail)."""

    typed: str
    before: str
    deleted: str = ""
    """A mark it took the place of (BackSpace then the mark): retyped when scratched."""


@dataclass(frozen=True, slots=True)
class Saved:
    """What a Field knew at one moment (Field.saved)."""

    before: str
    stack: tuple[Entry, ...]
    glue: bool
    app: str | None
    last: float


@dataclass(frozen=True, slots=True)
class Result:
    """What one dictated utterance does."""

    actions: tuple[Action, ...]
    note: str = ""


class Field:
    """What this agent typed into the focused text field, as far as it can know."""

    def __init__(self) -> None:
        self.before = ""
        """The last characters typed ("" = nothing known: a new start)."""
        self._stack: deque[Entry] = deque(maxlen=STACK)
        self._glue = False
        self._app: str | None = None
        self._last = 0.0

    def reset(self) -> None:
        """Forget everything: the cursor may have moved."""
        self.before, self._glue = "", False
        self._stack.clear()

    def saved(self) -> Saved:
        """All it knows, to put back with restore() (typing withdrawn: agent/worker.py)."""
        return Saved(self.before, tuple(self._stack), self._glue, self._app, self._last)

    def restore(self, saved: Saved) -> None:
        """Know again what saved() returned."""
        self.before, self._glue, self._app, self._last = \
            saved.before, saved.glue, saved.app, saved.last
        self._stack = deque(saved.stack, maxlen=STACK)

    def observe(self, app: str, start: float, dictating: bool = True) -> None:
        """Before an utterance that starts at `start` in window class `app`: another window
        forgets all, a long gap the stack; outside dictation, all is forgotten."""
        if not dictating or (self._app is not None and app != self._app):
            self.reset()
        elif start - self._last > FORGET_AFTER_S:
            self._stack.clear()
        self._app = app

    def type_text(self, text: str, end: float = 0.0) -> str:
        """Join a `type <text>` capture (or dictated text) here; what to type."""
        out = joined(text, self.before, not self._glue)
        self._typed(out, end)
        return out

    def edit(self, edit: str, end: float = 0.0) -> Result:
        """The keys for an edit action (agent/messages.py EDITS)."""
        if edit == "scratch":
            return self._scratch()
        if edit == "select":
            return self._select()
        if edit == "no_space":
            self._glue = True
            return Result((), "no space before the next words")
        return self._typing("", _MARKS.get(edit) or _RETURNS[edit], False, end)

    def dictate(self, text: str, end: float = 0.0) -> Result:
        """The actions for one dictated utterance (controls already made spaces)."""
        if (m := _REPLACE.match(text)) and (done := self._replace(m[1], m[2])) is not None:
            return done
        return self._typing(*ending(text), end)

    def _typing(self, body: str, tail: str, stop: bool, end: float) -> Result:
        """Type `body` joined here, then `tail` (a mark, Return keys), then stop if told."""
        body, glue = no_space(body)
        typed = joined(body, self.before, not (glue or self._glue)) \
            if body.strip(" ,.;:!?") else ""
        deleted = ""
        if tail[:1] in _MARKS.values() and typed:
            typed = typed.rstrip(" ,.;:!?") + tail  # the spoken mark, not the model's
        elif tail[:1] in _MARKS.values():
            # said alone: it takes the place of a mark this agent typed last
            deleted = self.before[-1:] if self.before[-1:] in ",.;:!?" else ""
            typed = tail
        else:
            typed += tail
        if not typed and not stop:
            return Result((), "nothing to type")
        actions = (KeyAction("backspace", 1),) if deleted else ()
        self._typed(typed, end, deleted)
        stopped = (ModeAction(Mode.COMMAND),) if stop else ()
        return Result(actions + rendered(typed) + stopped)

    def _typed(self, typed: str, end: float, deleted: str = "") -> None:
        if typed:
            before = self.before[:len(self.before) - len(deleted)]
            self._stack.append(Entry(typed, before, deleted))
            self.before = (before + typed)[-_TAIL:]
            self._glue = False
        self._last = end

    def _scratch(self) -> Result:
        if not self._stack:
            return Result((), "nothing to scratch")
        entry = self._stack.pop()
        self.before = (entry.before + entry.deleted)[-_TAIL:]
        return Result((KeyAction("backspace", len(entry.typed)), *rendered(entry.deleted)))

    def _select(self) -> Result:
        if not self._stack:
            return Result((), "nothing to select")
        entry = self._stack.pop()
        words = entry.typed.lstrip(" ")
        # typing next replaces the selection, which starts after the joining space
        self.before = (entry.before + entry.typed[:len(entry.typed) - len(words)])[-_TAIL:]
        self._stack.clear()
        return Result((KeyAction("shift+left", len(words)),))

    def _replace(self, old: str, new: str) -> Result | None:
        """Keys that replace `old` in the last utterance typed; None when it is not there
        (then the words were dictation, not an edit)."""
        old, new = old.strip(" ,.;:!?"), new.strip(" ,.;:!?")
        entry = self._stack[-1] if self._stack else None
        found = entry and re.search(rf"(?<!\w){re.escape(old)}(?!\w)", entry.typed,
                                    re.IGNORECASE)
        if not found or not new or entry is None:
            return None
        new = cased(new, (entry.before + entry.typed[:found.start()])[-_TAIL:])
        gone = entry.typed[found.start():]
        retyped = new + gone[found.end() - found.start():]
        self._stack[-1] = Entry(entry.typed[:found.start()] + retyped, entry.before,
                               entry.deleted)
        self.before = (entry.before + self._stack[-1].typed)[-_TAIL:]
        return Result((KeyAction("backspace", len(gone)), *rendered(retyped)))


def ending(text: str) -> tuple[str, str, bool]:
    """(the words before any ending commands, what they type: a mark or Return keys,
    whether "stop dictation" ended it); peeled off the end one by one. The model's own
    mark at the very end goes back on the words when no spoken mark takes its place
    ("We should go new line." -> "We should go.", Return)."""
    tail, stop = "", False
    last = text.rstrip()[-1:] if text.rstrip()[-1:] in SENTENCE_ENDS else ""
    while (m := _ENDING.search(text)) and not m.group("lead"):
        cmd = re.sub(r"\s+", "", m.group("cmd").lower())
        text = text[:m.start()]
        if cmd == "stopdictation":
            stop = True
        elif cmd in _MARKS:
            tail = _MARKS[cmd] + tail
        else:
            tail = _RETURNS[cmd] + tail
    body = text.strip()
    if (tail or stop) and last and tail[:1] not in _MARKS.values() and body[-1:].isalnum():
        body += last
    return body, tail, stop


def typed_by(actions: tuple[Action, ...]) -> str | None:
    """What `actions` type (Return keys as newlines); None when they do anything else."""
    out = []
    for a in actions:
        if isinstance(a, TypeAction):
            out.append(a.text)
        elif isinstance(a, KeyAction) and a.keys == "enter":
            out.append("\n" * a.count)
        else:
            return None
    return "".join(out)


def corrected(typed: str, actions: tuple[Action, ...]) -> tuple[Action, ...]:
    """Keys that turn `typed`, just typed at the cursor, into what `actions` do in its
    place: when they only type, the differing tail deleted and typed again; else all of
    `typed` deleted, then `actions`."""
    new = typed_by(actions)
    if new is None:
        return ((KeyAction("backspace", len(typed)),) if typed else ()) + actions
    same = next((i for i, (a, b) in enumerate(zip(typed, new, strict=False))
                 if a != b),
                min(len(typed), len(new)))
    back = (KeyAction("backspace", len(typed) - same),) if len(typed) > same else ()
    return back + rendered(new[same:])


def rendered(typed: str) -> tuple[Action, ...]:
    """`typed` as actions: text as type actions, each run of newlines as Return keys."""
    out: list[Action] = []
    for part in re.split(r"(\n+)", typed):
        if part.startswith("\n"):
            out.append(KeyAction("enter", len(part)))
        elif part:
            out.append(TypeAction(part))
    return tuple(out)
