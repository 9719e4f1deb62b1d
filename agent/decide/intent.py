"""Command intent (capability `intent`): no command matched, so the recogniser (Voxtral
with command_intent on) may pick some as tool calls; the dispatcher checks and performs
them, asking first when the guess is risky (always, with intent_confirm = "always")."""

from __future__ import annotations

import logging

from agent.asr.base import RecognitionError
from agent.decide.heard import Heard
from agent.dispatch.dispatcher import Dispatcher
from agent.messages import Decision, Mode, Transcript

log = logging.getLogger(__name__)


def by_intent(heard: Heard, transcript: Transcript, mode: Mode, dispatcher: Dispatcher,
              *, confirm_always: bool) -> Decision | None:
    """No command matched: the recogniser (Voxtral with command_intent on) may pick
    some as tool calls, which the dispatcher checks and performs."""
    text = transcript.text.strip()
    tools = dispatcher.tools(heard.app)
    if mode is not Mode.COMMAND or not text or not tools:
        return None
    try:
        calls = heard.hearing.intent(text, tools)
    except RecognitionError as exc:
        log.warning("command intent: %s", exc)
        return None
    if not calls:
        return None
    return dispatcher.intended(text, calls, heard.app, confirm_always=confirm_always,
                               end=heard.utterance.end)
