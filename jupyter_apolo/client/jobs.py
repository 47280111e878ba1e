"""Jobs: list (streamed), get, resolve, kill, logs, and "this job" (reference §2)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Mapping
from urllib.parse import quote

from .errors import ApoloError, NotFoundError, PlatformUnreachable, error_from_response
from .uris import normalize_uri, split_uri

if TYPE_CHECKING:
    from .core import AsyncApolo

ACTIVE_STATUSES = ("pending", "running", "suspended")  # `apolo ps` without -a
FINISHED_STATUSES = ("succeeded", "failed", "cancelled")
JOB_ID = re.compile(r"job-[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}")  # cli utils.resolve_job_ex
LOG_SEPARATOR = "<================ Live logs ==============>"


@dataclass(frozen=True)
class Job:
    """A platform job as a table needs it; ``raw`` is the platform's job JSON (reference §2.3).

    ``created_at``: aware datetime; ``http_url``: the named URL if any (as the SDK prefers), "" without HTTP.
    """

    id: str
    name: str | None
    owner: str
    status: str
    image: str
    command: str | None
    tags: tuple[str, ...]
    created_at: datetime | None
    http_url: str
    uri: str
    preset_name: str | None
    project: str
    org: str | None = None
    cluster: str = ""
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @classmethod
    def from_api(cls, d: Mapping) -> "Job":
        """Build from the job JSON of ``GET {api}/jobs[/{id}]``."""
        container = d.get("container") or {}
        history = d.get("history") or {}
        created = history.get("created_at")
        return cls(
            id=d["id"], name=d.get("name"), owner=d["owner"], status=d.get("status") or history.get("status", "unknown"),
            image=container.get("image", ""), command=container.get("command"), tags=tuple(d.get("tags") or ()),
            created_at=datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
            http_url=d.get("http_url_named") or d.get("http_url") or "", uri=d.get("uri", ""),
            preset_name=d.get("preset_name"), project=d.get("project_name") or d["owner"], org=d.get("org_name"),
            cluster=d.get("cluster_name", ""), raw=dict(d),
        )


def _iso(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else value


class Jobs:
    """``api.jobs``: the jobs service. Job arguments accept an id, a name, or a job URI in the
    CLI's forms (``job:name``, ``job:/project/name``, ``job://c/o/p/name-or-id``)."""

    def __init__(self, api: "AsyncApolo"):
        self._api = api

    async def list(
        self,
        *,
        statuses: Iterable[str] | None = None,
        name: str | None = None,
        owners: Iterable[str] = (),
        tags: Iterable[str] = (),
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        projects: Iterable[str] | None = None,
        all_projects: bool = False,
        reverse: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[Job]:
        """Jobs as ``apolo ps`` lists them, streamed (NDJSON) one ``Job`` at a time.

        ``statuses``: None = active (pending/running/suspended, the CLI default), ``()`` = all
        (``ps -a``); ``owners``: usernames (``"ME"`` = me); ``tags``: the job must carry all;
        ``since``/``until``: datetimes or ISO strings against ``created_at``; ``projects``: None =
        the current project, or ``all_projects=True`` to omit the filter; ``limit``: at most N.
        Mirrors cli ``job.py::ls`` / sdk ``Jobs.list`` query parameters (reference §2.4).
        """
        cfg = self._api.config
        params: list[tuple[str, str]] = []
        for s in ACTIVE_STATUSES if statuses is None else statuses:
            params.append(("status", s))
        if name:
            params.append(("name", name))
        params += [("owner", cfg.username if o == "ME" else o) for o in owners]
        params += [("tag", t) for t in tags]
        if since is not None:
            params.append(("since", _iso(since)))
        if until is not None:
            params.append(("until", _iso(until)))
        params.append(("cluster_name", cfg.cluster))
        params += [("being_dropped", "False"), ("logs_removed", "False")]
        if cfg.org:
            params.append(("org_name", cfg.org))
        if not all_projects:
            params += [("project_name", p) for p in (projects if projects is not None else [cfg.project])]
        if reverse:
            params.append(("reverse", "1"))
        if limit is not None:
            params.append(("limit", str(limit)))
        async for item in self._api.ndjson("GET", "jobs", params=params, list_key="jobs"):
            yield Job.from_api(item)

    async def resolve(self, job: str, *, active_only: bool = False) -> str:
        """The job id for ``job`` (id, name or job URI), as cli ``utils.resolve_job_ex`` does.

        An id is used directly; a name is looked up among the project's jobs, newest first
        (active ones only with ``active_only``); no match -> the name itself (the platform then
        resolves it among the caller's own jobs). Raises ``ValueError`` for a bad URI.
        """
        cfg = self._api.config
        project, org, cluster = cfg.project, cfg.org, cfg.cluster
        ref = job
        if job.startswith("job:"):
            uri = normalize_uri(job, cfg, allowed_schemes=("job",))
            _, cluster, path = split_uri(uri)
            parts = path.strip("/").split("/")
            if cfg.org:
                org, parts = parts[0], parts[1:]
            if len(parts) != 2:
                raise ValueError(f"Invalid job URI {job!r}: expected job:NAME, job:/PROJECT/NAME or job://CLUSTER/ORG/PROJECT/NAME")
            project, ref = parts
        if JOB_ID.fullmatch(ref):
            return ref
        params = [("name", ref), ("project_name", project), ("reverse", "1"), ("cluster_name", cluster),
                  ("being_dropped", "False"), ("logs_removed", "False"), ("limit", "1")]
        if org:
            params.append(("org_name", org))
        if active_only:
            params += [("status", s) for s in ACTIVE_STATUSES]
        async for item in self._api.ndjson("GET", "jobs", params=params, list_key="jobs"):
            if item.get("project_name", item.get("owner")) == project and item.get("org_name") == org:
                return item["id"]
        return ref

    async def get(self, job: str) -> Job:
        """The job named by ``job`` (id, name or URI). Raises ``NotFoundError`` (the platform's
        ``no such job``), ``AuthorizationError`` without read."""
        job_id = await self.resolve(job)
        resp = await self._api.request("GET", f"jobs/{quote(job_id, safe='')}")
        return Job.from_api(resp.json())

    async def kill(self, job: str) -> str:
        """Kill ``job`` (needs write; no-op when finished, as ``DELETE /jobs/{id}``); returns its id."""
        job_id = await self.resolve(job, active_only=True)
        await self._api.request("DELETE", f"jobs/{quote(job_id, safe='')}")
        return job_id

    async def current(self, environ: Mapping[str, str] | None = None) -> Job | None:
        """"This job" when running inside a platform job (``NEURO_JOB_ID``, reference §2.8), else None."""
        job_id = (os.environ if environ is None else environ).get("NEURO_JOB_ID")
        return await self.get(job_id) if job_id else None

    async def logs(self, job: str, *, since: datetime | str | None = None, timestamps: bool = False,
                   separator: str | None = LOG_SEPARATOR, via: str = "websocket") -> AsyncIterator[bytes]:
        """The job's log as raw byte chunks; ends when the job is finished and its log drained.

        ``via="websocket"``: ``{mon}/{id}/log_ws`` as ``apolo logs`` does (needs the
        ``websockets`` package; without it the HTTP stream is used); ``via="http"``: the chunked
        ``GET {mon}/{id}/log``. Raises ``NotFoundError``/``AuthorizationError`` (from the WS
        handshake's ``X-Error`` header or the HTTP answer), ``PlatformUnreachable``.
        """
        job_id = await self.resolve(job)
        mon = (await self._api.cluster_info()).monitoring_url
        query = {"since": _iso(since), "timestamps": "true" if timestamps else None, "separator": separator}
        params = {k: v for k, v in query.items() if v}
        base = f"{mon}/{quote(job_id, safe='')}"
        if via == "websocket":
            try:
                import websockets  # noqa: F401
            except ImportError:
                via = "http"
        if via == "http":
            async with self._api.stream("GET", f"{base}/log", params=params, timeout=_no_read_timeout(self._api)) as resp:
                async for chunk in resp.aiter_bytes():
                    yield chunk
            return
        async for chunk in self._logs_ws(f"{base}/log_ws", params, job_id):
            yield chunk

    async def _logs_ws(self, url: str, params: dict[str, str], job_id: str) -> AsyncIterator[bytes]:
        import websockets
        from websockets.asyncio.client import connect

        qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        ws_url = "ws" + url[len("http"):] + (f"?{qs}" if qs else "")
        try:
            async with connect(ws_url, additional_headers={"Authorization": f"Bearer {self._api.config.token}"},
                               max_size=None, open_timeout=self._api._timeout, ping_interval=10) as ws:
                async for frame in ws:
                    yield frame if isinstance(frame, bytes) else frame.encode()
        except websockets.InvalidStatus as exc:
            raise _ws_error(exc.response) from None
        except (OSError, websockets.ConnectionClosedError, TimeoutError) as exc:
            raise PlatformUnreachable(f"Log stream of {job_id} failed: {exc}") from exc


def _no_read_timeout(api: "AsyncApolo"):  # type: ignore[no-untyped-def]
    import httpx

    return httpx.Timeout(api._timeout, read=None)  # a quiet job may print nothing for long


def _ws_error(response) -> ApoloError:  # type: ignore[no-untyped-def]
    import json

    raw = response.headers.get("X-Error")
    body = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"error": raw}
    text = response.body.decode(errors="replace") if getattr(response, "body", None) else ""
    if body is None and text:
        try:
            body = json.loads(text)
        except ValueError:
            pass
    err = error_from_response(response.status_code, body, text)
    return err if not isinstance(err, NotFoundError) or err.message else NotFoundError("Job not found")
