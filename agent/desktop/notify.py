"""Optional desktop notifications for recognised commands.

Linux: `notify-send` (libnotify-bin); macOS: `osascript`; elsewhere, or when the
tool is missing, it says so once and stays quiet. Runs on its own thread with a
small queue, so a slow notification daemon never holds up the agent.
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

_TIMEOUT_S = 5.0


def notify_argv(title: str, body: str) -> list[str] | None:
    """The command that shows a notification here, or None if there is none."""
    if sys.platform == "darwin":
        script = f"display notification {_applescript(body)} with title {_applescript(title)}"
        return ["osascript", "-e", script]
    tool = shutil.which("notify-send")
    if tool is None:
        return None
    return [tool, "--app-name=voxagent", "--expire-time=2500", title, body]


def _applescript(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Notifier:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        """Notify of each recognised command (the config's choice, if a tool exists)."""
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=8)
        self._thread: threading.Thread | None = None
        self._tool = notify_argv("", "") is not None
        if enabled and not self._tool:
            log.warning("desktop notifications off: notify-send not found "
                        "(Debian: apt-get install libnotify-bin)")
            self.enabled = False

    def notify(self, title: str, body: str, *, asked: bool = False) -> bool:
        """Show a notification (on the notifier's thread); `asked`: the person asked for
        it ("what can I say"), so it is shown even when notifications of commands are
        off. False when it cannot be shown here."""
        if not (self.enabled or (asked and self._tool)):
            return False
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait((title, body))
        except queue.Full:
            log.debug("notification dropped: too many waiting")
        return True

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            argv = notify_argv(*item)
            if argv is None:
                continue
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT_S,
                                      check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.warning("notification failed: %s", exc)
                continue
            if done.returncode != 0:
                log.warning("notification failed: %s", done.stderr.strip().splitlines()[-1:])

    def stop(self) -> None:
        if self._thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                return
            self._thread.join(timeout=_TIMEOUT_S)
