"""Ending an utterance on meaning: the real pipeline (file source, segmenter with Silero,
the embedded model, the dispatcher) closes an utterance at a short pause (early_end_ms)
only when what was heard is a complete command nothing could extend, at a longer one
(settle_ms) when it is a command more words could extend, and never acts on a prefix."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.actions.base import Executor
from agent.actions.dryrun import DryRunExecutor
from agent.app import Pipeline
from agent.asr.base import Hearing, Hint, Stream, ToolCall
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import FileSource, read_audio
from agent.audio.vad import Segmenter
from agent.build import build
from agent.config import Config
from agent.listening import Listening
from agent.messages import KeyAction, Outcome, Transcript, TypeAction


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    recogniser = WhisperRecogniser(Config())
    recogniser.load()
    return recogniser


def said(folder: Path, *parts: str | float, after: float = 1.0) -> Path:
    """espeak-ng saying the text parts (trimmed) with exactly the given seconds of silence
    between them, after a second of silence and before `after` seconds of it."""
    pcm = [np.zeros(16000, dtype="<i2")]
    for i, part in enumerate(parts):
        if isinstance(part, float):
            pcm.append(np.zeros(int(part * 16000), dtype="<i2"))
            continue
        wav = folder / f"part{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), part], check=True)
        voice = read_audio(wav)
        loud = np.flatnonzero(np.abs(voice.astype(np.int32)) > 300)
        pcm.append(voice[loud[0]:loud[-1] + 1])  # espeak's own leading and trailing silence off
    pcm.append(np.zeros(int(after * 16000), dtype="<i2"))
    out = folder / "said.wav"
    import soundfile

    soundfile.write(str(out), np.concatenate(pcm), 16000, subtype="PCM_16")
    return out


class Recorded:
    """A real hearing that notes when each decode was asked for, and with which hint."""

    def __init__(self, inner: Hearing, decodes: list[tuple[Hint, float]]) -> None:
        self.inner, self.decodes = inner, decodes

    def decode(self, hint: Hint) -> Transcript:
        self.decodes.append((hint, time.monotonic()))
        return self.inner.decode(hint)

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        return self.inner.score(texts, hint)

    def intent(self, text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...]:
        return self.inner.intent(text, tools)


class Listened:
    """The real recogniser, with the length of every piece of audio it was asked to hear."""

    def __init__(self, inner: WhisperRecogniser) -> None:
        self.inner = inner
        self.name, self.capabilities = inner.name, inner.capabilities
        self.audio: list[bytes] = []
        """The audio of every hear(), in order."""
        self.decodes: list[tuple[Hint, float]] = []
        """Every decode on those hearings: its hint and time.monotonic() when asked."""

    @property
    def heard(self) -> list[int]:
        """Bytes of audio per hear(), in order."""
        return [len(pcm) for pcm in self.audio]

    def load(self) -> None: ...

    def close(self) -> None: ...

    def hear(self, pcm: bytes) -> Hearing:
        self.audio.append(pcm)
        return Recorded(self.inner.hear(pcm), self.decodes)

    def stream(self) -> Stream:
        return self.inner.stream()


def run(path: Path, recogniser: WhisperRecogniser | Listened, tail_silence_s: float = 1.0,
        executor: Executor | None = None, **vad: int) -> tuple[list[Outcome], Pipeline]:
    cfg = Config()
    cfg = replace(cfg, vad=replace(cfg.vad, **vad))
    outcomes: list[Outcome] = []
    pipeline = build(cfg, executor=executor or DryRunExecutor(), recogniser=recogniser,
                     listening=Listening(FileSource(path, cfg.audio.block_ms, fast=True,
                                                    tail_silence_s=tail_silence_s),
                                         Segmenter(cfg.vad, cfg.audio.block_ms)),
                     on_outcome=outcomes.append).running()
    pipeline.run()
    return outcomes, pipeline


def test_a_complete_command_ends_at_the_pause(whisper, tmp_path) -> None:
    outcomes, pipeline = run(said(tmp_path, "new tab"), whisper)
    assert [o.decision.actions for o in outcomes] == [(KeyAction("ctrl+t"),)]
    assert pipeline.stats.early_ends == 1  # closed at the pause, not after the hangover
    assert pipeline.stats.settled_ends == 0


def test_a_pause_inside_a_command_never_acts_on_its_prefix(whisper, tmp_path) -> None:
    # "press down" is a command as heard at the pause, but a count could follow it: it
    # may end only after settle_ms, longer than this pause
    outcomes, pipeline = run(said(tmp_path, "press down", 0.2, "five times"), whisper)
    assert [o.decision.actions for o in outcomes] == [(KeyAction("down", 5),)]
    assert pipeline.stats.early_ends == 0


def test_a_command_that_could_go_on_ends_after_the_longer_pause(whisper, tmp_path) -> None:
    outcomes, pipeline = run(said(tmp_path, "scroll up"), whisper)
    assert len(outcomes) == 1 and outcomes[0].decision.command is not None
    assert pipeline.stats.early_ends == 0  # "scroll up three times" could follow,
    assert pipeline.stats.settled_ends == 1  # so it waited settle_ms, not end_ms


def test_what_acts_at_the_short_pause_is_what_the_peek_heard(whisper, tmp_path) -> None:
    listened = Listened(whisper)
    outcomes, pipeline = run(said(tmp_path, "new tab"), listened)
    assert pipeline.stats.early_ends == 1
    # the closed utterance keeps tail_ms of audio, more than the peek had; acting at once
    # means it was not heard again
    assert len(outcomes[0].utterance.pcm) not in listened.heard
    assert len(outcomes[0].utterance.pcm) > max(listened.heard)


def test_a_command_ended_at_the_longer_pause_acts_on_all_of_its_audio(whisper,
                                                                     tmp_path) -> None:
    listened = Listened(whisper)
    outcomes, pipeline = run(said(tmp_path, "scroll up"), listened)
    assert pipeline.stats.settled_ends == 1 and outcomes[0].decision.command is not None
    # decided on the pause's whole peek, whose audio is the utterance's (the first
    # peek's stops peek_ms after the speech and may cut a final consonant), heard once
    whole = len(outcomes[0].utterance.pcm)
    assert listened.heard[-1] == whole > min(listened.heard)
    assert listened.heard.count(whole) == 1


def test_free_text_is_typed_at_the_pause_then_decided_at_the_end(whisper, tmp_path) -> None:
    listened = Listened(whisper)
    outcomes, pipeline = run(said(tmp_path, "type hello world"), listened)
    assert len(outcomes) == 1 and outcomes[0].decision.command is not None
    assert (pipeline.stats.early_ends, pipeline.stats.settled_ends) == (0, 0)
    # it ended at the pause of its whole peek, with that peek's audio: heard once
    assert listened.audio.count(outcomes[0].utterance.pcm) == 1
    # typed as a peek at the pause heard it, before the utterance ended (agent/worker.py
    # _show); only at the end its text decoded again without the prompt, once, on the
    # full window
    plain = [at for hint, at in listened.decodes if hint.prefix and not hint.phrases]
    assert outcomes[0].recognised_at < outcomes[0].utterance.closed_at
    assert len(plain) == 1 and outcomes[0].utterance.closed_at < plain[0]


def test_free_text_heard_at_a_pause_is_heard_quickly_after_it(whisper, tmp_path) -> None:
    # a peek at the short pause hears "type ..." (free text, which may go on): the
    # utterance's later hearings are quick (one beam), to be typed early; a quick reading
    # never ends an utterance as a command; the decision is taken on the full window
    listened = Listened(whisper)
    outcomes, pipeline = run(said(tmp_path, "type the quick brown fox", 0.25,
                                  "jumps over the lazy dog"), listened)
    assert len(outcomes) == 1 and outcomes[0].decision.command is not None
    assert (pipeline.stats.early_ends, pipeline.stats.settled_ends) == (0, 0)
    fitted = [hint for hint, _ in listened.decodes if not hint.thorough]
    quick = [i for i, hint in enumerate(fitted) if hint.quick]
    assert quick and quick[0] > 0 and quick == list(range(quick[0], len(fitted)))
    assert any(hint.thorough and hint.phrases for hint, _ in listened.decodes)
    assert "lazy" in outcomes[0].decision.text.lower()


def test_dictated_text_is_typed_as_first_heard_then_heard_on_the_full_window(
        whisper, tmp_path) -> None:
    listened = Listened(whisper)
    outcomes, _ = run(said(tmp_path, "start dictation", 1.0, "the weather is lovely today"),
                      listened)
    assert [o.decision.mode.value for o in outcomes] == ["dictation", "dictation"]
    dictated = outcomes[1]
    assert isinstance(dictated.decision.actions[0], TypeAction)
    assert listened.audio.count(dictated.utterance.pcm) == 1  # heard once
    since = [(hint, at) for hint, at in listened.decodes if at > outcomes[0].performed_at]
    fitted = [at for hint, at in since if not hint.thorough]
    full = [at for hint, at in since if hint.thorough]
    # heard quickly on the window fitted to it at its whole peek, before the end, and
    # typed as heard there at once, before the utterance ended; only then heard on the
    # full window, as decide() hears dictation (the free-text decode without the prompt
    # among those decodes)
    assert fitted and max(fitted) < dictated.utterance.closed_at
    assert dictated.recognised_at < dictated.utterance.closed_at  # typed at the pause
    assert all(hint.quick != hint.thorough for hint, _ in since)
    assert full and dictated.recognised_at < min(full)
    assert any(hint.thorough and not hint.phrases for hint, _ in since)


def test_what_a_whole_peek_tried_is_not_tried_again_at_the_end(whisper, tmp_path) -> None:
    # talk is no command: its whole peek hears it, and tries it lower and deeper; the
    # utterance ends at that pause with the same audio, and nothing is heard again
    listened = Listened(whisper)
    outcomes, _ = run(said(tmp_path, "my sister lives near the coast"), listened)
    assert len(outcomes) == 1 and outcomes[0].decision.actions == ()
    assert outcomes[0].utterance.pcm in listened.audio
    assert len(listened.audio) >= 3  # the whole peek and its variants
    assert len(set(listened.audio)) == len(listened.audio), listened.heard


def test_audio_that_ends_during_the_longer_pause_still_acts_once(whisper, tmp_path) -> None:
    # the worker asks to close "scroll up" after settle_ms, but the file ends first: the
    # request is refused and the utterance ends with the stream, acted on once
    outcomes, pipeline = run(said(tmp_path, "scroll up", after=0.12), whisper, 0.0)
    assert pipeline.source_error is None
    assert [o.decision.command for o in outcomes] == ["scroll up"]
    assert (pipeline.stats.early_ends, pipeline.stats.settled_ends) == (0, 0)


def test_a_close_longer_than_the_tail_does_not_wait_on_the_whole_peek(whisper,
                                                                       tmp_path) -> None:
    # the whole peek comes at tail_ms (150), while the close of "new tab" still waits
    # for its pause (200): a file must neither wait for that peek nor act twice
    outcomes, pipeline = run(said(tmp_path, "new tab"), whisper, early_end_ms=200)
    assert [o.decision.actions for o in outcomes] == [(KeyAction("ctrl+t"),)]
    assert pipeline.stats.early_ends == 1
