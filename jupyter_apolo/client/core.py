"""The async core: one ``httpx.AsyncClient`` per ``AsyncApolo``, the token added to every call,
errors mapped to ``errors.py``, retries with backoff for idempotent calls only."""

from __future__ import annotations

import asyncio
import json
import random
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, AsyncIterator

import httpx

from .config import ApoloConfig, resolve_config
from .errors import (
    ApoloError,
    AuthenticationError,
    ConfigError,
    PlatformTimeout,
    PlatformUnreachable,
    error_from_body,
    error_from_response,
)

USER_AGENT = "jupyter-apolo (httpx)"
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class Preset:
    """A resource preset from ``/config`` (``memory`` in bytes, ``cpu`` in cores)."""

    name: str
    cpu: float
    memory: int
    credits_per_hour: str = "0"
    raw: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class ClusterInfo:
    """The current cluster as ``GET {api}/config`` describes it (reference §1.1)."""

    name: str
    orgs: list[str]
    storage_url: str
    monitoring_url: str
    presets: list[Preset]
    projects: list[dict]
    raw: dict = field(repr=False, compare=False)


class AsyncApolo:
    """Async client for one platform user. Use as ``async with AsyncApolo(config) as api:``.

    ``config``: an ``ApoloConfig`` (None: ``resolve_config()``). ``timeout``: seconds for
    connect and per read (transfers read without a limit, like the SDK). ``retries``: attempts
    after the first for idempotent calls that fail to connect or get 502/503/504.
    ``transport``: an httpx transport (e.g. ``httpx.AsyncHTTPTransport(retries=...)``).
    On entry, a config without cluster/org/project gets them from ``/config`` the way
    ``apolo config login-with-token`` chooses (first cluster, its first org, the
    alphabetically first project there).

    Services: ``.jobs``, ``.permissions``, ``.storage``, ``.transfer``.
    """

    def __init__(self, config: ApoloConfig | None = None, *, timeout: float = 60.0, retries: int = 5,
                 max_connections: int = 32, transport: httpx.AsyncBaseTransport | None = None):
        from .jobs import Jobs
        from .permissions import Permissions
        from .storage import Storage
        from .transfer import Transfer

        self.config = config if config is not None else resolve_config()
        self.retries = retries
        self._timeout = timeout
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._cluster: ClusterInfo | None = None
        self._server_clock: tuple[float, float] | None = None  # (platform Date, local monotonic then)
        self.jobs = Jobs(self)
        self.permissions = Permissions(self)
        self.storage = Storage(self)
        self.transfer = Transfer(self)

    def __repr__(self) -> str:
        return f"AsyncApolo(url={self.config.url!r}, user={self.config.username!r}, project={self.config.project!r})"

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> "AsyncApolo":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the HTTP client and complete the config's cluster/org/project if missing."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout), limits=self._limits, transport=self._transport,
                headers={"User-Agent": USER_AGENT}, follow_redirects=False,
                event_hooks={"response": [self._note_date]},
            )
        if not (self.config.cluster and self.config.project):
            await self._complete_scope()

    async def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("AsyncApolo is not open: use `async with AsyncApolo(...) as api:`")
        return self._http

    # -- the platform's clock -----------------------------------------------------------------

    async def _note_date(self, response: httpx.Response) -> None:
        date = response.headers.get("date")
        if date:
            try:
                self._server_clock = (parsedate_to_datetime(date).timestamp(), time.monotonic())
            except (TypeError, ValueError):
                pass  # a malformed Date says nothing about the clock

    async def server_time(self) -> float:
        """The platform's clock now, epoch seconds: the ``Date`` header of its latest answer plus the
        local time elapsed since (reads ``/config`` first when nothing was answered yet).

        ``Date`` has whole seconds, so this is up to ~1 s behind the platform and never ahead of it
        (apart from network latency): use it as a lower bound when comparing storage mtimes, which
        the platform stamps with its own clock, whatever this machine's clock says.
        Raises what ``request`` raises.
        """
        if self._server_clock is None:
            await self.request("GET", "config")
        if self._server_clock is None:  # the platform sends no Date: trust the local clock
            return time.time()
        date, then = self._server_clock
        return date + (time.monotonic() - then)

    # -- raw calls ----------------------------------------------------------------------------

    def url(self, url: str) -> str:
        """``url`` made absolute: a path is taken relative to the API base (``"jobs"`` -> ``{api}/jobs``)."""
        if url.startswith(("http://", "https://")):
            return url
        return f"{self.config.url}/{url.lstrip('/')}"

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}", **(headers or {})}

    async def request(self, method: str, url: str, *, retry: bool | None = None, **kw: Any) -> httpx.Response:
        """Send one request with the token; return the (fully read) response if status < 400.

        ``url``: absolute, or relative to the API base. ``retry``: None = only for idempotent
        methods (GET, HEAD, PUT, DELETE). ``**kw``: httpx request arguments (``params``, ``json``,
        ``content``, ``headers``, ``timeout``). Raises the ``errors.py`` exception for any status
        >= 400, ``PlatformUnreachable`` for connection errors.
        """
        resp = await self._send(method, url, retry, stream=False, **kw)
        if resp.status_code >= 400:
            raise _error(resp)
        return resp

    @asynccontextmanager
    async def stream(self, method: str, url: str, *, retry: bool | None = None,
                     **kw: Any) -> AsyncIterator[httpx.Response]:
        """``async with api.stream("GET", url) as resp:`` a streamed response with the token added.

        Retried like ``request`` until the response head arrives, never after. Raises the mapped
        error (body read) on status >= 400; ``PlatformUnreachable`` on connection errors, also
        while iterating the body.
        """
        resp = await self._send(method, url, retry, stream=True, **kw)
        try:
            if resp.status_code >= 400:
                await resp.aread()
                raise _error(resp)
            yield resp
        except httpx.TransportError as exc:
            raise _unreachable(exc, url) from exc
        finally:
            await resp.aclose()

    async def _send(self, method: str, url: str, retry: bool | None, *, stream: bool, **kw: Any) -> httpx.Response:
        """Send with retries and backoff for idempotent calls on connection errors and 502/503/504;
        returns the last response (any status)."""
        method = method.upper()
        kw["headers"] = self._headers(kw.get("headers"))
        request = self.http.build_request(method, self.url(url), **kw)
        can_retry = (method in IDEMPOTENT) if retry is None else retry
        attempt = 0
        while True:
            try:
                resp = await self.http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if not can_retry or attempt >= self.retries:
                    raise _unreachable(exc, url) from exc
            else:
                if resp.status_code not in RETRY_STATUSES or not can_retry or attempt >= self.retries:
                    return resp
                await resp.aclose()
            await backoff(attempt)
            attempt += 1

    async def ndjson(self, method: str, url: str, **kw: Any) -> AsyncIterator[dict]:
        """Stream ``application/x-ndjson`` items one by one (or a single JSON document's items,
        see ``list_key``). A final ``{"error": ...}`` line raises the mapped error (SDK NDJSONError).

        ``list_key``: when the server answers one JSON object instead, the key holding the list.
        """
        list_key = kw.pop("list_key", None)
        headers = {"Accept": "application/x-ndjson", **kw.pop("headers", {})}
        async with self.stream(method, url, headers=headers, **kw) as resp:
            if resp.headers.get("content-type", "").startswith("application/x-ndjson"):
                async for line in resp.aiter_lines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if isinstance(item, dict) and "error" in item and len(item) <= 2:
                        raise error_from_response(400 if "errno" in item else 500, item)
                    yield item
            else:
                doc = json.loads(await resp.aread() or b"null")
                items = doc
                for key in (list_key or "").split("."):
                    if key and isinstance(items, dict):
                        items = items.get(key, [])
                for item in items or []:
                    yield item

    # -- cluster ------------------------------------------------------------------------------

    async def server_config(self) -> dict:
        """The raw ``GET {api}/config`` document for this user. Raises ``AuthenticationError``
        when the platform answers ``authorized: false`` (a bad or expired token)."""
        resp = await self.request("GET", "config")
        doc = resp.json()
        if doc.get("authorized") is False:  # sdk: AuthError("Cannot authorize user")
            raise AuthenticationError("Cannot authorize user: the platform did not accept the token (invalid or "
                                      "expired). Log in again: `apolo login`.", status=401)
        return doc

    async def cluster_info(self, refresh: bool = False) -> ClusterInfo:
        """The current cluster from ``/config`` (cached; ``refresh`` re-reads it).

        Raises ``ConfigError`` if the cluster is not among those the platform lists.
        """
        if self._cluster is None or refresh:
            doc = await self.server_config()
            self._cluster = _cluster_info(doc, self.config.cluster)
        return self._cluster

    async def _complete_scope(self) -> None:
        doc = await self.server_config()
        clusters = doc.get("clusters") or []
        if not clusters:
            raise ConfigError("The platform lists no clusters for this user (`apolo config show` shows the same).")
        cluster = self.config.cluster or clusters[0]["name"]
        info = _cluster_info(doc, cluster)
        org = self.config.org or (info.orgs[0] if info.orgs else None)
        project = self.config.project
        if not project:
            names = sorted(p["name"] for p in doc.get("projects", [])
                           if p.get("cluster_name") == cluster and p.get("org_name") == org)
            if not names:
                raise ConfigError(f"No project selected and none found in cluster {cluster!r}, org {org!r}. "
                                  "Run `apolo config switch-project PROJECT` or pass project=.")
            project = names[0]
        self.config = self.config.with_scope(cluster=cluster, org=org, project=project)
        self._cluster = info


def _cluster_info(doc: dict, name: str | None) -> ClusterInfo:
    for c in doc.get("clusters") or []:
        if name is None or c.get("name") == name:
            presets = [Preset(p["name"], float(p.get("cpu", 0)), int(p.get("memory", 0)),
                              str(p.get("credits_per_hour", "0")), p) for p in c.get("resource_presets", [])]
            return ClusterInfo(c["name"], list(c.get("orgs") or []), c["storage_url"].rstrip("/"),
                               c["monitoring_url"].rstrip("/"), presets, list(doc.get("projects") or []), c)
    raise ConfigError(f"Cluster {name!r} is not available to this user; `apolo config show` lists yours.")


def _error(resp: httpx.Response) -> ApoloError:
    return error_from_body(resp.status_code, resp.content if resp.is_closed else b"")


def _unreachable(exc: httpx.TransportError, url: str) -> PlatformUnreachable:
    where = url.split("?")[0]
    if isinstance(exc, httpx.TimeoutException):
        return PlatformTimeout(f"Connection to the platform timed out ({where}): {exc or type(exc).__name__}")
    return PlatformUnreachable(f"Connection to the platform failed ({where}): {exc or type(exc).__name__}")


async def backoff(attempt: int, base: float = 0.2, cap: float = 5.0) -> None:
    """Sleep before retry number ``attempt`` (0-based): exponential with jitter, seconds."""
    await asyncio.sleep(min(cap, base * 2**attempt) * (0.5 + random.random() / 2))


__all__ = ["AsyncApolo", "ClusterInfo", "Preset"]
