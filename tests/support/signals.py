"""Interrupts in tests that do not depend on how the suite was started.

A process started in the background by a non-interactive shell (``bash scripts/test.sh &``) or by
``nohup`` inherits SIGINT as *ignored*, and Python then leaves it ignored: a test that sends itself
SIGINT and waits for ``KeyboardInterrupt`` would wait forever. These helpers install Python's own
handler for the duration of the test and give every wait a bound.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def sigint_after(delay: float) -> Iterator[None]:
    """Send this process a real SIGINT ``delay`` seconds into the block, with
    ``signal.default_int_handler`` installed (so it raises ``KeyboardInterrupt`` in the main thread,
    as Ctrl-C in a terminal or a kernel interrupt does). The previous handler, ignored or not, is
    restored on exit; a SIGINT not sent yet by then is never sent.

    Main thread only (``signal.signal`` raises ``ValueError`` elsewhere).
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)


@contextmanager
def fallback_after(seconds: float, action: Callable[[], object]) -> Iterator[threading.Event]:
    """Run ``action`` in a thread if the block is still running after ``seconds``: the bounded wait
    for a block that blocks on something only an event (an interrupt) should end, e.g. kill the
    job whose logs are followed. Yields an ``Event`` set when the fallback ran (the test then fails
    saying so, instead of hanging until the pytest timeout). Waits for a running ``action`` on exit.
    """
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        action()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()
        timer.join()
