"""The platform proxy: the browser calls ``<base_url>apolo/api/v1/<path>`` and
``<base_url>apolo/storage/<org>/<project>/<path>``; this server forwards them to ``{api}/<path>``
and the current cluster's ``{storage_url}/<org>/<project>/<path>`` with the platform token added.

Safety rules (design.md "The browser never holds a platform token"):

- only allow-listed calls go through (``c.ApoloServer.api_allow`` / ``storage_allow``), checked on
  the storage operation the platform will run (``client.storage_ops``: ``?OP=``, bare ``?LISTSTATUS``
  keys and two operation names are refused, never guessed);
- the path is forwarded as received, after refusing empty segments (``//host``), ``.``/``..``
  (also percent-encoded) and encoded slashes/backslashes, so it can never leave the base URL; the
  exact URL the HTTP client will send must have the path and query that were checked, so a raw
  ``#`` (which would cut the path and query there) or anything else it would re-read is a 400;
- GET/HEAD/DELETE carry no body upstream (the platform reads none there): one that comes with a
  body is answered 400 instead of forwarding a ``Content-Length`` with nothing behind it;
- each Jupyter user holds at most ``c.ApoloServer.max_connections_per_user`` upstream connections:
  a client that stops reading cannot starve the others; waiting too long for a free connection
  is a 429/503 naming the limit, never the 504 of a platform that did not answer;
- only a few request headers go upstream (never the Jupyter cookie or token), hop-by-hop and
  cookie headers never come back, upstream redirects are refused (never followed);
- bodies stream chunk by chunk both ways with back-pressure (constant memory); a client that
  disconnects cancels the upstream request;
- log lines are clipped (``loggable``: a 1 MiB platform error is one short line) and never hold a token.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from functools import lru_cache
from typing import AsyncIterator, cast
from urllib.parse import unquote, urlsplit

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async
from tornado import web
from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError

from ..client import ApoloError, AsyncApolo
from ..client.relay import Upstream, UpstreamBusy, check_url_parts, exact_url
from ..client.storage_ops import storage_operation
from .base import AUTH_RESOURCE, ApoloHandler, JSONError, error_answer

#: RFC 7230 §6.1 hop-by-hop headers, plus what must not cross the proxy in either direction.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "trailers", "transfer-encoding", "upgrade"})
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"set-cookie", "www-authenticate", "location", "server", "date",
                                         "content-security-policy", "access-control-allow-origin"}
#: The only request headers forwarded: what the platform's jobs/storage protocol reads (§0, §4.1),
#: and Accept-Encoding, because the body is relayed as the platform encoded it.
FORWARDED_REQUEST_HEADERS = ("Accept", "Accept-Encoding", "Content-Type", "Content-Range", "Range", "Content-Length")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
QUEUED_CHUNKS = 4  # request-body chunks buffered between browser and platform (tornado reads 64 KiB each)
#: Most of a body read (and discarded) on GET/HEAD/DELETE before answering 400 (bytes): reading it
#: keeps the answer deliverable on a reused connection; a larger one is cut by tornado (400).
REFUSED_BODY_LIMIT = 64 * 1024
LOG_LIMIT = 300  # characters of one message in a log line
_BEARER = re.compile(r"(?i)\b(bearer|token)([\s=:]+)[A-Za-z0-9._~+/=-]{8,}")


def loggable(text: object, secrets: tuple[str, ...] = (), limit: int = LOG_LIMIT) -> str:
    """``text`` fit for one log line: each of ``secrets`` and anything shaped like
    ``Bearer <token>`` / ``token=<token>`` replaced by ``<redacted>``, line breaks escaped, and at
    most ``limit`` characters kept (then ``... (N more characters)``)."""
    out = str(text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "<redacted>")
    out = _BEARER.sub(lambda m: f"{m[1]}{m[2]}<redacted>", out)
    out = out.replace("\r", "\\r").replace("\n", "\\n")
    return out if len(out) <= limit else f"{out[:limit]}... ({len(out) - limit} more characters)"


def checked_subpath(raw: str) -> str:
    """``raw``: the still percent-encoded request path after the route prefix.

    Returns it (one trailing ``/`` removed) when it cannot escape the upstream base URL.
    Raises ``JSONError(400)`` for an empty segment (``//host``, absolute URLs), a ``.``/``..``
    segment (also as ``%2e%2e``), an encoded ``/`` or ``\\`` (``%2f``, ``%5c``) or a control character.
    """
    path = raw[:-1] if raw.endswith("/") else raw
    if not path:
        return ""
    for segment in path.split("/"):
        decoded = unquote(segment)
        if not segment:
            problem = "an empty segment ('//')"
        elif decoded in (".", ".."):
            problem = f"a {decoded!r} segment"
        elif "/" in decoded or "\\" in decoded or "\\" in segment:
            problem = "an encoded slash or a backslash"
        elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
            problem = "a control character"
        else:
            continue
        raise JSONError(400, f"Refused path {raw!r}: it contains {problem}. Use a plain relative platform path.")
    return path


@lru_cache(maxsize=8)
def _api_rules(entries: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    rules = []
    for entry in entries:
        method, _, pattern = entry.strip().partition(" ")
        rules.append((method.upper(), re.compile(pattern.strip())))
    return tuple(rules)


def api_allowed(method: str, path: str, entries: tuple[str, ...]) -> bool:
    """Whether ``method path`` (path after ``{api}/``) matches an ``"METHOD regex"`` entry."""
    return any(m == method and rx.fullmatch(path) for m, rx in _api_rules(entries))


def platform_answer(exc: BaseException) -> BaseException:
    """The JSON answer for an error of a proxied call: the base handler's (``error_answer``), but
    an answer the platform gave keeps the platform's status (a proxy relays, never re-judges: the
    platform's 400 "no such job" stays a 400 although the client reads it as not found)."""
    answer = error_answer(exc)
    if answer is None or not isinstance(exc, ApoloError) or exc.status is None:
        return exc
    return JSONError(exc.status, answer.message, **answer.extra)


@web.stream_request_body
class ProxyHandler(ApoloHandler):
    """Streams one allow-listed call to the platform. Subclasses say where it goes.

    Answers: the platform's status, headers (minus hop-by-hop/cookies) and body, streamed;
    upstream errors as ``{"error": <platform message>, ...}`` with the platform's status;
    403 JSON for a call outside the allow-list, 400 for an unsafe path or query or a body on
    GET/HEAD/DELETE, 429/503 ``{"error", "limit", "setting"}`` when no upstream connection became
    free in time (``c.ApoloServer.max_connections_per_user`` / ``max_connections``), 502 when the
    platform is unreachable or redirects, 504 when it did not answer in time
    (``c.ApoloServer.request_timeout``, ``connect_timeout``).
    """

    _exchange: asyncio.Future | None = None
    _body: asyncio.Queue | None = None
    _refused: JSONError | None = None

    def initialize(self, connection, prefix: str) -> None:  # type: ignore[override]
        """``prefix``: the route's fixed part, e.g. ``/a%40b/apolo/api/v1/`` (still percent-encoded)."""
        super().initialize(connection)
        self.prefix = prefix

    async def upstream_base(self, api: AsyncApolo) -> str:
        """The platform URL (absolute, no trailing ``/``) the checked path is appended to."""
        raise NotImplementedError

    def check_allowed(self, method: str, path: str) -> None:
        raise NotImplementedError

    # jupyter_server's own APIHandler.prepare narrows JupyterHandler.prepare the same way (and ignores it too)
    async def prepare(self) -> None:  # type: ignore[override]
        # Authentication, XSRF and authorization happen here, before the first body byte is read.
        await super().prepare()
        if self._finished:
            return
        if self.current_user is None:
            raise web.HTTPError(403)
        method = self.request.method or ""
        action = "read" if method in ("GET", "HEAD") else "write"
        if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)):
            raise web.HTTPError(403, f"User is not authorized to {action} on resource: {AUTH_RESOURCE}.")
        raw = self.request.path
        if not raw.startswith(self.prefix):
            raise JSONError(400, f"Refused path {raw!r}: expected it under {self.prefix!r}.")
        path = checked_subpath(raw[len(self.prefix):])
        check_url_parts(path, self.request.query)  # early (InvalidInput: 400); exact_url checks the real URL again
        self.check_allowed(method, path)
        if method not in BODY_METHODS and self._has_body():
            # Answered once the body is read (data_received discards it), so a client that
            # reuses its connection still gets the answer.
            self._limit_body(REFUSED_BODY_LIMIT)
            self._refused = JSONError(400, f"Refused {method} with a request body: the platform reads no body on "
                                           f"{method}. Send the request without one (no body, no Content-Length).")
            return
        if method in BODY_METHODS:
            self._limit_body(self.connection.settings.max_upload_bytes)
            self._body = asyncio.Queue(maxsize=QUEUED_CHUNKS)
        self._exchange = asyncio.ensure_future(self._forward(method, path))

    def _limit_body(self, limit: int) -> None:
        """Most bytes of request body tornado reads for this request (more: it answers 400)."""
        cast(HTTP1Connection, self.request.connection).set_max_body_size(limit)

    def _has_body(self) -> bool:
        headers = self.request.headers
        return headers.get("Content-Length", "0").strip() not in ("0", "") or "Transfer-Encoding" in headers

    def client_key(self) -> str:
        """Whose share of upstream connections this call uses: the Jupyter user, or for a call
        authenticated by a token (the server's shared token gives every holder a fresh anonymous
        user), that token's digest: everyone holding one token is one client."""
        if self.token_authenticated:
            token = self.identity_provider.get_token(self) or ""
            return "token " + hashlib.sha256(token.encode()).hexdigest()[:16]
        return "user " + (self.current_user.username if self.current_user else "")

    async def data_received(self, chunk: bytes) -> None:
        if self._body is not None and self._exchange is not None and not self._exchange.done():
            await self._feed(chunk)
        # else: no upstream body, or the upstream call already ended: discard

    async def _feed(self, item: bytes | None) -> None:
        """Queue one body chunk (None = end), waiting for room unless the upstream call ends."""
        assert self._body is not None and self._exchange is not None
        if not self._body.full():  # the common case: no task, no wait
            self._body.put_nowait(item)
            return
        put = asyncio.ensure_future(self._body.put(item))
        await asyncio.wait({put, self._exchange}, return_when=asyncio.FIRST_COMPLETED)
        put.cancel()

    def on_connection_close(self) -> None:
        # The browser went away: cancelling closes the upstream request (and its connection).
        if self._exchange is not None:
            self._exchange.cancel()

    async def _complete(self) -> None:
        if self._refused is not None:
            raise self._refused
        assert self._exchange is not None
        if self._body is not None and not self._exchange.done():
            await self._feed(None)
        await asyncio.wait({self._exchange})
        if not self._exchange.cancelled():
            self._exchange.result()  # raises the upstream error, answered as JSON

    @web.authenticated
    @authorized
    async def get(self, *_args: str) -> None:
        await self._complete()

    head = post = put = patch = delete = get

    async def _request_body(self) -> AsyncIterator[bytes]:
        assert self._body is not None
        while (chunk := await self._body.get()) is not None:
            yield chunk

    async def _forward(self, method: str, path: str) -> None:
        api, relay = await self.connection.clients()
        url = exact_url(await self.upstream_base(api), path, self.request.query)  # InvalidInput: 400
        headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := self.request.headers.get(k)) is not None}
        if self._body is None:
            headers.pop("Content-Length", None)
        body = self._request_body() if self._body is not None else None
        try:
            async with relay.exchange(method, url, headers=headers, body=body, client=self.client_key()) as upstream:
                self._relay_head(upstream, path)
                relayed = 0
                async for chunk in upstream.chunks():
                    self.write(chunk)
                    relayed += len(chunk)
                    if upstream.length is None or relayed < upstream.length:  # the last chunk goes with finish()
                        await self.flush()  # back-pressure: wait until the browser's socket takes it
        except UpstreamBusy as exc:
            raise JSONError(exc.status or 503, exc.message, limit=exc.limit, setting=exc.setting) from None
        except (ApoloError, JSONError) as exc:
            if not self._headers_written:
                raise platform_answer(exc) from None  # becomes a JSON error answer
            self._abort("the platform connection failed mid-response")
            return
        except StreamClosedError:
            return  # the browser went away; leaving the block closed the upstream connection
        self.finish()

    def _relay_head(self, upstream: Upstream, path: str) -> None:
        if 300 <= upstream.status < 400:
            location = next((v for k, v in upstream.headers if k.lower() == "location"), "")
            target = urlsplit(location).netloc or "another location"
            raise JSONError(502, f"The platform redirected {self.request.method} {path!r} to {target}; "
                                 "the jupyter-apolo proxy never follows redirects.")
        self.set_status(upstream.status, upstream.reason or None)
        named = {h.strip().lower() for k, v in upstream.headers if k.lower() == "connection" for h in v.split(",")}
        relayed: set[str] = set()
        for name, value in upstream.headers:
            key = name.lower()
            if key in DROPPED_RESPONSE_HEADERS or key in named:
                continue
            (self.add_header if key in relayed else self.set_header)(name, value)
            relayed.add(key)

    def _abort(self, why: str) -> None:
        """Cut the browser's connection so a truncated body cannot look complete."""
        self.log.warning("apolo proxy: %s %s aborted: %s", self.request.method, loggable(self.request.path), why)
        cast(HTTP1Connection, self.request.connection).stream.close()
        self._finished = True

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        answer = error_answer(value)
        if answer is not None:
            # an answer, not a fault: one short line (a platform error body can be 1 MiB), no token
            secrets = self._secrets()
            self.log.info("apolo: %s %s -> %s %s", self.request.method, loggable(self.request.path, secrets),
                          answer.status_code, loggable(answer.message, secrets))
            return
        super().log_exception(typ, value, tb)

    def _secrets(self) -> tuple[str, ...]:
        try:
            return (self.connection.config().token,)
        except ApoloError:  # no credentials: nothing to hide
            return ()

    def compute_etag(self) -> None:
        return None  # the platform's answer is relayed as is: no ETag/304 made up here

    def finish(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # APIHandler.finish forces application/json; keep the platform's content type.
        kwargs.setdefault("set_content_type", self._headers.get("Content-Type", "application/json"))
        return super().finish(*args, **kwargs)


class ApiProxyHandler(ProxyHandler):
    """``<base_url>apolo/api/v1/<path>`` -> ``{api}/<path>`` (jobs, users/permissions, config)."""

    def check_allowed(self, method: str, path: str) -> None:
        entries = tuple(self.connection.settings.api_allow)
        if not api_allowed(method, path, entries):
            raise JSONError(403, f"The jupyter-apolo proxy does not forward {method} {path!r}; "
                                 "allowed calls are listed in c.ApoloServer.api_allow.")

    async def upstream_base(self, api: AsyncApolo) -> str:
        return api.config.url


class StorageProxyHandler(ProxyHandler):
    """``<base_url>apolo/storage/<org>/<project>/<path>`` -> ``{storage_url}/<org>/<project>/<path>``
    of the current cluster (reference §4.1)."""

    def check_allowed(self, method: str, path: str) -> None:
        op = storage_operation(method, self.request.query)  # AmbiguousOperation (InvalidInput): 400
        if f"{method} {op}" not in {e.strip().upper() for e in self.connection.settings.storage_allow}:
            raise JSONError(403, f"The jupyter-apolo proxy does not forward storage {method} op={op}; "
                                 "allowed operations are listed in c.ApoloServer.storage_allow.")

    async def upstream_base(self, api: AsyncApolo) -> str:
        return (await api.cluster_info()).storage_url
