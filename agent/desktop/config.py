"""The [desktop] section of the configuration: listening style, hotkey, tray and feedback."""

from __future__ import annotations

from dataclasses import dataclass

from agent.desktop.hotkey_base import ALLOWED_KEYS, HOTKEY_BACKENDS, hotkey_option
from agent.options import option


@dataclass(frozen=True)
class DesktopConfig:
    listen: str = option(
        "hands_free", "How speech is taken at start: hands_free (voice activity cuts "
        "utterances) or push_to_talk (only while the hotkey holds it open).",
        choices=("hands_free", "push_to_talk"))
    hotkey: str = option(
        "f9", f"Push-to-talk key: {ALLOWED_KEYS} (it is taken from every other program while "
        "the agent runs).", check=hotkey_option)
    hotkey_style: str = option(
        "hold", "hold: speak while the key is held; toggle: press to start, press to stop.",
        choices=("hold", "toggle"))
    hotkey_backend: str = option(
        "auto", "auto: an X11 key grab on X11, evdev (/dev/input) on Wayland, pynput on "
        "Windows and macOS; or one of them by name; none = no hotkey.",
        choices=("auto", *HOTKEY_BACKENDS, "none"))
    tray: bool = option(True, "Show a tray icon (needs a display with a system tray).")
    sounds: bool = option(True, "Play short sound cues: listening, done, not understood, asleep.")
    notifications: bool = option(
        False, "A desktop notification for every recognised command (notify-send on Linux).")
    history: str = option(
        "commands", "What <state dir>/history.jsonl (private: 0600 in a 0700 folder) keeps: "
        "all (every utterance, speech that was not a command included), commands (only "
        "utterances that matched a command), or off.", choices=("all", "commands", "off"))
    history_max_kb: int = option(
        5000, "Past this size the history moves to history.1.jsonl (the one before is "
        "dropped) and a new file starts: larger keeps more of the past on disk, KB.",
        lo=1, hi=1_000_000)
