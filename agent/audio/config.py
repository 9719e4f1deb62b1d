"""The [audio] and [vad] sections of the configuration: the input device, and where an
utterance starts and ends (agent/audio/vad.py, agent/turn.py)."""

from __future__ import annotations

from dataclasses import dataclass

from agent.options import option as _opt


@dataclass(frozen=True)
class AudioConfig:
    device: str = _opt("", 'Input device: a name (substring) or an index; "" = system default.')
    block_ms: int = _opt(30, "Block length handed to the segmenter, in ms.", choices=(10, 20, 30))


@dataclass(frozen=True)
class VadConfig:
    aggressiveness: int = _opt(2, "webrtcvad aggressiveness, 0 (lenient) to 3 (strict).",
                               choices=(0, 1, 2, 3))
    noise_gate_db: float = _opt(
        6.0, "A voiced frame must also be this much louder than the tracked background "
        "level, in dB (keeps steady noise from joining utterances); 0 = off.", lo=0.0, hi=40.0)
    start_ms: int = _opt(90, "Voiced audio within the pre-roll window needed to start speech, ms.",
                         lo=30, hi=1000)
    pre_roll_ms: int = _opt(300, "Audio kept before speech starts, ms.", lo=0, hi=2000)
    hangover_ms: int = _opt(450, "Silence that ends an utterance, ms.", lo=90, hi=5000)
    min_speech_ms: int = _opt(150, "Shorter bursts are treated as noise, ms.", lo=30, hi=5000)
    max_utterance_s: float = _opt(25.0, "Longer speech is cut into utterances of this length, s.",
                                  lo=1.0, hi=120.0)
    end_model: str = _opt(
        "silero", 'Second opinion on where speech ends, run only while an utterance is open: '
        '"silero" (Silero VAD, finds the end in noise that webrtcvad calls voiced) or "none".',
        choices=("silero", "none"))
    end_threshold: float = _opt(
        0.5, "Silero speech probability that counts as speech.", lo=0.1, hi=0.95)
    end_ms: int = _opt(
        450, "With end_model: an utterance closes after this much audio Silero calls "
        "non-speech, whatever webrtcvad says, ms (shorter splits commands said with a "
        "pause in them; complete commands end sooner, at early_end_ms).", lo=30, hi=5000)
    early_end_ms: int = _opt(
        150, "A command heard at a peek that nothing could extend ends the utterance once "
        "the pause has lasted this long, ms (shorter pauses are inside words: stop "
        "consonants).", lo=0, hi=2000)
