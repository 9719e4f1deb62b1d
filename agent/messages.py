"""The typed messages that flow between pipeline stages.

AudioSource --AudioFrame--> Segmenter --Utterance--> Recogniser --Transcript-->
Dispatcher --Decision(actions)--> Executor.  Every message is frozen; units are
in the field docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SAMPLE_RATE = 16_000
"""Pipeline sample rate in Hz; every AudioFrame and Utterance uses it."""
SAMPLE_WIDTH = 2
"""Bytes per sample: signed 16-bit little-endian PCM."""


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A block of mono 16 kHz s16le audio."""

    pcm: bytes
    """Raw samples, signed 16-bit little-endian, mono, SAMPLE_RATE."""
    start: float
    """Stream time of the first sample, in seconds from the start of the source."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / (SAMPLE_WIDTH * SAMPLE_RATE)


@dataclass(frozen=True, slots=True)
class Utterance:
    """A stretch of speech closed by the segmenter, with pre-roll and a short tail."""

    pcm: bytes
    """Audio to recognise: s16le mono SAMPLE_RATE, pre-roll included."""
    start: float
    """Stream time where speech starts, in seconds (pre-roll excluded)."""
    end: float
    """Stream time where speech ends, in seconds (hangover excluded)."""
    index: int = 0
    """Sequence number in the stream, from 0."""
    closed_at: float = 0.0
    """time.monotonic() when the segmenter closed it, in seconds (0 if unknown)."""
    voiced: float = 0.0
    """Seconds of audio the VAD called voiced between start and end (0 if unknown)."""
    unbroken: bool = False
    """Part of speech that went on past max_utterance_s without a pause: the piece cut
    there, or what followed the cut. Commands are short: such speech is talk."""
    peek: int = -1
    """The id of the peek at whose pause the turn policy ended it (agent/turn.py), whose
    hearing may be acted on; -1: it ended at the segmenter's end."""

    @property
    def duration(self) -> float:
        """Length of the audio payload in seconds."""
        return len(self.pcm) / (SAMPLE_WIDTH * SAMPLE_RATE)


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """One recognition hypothesis."""

    text: str
    """The transcript as the recogniser wrote it."""
    score: float
    """Length-normalised log probability (higher is better; 0 is certain)."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the recogniser heard in one utterance."""

    text: str
    """Best hypothesis, as written by the recogniser."""
    alternatives: tuple[Hypothesis, ...] = ()
    """N-best hypotheses, best first (the first is `text`); may be empty."""
    backend: str = ""
    """Name of the backend that produced it (for example "whisper")."""
    seconds: float = 0.0
    """Wall time spent recognising, in seconds."""
    doubt: str = ""
    """Why the recogniser doubts the text was really said (signs of hallucination: low
    average log-probability, speech unlikely, repetition, too few words for the speech);
    "" = none. The decide stage never acts on a doubted transcript."""


class Mode(StrEnum):
    """Dispatcher modes."""

    COMMAND = "command"
    DICTATION = "dictation"
    SLEEP = "sleep"


@dataclass(frozen=True, slots=True)
class KeyAction:
    """Press a chord `count` times."""

    keys: str
    """Chord, modifiers first in the order ctrl, alt, shift, super, joined by '+'."""
    count: int = 1

    def to_json(self) -> dict[str, object]:
        return {"action": "key", "keys": self.keys, "count": self.count}


@dataclass(frozen=True, slots=True)
class TypeAction:
    """Type exactly these characters."""

    text: str

    def to_json(self) -> dict[str, object]:
        return {"action": "type", "text": self.text}


@dataclass(frozen=True, slots=True)
class ScrollAction:
    """Scroll the wheel `count` notches."""

    direction: str
    """One of up, down, left, right."""
    count: int = 1

    def to_json(self) -> dict[str, object]:
        return {"action": "scroll", "direction": self.direction, "count": self.count}


@dataclass(frozen=True, slots=True)
class LaunchAction:
    """Start the application behind a logical name (terminal, browser, ...)."""

    app: str

    def to_json(self) -> dict[str, object]:
        return {"action": "launch", "app": self.app}


@dataclass(frozen=True, slots=True)
class ModeAction:
    """The dispatcher entered a mode (reported; performed by the dispatcher itself)."""

    mode: Mode

    def to_json(self) -> dict[str, object]:
        return {"action": "mode", "mode": self.mode.value}


class ListenStyle(StrEnum):
    """How speech is taken: cut by voice activity, or only while the hotkey holds it open."""

    HANDS_FREE = "hands_free"
    PUSH_TO_TALK = "push_to_talk"


@dataclass(frozen=True, slots=True)
class ListenAction:
    """Switch between hands-free and push-to-talk (performed by the desktop controller)."""

    style: ListenStyle

    def to_json(self) -> dict[str, object]:
        return {"action": "listen", "style": self.style.value}


@dataclass(frozen=True, slots=True)
class HelpAction:
    """Show the person what they can say here ("what can I say"); performed by the
    desktop side (a window, else a notification), reported in a dry run."""

    commands: tuple[str, ...] = ()
    """The spoken forms of the commands active where it was said (the mode, the focused
    app), app-specific first, as written in the command files ("press <key> <n> times");
    filled in by the dispatcher."""

    def to_json(self) -> dict[str, object]:
        return {"action": "help", "commands": list(self.commands)}


EDITS = ("scratch", "select", "no_space", "new_line", "new_paragraph", "comma", "period",
         "question_mark")
"""What an edit action does to dictated text (agent/dispatch/dictating.py)."""


@dataclass(frozen=True, slots=True)
class EditAction:
    """Edit what dictation typed ("scratch that", "new paragraph"): the dispatcher turns it
    into key and type actions from its record of what it typed, so the decision and the
    JSON line show the keys (BackSpace times n), and no executor performs one as such."""

    edit: str
    """One of EDITS."""

    def to_json(self) -> dict[str, object]:
        return {"action": "edit", "edit": self.edit}


@dataclass(frozen=True, slots=True)
class WordAction:
    """Add `spoken` = `written` to the user's words file ("add word vox agent as
    voxagent"); performed by the live agent (agent/dispatch/words_file.py), reported in a
    dry run."""

    spoken: str
    written: str

    def to_json(self) -> dict[str, object]:
        return {"action": "word", "spoken": self.spoken, "written": self.written}


Action = (KeyAction | TypeAction | ScrollAction | LaunchAction | ModeAction | ListenAction
          | HelpAction | EditAction | WordAction)

ACTION_KINDS: dict[str, type[Action]] = {
    "key": KeyAction, "type": TypeAction, "scroll": ScrollAction, "launch": LaunchAction,
    "mode": ModeAction, "listen": ListenAction, "help": HelpAction, "edit": EditAction,
    "word": WordAction,
}
"""Every action kind, by the name command files and the JSON output give it. Adding one:
its message type above, its line here, its parser in agent/dispatch/grammar.py `_KINDS`
and a performer in each executor; grammar and executors check themselves against this
at import, so a kind left out fails there, not silently at run time."""


@dataclass(frozen=True, slots=True)
class Pending:
    """Actions held until a spoken yes: what they do, and until when a yes counts."""

    what: str
    """What a yes would do, for the person ("close window", "press backspace 100 times")."""
    until: float
    """Stream time (s) after which an utterance that starts is too late to be the yes."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What the dispatcher decided for one transcript."""

    text: str
    """The transcript text the decision was taken on."""
    command: str | None
    """Name of the matched command (spoken form; chains joined by ' then '), or None."""
    actions: tuple[Action, ...]
    """What to perform, in order; empty when nothing happens."""
    mode: Mode
    """The mode after this utterance."""
    note: str = ""
    """Why nothing happened, or what awaits confirmation; for logs and feedback."""
    pending: Pending | None = None
    """What waits for a spoken yes after this utterance (this one asked for it)."""
    expired: str = ""
    """A confirmation that had waited too long when this utterance came: what it held."""
    cancelled: str = ""
    """A confirmation this utterance ended by not being a yes: what it held."""
    question: str = ""
    """What was heard but not done because it was in doubt, put to the person ("did you
    mean alt+f4 or alt+f1?"); a notification, and "note" in the JSON line."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """An utterance carried through the whole pipeline: what the JSON line reports."""

    utterance: Utterance
    transcript: Transcript
    decision: Decision
    performed_at: float = 0.0
    """time.monotonic() after the executor returned, in seconds."""
    errors: tuple[str, ...] = field(default_factory=tuple)
    """One line per action that failed to perform."""
    recognised_at: float = 0.0
    """time.monotonic() when the transcript was ready (before dispatch), in seconds."""
    performed: tuple[Action, ...] = ()
    """What was performed, when that is not the decision's actions: dictation typed as
    first heard, then corrected (agent/worker.py); the decision's actions are then the
    net effect, what the final reading types."""

    def to_json(self) -> dict[str, object]:
        """The contract's JSON object for this utterance ("actions": the decision's, the
        net effect); "performed" only when what was performed differs; "pending",
        "expired" and "cancelled" (what a confirmation holds) only when one waits, ran out
        or was ended;
        "error" (the failures, one line each, joined by "; ") only when recognition or an
        action failed; "note" only when nothing was done because what was heard was in
        doubt (Decision.question)."""
        line: dict[str, object] = {
            "start": round(self.utterance.start, 2),
            "end": round(self.utterance.end, 2),
            "text": self.decision.text,
            "command": self.decision.command,
            "actions": [a.to_json() for a in self.decision.actions],
            "mode": self.decision.mode.value,
            "backend": self.transcript.backend,
        }
        d = self.decision
        ended = {"pending": d.pending.what if d.pending else "", "expired": d.expired,
                 "cancelled": d.cancelled}
        line |= {k: v for k, v in ended.items() if v}
        if self.performed:
            line["performed"] = [a.to_json() for a in self.performed]
        if self.errors:
            line["error"] = "; ".join(self.errors)
        if self.decision.question:
            line["note"] = self.decision.question
        return line


class Activity(StrEnum):
    """What the live pipeline is busy with (for the tray icon and sound cues)."""

    HEARING = "hearing"
    """An utterance is open: speech is being heard."""
    RECOGNISING = "recognising"
    """The recogniser is working on an utterance."""
    DEVICE_FAULT = "device_fault"
    """The input device failed or vanished; the source is retrying."""
    PARTIAL = "partial"
    """What is being heard while the person speaks (a streaming recogniser's partial
    text, or what Whisper heard at a peek, in `detail`); `on` False when the utterance
    is over (the outcome's text replaces it)."""


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """An activity began (`on`) or ended; sent by the pipeline's threads."""

    activity: Activity
    on: bool
    detail: str = ""
    """For DEVICE_FAULT: what went wrong (one line)."""
    at: float = 0.0
    """time.monotonic() when it happened, in seconds."""
