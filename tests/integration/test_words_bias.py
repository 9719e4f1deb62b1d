"""The user's [words] bias recognition of free text: through the real pipeline (file
source, segmenter, the embedded Whisper model, the decide stage), dictation's free-text
decode and the scoring of its readings are prompted with the words' written and spoken
forms, and without words nothing changes (agent/decide/, agent/dispatch/words.py).
What the model then writes is not pinned here: the hints it was given are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from agent.actions.dryrun import DryRunExecutor
from agent.asr.base import Hearing, Hint
from agent.asr.whisper import WhisperRecogniser
from agent.audio.file_source import FileSource
from agent.audio.vad import Segmenter
from agent.build import build
from agent.config import Config
from agent.listening import Listening
from agent.messages import Mode, Outcome
from tests.integration.test_early_end import Listened, Recorded, said


class Scored(Recorded):
    """A real hearing that also notes the hint of every scoring."""

    def __init__(self, inner: Hearing, decodes: list[tuple[Hint, float]],
                 scores: list[Hint]) -> None:
        super().__init__(inner, decodes)
        self.scores = scores

    def score(self, texts: Sequence[str], hint: Hint) -> list[float]:
        self.scores.append(hint)
        return self.inner.score(texts, hint)


class Spied(Listened):
    def __init__(self, inner: WhisperRecogniser) -> None:
        super().__init__(inner)
        self.scores: list[Hint] = []

    def hear(self, pcm: bytes) -> Hearing:
        self.audio.append(pcm)
        return Scored(self.inner.hear(pcm), self.decodes, self.scores)


@pytest.fixture(scope="module")
def whisper() -> WhisperRecogniser:
    recogniser = WhisperRecogniser(Config())
    recogniser.load()
    return recogniser


def dictate(path: Path, spied: Spied, user: Path) -> list[Outcome]:
    cfg = Config()
    cfg = replace(cfg, commands=replace(cfg.commands, user_dir=str(user)))
    outcomes: list[Outcome] = []
    build(cfg, executor=DryRunExecutor(), recogniser=spied,
          listening=Listening(FileSource(path, cfg.audio.block_ms, fast=True),
                              Segmenter(cfg.vad, cfg.audio.block_ms)),
          on_outcome=outcomes.append).running().run()
    return outcomes


@pytest.mark.parametrize("with_words", [True, False])
def test_dictation_is_decoded_and_weighed_with_the_words(whisper, tmp_path,
                                                          with_words: bool) -> None:
    user = tmp_path / "commands"
    user.mkdir()
    if with_words:
        (user / "words.toml").write_text('[words]\n"vox agent" = "voxagent"\n'
                                         '"my email" = "me@example.org"\n')
    spied = Spied(whisper)
    outcomes = dictate(said(tmp_path, "start dictation", 1.0,
                            "the weather is lovely today"), spied, user)
    assert [o.decision.mode for o in outcomes] == [Mode.DICTATION, Mode.DICTATION]
    words = ("voxagent", "vox agent", "me@example.org", "my email") if with_words else ()
    after = [hint for hint, at in spied.decodes if at > outcomes[0].utterance.closed_at]
    first = after[0]  # the dictation vocabulary, not the words
    free = [hint for hint in after if hint.thorough and hint.phrases != first.phrases]
    assert free and all(hint.phrases == words for hint in free), after
    assert "stop dictation" in first.phrases and "voxagent" not in first.phrases
    weighed = spied.scores[-1]
    assert weighed.phrases == first.phrases + words
