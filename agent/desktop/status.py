"""What the live agent is doing, as one immutable snapshot, and the tray state it shows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agent.messages import ListenStyle, Mode


class TrayState(StrEnum):
    """One icon each (assets/icons/<state>.png)."""

    IDLE = "idle"
    """Not taking audio: listening is off, or push-to-talk waits for the hotkey."""
    LISTENING = "listening"
    """Taking audio, waiting for speech."""
    HEARING = "hearing"
    """Speech is being heard (an utterance is open)."""
    RECOGNISING = "recognising"
    """The recogniser is working."""
    ASLEEP = "asleep"
    """Sleep mode: only "wake up" acts."""
    ERROR = "error"
    """The microphone failed; the agent is retrying."""


STATE_WORDS = {
    TrayState.IDLE: "idle", TrayState.LISTENING: "listening",
    TrayState.HEARING: "hearing speech", TrayState.RECOGNISING: "recognising",
    TrayState.ASLEEP: "asleep", TrayState.ERROR: "error",
}


@dataclass(frozen=True, slots=True)
class Status:
    enabled: bool = True
    """Listening is on (the tray's "Listening" item)."""
    style: ListenStyle = ListenStyle.HANDS_FREE
    held: bool = False
    """Push-to-talk is open (the hotkey is down, or toggled on)."""
    hearing: bool = False
    recognising: bool = False
    mode: Mode = Mode.COMMAND
    fault: str = ""
    """Why the microphone is unavailable; "" when it works."""
    last_command: str = ""
    """The last command performed (or what was heard, when nothing matched)."""
    hotkey: str = ""
    """The push-to-talk key as shown to the user ("F9, hold"); "" when there is none."""
    partial: str = ""
    """What is being heard while the person speaks (a streaming recogniser's partial
    text, or what Whisper heard at a peek); "" when nothing is, or the utterance is
    over (its final text is then `last_command`)."""
    asking: str = ""
    """What a spoken yes would do now ("close window"); "" when nothing waits for one."""

    @property
    def state(self) -> TrayState:
        """The first that holds: error, off, recognising, hearing, asleep, push-to-talk
        waiting for the key (idle); else listening."""
        rules = (
            (bool(self.fault), TrayState.ERROR),
            (not self.enabled, TrayState.IDLE),
            (self.recognising, TrayState.RECOGNISING),
            (self.hearing, TrayState.HEARING),
            (self.mode is Mode.SLEEP, TrayState.ASLEEP),
            (self.style is ListenStyle.PUSH_TO_TALK and not self.held, TrayState.IDLE),
        )
        return next((state for hit, state in rules if hit), TrayState.LISTENING)

    def tooltip(self) -> str:
        """"voxagent: listening (hands-free, command mode) | last: new tab"; while a
        command waits for its yes, "| say yes to close window" before "last"; while speech
        is heard with a partial text: "voxagent: hearing: new ta…" in its place."""
        state = self.state
        if state is TrayState.ERROR:
            head = f"voxagent: error: {self.fault}"
        else:
            how = "off" if not self.enabled else style_label(self.style, self.hotkey)
            head = f"voxagent: {STATE_WORDS[state]} ({how}, {self.mode.value} mode)"
        if self.partial and state is not TrayState.ERROR:
            return f"voxagent: hearing: {_tail(self.partial)}"
        if self.asking:
            head += f" | say yes to {self.asking}"
        return head + (f" | last: {_tail(self.last_command)}" if self.last_command else "")


PARTIAL_CHARS = 60
"""The most of a partial or last text a tooltip shows (its end: the words just heard)."""


def _tail(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PARTIAL_CHARS else "…" + text[-(PARTIAL_CHARS - 1):]


def style_label(style: ListenStyle, hotkey: str = "") -> str:
    if style is ListenStyle.HANDS_FREE:
        return "hands-free"
    return f"push-to-talk {hotkey}" if hotkey else "push-to-talk"
