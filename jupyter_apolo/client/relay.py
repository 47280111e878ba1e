"""Byte relay to the platform for the server extension's proxy: one call in, its status,
headers and body out, chunk by chunk, with the token added here and nowhere else.

Why aiohttp and not the httpx client of ``core.py``: a relay does nothing with the bytes, so
its cost is the HTTP stack's own. aiohttp's C parser takes about 40% of httpx's CPU per call
and about a third per GiB relayed (measured on this project's machines, see
``tests/bench/bench_proxy.py``); it is also the HTTP stack of the official apolo SDK.
Everything that interprets answers (jobs, storage, transfers) stays on ``AsyncApolo``.

Fairness: a relay holds at most ``max_connections`` upstream connections, and one client key (the
proxy passes one per Jupyter user) at most ``max_per_client`` of them. A call waits its turn while
others end; when none was freed for ``queue_timeout`` seconds it fails with ``UpstreamBusy`` (429
for the client's own limit, 503 for the shared pool), naming the limit and its setting. So "waited for
a free connection" is never reported as "the platform did not answer" (``PlatformUnreachable``,
"timed out"), and a client that stops reading its downloads cannot starve the others.

Use::

    async with Relay(config, connect_timeout=10, read_timeout=60) as relay:
        url = exact_url(base, "o/p/dir/a.txt", "op=OPEN")     # UnsafeURL if it would be re-read
        async with relay.exchange("GET", url, headers={"Accept": "*/*"}, client="alice") as up:
            up.status, up.reason, up.headers          # headers: [(name, value), ...] as received
            async for chunk in up.chunks(): ...       # raw body bytes (never decompressed)
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import AsyncIterable, AsyncIterator, Callable

import aiohttp
import httpx
from yarl import URL

from .config import ApoloConfig
from .core import USER_AGENT
from .errors import ApoloError, InvalidInput, PlatformTimeout, PlatformUnreachable, error_from_body

#: The most of an error answer's body read to build the error (bytes).
ERROR_BODY_LIMIT = 1 << 20
#: What a raw path or query may hold: printable ASCII but ``#`` (a fragment: the client drops
#: what follows), ``\\`` (a separator to some parsers) and ``%`` unless it starts an escape.
_UNSAFE_URL_PART = re.compile(r"[^\x21-\x7e]|[#\\]|%(?![0-9A-Fa-f]{2})")


class UnsafeURL(InvalidInput):
    """A path or query that the HTTP client would send differently from how it was checked."""


class UpstreamBusy(ApoloError):
    """No upstream connection was freed for ``queue_timeout`` seconds: ``status`` 429 when the
    caller's own limit is the reason, 503 when the shared pool is. ``limit``: the number of
    connections; ``setting``: the ``c.ApoloServer`` trait that sets it."""

    def __init__(self, message: str, *, status: int, limit: int, setting: str):
        super().__init__(message, status=status)
        self.limit, self.setting = limit, setting


def check_url_parts(path: str, query: str = "") -> None:
    """Raises ``UnsafeURL`` when ``path`` or ``query`` (raw, still percent-encoded) holds a ``#``,
    a backslash, a space, a control or non-ASCII character or a ``%`` that starts no escape: what
    an HTTP client cuts, re-encodes or reads differently from a server."""
    for part, text in (("path", path), ("query", query)):
        bad = _UNSAFE_URL_PART.search(text)
        if bad:
            shown = bad.group() if bad.group().isprintable() else ascii(bad.group())
            raise UnsafeURL(f"Refused {part} {_clip(text, 120)!r}: it holds {shown!r} at character {bad.start()}, "
                            "which would not reach the platform as written. Percent-encode it (# is %23, "
                            "a space %20, a literal % is %25).")


def exact_url(base: str, path: str, query: str = "") -> URL:
    """``base`` (absolute, trusted) + ``/`` + ``path`` (still percent-encoded, already checked
    segment by segment) + ``?query`` (raw), as the URL aiohttp will send, byte for byte.

    Raises ``UnsafeURL`` as ``check_url_parts`` does, and when the URL the HTTP client parses has
    any other path, query, fragment or origin than the parts given (it would re-read them).
    """
    check_url_parts(path, query)
    origin, root_path = _root(base)
    expected_path = f"{root_path}/{path}" if path else (root_path or "/")
    url = URL(f"{origin}{expected_path}" + (f"?{query}" if query else ""), encoded=True)
    if (url.raw_path, url.raw_query_string, url.raw_fragment, f"{url.scheme}://{url.raw_authority}") != (
            expected_path, query, "", origin):
        raise UnsafeURL(f"Refused {_clip(path, 120)!r}: the HTTP client would read it as {_clip(str(url), 120)!r}.")
    return url


@lru_cache(maxsize=16)
def _root(base: str) -> tuple[str, str]:
    """``(scheme://authority, path without a trailing /)`` of a base URL (a few per server)."""
    root = URL(base, encoded=True)
    return f"{root.scheme}://{root.raw_authority}", root.raw_path.rstrip("/")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


class _Slots:
    """``size`` connections, handed out first come, first served, to callers that wait while the
    queue moves: a caller gives up only when no slot was freed for ``patience`` seconds (since it
    started waiting, or since the last release). So a user downloading 250 files through 16 slots
    is served in turn, while one whose 16 calls are stalled is told so after ``patience``."""

    def __init__(self, size: int):
        self._sem = asyncio.Semaphore(size)
        self._moved = 0.0  # time.monotonic() of the last release

    async def take(self, patience: float, busy: Callable[[], UpstreamBusy]) -> None:
        """Wait for a slot; raises ``busy()`` when none was freed for ``patience`` seconds."""
        if not self._sem.locked():  # the common case: no task, no timer
            await self._sem.acquire()
            return
        since = time.monotonic()
        acquire = asyncio.ensure_future(self._sem.acquire())  # one place in the queue, kept while waiting
        try:
            while not acquire.done():
                wait = max(since, self._moved) + patience - time.monotonic()
                if wait <= 0:
                    break
                await asyncio.wait({acquire}, timeout=wait)
        except BaseException:  # the caller was cancelled (the browser went away)
            self._give_up(acquire)
            raise
        if not acquire.done():
            self._give_up(acquire)
            raise busy()
        acquire.result()

    def _give_up(self, acquire: asyncio.Future) -> None:
        if acquire.done() and not acquire.cancelled() and acquire.exception() is None:
            self._sem.release()  # granted at the last moment: hand it on (not counted as progress)
        else:
            acquire.cancel()

    def release(self) -> None:
        self._moved = time.monotonic()
        self._sem.release()


class _Gate:
    """Admission of upstream calls: ``total`` connections overall, ``per_client`` per client key
    (0: no limit), each waited for while its queue moves (see ``_Slots``, ``queue_timeout``).

    ``await enter(client)`` then ``leave(client)`` exactly once. A client's own slot is taken
    first, so a client at its limit never holds a shared one while it waits.
    """

    def __init__(self, total: int, per_client: int, queue_timeout: float):
        self.total, self.per_client, self.queue_timeout = total, per_client, queue_timeout
        self._shared = _Slots(total) if total > 0 else None
        self._clients: dict[str, list] = {}  # key -> [_Slots, calls holding or waiting for one]

    async def enter(self, client: str) -> None:
        """Take a slot for ``client``. Raises ``UpstreamBusy`` (429 own limit, 503 shared pool)."""
        entry = None
        if self.per_client > 0:
            entry = self._clients.get(client)
            if entry is None:
                entry = self._clients[client] = [_Slots(self.per_client), 0]
            entry[1] += 1
            try:
                await entry[0].take(self.queue_timeout, self._client_busy)
            except BaseException:
                self._forget(client, entry)
                raise
        if self._shared is not None:
            try:
                await self._shared.take(self.queue_timeout, self._pool_busy)
            except BaseException:
                if entry is not None:
                    entry[0].release()
                    self._forget(client, entry)
                raise

    def leave(self, client: str) -> None:
        """Give back the slots ``enter(client)`` took."""
        if self._shared is not None:
            self._shared.release()
        if self.per_client > 0:
            entry = self._clients[client]
            entry[0].release()
            self._forget(client, entry)

    def _forget(self, client: str, entry: list) -> None:
        entry[1] -= 1
        if entry[1] == 0:
            del self._clients[client]

    def _client_busy(self) -> UpstreamBusy:
        return UpstreamBusy(
            f"You already have {self.per_client} platform calls in flight through the proxy and none ended in the "
            f"last {self.queue_timeout:g} s: finish reading (or cancel) the ones open, or raise "
            "c.ApoloServer.max_connections_per_user.",
            status=429, limit=self.per_client, setting="c.ApoloServer.max_connections_per_user")

    def _pool_busy(self) -> UpstreamBusy:
        return UpstreamBusy(
            f"All {self.total} upstream connections of the jupyter-apolo proxy are busy and none became free in the "
            f"last {self.queue_timeout:g} s; retry later or raise c.ApoloServer.max_connections.",
            status=503, limit=self.total, setting="c.ApoloServer.max_connections")


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
            raise _unreachable(exc, self._url, None, self._read_timeout) from exc
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
        self._stream, self._timeout = stream, timeout or 0.0  # 0: no limit, _check never runs
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
    ``max_connections``: most upstream connections at once (0: no limit); ``max_per_client``: most
    for one ``client`` key of ``exchange`` (0: no limit); ``queue_timeout``: seconds without any
    connection freed after which a waiting call fails with ``UpstreamBusy``. TLS is verified with
    the same trust store as httpx (``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set, else certifi).
    Redirects are never followed, cookies never kept, bodies never decompressed.
    """

    def __init__(self, config: ApoloConfig, *, connect_timeout: float = 10.0, read_timeout: float = 60.0,
                 max_connections: int = 64, max_per_client: int = 16, queue_timeout: float = 30.0):
        self.config = config
        self._read_timeout, self._connect_timeout = read_timeout, connect_timeout
        # sock_connect times the TCP/TLS connect only (``connect`` would also count waiting for the
        # pool, reported as "Connection timeout"); sock_read times the head (aiohttp starts it
        # once the request body is sent)
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout)
        self._gate = _Gate(max_connections, max_per_client, queue_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Relay":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            # no pool limit here: _Gate admits calls, so aiohttp never makes one wait for a connection
            connector = aiohttp.TCPConnector(limit=0, ssl=httpx.create_ssl_context())
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
    async def exchange(self, method: str, url: URL | str, *, headers: dict[str, str] | None = None,
                       body: AsyncIterable[bytes] | None = None, client: str = "") -> AsyncIterator[Upstream]:
        """Send ``method url`` (absolute; pass ``exact_url(...)`` for a URL made of untrusted
        parts) with ``headers`` and the streamed ``body`` and yield the answer once its head is in.
        Statuses < 400 (redirects included) are yielded as they are. ``client``: whose share of
        connections the call uses (see the class).

        Raises ``UpstreamBusy`` when no connection it waits for was freed for ``queue_timeout`` s; the
        ``errors.py`` exception of a status >= 400 (its JSON message kept, as
        ``AsyncApolo.stream`` does); ``PlatformUnreachable`` when the platform cannot be reached,
        or ("timed out") does not answer within ``read_timeout`` / connect within ``connect_timeout``.
        Leaving the block early (or a cancellation) closes that connection instead of reusing it.
        """
        url = url if isinstance(url, URL) else URL(url, encoded=True)
        await self._gate.enter(client)
        try:
            async with self._exchange(method, url, headers, body) as upstream:
                yield upstream
        finally:
            self._gate.leave(client)

    @asynccontextmanager
    async def _exchange(self, method: str, url: URL, headers: dict[str, str] | None,
                        body: AsyncIterable[bytes] | None) -> AsyncIterator[Upstream]:
        try:
            async with self._open().request(method, url, headers=headers, data=body,
                                            allow_redirects=False) as response:
                if response.status >= 400:
                    raise await _error(response)
                connection = response.connection
                if connection is not None and connection.protocol is not None:  # stalls: Upstream.chunks
                    connection.protocol.read_timeout = None
                yield Upstream(response, str(url), self._read_timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _unreachable(exc, str(url), self._connect_timeout, self._read_timeout) from exc


async def _error(response: aiohttp.ClientResponse) -> Exception:
    raw = b""
    while len(raw) < ERROR_BODY_LIMIT and (chunk := await response.content.read(ERROR_BODY_LIMIT - len(raw))):
        raw += chunk
    return error_from_body(response.status, raw)


def _unreachable(exc: BaseException, url: str, connect_timeout: float | None = None,
                 read_timeout: float | None = None) -> PlatformUnreachable:
    """``PlatformTimeout`` naming the limit that ran out (connect or answer), else ``PlatformUnreachable``."""
    where = url.split("?")[0]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        within = f" within {connect_timeout:g} s (c.ApoloServer.connect_timeout)" if connect_timeout else ""
        return PlatformTimeout(f"Connection to the platform timed out ({where}): no connection{within}.")
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        within = f" within {read_timeout:g} s (c.ApoloServer.request_timeout)" if read_timeout else ""
        return PlatformTimeout(f"Connection to the platform timed out ({where}): the platform did not answer{within}.")
    detail = str(exc) or type(exc).__name__
    return PlatformUnreachable(f"Connection to the platform failed ({where}): {_clip(detail, 300)}")


__all__ = ["Relay", "UnsafeURL", "Upstream", "UpstreamBusy", "check_url_parts", "exact_url"]
