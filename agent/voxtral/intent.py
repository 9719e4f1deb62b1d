"""Command intent: when no command matched, ask Voxtral which active command was meant.

The HTTP call lives here, outside the (pure) dispatcher: the active commands go out as
tools (agent.dispatch.tools), the model's tool calls come back, are checked against the
same commands, and the dispatcher performs them, asking for a spoken "yes" first when the
guess is risky (or always, if configured).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agent.dispatch.tools import ToolCallError, command_tools, is_risky, tool_call_match
from agent.messages import Decision, Mode, Transcript
from agent.voxtral.client import VoxtralClient, VoxtralError
from agent.voxtral.features import FeatureRequest, get

if TYPE_CHECKING:
    from agent.dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)


class IntentHook:
    """Called by the pipeline with what was heard when it matched no command."""

    def __init__(self, client: VoxtralClient) -> None:
        self.client = client
        self.cfg = client.cfg
        self.disabled = False

    def __call__(self, pcm: bytes, transcript: Transcript, dispatcher: Dispatcher,
                 app: str) -> Decision | None:
        text = transcript.text.strip()
        commands = dispatcher.active(app)
        if self.disabled or dispatcher.mode is not Mode.COMMAND or not text or not commands:
            return None
        tools = tuple(command_tools(commands))
        try:
            result = get("command_intent", self.cfg).execute(
                self.client, FeatureRequest(pcm, text, tools))
        except VoxtralError as exc:
            if "--enable-auto-tool-choice" in str(exc):  # it will say so every time
                self.disabled = True
                log.error("command intent off for this session: %s (the server needs "
                          "--tool-call-parser mistral --enable-auto-tool-choice)", exc)
            else:
                log.warning("command intent: %s", exc)
            return None
        if not result.tool_calls:
            log.info("command intent: no command for %r (%s)", text, result.text[:80])
            return None
        try:
            chain = [tool_call_match(commands, c.name, c.arguments) for c in result.tool_calls]
        except ToolCallError as exc:
            log.warning("command intent: %s", exc)
            return None
        confirm = self.cfg.intent_confirm == "always" or is_risky(chain)
        decision = dispatcher.act(text, chain, confirm)
        log.info("command intent: %r -> %s%s", text, decision.command,
                 " (awaiting yes)" if confirm else "")
        return decision
