"""SIGINT and SIGTERM for the live agent, whose main thread may wait a long time in the
tray's loop.

The live agent blocks both signals in every thread (block_signals(), before the first
thread starts) and one thread takes them with sigwait() (stop_on_signals()); a file run
uses handlers. Why: docs/desktop.md, "How the desktop parts work". Kept free of heavy
imports on purpose.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def block_signals() -> bool:
    """Block SIGINT and SIGTERM in this thread and every thread started after; False where
    this is not possible (Windows), and signal handlers must do."""
    if not hasattr(signal, "pthread_sigmask"):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    return True


def signals_blocked() -> bool:
    return hasattr(signal, "pthread_sigmask") and \
        signal.pthread_sigmask(signal.SIG_BLOCK, set()) >= _SIGNALS


class Stopped:
    """Which signal stopped the agent, if one did; the exit status that says so."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def exit_status(self, otherwise: int = 0) -> int:
        """128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as shells expect of
        a program a signal ended; `otherwise` when no signal came."""
        return otherwise if self.signal is None else 128 + self.signal


def stop_on_signals(stop: Callable[[], None]) -> Stopped:
    """Call stop() on each SIGINT or SIGTERM: from a thread that waits for them when they
    are blocked (block_signals()), else from Python signal handlers (the main thread must
    then be running Python code now and then, as Pipeline.run() does). Returns what
    records the first signal, for the exit status."""
    stopped = Stopped()

    def take(sig: int) -> None:
        log.info("%s: stopping", signal.Signals(sig).name)
        if stopped.signal is None:
            stopped.signal = sig
        stop()

    if signals_blocked():
        def wait() -> None:
            while True:
                take(signal.sigwait(_SIGNALS))

        threading.Thread(target=wait, name="signals", daemon=True).start()
    else:
        for sig in _SIGNALS:
            signal.signal(sig, lambda number, _frame: take(number))
    return stopped
