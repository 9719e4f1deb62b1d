"""Notices when the command files change, so the live agent reloads them by itself.

A small thread polls a stamp of the files (path, mtime, size; agent/dispatch/loader.py
files_stamp) twice a second. A new stamp is acted on once it has held still for one
more poll, so an editor's save in several writes (truncate, write, rename) reloads once
and never reads a half-written file. `changed()` is called on this thread; the session
passes the controller's reload, which reads the files on a thread of its own and hands
the new set to the pipeline's processing thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)

POLL_S = 0.5
"""Seconds between two looks at the files."""


class ChangeWatcher:
    def __init__(self, stamp: Callable[[], Hashable], changed: Callable[[], None],
                 interval_s: float = POLL_S) -> None:
        self._stamp = stamp
        self._changed = changed
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the files as they are now as the baseline, then watch on a thread."""
        baseline = self._stamp()
        self._thread = threading.Thread(target=self._run, args=(baseline,),
                                        name="command-watch", daemon=True)
        self._thread.start()

    def _run(self, last: Hashable) -> None:
        pending: Hashable = last
        while not self._stop.wait(self._interval):
            try:
                now = self._stamp()
            except OSError as exc:  # a folder gone unreadable: look again next time
                log.debug("cannot look at the command files: %s", exc)
                continue
            if now == last or now != pending:
                pending = now  # new, or still changing: wait one more poll
                continue
            last = now
            self._changed()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self._interval + 1)
