"""A tiny TCP proxy for tests: forwards 127.0.0.1:``port`` to ``target_port`` and breaks the
network on demand. Records the request heads it forwarded upstream (``requests``).

- ``cut_after``/``cuts``: while ``cuts`` > 0, drop a connection once it has sent ``cut_after``
  bytes back to the client (a mid-response network failure).
- ``hold_after``: once a connection has sent that many bytes back to the client, forward nothing
  more on it until ``release()`` or ``close()`` (a stalled network: the client keeps waiting);
  ``held`` is set when that happens. Lets a test act on a transfer that is surely mid-way.
"""

from __future__ import annotations

import socket
import threading


class CuttingProxy:
    def __init__(self, target_port: int, *, cut_after: int = 0, cuts: int = 0, hold_after: int | None = None):
        self.target_port, self.cut_after, self.cuts, self.hold_after = target_port, cut_after, cuts, hold_after
        self.requests: list[bytes] = []
        self.cut_count = 0
        self.held = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def release(self) -> None:
        """Let held connections go on (and hold no more)."""
        self._released.set()

    def close(self) -> None:
        self._stopped = True
        self.release()
        self._server.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if not downstream:
                    with self._lock:
                        self.requests.append(data[:2048])
                elif self.cuts > 0 and sent + len(data) >= self.cut_after:
                    with self._lock:
                        if self.cuts > 0:
                            self.cuts -= 1
                            self.cut_count += 1
                            dst.sendall(data[: max(0, self.cut_after - sent)])
                            raise ConnectionAbortedError
                elif (self.hold_after is not None and not self._released.is_set()
                      and sent + len(data) >= self.hold_after):
                    head = max(0, self.hold_after - sent)
                    dst.sendall(data[:head])
                    sent, data = sent + head, data[head:]
                    self.held.set()
                    self._released.wait()
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
