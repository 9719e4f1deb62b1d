"""Free text typed early, corrected late (agent/worker.py _show, _settle), in the real
pipeline (file source, segmenter, the embedded model, decide stage, dispatcher): the text
a peek at a pause hears, or the window fitted to the utterance at its end, is typed at
once; the full-window hearing decides as always, and only the tail that differs is
deleted and typed again.

What the fast hearing says is constructed (its real last word swapped for one no one
said), so a correction is certain; the full-window hearing is the model's own.  The
final text is checked against what the joining rules make of the final reading (read
from the outcome, never pinned)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent.actions.base import ActionError
from agent.asr.base import Hearing, Hint, RecognitionError, Stream, ToolCall
from agent.dispatch.dictating import typed_by
from agent.dispatch.joining import joined
from agent.messages import Action, KeyAction, Outcome, Transcript, TypeAction
from agent.worker import END_MARKS
from tests.integration import x11
from tests.integration.test_early_end import run, said, whisper  # noqa: F401 - fixture
from tests.integration.x11 import KeylogWindow
from tests.unit.test_dictating import field_text

x_server, keylog_window, keylog = x11.x_server, x11.keylog_window, x11.keylog  # fixtures

SAID = "the weather is lovely today"
SWAPPED = "zebra"
"""The last word of what the fast hearing says: no one said it."""


class FastSays:
    """A real hearing whose decodes on the fitted window (no Hint.thorough) in dictation
    say `fast(text)`, `text` what the model hears on the full window with the same
    hint; the full window fails when `broken`."""

    def __init__(self, inner: Hearing, fast: Any, broken: bool) -> None:
        self.inner, self.fast, self.broken = inner, fast, broken

    def decode(self, hint: Hint) -> Transcript:
        if hint.thorough and self.broken:
            raise RecognitionError("the full window is broken (test)")
        got = self.inner.decode(hint)
        if hint.thorough or "dictation" in got.text.lower():
            return got
        full = self.inner.decode(replace(hint, thorough=True, quick=False))
        return replace(got, text=self.fast(full.text), alternatives=())

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        return self.inner.score(texts, hint)

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        return self.inner.intent(text, tools)


class Recogniser:
    """The real recogniser, its hearings FastSays."""

    def __init__(self, inner: Any, fast: Any, broken: bool = False) -> None:
        self.inner, self.fast, self.broken = inner, fast, broken
        self.name, self.capabilities = inner.name, inner.capabilities

    def load(self) -> None: ...

    def close(self) -> None: ...

    def hear(self, pcm: bytes) -> Hearing:
        return FastSays(self.inner.hear(pcm), self.fast, self.broken)

    def stream(self) -> Stream:
        return self.inner.stream()


def swapped(text: str) -> str:
    """`text` with its last word "zebra", when it is SAID (four words or more: not
    "scratch that")."""
    words = text.rstrip(".!?").split()
    return " ".join([*words[:-1], SWAPPED]) + "." if len(words) >= 4 else text


def dictated(tmp_path: Path, recogniser: Recogniser, *after: str,
             **run_args: Any) -> list[Outcome]:
    parts: list[str | float] = ["start dictation", 1.0, SAID]
    for text in after:
        parts += [1.0, text]
    outcomes, _ = run(said(tmp_path, *parts), recogniser, **run_args)  # type: ignore[arg-type]
    assert [o.decision.command for o in outcomes][:1] == ["start dictation"]
    assert len(outcomes) == 2 + len(after), [o.decision for o in outcomes]
    return outcomes[1:]


def test_what_the_full_window_hears_otherwise_is_corrected_in_its_tail(
        whisper, tmp_path) -> None:  # noqa: F811 - the fixture
    one, scratch = dictated(tmp_path, Recogniser(whisper, swapped), "scratch that")
    first, *fix = one.performed
    assert isinstance(first, TypeAction) and first.text.rstrip(".").endswith(SWAPPED)
    final = joined(one.decision.text, "")  # what the final reading types, as always
    assert one.decision.actions == (TypeAction(final),)  # the net effect (the JSON's)
    assert SWAPPED not in final and field_text([first, *fix]) == final
    # only the differing tail was deleted: what both readings share stayed
    kept = len(first.text) - sum(a.count for a in fix if isinstance(a, KeyAction))
    assert kept > 0 and first.text[:kept] == final[:kept]
    # the dispatcher knows what is there: scratch that deletes the final text, exactly
    assert scratch.decision.command == "scratch that"
    assert scratch.decision.actions == (KeyAction("backspace", len(final)),)


def test_the_correction_reaches_a_real_text_widget(whisper, tmp_path,  # noqa: F811
                                                  keylog: KeylogWindow) -> None:
    from agent.actions.keyboard import DesktopExecutor

    executor = DesktopExecutor({}, key_delay_ms=2, backend="x11")  # XTEST, on Xvfb
    try:
        (one,) = dictated(tmp_path, Recogniser(whisper, swapped), executor=executor)
    finally:
        executor.close()
    got = keylog.sync()
    assert got.text == joined(one.decision.text, "") and SWAPPED not in got.text
    assert "BackSpace" in [k["keysym"] for k in got.keys]  # typed, then corrected
    assert "".join(k["char"] for k in got.keys if k["keysym"] != "BackSpace") == \
        "".join(a.text for a in one.performed if isinstance(a, TypeAction))


def test_the_same_reading_is_not_corrected(whisper, tmp_path) -> None:  # noqa: F811
    # the fast hearing says exactly what the full window's decision types
    full = Recogniser(whisper, lambda text: text)
    (control,) = dictated(tmp_path, full)
    (one,) = dictated(tmp_path, Recogniser(whisper, lambda _: control.decision.text))
    assert one.decision.text == control.decision.text
    final = joined(control.decision.text, "")
    assert one.decision.actions == (TypeAction(final),)
    # nothing was deleted: the pause's typing held back only the sentence's last mark,
    # typed when the utterance ended
    words = final.rstrip(END_MARKS)
    assert one.performed == (() if words == final else
                             (TypeAction(words), TypeAction(final[len(words):])))


class Refocused:
    """A dry run whose focused window changes once text has been typed."""

    def __init__(self) -> None:
        self.performed: list[Action] = []

    def perform(self, action: Action) -> None:
        self.performed.append(action)

    def active_app(self) -> str:
        typed = any(isinstance(a, TypeAction) and "dictation" not in a.text.lower()
                    for a in self.performed)
        return "browser" if typed else "editor"


def test_nothing_is_corrected_in_a_window_focused_meanwhile(whisper, tmp_path) -> None:  # noqa: F811
    executor = Refocused()
    (one,) = dictated(tmp_path, Recogniser(whisper, swapped), executor=executor)
    assert len(one.decision.actions) == 1 and typed_by(one.decision.actions) is not None
    assert one.decision.actions[0].text.rstrip(".").endswith(SWAPPED)  # type: ignore[union-attr]
    assert not any(a.keys == "backspace" for a in executor.performed  # type: ignore[union-attr]
                   if isinstance(a, KeyAction))


@pytest.mark.parametrize("fast", ["Scratch that.", "Scratch mark."])
def test_a_command_heard_fast_is_decided_on_the_full_window(
        whisper, tmp_path, fast: str) -> None:  # noqa: F811
    # the fast hearing says "scratch that", or words that sound like it; nothing is
    # typed or deleted on its word: the full window hears the sentence, typed once
    (one,) = dictated(tmp_path, Recogniser(whisper, lambda _: fast))
    assert one.decision.command is None and "scratch" not in one.decision.text.lower()
    assert one.decision.actions == (TypeAction(joined(one.decision.text, "")),)


def test_typed_as_first_heard_when_the_full_window_fails(whisper, tmp_path) -> None:  # noqa: F811
    (one,) = dictated(tmp_path, Recogniser(whisper, swapped, broken=True))
    assert len(one.decision.actions) == 1 and not one.errors
    assert one.decision.actions[0].text.rstrip(".").endswith(SWAPPED)  # type: ignore[union-attr]
    assert one.transcript.text.rstrip(".").endswith(SWAPPED)


def test_a_commands_free_text_is_typed_as_first_heard_then_corrected(
        whisper, tmp_path) -> None:  # noqa: F811 - the fixture
    # command mode, "type ...": typed as the whole peek heard it when the utterance ends;
    # decide() then decodes the free text on the full window, and the tail is corrected
    outcomes, _ = run(said(tmp_path, f"type {SAID}"), Recogniser(whisper, swapped))
    (one,) = outcomes
    assert one.decision.command is not None and one.decision.mode.value == "command"
    first, *fix = one.performed
    assert isinstance(first, TypeAction) and first.text.rstrip(".").endswith(SWAPPED)
    (final,) = one.decision.actions  # the net effect, as the JSON line reports it
    assert isinstance(final, TypeAction) and SWAPPED not in final.text
    assert fix and field_text([first, *fix]) == final.text


class Seen:
    """The real recogniser and a dry run that note in one list, in order, the audio of
    every hearing ("hear", its bytes) and every action performed ("act", the action)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.capabilities = inner, inner.name, inner.capabilities
        self.events: list[tuple[str, Any]] = []

    def load(self) -> None: ...

    def close(self) -> None: ...

    def hear(self, pcm: bytes) -> Hearing:
        self.events.append(("hear", len(pcm)))
        return self.inner.hear(pcm)

    def stream(self) -> Stream:
        return self.inner.stream()

    def perform(self, action: Action) -> None:
        self.events.append(("act", action))

    def active_app(self) -> str:
        return ""


@pytest.mark.parametrize("mode", ["command", "dictation"])
def test_free_text_is_typed_at_a_pause_while_the_speaker_goes_on(
        whisper, tmp_path, mode: str) -> None:  # noqa: F811 - the fixture
    # a peek at the pause hears the free text so far ("type ...", or dictation at its
    # whole peek) and types it at once; the words said after the pause are heard later
    # and typed as they come; the full window decides what the field holds in the end
    first, then = "the quick brown fox", "jumps over the lazy dog"
    parts: list[str | float] = ["start dictation", 1.0, first, 0.25, then] \
        if mode == "dictation" else [f"type {first}", 0.25, then]
    seen = Seen(whisper)
    outcomes, _ = run(said(tmp_path, *parts), seen, executor=seen)  # type: ignore[arg-type]
    assert len(outcomes) == (2 if mode == "dictation" else 1), [o.decision for o in outcomes]
    one = outcomes[-1]
    assert "lazy" in one.decision.text.lower() and one.decision.mode.value == mode
    events = seen.events
    typed = next(i for i, (kind, a) in enumerate(events)
                 if kind == "act" and isinstance(a, TypeAction))
    before = max(n for kind, n in events[:typed] if kind == "hear")
    after = max(n for kind, n in events[typed:] if kind == "hear")
    assert after > before + 16000  # half a second more speech, heard after the typing
    acts = [a for kind, a in events[typed:] if kind == "act"]
    assert one.performed and acts == list(one.performed)
    assert field_text(acts) == typed_by(one.decision.actions)  # the net effect
    assert one.recognised_at < one.utterance.closed_at


def test_a_mark_heard_at_a_pause_is_typed_at_the_end(whisper, tmp_path) -> None:  # noqa: F811
    # every fast hearing ends a sentence, as one at a pause does ("The quick brown fox."):
    # the mark is held back there, so the words said after it delete nothing of it
    seen = Seen(Recogniser(whisper, lambda text: text.rstrip(END_MARKS) + "."))
    parts: list[str | float] = ["start dictation", 1.0, "the quick brown fox", 0.25,
                                "jumps over the lazy dog"]
    outcomes, _ = run(said(tmp_path, *parts), seen, executor=seen)  # type: ignore[arg-type]
    one = outcomes[-1]
    acts = [a for kind, a in seen.events if kind == "act"]
    acts = acts[next(i for i, a in enumerate(acts) if isinstance(a, TypeAction)):]
    early = acts[0]
    assert isinstance(early, TypeAction) and early.text[-1] not in END_MARKS, acts
    assert acts == list(one.performed)
    assert field_text(acts) == typed_by(one.decision.actions)  # the net effect


class PeekSays:
    """The real recogniser, whose first hearing says `lie`: a peek at a pause inside the
    utterance that heard free text, the rest of the utterance found otherwise."""

    def __init__(self, inner: Any, lie: str) -> None:
        self.inner, self.name, self.capabilities = inner, inner.name, inner.capabilities
        self.lie, self.hearings = lie, 0

    def load(self) -> None: ...

    def close(self) -> None: ...

    def hear(self, pcm: bytes) -> Hearing:
        self.hearings += 1
        lie = self.lie if self.hearings == 1 else None
        return FastSays(self.inner.hear(pcm), lambda text: lie or text, False)

    def stream(self) -> Stream:
        return self.inner.stream()


class Hands(Refocused):
    """A dry run whose focused window never changes."""

    def active_app(self) -> str:
        return "editor"


def test_free_text_a_peek_typed_is_deleted_when_the_utterance_is_a_command(
        whisper, tmp_path) -> None:  # noqa: F811 - the fixture
    executor = Hands()
    outcomes, _ = run(said(tmp_path, "press", 0.25, "escape"),
                      PeekSays(whisper, "Type zebra."), executor=executor)
    (one,) = outcomes
    assert one.decision.command is not None and typed_by(one.decision.actions) is None
    early, back, *rest = one.performed
    assert isinstance(early, TypeAction) and "zebra" in early.text.lower()
    assert back == KeyAction("backspace", len(early.text)) and rest == \
        list(one.decision.actions)
    assert executor.performed == list(one.performed)


class Clumsy(Hands):
    """A dry run whose first text typed raises (`bug`: not an ActionError, as a lost
    display connection would)."""

    def __init__(self, bug: bool) -> None:
        super().__init__()
        self.bug, self.failed = bug, False

    def perform(self, action: Action) -> None:
        if isinstance(action, TypeAction) and not self.failed:
            self.failed = True
            raise ConnectionResetError("display lost") if self.bug \
                else ActionError("cannot type")
        super().perform(action)


@pytest.mark.parametrize("bug", [False, True])
def test_typing_that_fails_at_a_pause_is_reported_and_not_corrected(
        whisper, tmp_path, bug: bool) -> None:  # noqa: F811 - the fixture
    executor = Clumsy(bug)
    outcomes, _ = run(said(tmp_path, "type the quick brown fox", 0.25,
                           "jumps over the lazy dog", 1.0, "press escape"),
                      whisper, executor=executor)
    assert len(outcomes) == 2, [o.decision for o in outcomes]
    failed, then = outcomes
    assert executor.failed and failed.errors, failed
    # nothing more typed or deleted for it; the next utterance acts as always
    assert executor.performed == list(then.decision.actions) != []
    assert not then.errors
