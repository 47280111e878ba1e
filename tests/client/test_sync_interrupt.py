"""Ctrl-C in a kernel while the sync facade waits on a stream: the stream is cancelled and
closed on the background loop, without "aclose(): asynchronous generator is already running"."""

import asyncio
import subprocess
import sys
import time

import pytest

from jupyter_apolo.client.sync import iterate
from tests.support.signals import sigint_after

#: How long the stream blocks when nothing interrupts it: the test's bound, well under pytest's timeout.
STALL = 10.0


def test_interrupt_cancels_and_closes_a_streaming_iterator():
    closed = []

    async def stream():
        try:
            yield 1
            await asyncio.sleep(STALL)
            yield 2
        finally:
            closed.append(True)

    items = iterate(stream())
    try:
        assert next(items) == 1
        started = time.monotonic()
        with sigint_after(0.3), pytest.raises(KeyboardInterrupt):
            next(items)  # a stream that is not interrupted yields 2 after STALL s: "DID NOT RAISE"
        assert time.monotonic() - started < STALL
    finally:
        items.close()  # never left open for interpreter exit (see the test below)
    assert closed == [True]


OPEN_AT_EXIT = """
from jupyter_apolo.client.sync import iterate

async def stream():
    yield 1
    yield 2

items = iterate(stream())
assert next(items) == 1
print("exiting", flush=True)
"""


def test_an_iterator_left_open_does_not_hang_interpreter_exit():
    # e.g. a kernel shut down while a cell still held `api.jobs.logs(...)`, or a failed test's frame
    child = subprocess.Popen([sys.executable, "-c", OPEN_AT_EXIT], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "exiting\n"  # imports done: what follows is the exit alone
        assert child.wait(5) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("the interpreter hung at exit closing an open iterate() stream")
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
