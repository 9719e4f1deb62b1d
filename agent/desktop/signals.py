"""SIGINT and SIGTERM for the live agent, whose main thread may wait a long time in the
tray's loop.

A Python signal handler runs only when the main thread runs Python code, and the
kernel may hand a signal to any thread that does not block it (numpy's BLAS threads,
sound-system threads, ...): the handler would then wait as long as the tray does.
So the live agent blocks both signals in every thread, from before the first thread
starts (block_signals(), called by the CLI before the heavy imports), and one thread
takes them with sigwait() and stops the agent (stop_on_signals()). Kept free of
heavy imports on purpose.
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


def stop_on_signals(stop: Callable[[], None]) -> None:
    """A thread that waits for SIGINT or SIGTERM and calls stop() each time."""
    def wait() -> None:
        while True:
            sig = signal.sigwait(_SIGNALS)
            log.info("%s: stopping", signal.Signals(sig).name)
            stop()

    threading.Thread(target=wait, name="signals", daemon=True).start()
