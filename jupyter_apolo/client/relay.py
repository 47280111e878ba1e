"""Byte relay to the platform for the server extension's proxy: one call in, its status,
headers and body out, chunk by chunk, with the token added here and nowhere else.

Why aiohttp and not the httpx client of ``core.py``: a relay does nothing with the bytes, so
its cost is the HTTP stack's own. aiohttp's C parser takes about 40% of httpx's CPU per call
and about a third per GiB relayed (measured on this project's machines, see
``tests/bench/bench_proxy.py``); it is also the HTTP stack of the official apolo SDK.
Everything that interprets answers (jobs, storage, transfers) stays on ``AsyncApolo``.

Use::

    async with Relay(config, connect_timeout=10, read_timeout=60) as relay:
        async with relay.exchange("GET", url, headers={"Accept": "*/*"}) as up:
            up.status, up.reason, up.headers          # headers: [(name, value), ...] as received
            async for chunk in up.chunks(): ...       # raw body bytes (never decompressed)
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterable, AsyncIterator

import aiohttp
import httpx

from .config import ApoloConfig
from .core import USER_AGENT
from .errors import PlatformTimeout, PlatformUnreachable, error_from_body

#: The most of an error answer's body read to build the error (bytes).
ERROR_BODY_LIMIT = 1 << 20


class Upstream:
    """The platform's answer, head received, body not yet read.

    ``status`` (int), ``reason`` (str), ``headers``: list of ``(name, value)`` in the order
    received, repeated names kept; ``length``: the declared Content-Length in bytes or None.
    """

    def __init__(self, response: aiohttp.ClientResponse, url: str, read_timeout: float | None):
        self._response, self._url, self._read_timeout = response, url, read_timeout
        self.status: int = response.status
        self.reason: str = response.reason or ""
        self.headers: list[tuple[str, str]] = list(response.headers.items())
        self.length: int | None = response.content_length

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (each chunk: what the socket reads gave since the last one).

        Raises ``PlatformUnreachable`` when the connection fails mid-body, or ("timed out") when
        one read waits more than ``read_timeout`` seconds for data. Time the caller spends
        between reads (a slow browser) does not count.
        """
        stream = self._response.content
        watch = _StallWatch(stream, self._read_timeout)
        try:
            while True:
                watch.waiting_since = watch.loop.time()
                chunk = await stream.readany()
                watch.waiting_since = None
                if not chunk:
                    return
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _unreachable(exc, self._url) from exc
        finally:
            watch.stop()


class _StallWatch:
    """Fails ``stream``'s pending read once it has waited ``timeout`` seconds for data.

    One timer for the whole body, checking every ``timeout / 4`` seconds, instead of aiohttp's
    ``sock_read`` timer, which is rescheduled on every socket read and cost ~15% of the proxy's
    CPU per GiB. ``waiting_since``: loop time the current read began, None between reads.
    ``timeout`` None or 0: no limit (no timer).
    """

    def __init__(self, stream: aiohttp.StreamReader, timeout: float | None):
        self.loop = asyncio.get_running_loop()
        self.waiting_since: float | None = None
        self._stream, self._timeout = stream, timeout
        self._handle = self.loop.call_later(timeout / 4, self._check) if timeout else None

    def _check(self) -> None:
        since = self.waiting_since
        if since is not None and self.loop.time() - since > self._timeout:
            self._stream.set_exception(aiohttp.ServerTimeoutError(f"no body data for {self._timeout:g} s"))
        else:
            self._handle = self.loop.call_later(self._timeout / 4, self._check)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


class Relay:
    """A connection pool to the platform for relaying calls as they are.

    ``config``: whose token is added (``Authorization: Bearer``). ``connect_timeout``: seconds
    to get a connection; ``read_timeout``: seconds to wait for the head and between two body
    chunks (no limit on the whole exchange: a 1 TiB download may take hours).
    ``max_connections``: pool size. TLS is verified with the same trust store as httpx
    (``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set, else certifi). Redirects are never followed,
    cookies never kept, bodies never decompressed.
    """

    def __init__(self, config: ApoloConfig, *, connect_timeout: float = 10.0, read_timeout: float = 60.0,
                 max_connections: int = 64):
        self.config = config
        self._read_timeout = read_timeout
        # sock_read times the head (aiohttp starts it once the request body is sent)
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Relay":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=httpx.create_ssl_context())
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
                timeout=self._timeout, skip_auto_headers=("Accept", "Accept-Encoding", "Content-Type"),
                headers={"User-Agent": USER_AGENT, "Authorization": f"Bearer {self.config.token}"},
            )
        return self._session

    async def close(self) -> None:
        """Close the pool (idempotent)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @asynccontextmanager
    async def exchange(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                       body: AsyncIterable[bytes] | None = None) -> AsyncIterator[Upstream]:
        """Send ``method url`` (absolute) with ``headers`` and the streamed ``body`` and yield the
        answer once its head is in. Statuses < 400 (redirects included) are yielded as they are.

        Raises the ``errors.py`` exception of a status >= 400 (its JSON message kept, as
        ``AsyncApolo.stream`` does) and ``PlatformUnreachable`` when the platform cannot be
        reached or does not answer within ``read_timeout`` (message says "timed out").
        Leaving the block early (or a cancellation) closes that connection instead of reusing it.
        """
        try:
            async with self._open().request(method, url, headers=headers, data=body,
                                            allow_redirects=False) as response:
                if response.status >= 400:
                    raise await _error(response)
                if response.connection is not None:  # the body's stalls are timed by Upstream.chunks
                    response.connection.protocol.read_timeout = None
                yield Upstream(response, url, self._read_timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _unreachable(exc, url) from exc


async def _error(response: aiohttp.ClientResponse) -> Exception:
    raw = b""
    while len(raw) < ERROR_BODY_LIMIT and (chunk := await response.content.read(ERROR_BODY_LIMIT - len(raw))):
        raw += chunk
    return error_from_body(response.status, raw)


def _unreachable(exc: BaseException, url: str) -> PlatformUnreachable:
    where = url.split("?")[0]
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return PlatformTimeout(f"Connection to the platform timed out ({where}): {detail}")
    return PlatformUnreachable(f"Connection to the platform failed ({where}): {detail}")


__all__ = ["Relay", "Upstream"]
