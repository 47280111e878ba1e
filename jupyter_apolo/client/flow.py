"""Flow projects on the platform: ``{api}/flow/...`` as apolo-flow 26.7 reads it, and the live
jobs of a flow project as ``apolo-flow ps`` shows them (reference §6.5).

``Flow(aio)`` wraps an ``AsyncApolo`` (blocking: ``Apolo(...).call(lambda aio: Flow(aio).project(...))``)::

    project = await flow.project("awesome_project", "awesome-team")   # FlowProject; NotFoundError
    async for live in flow.live_jobs(project.id): ...                 # LiveJob(yaml_id, multi, tags)
    async for bake in flow.bakes(project.id): ...                     # Bake(..., last_attempt)
    rows = await flow.ps(specs, "awesome-team")                       # [LiveJobStatus] like apolo-flow ps
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Mapping
from urllib.parse import quote

from .jobs import Job

if TYPE_CHECKING:
    from .core import AsyncApolo

FINISHED_WINDOW = timedelta(days=7)  # apolo-flow ps shows finished live jobs of the last 7 days
_ACTIVE = ("pending", "running")
_INACTIVE = ("suspended", "succeeded", "failed", "cancelled")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def id2tag(flow_id: str) -> str:
    """A flow, project or job id as apolo-flow writes it in tags (``awesome_project`` -> ``awesome-project``)."""
    return flow_id.replace("_", "-").lower()


@dataclass(frozen=True)
class FlowProject:
    """A flow project: ``name`` is the id from project.yml; ``project_name`` the platform project."""

    id: str
    name: str
    owner: str
    project_name: str
    cluster: str
    org: str | None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, d: Mapping) -> "FlowProject":
        return cls(d["id"], d["name"], d["owner"], d["project_name"], d["cluster"], d.get("org_name"), dict(d))


@dataclass(frozen=True)
class LiveJob:
    """What apolo-flow recorded about one ``live.yml`` job (``PUT flow/live_jobs/replace`` on each run)."""

    id: str
    yaml_id: str
    multi: bool
    tags: frozenset[str]

    @classmethod
    def from_api(cls, d: Mapping) -> "LiveJob":
        return cls(d["id"], d["yaml_id"], bool(d["multi"]), frozenset(d.get("tags") or ()))


@dataclass(frozen=True)
class LiveJobSpec:
    """A ``live.yml`` job as ``ps`` needs it: ``tags`` every run carries, ``multi`` (suffixed runs)."""

    yaml_id: str
    tags: frozenset[str]
    multi: bool


@dataclass(frozen=True)
class LiveJobStatus:
    """One ``apolo-flow ps`` row: the live job (``suffix`` for multi-jobs), status, platform job id
    (None: never run) and when (created for pending, started for running, finished otherwise)."""

    yaml_id: str
    suffix: str | None
    status: str
    raw_id: str | None
    when: datetime | None
    job: Job | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        """``jupyter`` or ``jupyter <suffix>``, as apolo-flow ps writes the JOB column."""
        return f"{self.yaml_id} {self.suffix}" if self.suffix else self.yaml_id


@dataclass(frozen=True)
class Attempt:
    """A bake attempt: ``result`` is a task status (``pending`` ... ``succeeded``/``failed``)."""

    id: str
    number: int
    result: str
    executor_id: str | None
    created_at: datetime | None

    @classmethod
    def from_api(cls, d: Mapping) -> "Attempt":
        return cls(d["id"], d["number"], d["result"], d.get("executor_id"), _time(d.get("created_at")))


@dataclass(frozen=True)
class Bake:
    """A batch run of a flow project, with its last attempt when the platform sent it."""

    id: str
    name: str | None
    batch: str
    tags: tuple[str, ...]
    created_at: datetime | None
    last_attempt: Attempt | None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, d: Mapping) -> "Bake":
        last = d.get("last_attempt")
        return cls(d["id"], d.get("name"), d["batch"], tuple(d.get("tags") or ()), _time(d.get("created_at")),
                   Attempt.from_api(last) if last else None, dict(d))


class Flow:
    """``{api}/flow/...`` for the current cluster and org (``api.config``)."""

    def __init__(self, api: "AsyncApolo"):
        self._api = api

    async def project(self, name: str, project_name: str | None = None) -> FlowProject:
        """The flow project ``name`` (project.yml ``id``) in platform project ``project_name``
        (default: the current project), as ``GET flow/projects/by_name``. Raises ``NotFoundError``
        when it was never created (no ``apolo-flow`` command ran there), ``AuthorizationError``
        without read on ``flow://<cluster>/<org>/<project>/<name>``."""
        cfg = self._api.config
        params = {"name": name, "cluster": cfg.cluster, "project_name": project_name or cfg.project,
                  "owner": cfg.username}
        if cfg.org:
            params["org_name"] = cfg.org
        resp = await self._api.request("GET", "flow/projects/by_name", params=params)
        return FlowProject.from_api(resp.json())

    async def projects(self, project_name: str | None = None) -> AsyncIterator[FlowProject]:
        """The flow projects the caller can read on this cluster/org (optionally in one project)."""
        cfg = self._api.config
        params = [("cluster", cfg.cluster)] + ([("org_name", cfg.org)] if cfg.org else [])
        if project_name:
            params.append(("project_name", project_name))
        async for item in self._api.ndjson("GET", "flow/projects", params=params):
            yield FlowProject.from_api(item)

    async def live_jobs(self, project_id: str) -> AsyncIterator[LiveJob]:
        """The live jobs apolo-flow recorded for flow project ``project_id`` (empty if none)."""
        async for item in self._api.ndjson("GET", "flow/live_jobs", params={"project_id": project_id}):
            yield LiveJob.from_api(item)

    async def bakes(self, project_id: str, *, tags: Iterable[str] = (), since: datetime | None = None,
                    until: datetime | None = None, recent_first: bool = False) -> AsyncIterator[Bake]:
        """The bakes of flow project ``project_id`` with their last attempt, as ``apolo-flow bakes``
        asks for them (``tags``: a bake must carry all; ``since``/``until`` against creation)."""
        params = [("project_id", project_id), ("fetch_last_attempt", "1")] + [("tags", t) for t in tags]
        if since:
            params.append(("since", since.isoformat()))
        if until:
            params.append(("until", until.isoformat()))
        if recent_first:
            params.append(("reverse", "true"))
        async for item in self._api.ndjson("GET", "flow/bakes", params=params):
            yield Bake.from_api(item)

    async def bake(self, bake_id: str) -> Bake:
        """One bake by id with its last attempt. Raises ``NotFoundError``/``AuthorizationError``."""
        resp = await self._api.request("GET", f"flow/bakes/{quote(bake_id, safe='')}",
                                       params={"fetch_last_attempt": "1"})
        return Bake.from_api(resp.json())

    async def ps(self, specs: Iterable[LiveJobSpec], project_name: str) -> list[LiveJobStatus]:
        """The rows of ``apolo-flow ps`` for ``specs`` (in order): for each live job, its jobs in
        ``project_name`` found by tags, active ones then those finished in the last 7 days, newest
        first; one row per multi-job suffix (first seen wins), a single row otherwise; a job that
        never ran gives one ``unknown`` row (mirrors apolo-flow ``LiveRunner._job_status``)."""
        rows: list[LiveJobStatus] = []
        for spec in specs:
            found = [row async for row in self._live_rows(spec, project_name)]
            rows += found or [LiveJobStatus(spec.yaml_id, None, "unknown", None, None)]
        return rows

    async def _live_rows(self, spec: LiveJobSpec, project_name: str) -> AsyncIterator[LiveJobStatus]:
        since = datetime.now(timezone.utc) - FINISHED_WINDOW
        limit = None if spec.multi else 1
        seen: set[str] = set()
        for statuses, after in ((_ACTIVE, None), (_INACTIVE, since)):
            jobs = self._api.jobs.list(statuses=statuses, tags=sorted(spec.tags), since=after,
                                       projects=[project_name], reverse=True, limit=limit)
            async for job in jobs:
                suffix = next((t.partition(":")[2] for t in job.tags if t.startswith("multi:")), None)
                if suffix is not None:
                    if suffix in seen:
                        continue
                    seen.add(suffix)
                yield LiveJobStatus(spec.yaml_id, suffix, job.status, job.id, _when(job), job)
                if not spec.multi:
                    return


def _when(job: Job) -> datetime | None:
    history = job.raw.get("history") or {}
    key = {"pending": "created_at", "running": "started_at"}.get(job.status, "finished_at")
    return _time(history.get(key))
