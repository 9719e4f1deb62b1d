"""The end of speech on real spoken audio: espeak-ng speech, seeded noise, the real
webrtcvad and the real Silero model shipped in assets/silero.  Times are stream times
of the frames fed, never wall-clock bounds."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from agent.audio.config import VadConfig
from agent.audio.vad import Peek, Segmenter
from agent.messages import SAMPLE_RATE, AudioFrame, Utterance
from agent.turn import Verdict
from tests.integration.fixture_modules import load_fixture

FRAME_MS = 30

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                reason="needs espeak-ng and sox (.ci/run installs them)")


mf = load_fixture("make_fixtures")
VOICE = mf.Voice("espeak-ng", "en-us", 150)


@dataclass
class Clip:
    frames: list[AudioFrame]
    end: float
    """True end of speech (last sample above -40 dB of the peak), s."""
    noise_until: float = 0.0


def make_clip(parts: list[str], work: Path, snr_db: float | None = None,
              pause_s: float = 0.25) -> Clip:
    """1 s of silence, the parts spoken with pauses between them, 2 s after; with pink
    noise from 0.5 s before the speech to 1 s after it, its level swelling +-8 dB four
    times a second (like music: the noise gate cannot track it)."""
    speech = [mf.synthesize(VOICE, text, work) for text in parts]
    gap = np.zeros(int(pause_s * SAMPLE_RATE), np.float32)
    voice = np.concatenate([x for s in speech for x in (gap, s)][1:])
    at = SAMPLE_RATE
    out = np.zeros(at + len(voice) + 2 * SAMPLE_RATE, np.float32)
    out[at:at + len(voice)] = voice
    end = (at + len(voice)) / SAMPLE_RATE
    noise_until = 0.0
    if snr_db is not None:
        a, b = at - SAMPLE_RATE // 2, at + len(voice) + SAMPLE_RATE
        t = np.arange(b - a) / SAMPLE_RATE
        noise = mf.make_noise("pink", b - a, seed=11) * 10 ** (8 * np.sin(8 * np.pi * t) / 20)
        gain = np.sqrt(float(np.mean(voice ** 2)) / 10 ** (snr_db / 10) / np.mean(noise ** 2))
        out[a:b] += noise * gain
        noise_until = b / SAMPLE_RATE
    pcm = np.round(np.clip(out, -1.0, 32767 / 32768) * 32768).astype(np.int16)
    n = SAMPLE_RATE * FRAME_MS // 1000
    frames = [AudioFrame(pcm[i:i + n].tobytes(), i / SAMPLE_RATE)
              for i in range(0, len(pcm) - n + 1, n)]
    return Clip(frames, end, noise_until)


def segment(seg: Segmenter, clip: Clip) -> tuple[list[tuple[float, Utterance]],
                                                  list[tuple[float, Peek]]]:
    """(stream time the frame that made it ended, utterance or peek), in order."""
    utts, peeks = [], []
    for f in clip.frames:
        now = f.start + f.duration
        if (utt := seg.feed(f)) is not None:
            utts.append((now, utt))
        if (peek := seg.take_peek()) is not None:
            peeks.append((now, peek))
    return utts, peeks


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(["press escape"], tmp_path_factory.mktemp("endpoint"), snr_db=12)


def test_silero_ends_speech_in_noise_that_goes_on(noisy: Clip) -> None:
    seg = Segmenter(VadConfig(end_ms=250), FRAME_MS)  # its shortest safe setting
    assert seg.has_opinion  # the shipped model loaded
    utts, _ = segment(seg, noisy)
    assert len(utts) == 1  # the noise after it was not taken for speech
    closed, utt = utts[0]
    assert noisy.end <= closed < noisy.end + 0.5 < noisy.noise_until
    assert utt.start < noisy.end <= utt.end + 0.1
    # webrtcvad alone holds the utterance open until the noise stops
    alone = Segmenter(replace(VadConfig(), end_model="none"), FRAME_MS)
    assert not alone.has_opinion
    later, _ = segment(alone, noisy)
    assert later[0][0] > noisy.noise_until


def test_a_peek_after_the_end_closes_there(noisy: Clip) -> None:
    seg = Segmenter(VadConfig(early_end_ms=0), FRAME_MS)
    utt = None
    peek: Peek | None = None
    for f in noisy.frames:
        assert seg.feed(f) is None, "the peek comes before the segmenter's own close"
        if (peek := seg.take_peek()) is not None and f.start >= noisy.end:
            utt = seg.hear(peek.id, Verdict.COMPLETE)  # no wait: closed at once
            break
    assert peek is not None and utt is not None
    assert (utt.pcm, utt.end) == (peek.pcm, peek.end)
    assert utt.end + 0.1 >= noisy.end
    assert not seg.in_speech


def test_a_pause_inside_a_command_is_peeked_and_overtaken(tmp_path: Path) -> None:
    clip = make_clip(["press down", "five times"], tmp_path, pause_s=0.25)
    seg = Segmenter(VadConfig(end_ms=450), FRAME_MS)
    utts: list[Utterance] = []
    at_pause: Peek | None = None
    refused = None
    for f in clip.frames:
        utts += [u] if (u := seg.feed(f)) is not None else []
        peek = seg.take_peek()
        if peek is not None and at_pause is None and f.start < clip.end - 0.3:
            at_pause = peek
        if at_pause is not None and refused is None and f.start > at_pause.end + 0.3:
            refused = seg.hear(at_pause.id, Verdict.COMPLETE)  # "five times" has begun
            assert refused is None
            refused = False
    assert at_pause is not None, "no peek at the pause"
    assert refused is False
    assert len(utts) == 1
    assert utts[0].end + 0.1 >= clip.end  # the whole command, both halves
