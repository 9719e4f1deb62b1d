"""The utterance history: one JSON object per line in <state dir>/history.jsonl.

Each line: time (ISO 8601, local, with offset), text, command, actions, mode,
backend, errors, and latency (seconds from the end of speech to the utterance
being closed, the transcript being ready and the actions being performed, plus the
recogniser's own time). At 5 MB the file moves to history.1.jsonl and a new one starts.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.messages import Outcome

log = logging.getLogger(__name__)

ROTATE_BYTES = 5_000_000


def latency(o: Outcome, started_at: float | None) -> dict[str, float]:
    """Seconds from end of speech to: utterance closed, transcript ready, action performed,
    and the recogniser's time. Only the last when the audio was not paced by a clock
    (`started_at` None: a file read as fast as possible)."""
    if started_at is None:
        return {"recognised": round(o.transcript.seconds, 3)}
    speech_end = started_at + o.utterance.end
    parts = {
        "closed": round(o.utterance.closed_at - speech_end, 3),
        "recognised": round(o.transcript.seconds, 3),
        "performed": round(o.performed_at - speech_end, 3),
    }
    if o.recognised_at:
        parts["transcribed"] = round(o.recognised_at - speech_end, 3)
    return parts


def history_record(o: Outcome, started_at: float | None, now: datetime | None = None
                   ) -> dict[str, Any]:
    when = (now or datetime.now().astimezone()).isoformat(timespec="milliseconds")
    return {"time": when, "text": o.decision.text, "command": o.decision.command,
            "actions": [a.to_json() for a in o.decision.actions], "mode": o.decision.mode.value,
            "backend": o.transcript.backend, "errors": list(o.errors),
            "latency": latency(o, started_at)}


class History:
    """Appends records; a failure to write is logged once and the agent goes on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._failed = False

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.exists() and self.path.stat().st_size > ROTATE_BYTES:
                    self.path.replace(self.path.with_suffix(".1.jsonl"))
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line)
            except OSError as exc:
                if not self._failed:
                    log.warning("cannot write the history to %s: %s", self.path, exc)
                self._failed = True

    def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        """The last `limit` records, oldest first ([] when there is no history)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()[-limit:]
        except (OSError, UnicodeDecodeError):
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out
