"""Bulk reads for relaying platform bodies (the server extension's proxy, large downloads).

httpcore asks its network stream for at most 64 KiB per read, so a 1 GiB body costs ~16,000
trips through h11, anyio's cancel scopes and httpx's iterator layers, which is most of a
proxy's CPU. asyncio's socket transport already receives up to 256 KiB per ``recv``; letting
httpcore take whatever has arrived (up to ``read_size``) makes ~4x fewer trips (the proxy's
CPU per GiB about halves: tests/bench/bench_proxy.py) and changes nothing else: a read still
returns as soon as any data is there (no added latency), and at most ``read_size`` bytes are
held per read (constant memory).

Use: ``AsyncApolo(config, transport=bulk_transport(max_connections=64))``.
"""

from __future__ import annotations

import typing

import httpcore
import httpx

#: Largest read handed up from one socket (bytes); asyncio itself receives <= 256 KiB at a time.
DEFAULT_READ_SIZE = 1 << 20


class LargeReadStream(httpcore.AsyncNetworkStream):
    """A network stream whose reads take up to ``read_size`` bytes whatever httpcore asks for."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, read_size: int):
        self._stream, self._read_size = stream, read_size

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max(max_bytes, self._read_size), timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[no-untyped-def]
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return LargeReadStream(tls, self._read_size)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class LargeReadBackend(httpcore.AsyncNetworkBackend):
    """Wraps a backend (default ``httpcore.AnyIOBackend``) so its streams are ``LargeReadStream``s."""

    def __init__(self, read_size: int = DEFAULT_READ_SIZE, backend: httpcore.AsyncNetworkBackend | None = None):
        if read_size < 1:
            raise ValueError(f"read_size must be a positive number of bytes, got {read_size!r}")
        self.read_size = read_size
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return LargeReadStream(stream, self.read_size)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # type: ignore[no-untyped-def]
        stream = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return LargeReadStream(stream, self.read_size)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def bulk_transport(*, max_connections: int = 32, read_size: int = DEFAULT_READ_SIZE,
                   verify: bool | str = True) -> httpx.AsyncHTTPTransport:
    """An ``httpx.AsyncHTTPTransport`` (HTTP/1.1, TLS verified like httpx's default) whose
    connections read up to ``read_size`` bytes at a time.

    ``max_connections``: pool size (keep-alive for all of them; ``AsyncApolo`` ignores its own
    ``max_connections`` when given a transport). Raises ``ValueError`` for ``read_size < 1``.
    """
    ssl_context = httpx.create_ssl_context(verify=verify)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context)
    # httpx takes no network backend, so its pool is rebuilt with the same settings plus ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=httpx.Limits(max_connections=max_connections).keepalive_expiry,
        network_backend=LargeReadBackend(read_size),
    )
    return transport


__all__ = ["DEFAULT_READ_SIZE", "LargeReadBackend", "LargeReadStream", "bulk_transport"]
