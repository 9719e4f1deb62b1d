"""The [commands] section of the configuration: where commands come from, how closely a
spoken form must match, the second tries and the free-text decode of the decide stage
(agent/decide/), and what a risky command asks first."""

from __future__ import annotations

from dataclasses import dataclass

from agent.options import option as _opt

REHEAR_VARIANTS = ("lower", "slower", "deeper")
"""The audio variants of agent/audio/variants.py, by name (that module imports numpy)."""


@dataclass(frozen=True)
class CommandsConfig:
    user_dir: str = _opt("", 'Folder of your command files; "" = <config dir>/commands. '
                         "A relative path is taken from the config file's folder.")
    fuzzy_threshold: float = _opt(0.8, "Minimum similarity (0..1) for a spoken form to match.",
                                  lo=0.5, hi=1.0)
    verify_margin: float = _opt(
        3.0, "When nothing matched, near-miss commands are scored against the audio; one is "
        "taken if it explains the audio at most this much worse (log-probability) than what "
        "was heard. 0 = off.", lo=0.0, hi=20.0)
    refocus: bool = _opt(
        True, 'When the first words begin a key command ("press ...") but nothing matched, '
        "decode the utterance again from those words, prompted with key names only.")
    retry_wide: bool = _opt(
        True, "When no second try matched, refocus and verify once more on the full 30 s "
        "window, which goes wrong on other utterances than the fitted one (one more "
        "encoding, paid by such misses only).")
    rehear: tuple[str, ...] = _opt(
        ["lower", "deeper"], "When nothing matched in command mode, recognise the audio "
        "again as these variants, in order, until one matches a command: lower (two "
        "semitones), slower (85% speed, same pitch), deeper (90% speed, so also lower). "
        "[] = off.", choices=REHEAR_VARIANTS)
    free_text: str = _opt(
        "best", "How free text (type, formatters, dictation) is decoded again once the "
        "command is known: best (decoded again after the command's words as heard, "
        "without the vocabulary prompt, which pulls free words toward command words, on "
        "the full window; then that reading, its n-best or the first reading, whichever "
        "the hearing explains best with the prompt, words only), plain (that second "
        "decode alone), thorough (with the prompt, "
        "on the full window) or first (as first heard, no second decode).",
        choices=("plain", "best", "thorough", "first"))
    builtin: bool = _opt(True, "Load the built-in command sets.")
    typed_controls: str = _opt(
        "confirm", "Text (<text> captures, command intent) that holds control characters, "
        'which would press keys such as Return: "confirm" waits for a spoken "yes" first; '
        '"strip" types it with each run of them made one space (as dictation always does: '
        "a recogniser's line break is not a spoken one).",
        choices=("confirm", "strip"))
    confirm_timeout_s: float = _opt(
        8.0, "How long a command that asks first waits for its spoken yes: the next "
        "utterance must start within this many seconds of the asking one's end.",
        lo=1.0, hi=120.0)
