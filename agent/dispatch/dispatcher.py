"""The dispatcher (pure): transcript in, decision out; modes, chains, confirmation.

Command mode acts only on a match (or a chain joined by "then"), dictation types what
is heard, sleep mode waits for "wake up"; a command that asks first is held for the
next utterance (docs/commands.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agent.dispatch.answer import Answer, Focus, free_lead
from agent.dispatch.captures import LOOSE
from agent.dispatch.complete import Completeness, completeness
from agent.dispatch.dictating import Field, Saved
from agent.dispatch.grammar import ActionTemplate, Capture, Literal
from agent.dispatch.held import Held, ended, is_yes
from agent.dispatch.keydoubt import key_choices
from agent.dispatch.loader import Command
from agent.dispatch.matcher import Match, Matcher
from agent.dispatch.near import focus_of, focusable, hypotheses, near_misses
from agent.dispatch.tools import (
    ToolCallError,
    command_tools,
    described,
    has_controls,
    risk,
    tool_call_match,
    without_controls,
)
from agent.dispatch.vocabulary import CAPTURE_HINTS
from agent.dispatch.words import Words
from agent.messages import (
    Action,
    Decision,
    EditAction,
    HelpAction,
    Mode,
    ModeAction,
    Pending,
    Transcript,
    TypeAction,
)
from agent.paths import data_dir

if TYPE_CHECKING:
    from agent.asr.base import ToolCall

log = logging.getLogger(__name__)

State = tuple[Mode, Held | None, Saved]
"""The dispatcher's mode, held command and what was typed (saved() and restore())."""

CONTROLS = ("confirm", "strip")
"""What happens to typed text with control characters (a newline would press Return):
wait for a spoken yes, or type it with each run of them made one space."""

ALT_MARGIN = 0.6
"""How far (log-probability per token) below the best hypothesis an n-best alternative
may score and still be taken as the command (was commands.alternative_margin)."""
CONFIRM_TIMEOUT_S = 8.0
"""How long a held command waits for its yes (the config's commands.confirm_timeout_s)."""


class Dispatcher:
    """Holds the mode and a pending confirmation; everything else is a pure function."""

    def __init__(self, commands: tuple[Command, ...], threshold: float = 0.8,
                 mode: Mode = Mode.COMMAND, controls: str = "confirm",
                 confirm_timeout_s: float = CONFIRM_TIMEOUT_S,
                 words: Words | None = None) -> None:
        self.mode = mode
        if controls not in CONTROLS:
            raise ValueError(f"controls must be one of {', '.join(CONTROLS)}, not {controls!r}")
        self.controls = controls
        """Typed text with control characters: "confirm" (a spoken yes first) or "strip"."""
        self.confirm_timeout_s = confirm_timeout_s
        """Seconds of stream time from the end of the asking utterance within which the
        next must start to be taken as its yes."""
        self._pending: Held | None = None
        self._field = Field()
        """What dictation and `type` typed at the cursor (agent/dispatch/dictating.py)."""
        self.words = words or Words()
        """The user's [words]: applied to dictated text and <text> captures."""
        self._use(Matcher(commands, threshold))

    def set_commands(self, commands: tuple[Command, ...], words: Words | None = None) -> None:
        """Swap in a reloaded command set (and words, when given); the mode is kept."""
        self._use(Matcher(commands, self._matcher.threshold))
        self.words = self.words if words is None else words

    def _use(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._loose = matcher.loosened(0.5, LOOSE)
        """What is worth asking the recogniser about (candidates)."""
        self._active: dict[tuple[Mode, str], tuple[Command, ...]] = {}
        """active() by mode and window class: asked several times per utterance."""
        self._vocabulary: dict[tuple[Mode, str], list[str]] = {}
        self._focusable = focusable(matcher.commands)
        """Leading words of the commands that begin with words then a key or chord."""

    def set_mode(self, mode: Mode) -> None:
        """Enter `mode` from outside (the tray menu); a pending confirmation is dropped."""
        self.mode = mode
        self._pending = None
        self._field.reset()

    def saved(self) -> State:
        """The mode, the held command and what was typed, to put back with restore():
        dictated text typed early, then withdrawn for its final reading (agent/worker.py)."""
        return self.mode, self._pending, self._field.saved()

    def restore(self, saved: State) -> None:
        """Be again as saved() found it."""
        self.mode, self._pending, field = saved
        self._field.restore(field)

    def forget_typed(self) -> None:
        """An action failed: what dictation believes it typed may be wrong, so "scratch
        that" must not delete by it, nor the next words join to it."""
        self._field.reset()

    @property
    def commands(self) -> tuple[Command, ...]:
        return self._matcher.commands

    def active(self, app: str = "") -> tuple[Command, ...]:
        """Commands live in the current mode for the window class `app`, app-specific first."""
        found = self._active.get((self.mode, app))
        if found is None:
            if len(self._active) > 64:  # window classes come and go
                self._active.clear()
            live = [c for c in self.commands if c.mode is self.mode
                    and (not c.app or re.search(c.app, app, re.IGNORECASE))]
            found = self._active[self.mode, app] = tuple(sorted(live, key=lambda c: not c.app))
        return found

    def sayable(self, app: str = "") -> tuple[str, ...]:
        """What can be said here (for "what can I say"): the spoken forms of the active
        commands as written, app-specific first, each once."""
        return tuple(dict.fromkeys(c.spoken or c.name for c in self.active(app)))

    def vocabulary(self, app: str = "") -> list[str]:
        """Phrases of the active commands and words for their captures, to bias the
        recogniser: "new tab", "press", "control", "three times", ... A recogniser whose
        prompt cannot hold them all keeps the end (agent/asr/whisper.py), so the user's
        own phrases come first, then the built-in ones, the focused app's and the words
        for captures: a thousand user commands once left only their last few in it, and
        the built-ins ("copy") lost their bias."""
        active = self.active(app)
        if (self.mode, app) not in self._vocabulary:
            if len(self._vocabulary) > 64:
                self._vocabulary.clear()
            self._vocabulary[self.mode, app] = self._phrases(active)
        return list(self._vocabulary[self.mode, app])

    @staticmethod
    def _phrases(active: tuple[Command, ...]) -> list[str]:
        phrases: dict[str, None] = {}
        hints: dict[str, None] = {}
        builtin = str(data_dir("commands"))
        for cmd in sorted(active, key=lambda c: (bool(c.app), c.origin.startswith(builtin))):
            words = [" ".join(e.options[0]) for e in cmd.pattern
                     if isinstance(e, Literal) and not e.optional]
            phrases[" ".join(words)] = None
            for e in cmd.pattern:
                if isinstance(e, Capture):
                    hints.update(dict.fromkeys(CAPTURE_HINTS.get(e.kind, ())))
        return list(phrases) + [h for h in hints if h not in phrases]

    @property
    def awaiting(self) -> bool:
        """True while a risky command waits for a spoken yes."""
        return self._pending is not None

    def answer(self, transcript: Transcript, app: str = "") -> Answer:
        """The one question the decide stage asks of a reading: what it matches in the
        current mode for the window class `app` (the first hypothesis within ALT_MARGIN
        that does), its free-text lead and key in doubt; when it matches nothing (and this
        is not dictation), the key command it begins and the near misses.  No state change."""
        text = transcript.text.strip()
        base = Answer(text, app, self.mode, self._pending is not None, is_yes(text))
        found = self._match(transcript, app)
        if found is None:
            if self.mode is Mode.DICTATION:
                return base
            return replace(base, focus=self.focus(transcript, app),
                           near=tuple(self.candidates(transcript, app)))
        heard, chain = found
        return replace(base, heard=heard, chain=tuple(chain), lead=free_lead(heard, chain),
                       keys=None if base.awaiting else key_choices(heard, chain))

    def matches(self, transcript: Transcript, app: str = "") -> bool:
        """Whether dispatch() would find a command (or the yes it awaits); no state change."""
        return self.answer(transcript, app).matched

    def command_name(self, transcript: Transcript, app: str = "") -> str | None:
        """The command (chain) dispatch() would perform for `transcript`; no state change."""
        return self.answer(transcript, app).command

    def focus(self, transcript: Transcript, app: str = "") -> Focus | None:
        """When the first words heard begin a key command ("press time") that did not
        match: that command's words and the key names, to decode the utterance again."""
        return focus_of(transcript.text, self.active(app), self._focusable)

    def complete(self, text: str, app: str = "") -> Completeness:
        """Whether `text`, heard so far at a short pause, is a complete command that nothing
        more could extend, so the utterance may close now (agent/dispatch/complete.py)."""
        if self._pending is not None:
            return Completeness(False, "awaiting a spoken yes")
        return completeness(text, self._matcher, self.active(app), self.mode)

    def candidates(self, transcript: Transcript, app: str = "", limit: int = 4) -> list[str]:
        """Commands the speaker may have meant when nothing matched, said exactly, for the
        recogniser to check against the audio ("new camp" -> "new tab")."""
        return near_misses(transcript, self._loose, self.active(app), limit)

    def dispatch(self, transcript: Transcript, app: str = "", *, start: float = 0.0,
                 end: float = 0.0) -> Decision:
        """Decide what one utterance does, and move to the mode it leaves us in; `start`,
        `end`: its stream times (s), which a held command's yes is timed by."""
        return self.apply(self.answer(transcript, app), start=start, end=end)

    def apply(self, answer: Answer, *, start: float = 0.0, end: float = 0.0) -> Decision:
        """Act on the reading the decide stage chose (its answer): perform what it matches
        (or the held command it says yes to), type it in dictation, else nothing; and move
        to the mode it leaves us in.  `start`, `end` as for dispatch()."""
        text = answer.text
        held, expired = self._take_held(start)
        if held is not None and answer.yes:
            return self._finish(text, held.name, held.actions)
        self._field.observe(answer.app, start, self.mode is Mode.DICTATION)
        if answer.chain:
            decision = self._perform(answer.heard, list(answer.chain), app=answer.app, end=end)
        elif self.mode is Mode.DICTATION and text:
            decision = self._dictate(text, end)
        else:
            note = "asleep" if self.mode is Mode.SLEEP else "not a command"
            decision = Decision(text, None, (), self.mode,
                                note=note if text else "nothing heard")
        return ended(decision, held, expired)

    def ignore(self, text: str, note: str, *, start: float = 0.0) -> Decision:
        """An utterance not acted on (doubted, not recognised; `note` says why): nothing is
        done, and, as any utterance but a yes, it ends a held command."""
        held, expired = self._take_held(start)
        return ended(Decision(text, None, (), self.mode, note=note), held, expired)

    def _take_held(self, start: float) -> tuple[Held | None, str]:
        """The held command, taken off: (it, "") when an utterance starting at `start` may
        be its yes, (None, what it held) when it waited too long, (None, "") when none."""
        held, self._pending = self._pending, None
        if held is None or start <= held.pending.until:
            return held, ""
        log.info("no yes within %g s: %s not done", self.confirm_timeout_s, held.pending.what)
        return None, held.pending.what

    def _match(self, transcript: Transcript, app: str) -> tuple[str, list[Match]] | None:
        """The first hypothesis within ALT_MARGIN of the best that matches a command, and
        that command (chain); None when none does.  A command said plainly but heard a
        little worse than a near miss ("scratch mark" over "scratch that") is still taken."""
        hyps = hypotheses(transcript)
        candidates = self.active(app)
        for hyp in hyps:
            if hyp.score < hyps[0].score - ALT_MARGIN:
                break
            if chain := self._matcher.chain(hyp.text.strip(), candidates):
                return hyp.text.strip(), chain
        return None

    def tools(self, app: str = "") -> list[dict[str, Any]]:
        """The active commands as function tools for a model's intent; none unless in
        command mode with no confirmation pending (intent is asked only then)."""
        if self.mode is not Mode.COMMAND or self._pending is not None:
            return []
        return command_tools(self.active(app))

    def intended(self, text: str, calls: Sequence[ToolCall], app: str = "",
                 confirm_always: bool = False, *, end: float = 0.0) -> Decision | None:
        """The decision for commands a model picked as tool calls (`text` is what was
        heard, `end` when it ended), or None when there are none, they do not fit the
        active commands, or this is not command mode. Risky ones (agent.dispatch.tools.risk:
        deleting, closing, typing, ...), or all with `confirm_always`, wait for a yes."""
        if not calls or not self.tools(app):
            return None
        live = self.active(app)
        try:
            chain = [tool_call_match(live, c.name, c.arguments) for c in calls]
        except ToolCallError as exc:
            log.warning("command intent: %s", exc)
            return None
        why = risk(chain) or ("intent_confirm is always" if confirm_always else "")
        decision = self._perform(text, chain, bool(why), app, end=end)
        log.info("command intent: %r -> %s%s", text, decision.command,
                 f" (awaiting yes: {why})" if self._pending is not None else "")
        return decision

    def act(self, text: str, chain: list[Match], confirm: bool = False, *,
            end: float = 0.0) -> Decision:
        """Perform commands found otherwise than by their words (a model's tool call) as a
        match would be, asking for a spoken yes first when `confirm` (or a command says so)."""
        return self._perform(text, chain, confirm, end=end)

    def _perform(self, text: str, chain: list[Match], confirm: bool = False,
                 app: str = "", *, end: float = 0.0) -> Decision:
        name = " then ".join(m.command.name for m in chain)
        built: list[Action] = []
        for m in chain:
            built += [a for t in m.command.actions for a in self._joined(
                t, t.build(self.words.captures(m.captures) if t.kind == "type"
                           else m.captures))]
        built = [HelpAction(self.sayable(app)) if isinstance(a, HelpAction) else a
                 for a in built]
        actions, controls = self._guard(built)
        if confirm or controls or any(m.command.confirm for m in chain):
            return self._ask(text, name, actions, end)
        return self._finish(text, name, actions)

    def _dictate(self, text: str, end: float = 0.0) -> Decision:
        """Type what was heard, joined to what was typed before, or edit it by voice
        (agent/dispatch/dictating.py). A recogniser's newline or other control character
        is its layout, not a spoken "new line": made a space, so dictation never asks."""
        done = self._field.dictate(self.words.apply(without_controls(text)).strip(), end)
        if done.actions:
            self._finish(text, None, done.actions)
        return Decision(text, None, done.actions, self.mode, note=done.note)

    def _joined(self, template: ActionTemplate, action: Action) -> tuple[Action, ...]:
        """A command's action as performed: `type <text>` joined like dictation, an edit
        as the keys it takes; any other action but a mode may move the cursor, so what
        was typed is forgotten."""
        if (template.kind, template.arg, template.formatter) == ("type", "<text>", "raw") \
                and isinstance(action, TypeAction):
            return (TypeAction(self._field.type_text(action.text)),)
        if isinstance(action, EditAction):
            return self._field.edit(action.edit).actions
        if not isinstance(action, ModeAction):
            self._field.reset()
        return (action,)

    def _guard(self, actions: list[Action]) -> tuple[tuple[Action, ...], bool]:
        """Typed text with control characters (a newline would press Return): made one line
        ("strip"), or flagged to wait for a spoken yes ("confirm"); whether it was flagged."""
        out: list[Action] = []
        flagged = False
        for a in actions:
            if isinstance(a, TypeAction) and has_controls(a.text):
                if self.controls == "strip":
                    a = TypeAction(without_controls(a.text))  # noqa: PLW2901
                else:
                    flagged = True
            out.append(a)
        return tuple(out), flagged

    def _ask(self, text: str, name: str | None, actions: tuple[Action, ...],
             end: float) -> Decision:
        """Hold `actions` for a yes from the next utterance (`end`: this one's end); the
        note says what they do."""
        what = name if name and "<" not in name else described(actions)
        self._field.reset()
        pending = Pending(what, end + self.confirm_timeout_s)
        self._pending = Held(name, actions, pending)
        return Decision(text, name, (), self.mode, note=f"say yes to {what}", pending=pending)

    def _finish(self, text: str, name: str | None, actions: tuple[Action, ...]) -> Decision:
        for a in actions:
            if isinstance(a, ModeAction):
                self.mode = a.mode
                self._field.reset()
        return Decision(text, name, actions, self.mode)
