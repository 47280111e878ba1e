"""Ctrl-C in a kernel while the sync facade waits on a stream: the stream is cancelled and
closed on the background loop, without "aclose(): asynchronous generator is already running"."""

import asyncio
import os
import signal
import threading
import time

from jupyter_apolo.client.sync import iterate


def test_interrupt_cancels_and_closes_a_streaming_iterator():
    closed = []

    async def stream():
        try:
            yield 1
            await asyncio.sleep(30)
            yield 2
        finally:
            closed.append(True)

    items = iterate(stream())
    assert next(items) == 1
    threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    try:
        next(items)
        raise AssertionError("the interrupt did not reach the waiting iterator")
    except KeyboardInterrupt:
        pass
    items.close()
    assert closed == [True]
    assert time.monotonic() - started < 10
