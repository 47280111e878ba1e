"""The sync facade's non-blocking entry: ``Apolo.submit`` returns a Future at once while a slow
platform call runs on the background loop, and cancelling the Future cancels the call."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import CancelledError

import pytest

from jupyter_apolo.client import ApoloError, PlatformTimeout


class SlowServer:
    """A loopback HTTP server that answers each request ``delay`` seconds late (or never, ``None``)
    and records when a client hung up."""

    def __init__(self, delay: float | None):
        self.delay = delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hung_up = threading.Event()
        self.requests = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            self.requests.set()
            conn.settimeout(self.delay if self.delay is not None else 30)
            try:
                if conn.recv(1) == b"":  # the client closed before we answered
                    self.hung_up.set()
                    return
            except (TimeoutError, OSError):
                pass
            if self.delay is not None:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
                             b"{\"ok\": true}")

    def close(self) -> None:
        self.sock.close()


def test_submit_returns_at_once_and_leaves_the_caller_free(apolo):
    api = apolo("alice")
    slow = SlowServer(delay=1.5)
    try:
        started = time.monotonic()
        future = api.submit(lambda aio: aio.request("GET", f"http://127.0.0.1:{slow.port}/slow"))
        submitted = time.monotonic() - started
        assert submitted < 0.05, f"submit blocked for {submitted:.3f} s"
        # the caller keeps working (as a kernel runs the next cell) while the call is in flight
        ticks = 0
        while not future.done():
            ticks += 1
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        assert elapsed >= 1.4 and ticks > 50, (elapsed, ticks)
        assert future.result().json() == {"ok": True}
        # blocking calls through the same facade still work afterwards
        assert api.storage.stat("storage:").is_dir
    finally:
        slow.close()


def test_cancelling_the_future_cancels_the_platform_call(apolo):
    api = apolo("alice")
    slow = SlowServer(delay=None)
    try:
        future = api.submit(lambda aio: aio.request("GET", f"http://127.0.0.1:{slow.port}/never"))
        assert slow.requests.wait(10), "the request never reached the server"
        assert future.cancel() or future.cancelled()
        with pytest.raises(CancelledError):
            future.result(5)
        assert slow.hung_up.wait(10), "the connection stayed open: the coroutine was not cancelled"
    finally:
        slow.close()


def test_a_timeout_is_its_own_error_type(platform, tmp_path):
    from jupyter_apolo.client import Apolo, resolve_config

    slow = SlowServer(delay=None)
    try:
        with Apolo(resolve_config(url=platform.url, token=platform.token("alice"), environ={}), timeout=0.5) as api:
            with pytest.raises(PlatformTimeout, match="timed out") as caught:
                api.call(lambda aio: aio.request("GET", f"http://127.0.0.1:{slow.port}/never", retry=False))
            assert isinstance(caught.value, ApoloError)
    finally:
        slow.close()
