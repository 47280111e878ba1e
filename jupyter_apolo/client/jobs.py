"""Jobs: run, list (streamed), get, resolve, kill, logs, and "this job" (reference §2)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, AsyncGenerator, AsyncIterator, Iterable, Mapping
from urllib.parse import quote

from .errors import ApoloError, InvalidInput, NotFoundError, PlatformUnreachable, error_from_response
from .uris import normalize_uri, split_uri

if TYPE_CHECKING:
    from .core import AsyncApolo

ACTIVE_STATUSES = ("pending", "running", "suspended")  # `apolo ps` without -a
FINISHED_STATUSES = ("succeeded", "failed", "cancelled")
JOB_ID = re.compile(r"job-[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}")  # cli utils.resolve_job_ex
LOG_SEPARATOR = "<================ Live logs ==============>"
JOB_NAME = re.compile(r"[a-z](?:-?[a-z0-9])*")  # papi create_job; 3..40 characters
LIFE_SPAN = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")  # cli click_types: 1d2h3m4s


def parse_life_span(value: str) -> int | None:
    """``apolo run --life-span`` syntax (``1d``, ``2h30m``, ``90m``, ``0`` = no limit) -> whole minutes
    (rounded up), None for no limit. Raises ``ValueError`` naming the accepted forms."""
    if value.strip() == "0":
        return None
    match = LIFE_SPAN.fullmatch(value.strip())
    if not match or not any(match.groups()):
        raise InvalidInput(f"Invalid life span {value!r}: use e.g. 1d, 2h30m, 45m or 0 for no limit")
    d, h, m, sec = (int(g or 0) for g in match.groups())
    return max(1, -(-(((d * 24 + h) * 60 + m) * 60 + sec) // 60))


@dataclass(frozen=True)
class Volume:
    """A storage volume of a job: ``storage`` (a storage URI, any CLI form), mounted at ``mount``
    (an absolute path in the container), ``read_only``. ``parse`` reads ``apolo run -v`` syntax."""

    storage: str
    mount: str
    read_only: bool = False

    @classmethod
    def parse(cls, spec: str) -> "Volume":
        """``STORAGE_URI:MOUNT_PATH[:ro|:rw]`` (``storage:data:/mnt/data:ro``), as ``apolo run -v``.
        Raises ``ValueError`` for another scheme or a relative mount path."""
        body, _, mode = spec.rpartition(":")
        if mode not in ("ro", "rw"):
            body, mode = spec, "rw"
        src, _, dst = body.rpartition(":")
        if not src.startswith("storage:"):
            raise InvalidInput(f"Invalid volume {spec!r}: only storage: volumes are supported here "
                             "(STORAGE_URI:MOUNT_PATH[:ro|:rw], e.g. storage:data:/mnt/data:ro); "
                             "use the apolo CLI for secret: and disk: volumes")
        if not dst.startswith("/"):
            raise InvalidInput(f"Invalid volume {spec!r}: the mount path must be absolute, e.g. {src}:/mnt/data")
        return cls(src, dst, mode == "ro")


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
            id=d["id"], name=d.get("name"), owner=d["owner"],
            status=d.get("status") or history.get("status", "unknown"),
            image=container.get("image", ""), command=container.get("command"), tags=tuple(d.get("tags") or ()),
            created_at=datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
            http_url=d.get("http_url_named") or d.get("http_url") or "", uri=d.get("uri", ""),
            preset_name=d.get("preset_name"), project=d.get("project_name") or d["owner"], org=d.get("org_name"),
            cluster=d.get("cluster_name", ""), raw=dict(d),
        )


def _iso(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class ThisJob:
    """The platform job this process runs in: ``id`` and ``name`` (None when unnamed)."""

    id: str
    name: str | None

    @property
    def uri(self) -> str:
        """``job:<id>``, the short job URI the CLI accepts."""
        return f"job:{self.id}"


def current_job(environ: Mapping[str, str] | None = None) -> ThisJob | None:
    """"This job": the platform job this process runs in, from ``NEURO_JOB_ID`` / ``NEURO_JOB_NAME``
    (set by the platform in every job, reference §2.8), or None outside a job. ``environ``: default
    ``os.environ``. The one place that reads them."""
    env = os.environ if environ is None else environ
    job_id = env.get("NEURO_JOB_ID")
    return ThisJob(job_id, env.get("NEURO_JOB_NAME") or None) if job_id else None


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
        params.append(("cluster_name", cfg.cluster or ""))  # set once the client is open
        params += [("being_dropped", "False"), ("logs_removed", "False")]
        if cfg.org:
            params.append(("org_name", cfg.org))
        if not all_projects:
            params += [("project_name", p) for p in (projects if projects is not None else [cfg.project or ""])]
        if reverse:
            params.append(("reverse", "1"))
        if limit is not None:
            params.append(("limit", str(limit)))
        async for item in self._api.ndjson("GET", "jobs", params=params, list_key="jobs"):
            yield Job.from_api(item)

    async def run(self, image: str, command: str | None = None, *, preset: str | None = None,
                  name: str | None = None, tags: Iterable[str] = (), volumes: Iterable[Volume] = (),
                  env: Mapping[str, str] | None = None, http_port: int | None = 80, http_auth: bool = True,
                  life_span_minutes: int | None = 1440, pass_config: bool = False, description: str | None = None,
                  entrypoint: str | None = None, working_dir: str | None = None, extshm: bool = True,
                  share_with: Iterable[str] = ()) -> Job:
        """Start a job in the current project, the way ``apolo run --detach`` does (reference §2.2,
        §2.7): the same flat ``POST {api}/jobs?from_preset`` body and defaults (first preset, HTTP
        port 80 with auth, 1 day life span, ``ubuntu`` -> ``ubuntu:latest``), then each user in
        ``share_with`` gets ``write`` on the job. Returns the created job (usually pending).

        ``command``: one string, split by the platform like the CLI's ``-- CMD...``;
        ``http_port``: None for no HTTP; ``life_span_minutes``: None for no limit.
        Raises ``ValueError`` for a bad name or an image from the platform registry (``image:``,
        not supported here), the platform's ``IllegalArgumentError`` (unknown preset, a running job
        with that name), ``AuthorizationError`` (no write on the project, no read on a volume).
        """
        cfg = self._api.config
        if name is not None and not (3 <= len(name) <= 40 and JOB_NAME.fullmatch(name)):
            raise InvalidInput(f"Invalid job name {name!r}: 3-40 lowercase letters, digits and single dashes, "
                             "starting with a letter (e.g. my-job-1)")
        if image.startswith("image:"):
            raise InvalidInput(f"Images from the platform registry ({image}) are not supported here; use the apolo CLI")
        if ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
            image += ":latest"  # as the CLI does for a Docker Hub image without a tag
        if preset is None:
            presets = (await self._api.cluster_info()).presets
            if not presets:
                raise InvalidInput(f"Cluster {cfg.cluster!r} has no resource presets; `apolo config show` lists them")
            preset = presets[0].name
        body: dict = {"pass_config": pass_config, "project_name": cfg.project, "preset_name": preset,
                      "cluster_name": cfg.cluster, "image": image, "resources": {"shm": extshm}}
        if cfg.org:
            body["org_name"] = cfg.org
        optional = {"name": name, "description": description, "command": command, "entrypoint": entrypoint,
                    "working_dir": working_dir, "max_run_time_minutes": life_span_minutes}
        body.update({k: v for k, v in optional.items() if v is not None})
        if tags := list(tags):
            body["tags"] = tags
        if env:
            body["env"] = dict(env)
        if volumes := list(volumes):
            body["volumes"] = [{"src_storage_uri": normalize_uri(v.storage, cfg, allowed_schemes=("storage",)),
                                "dst_path": v.mount, "read_only": v.read_only} for v in volumes]
        if http_port is not None:
            body["http"] = {"port": http_port, "requires_auth": http_auth}
        resp = await self._api.request("POST", "jobs", params={"from_preset": ""}, json=body)
        job = Job.from_api(resp.json())
        for user in share_with:
            await self._api.permissions.share(job.uri, user, "write")
        return job

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
                raise InvalidInput(f"Invalid job URI {job!r}: expected job:NAME, job:/PROJECT/NAME or job://CLUSTER/ORG/PROJECT/NAME")
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
        """"This job" when running inside a platform job (``current_job``), fetched; else None."""
        this = current_job(environ)
        return await self.get(this.id) if this else None

    async def logs(self, job: str, *, since: datetime | str | None = None, timestamps: bool = False,
                   separator: str | None = LOG_SEPARATOR, via: str = "websocket") -> AsyncGenerator[bytes, None]:
        """The job's log as raw byte chunks; ends when the job is finished and its log drained.

        ``via="websocket"``: ``{mon}/{id}/log_ws`` as ``apolo logs`` does (needs the
        ``websockets`` package; without it the HTTP stream is used); ``via="http"``: the chunked
        ``GET {mon}/{id}/log``. Raises ``NotFoundError``/``AuthorizationError`` (from the WS
        handshake's ``X-Error`` header or the HTTP answer), ``PlatformUnreachable``.
        """
        job_id = await self.resolve(job)
        mon = (await self._api.cluster_info()).monitoring_url
        query = {"since": _iso(since) if since is not None else None,
                 "timestamps": "true" if timestamps else None, "separator": separator}
        params = {k: v for k, v in query.items() if v is not None and v}
        base = f"{mon}/{quote(job_id, safe='')}"
        if via == "websocket":
            try:
                import websockets  # noqa: F401
            except ImportError:
                via = "http"
        if via == "http":
            async with self._api.stream("GET", f"{base}/log", params=params,
                                        timeout=_no_read_timeout(self._api)) as resp:
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
