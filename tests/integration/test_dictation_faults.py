"""Dictation when typing fails, in the real pipeline (file source, segmenter, the embedded
model, dispatcher): what failed to be typed must not be "scratched" later, since the
BackSpaces would delete the person's own text instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.actions.base import ActionError
from agent.actions.dryrun import DryRunExecutor
from agent.messages import Action, KeyAction, Outcome, TypeAction
from tests.integration.test_pipeline_faults import _pipeline, whisper  # noqa: F401 - fixture
from tests.integration.test_voice_x11 import _speak


class Butterfingers(DryRunExecutor):
    """Performs like the dry run, but the `fail`-th text typed raises as a route would
    (`bug`: not an ActionError, as a lost display connection would)."""

    def __init__(self, fail: int, bug: bool = False) -> None:
        super().__init__()
        self.fail, self.bug, self.typed = fail, bug, 0

    def perform(self, action: Action) -> None:
        if isinstance(action, TypeAction):
            self.typed += 1
            if self.typed == self.fail:
                raise ConnectionResetError("display lost") if self.bug \
                    else ActionError("cannot type")
        super().perform(action)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _speak(["start dictation", "hello there", "we should go for a walk",
                   "scratch that", "scratch that"], tmp_path_factory.mktemp("typing"))


@pytest.mark.parametrize("bug", [False, True])
def test_text_that_failed_to_type_is_not_scratched(whisper, speech: Path,  # noqa: F811
                                                   bug: bool) -> None:
    outcomes: list[Outcome] = []
    hands = Butterfingers(fail=2, bug=bug)  # "we should go for a walk" fails
    _pipeline(speech, whisper, hands, outcomes.append).run()
    assert len(outcomes) == 5, [o.decision for o in outcomes]
    assert outcomes[2].errors, outcomes[2]
    scratches = [o.decision for o in outcomes[3:]]
    assert [d.command for d in scratches] == ["scratch that"] * 2, scratches
    # nothing known typed since the failure: neither scratch presses a key
    assert not [a for a in hands.performed if isinstance(a, KeyAction)], hands.performed
    assert [a.text for a in hands.performed if isinstance(a, TypeAction)] == \
        [outcomes[1].decision.actions[0].text]  # type: ignore[union-attr]
