"""The JSON line of an utterance typed early and corrected (agent/worker.py): "actions"
are the decision's, the net effect the contract's checks read; "performed" is added only
when what reached the window differs (agent/messages.py Outcome.to_json)."""

from __future__ import annotations

from agent.messages import Decision, KeyAction, Mode, Outcome, Transcript, TypeAction, Utterance


def outcome(performed: tuple = ()) -> Outcome:
    final = Decision("The weather is lovely today.", None,
                     (TypeAction(" The weather is lovely today."),), Mode.DICTATION)
    return Outcome(Utterance(b"", 1.0, 2.5), Transcript(final.text), final,
                   performed=performed)


def test_a_corrected_utterance_reports_its_net_actions_and_what_was_performed() -> None:
    performed = (TypeAction(" The weather is lovely zebra."), KeyAction("backspace", 6),
                 TypeAction("today."))
    line = outcome(performed).to_json()
    assert line["actions"] == [{"action": "type", "text": " The weather is lovely today."}]
    assert line["performed"] == [a.to_json() for a in performed]


def test_an_utterance_typed_once_has_no_performed_key() -> None:
    line = outcome().to_json()
    assert "performed" not in line and len(line["actions"]) == 1  # type: ignore[arg-type]
