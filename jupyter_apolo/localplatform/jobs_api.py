"""Jobs service: ``{api}/jobs`` (reference §2.1-2.5, enforcement §3.6).

- ``POST /jobs?from_preset`` (flat body, what ``apolo run`` sends) or ``POST /jobs`` with the
  legacy nested ``container`` body: validated as papi ``create_job`` does, then 202 + job JSON.
- ``GET /jobs``: NDJSON (``Accept: application/x-ndjson``) or ``{"jobs": [...]}``, streamed
  from SQLite page by page; filters ``status``, ``name``, ``owner``, ``tag`` (all must match),
  ``since``/``until`` (inclusive, vs ``created_at``), ``cluster_name``, ``org_name``,
  ``project_name`` (repeatable), ``reverse``, ``limit``, ``being_dropped``/``logs_removed``
  (``True``/``False`` in any case), ``materialized``/``hostname`` accepted and ignored.
  Visible: jobs whose id URI or name URI (``job://c/o/p/<id|name>``) the caller can read.
- ``GET``/``DELETE /jobs/{id}``: read / write on the id or name URI; a name resolves among the
  caller's own jobs; a missing job is 400 ``no such job <id>``; no permission 403 ``missing``.
- ``PUT /jobs/{id}/max_run_time_minutes`` ``{"additional_max_run_time_minutes": N}``: write; 204.

The processes behind jobs are ``runner.Runner``'s; monitoring (capacity, logs) is
``monitoring_api``, whose routes are served from here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import uuid
from pathlib import PurePosixPath
from typing import Any, Iterator

from . import acl, auth, config_api, monitoring_api
from .base import BaseHandler
from .runner import FINISHED, Runner, iso, now_iso, parse_iso, passed_config, run_time_seconds, storage_path
from .state import Platform, PlatformError
from .storage_paths import check_segment

STATUSES = ("pending", "suspended", "running", "succeeded", "failed", "cancelled")
NAMESPACE = "platform-jobs"
_JOB_NAME_RE = re.compile(r"\A[a-z](?:-?[a-z0-9])*\Z")  # papi JOB_NAME_PATTERN
_TAG_RE = re.compile(r"\A\S{1,256}\Z")
_MAX_SCHEDULE_TIMEOUT = 30 * 24 * 3600  # seconds
_PAGE = 500  # rows per SQLite query while listing
_UNSUPPORTED = {
    "secret_env": "secrets", "secret_volumes": "secrets", "disk_volumes": "disks",
}

_runners: dict[int, Runner] = {}


def runner_for(platform: Platform) -> Runner:
    """The one ``Runner`` of ``platform`` (created on first use)."""
    if id(platform) not in _runners:
        _runners[id(platform)] = Runner(platform)
    return _runners[id(platform)]


async def startup(platform: Platform) -> None:
    """Jobs left pending/running by a previous platform process become ``failed``
    (reason ``PlatformStopped``); leftover process groups are killed."""
    runner_for(platform).recover()


async def shutdown(platform: Platform) -> None:
    """Kill every job's process group; record those jobs as ``failed`` (``PlatformStopped``)."""
    runner = _runners.pop(id(platform), None)
    if runner:
        await runner.shutdown()


# -- the job JSON ------------------------------------------------------------------------------


def job_uri(job: dict[str, Any], last: str | None = None) -> str:
    """``job://c/o/p/<id>`` (or ``.../<last>``, e.g. the job's name)."""
    return f"job://{job['cluster_name']}/{job['org_name']}/{job['project_name']}/{last or job['id']}"


def present(job: dict[str, Any]) -> dict[str, Any]:
    """The stored job as served: ``run_time_seconds`` is live while the job runs."""
    if job["status"] not in FINISHED:
        job["history"]["run_time_seconds"] = run_time_seconds(job)
    return job


def can(tree, job: dict[str, Any], action: str) -> bool:
    """Whether a permission tree allows ``action`` on the job's id URI or name URI (papi
    ``_resolve_job``)."""
    if tree.allows(job_uri(job), action):
        return True
    return bool(job.get("name")) and tree.allows(job_uri(job, job["name"]), action)


def resolve(handler: BaseHandler, id_or_name: str, action: str) -> dict[str, Any]:
    """The job ``id_or_name`` names for the caller (a name resolves among the caller's own jobs,
    newest first). Raises ``PlatformError`` 400 ``no such job``, 403 with ``missing``."""
    platform = handler.platform
    job = platform.load_job(id_or_name)
    if job is None:
        row = platform.db.execute(
            "SELECT id FROM jobs WHERE owner = ? AND name = ? ORDER BY created_at DESC LIMIT 1",
            (handler.user, id_or_name),
        ).fetchone()
        job = platform.load_job(row["id"]) if row else None
    if job is None:
        raise PlatformError(400, f"no such job {id_or_name}")
    if not can(platform.tree(handler.user), job, action):
        raise PlatformError(403, f"Not enough permissions: {action} on {job_uri(job)} is required",
                            missing=[{"uri": job_uri(job), "action": action}])
    return job


def _bad(message: str) -> PlatformError:
    return PlatformError(400, message)


def _flat_body(body: Any, from_preset: bool) -> dict[str, Any]:
    """The create request as one flat dict; the legacy body's ``container`` fields are lifted
    (sdk ``_job_to_api`` of ``Jobs.run``) and its ``resources`` kept."""
    if not isinstance(body, dict):
        raise _bad('Expected a JSON object describing the job, '
                   'e.g. {"preset_name": "cpu-small", "image": ..., "command": ...}')
    if from_preset or "container" not in body:
        return dict(body)
    container = body["container"]
    if not isinstance(container, dict):
        raise _bad("'container' must be an object")
    return {**{k: v for k, v in body.items() if k != "container"}, **container}


def _resources(flat: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """``(preset_name, container.resources)``; raises ``PlatformError(400)`` as papi does."""
    resources = flat.get("resources") or {}
    if not isinstance(resources, dict):
        raise _bad("'resources' must be an object")
    shm = bool(resources.get("shm", False))
    name = flat.get("preset_name")
    if name is not None:
        preset = config_api.preset(name) if isinstance(name, str) else None
        if preset is None:
            raise _bad(f"Preset was not found: {name!r} "
                       f"(use one of {', '.join(p['name'] for p in config_api.PRESETS)})")
        if set(resources) - {"shm"}:
            raise _bad("Both preset and resources are not allowed")
        cpu, memory = preset["cpu"], preset["memory"]
    else:
        cpu = resources.get("cpu")
        memory = resources.get("memory",
                               resources["memory_mb"] * 2**20 if isinstance(resources.get("memory_mb"), int) else None)
        if (not isinstance(cpu, (int, float)) or isinstance(cpu, bool) or cpu <= 0
                or not isinstance(memory, int) or memory <= 0):
            raise _bad("Preset was not found: give 'preset_name' (with ?from_preset) "
                       "or 'resources' with cpu and memory")
    return name, {"cpu": float(cpu), "memory": memory, "memory_mb": memory // 2**20, "shm": shm}


def _check_fields(flat: dict[str, Any]) -> None:
    """papi's field checks; raises ``PlatformError(400)`` naming the field and the fix."""
    image = flat.get("image")
    if not isinstance(image, str) or not image:
        raise _bad("'image' is required: a container image name such as 'python:3'")
    for key in ("command", "entrypoint", "working_dir", "description"):
        if flat.get(key) is not None and not isinstance(flat[key], str):
            raise _bad(f"'{key}' must be a string")
    if not (flat.get("command") or flat.get("entrypoint")):
        raise _bad("'command' is required: the embedded platform runs the command on this machine "
                   "and cannot use the image's default command")
    for key in ("command", "entrypoint"):
        if flat.get(key):
            _check_command(key, flat[key])
    if flat.get("working_dir"):
        if not flat["working_dir"].startswith("/"):
            raise _bad("'working_dir' must be an absolute path")
        container_path(flat["working_dir"], "working_dir")
    name = flat.get("name")
    if name is not None and (not isinstance(name, str) or not 3 <= len(name) <= 40 or not _JOB_NAME_RE.match(name)):
        raise _bad(f"Invalid job name {name!r}: "
                   "use 3-40 lower-case letters, digits and single dashes, starting with a letter")
    tags = flat.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 16 or not all(isinstance(t, str) and _TAG_RE.match(t) for t in tags):
        raise _bad("Invalid 'tags': at most 16 tags, each 1-256 characters without whitespace")
    timeout = flat.get("schedule_timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 1 <= timeout <= _MAX_SCHEDULE_TIMEOUT):
        raise _bad("Invalid 'schedule_timeout': seconds between 1 and 30 days")
    minutes = flat.get("max_run_time_minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1):
        raise _bad("Invalid 'max_run_time_minutes': a whole number of minutes, at least 1")
    env = flat.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise _bad("'env' must be an object of string values")
    for key, value in env.items():
        _check_env(key, value)
    if flat.get("pass_config") and "NEURO_PASSED_CONFIG" in env:
        raise _bad("Cannot pass config: ENV 'NEURO_PASSED_CONFIG' already specified")
    for key, service in _UNSUPPORTED.items():
        if flat.get(key):
            raise _bad(f"'{key}' is not supported by the embedded platform (it has no {service} service)")
    if flat.get("restart_policy", "never") not in ("never", "on-failure", "always"):
        raise _bad("Invalid 'restart_policy': use never, on-failure or always")
    if flat.get("priority", "normal") not in ("low", "normal", "high"):
        raise _bad("Invalid 'priority': use low, normal or high")
    http = flat.get("http")
    if http is not None:
        port = http.get("port") if isinstance(http, dict) else None
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise _bad("Invalid 'http': expected {\"port\": 1..65535, \"requires_auth\": bool}")


def _volumes(platform: Platform, flat: dict[str, Any]) -> list[dict[str, Any]]:
    volumes = flat.get("volumes", [])
    if not isinstance(volumes, list):
        raise _bad("'volumes' must be a list of {src_storage_uri, dst_path, read_only}")
    out = []
    for v in volumes:
        if not (isinstance(v, dict) and isinstance(v.get("src_storage_uri"), str)
                and isinstance(v.get("dst_path"), str)):
            raise _bad("Each volume needs 'src_storage_uri' (storage://...) and 'dst_path' (an absolute path)")
        dst_path = container_path(v["dst_path"], "volume dst_path")
        if dst_path == "/":
            raise _bad(f"Invalid volume dst_path {v['dst_path']!r}: use an absolute path other than /")
        try:
            storage_path(platform, v["src_storage_uri"])
        except ValueError as exc:
            raise _bad(str(exc)) from None
        for segment in acl.split_uri(v["src_storage_uri"])[1][1:]:
            check_segment(segment, v["src_storage_uri"])
        out.append({"src_storage_uri": v["src_storage_uri"].rstrip("/"), "dst_path": dst_path,
                    "read_only": bool(v.get("read_only", False))})
    return out


def container_path(path: str, what: str) -> str:
    """``path`` normalised (``/a/./b/`` -> ``/a/b``) once checked as papi's
    ``ContainerVolumeFactory._check_mount_path`` does: absolute (``Mount path must be absolute``)
    with no ``..`` part (``Invalid path``), plus what a local file system needs (no NUL, names of
    at most 255 bytes). Every volume and the working dir live inside the job's own folder here, so
    a path that could climb out of it is refused. Raises ``PlatformError(400)`` naming ``what``."""
    if "\0" in path:
        raise _bad(f"Invalid {what} {path[:100]!r}: a path cannot contain NUL")
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        raise _bad(f"Mount path must be absolute: {path[:100]!r} ({what}): start it with /")
    if ".." in pure.parts:
        raise _bad(f"Invalid path: {path[:100]!r} ({what}): '..' parts are not allowed, name the folder directly")
    if any(len(os.fsencode(part)) > 255 for part in pure.parts):
        raise _bad(f"Invalid {what} {path[:100]!r}: a name in it has more than 255 bytes")
    return "/" + "/".join(pure.parts[1:])


def _check_command(key: str, command: str) -> None:
    if "\0" in command:
        raise _bad(f"Invalid '{key}': a command cannot contain NUL")
    try:
        shlex.split(command)
    except ValueError as exc:  # papi: Container.command_list -> JobError("invalid command format")
        raise _bad(f"invalid command format: '{key}' {command[:100]!r} ({exc}); check its quotes") from None


def _check_env(key: str, value: str) -> None:
    if not key:
        raise _bad("Invalid 'env': a variable name cannot be empty")
    if "=" in key or "\0" in key or "\0" in value:
        raise _bad(f"Invalid 'env' variable {key[:100]!r}: names cannot contain '=' and neither names nor "
                   "values can contain NUL")


def new_job(handler: BaseHandler, body: Any, from_preset: bool) -> dict[str, Any]:
    """Validate a create request (reference §2.2) and build the pending job JSON (§2.3).

    Raises ``PlatformError`` 400 for bad fields or a live job with the same name in the
    project, 403 (``missing``) without write on ``job://c/o/p`` or read/write on a volume.
    """
    platform, user = handler.platform, handler.user
    flat = _flat_body(body, from_preset)
    preset_name, resources = _resources(flat)
    _check_fields(flat)
    volumes = _volumes(platform, flat)
    cluster = flat.get("cluster_name") or platform.cluster
    if cluster != platform.cluster:
        raise PlatformError(403, "User is not allowed to submit jobs to the specified cluster")
    org = flat.get("org_name") or platform.org
    if org != platform.org:
        raise _bad(f"Unknown org {org!r}: this platform's org is {platform.org!r}")
    project = flat.get("project_name") or user
    tree = platform.tree(user)
    needed = [(f"job://{cluster}/{org}/{project}", "write")]
    needed += [(v["src_storage_uri"], "read" if v["read_only"] else "write") for v in volumes]
    missing = [{"uri": uri, "action": action} for uri, action in needed if not tree.allows(uri, action)]
    if missing:
        raise PlatformError(403, "Not enough permissions to create the job", missing=missing)
    name = flat.get("name")
    if name:
        live = platform.db.execute(
            "SELECT id FROM jobs WHERE name = ? AND org_name = ? AND project_name = ? AND status NOT IN (?, ?, ?)",
            (name, org, project, *FINISHED),
        ).fetchone()
        if live:
            raise _bad(f"Failed to create job: job with name '{name}' and project '{project}' "
                       f"already exists: '{live['id']}'")

    job_id = f"job-{uuid.uuid4()}"
    project_hash = hashlib.sha256(f"{org}/{project}".encode()).hexdigest()[:10]
    container: dict[str, Any] = {"image": flat["image"], "env": dict(flat.get("env", {})), "volumes": volumes,
                                 "resources": resources}
    for key in ("command", "entrypoint", "working_dir", "tty"):
        if flat.get(key) is not None:
            container[key] = flat[key]
    if flat.get("http"):
        container["http"] = {"port": flat["http"]["port"],
                             "health_check_path": flat["http"].get("health_check_path", "/"),
                             "requires_auth": bool(flat["http"].get("requires_auth", True))}
    job: dict[str, Any] = {
        "id": job_id, "owner": user, "cluster_name": cluster, "org_name": org, "project_name": project,
        "namespace": NAMESPACE, "org_project_hash": project_hash,
        "status": "pending", "statuses": [], "container": container,
        "history": {"status": "pending", "reason": "Creating", "description": None, "created_at": now_iso(),
                    "run_time_seconds": 0, "restarts": 0},
        "scheduler_enabled": False, "preemptible_node": False, "pass_config": bool(flat.get("pass_config")),
        "privileged": bool(flat.get("privileged")), "materialized": False, "being_dropped": False,
        "logs_removed": False, "is_preemptible": False, "is_preemptible_node_required": False,
        "total_price_credits": "0", "price_credits_per_hour": "0",
        "tags": list(flat.get("tags", [])), "restart_policy": flat.get("restart_policy", "never"),
        "priority": flat.get("priority", "normal"),
        "internal_hostname": f"{job_id}.{NAMESPACE}",
    }
    job["uri"] = job_uri(job)
    job["statuses"].append({"status": "pending", "transition_time": job["history"]["created_at"],
                            "reason": "Creating", "description": None})
    for key in ("preset_name", "name", "description", "schedule_timeout", "max_run_time_minutes",
                "energy_schedule_name"):
        if flat.get(key) is not None:
            job[key] = flat[key]
    if name:
        job["internal_hostname_named"] = f"{name}--{project_hash}.{NAMESPACE}"
    if job["pass_config"]:
        token = auth.mint(platform.secret, user, job_id=job_id)
        api = f"{handler.request.protocol}://{handler.request.host}/api/v1"
        container["env"]["NEURO_PASSED_CONFIG"] = passed_config(token, cluster, api, org, project)
    return job


# -- listing -----------------------------------------------------------------------------------


def _bool_arg(handler: BaseHandler, key: str) -> bool | None:
    value = handler.get_query_argument(key, None)
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise _bad(f"Invalid {key}={value!r}: use True or False")


def _time_arg(handler: BaseHandler, key: str) -> str | None:
    value = handler.get_query_argument(key, None)
    if value is None:
        return None
    try:
        return iso(parse_iso(value))
    except ValueError:
        raise _bad(f"Invalid {key}={value!r}: use an ISO 8601 date-time") from None


def list_query(handler: BaseHandler) -> tuple[str, list[Any], set[str], bool, int | None]:
    """``(where, params, tags, reverse, limit)`` for the list filters of reference §2.4.
    Raises ``PlatformError(400)`` for an unknown status or malformed value."""
    where: list[str] = []
    params: list[Any] = []

    def one_of(column: str, values: list[str]) -> None:
        if values:
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)

    statuses = handler.get_query_arguments("status")
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise _bad(f"Invalid status {unknown[0]!r}: use one of {', '.join(STATUSES)}")
    one_of("status", statuses)
    one_of("owner", handler.get_query_arguments("owner"))
    one_of("org_name", handler.get_query_arguments("org_name"))
    one_of("project_name", handler.get_query_arguments("project_name"))
    name = handler.get_query_argument("name", None)
    if name:
        where.append("name = ?")
        params.append(name)
    clusters = handler.get_query_arguments("cluster_name")
    never = (clusters and handler.platform.cluster not in clusters) or any(
        _bool_arg(handler, key) for key in ("being_dropped", "logs_removed"))
    if never:  # our jobs are all on this cluster, never dropped
        where.append("0")
    for key, op in (("since", ">="), ("until", "<=")):
        value = _time_arg(handler, key)
        if value:
            where.append(f"created_at {op} ?")
            params.append(value)
    _bool_arg(handler, "materialized")
    reverse = bool(_bool_arg(handler, "reverse"))
    limit = handler.get_query_argument("limit", None)
    if limit is not None:
        if not limit.isdigit() or int(limit) < 1:
            raise _bad(f"Invalid limit={limit!r}: use a positive whole number")
    return " AND ".join(where), params, set(handler.get_query_arguments("tag")), reverse, int(limit) if limit else None


def visible_jobs(handler: BaseHandler) -> Iterator[dict[str, Any]]:
    """The jobs matching the request's filters that the caller can read, oldest first (newest
    with ``reverse``), fetched ``_PAGE`` rows at a time by keyset (no cursor held open
    across writes, never the whole table in memory)."""
    where, params, tags, reverse, limit = list_query(handler)
    tree = handler.platform.tree(handler.user)
    order, cmp = ("DESC", "<") if reverse else ("ASC", ">")
    last: tuple[str, str] | None = None
    count = 0
    page = min(_PAGE, limit) if limit else _PAGE  # `ps --limit`-style requests read little
    while True:
        clauses = [where] if where else []
        page_params = list(params)
        if last:
            clauses.append(f"(created_at, id) {cmp} (?, ?)")
            page_params.extend(last)
        sql = (f"SELECT id, created_at, data FROM jobs {'WHERE ' + ' AND '.join(clauses) if clauses else ''} "
               f"ORDER BY created_at {order}, id {order} LIMIT {page}")
        rows = handler.platform.db.execute(sql, page_params).fetchall()
        for row in rows:
            job = json.loads(row["data"])
            if tags <= set(job.get("tags", [])) and can(tree, job, "read"):
                yield present(job)
                count += 1
                if limit and count >= limit:
                    return
        if len(rows) < page:
            return
        last = (rows[-1]["created_at"], rows[-1]["id"])


# -- handlers ----------------------------------------------------------------------------------


class JobsBase(BaseHandler):
    def initialize(self, platform: Platform, runner: Runner) -> None:  # type: ignore[override]
        super().initialize(platform)
        self.runner = runner


class JobsHandler(JobsBase):
    async def get(self) -> None:
        ndjson = "application/x-ndjson" in self.request.headers.get("Accept", "")
        jobs = visible_jobs(self)
        first = next(jobs, None)  # filter errors surface as a 400 before streaming starts
        self.set_header("Content-Type", "application/x-ndjson" if ndjson else "application/json")
        if not ndjson:
            self.write('{"jobs": [')
        n = 0
        job = first
        while job is not None:
            self.write((json.dumps(job) + "\n") if ndjson else ((", " if n else "") + json.dumps(job)))
            n += 1
            if n % 200 == 0:
                await self.flush()
            job = next(jobs, None)
        if not ndjson:
            self.write("]}")
        self.finish()

    def post(self) -> None:
        job = new_job(self, self.json_body(), "from_preset" in self.request.arguments)
        self.runner.assign_http(job, self.request.host)
        self.platform.save_job(job)
        self.runner.start(job)
        self.write_json(present(job), 202)


class JobHandler(JobsBase):
    def get(self, job_id: str) -> None:
        self.write_json(present(resolve(self, job_id, "read")))

    async def delete(self, job_id: str) -> None:
        job = resolve(self, job_id, "write")
        if job["status"] not in FINISHED:
            await self.runner.kill(job["id"])
        self.set_status(204)
        self.finish()


class LifeSpanHandler(JobsBase):
    def put(self, job_id: str) -> None:
        body = self.json_body()
        extra = body.get("additional_max_run_time_minutes") if isinstance(body, dict) else None
        if not isinstance(extra, int) or isinstance(extra, bool) or extra < 1:
            raise _bad('Expected {"additional_max_run_time_minutes": N} with N a whole number >= 1')
        job = resolve(self, job_id, "write")
        if job["status"] in FINISHED:
            raise _bad(f"Job {job['id']} is {job['status']}: its life span cannot be changed")
        if job.get("max_run_time_minutes"):  # no limit stays no limit
            job["max_run_time_minutes"] += extra
            self.platform.save_job(job)
            self.runner.life_span_changed(job["id"])
        self.set_status(204)
        self.finish()


def routes(platform: Platform) -> list:
    """Jobs routes plus the monitoring service's (literal paths before ``{id}`` ones)."""
    kw = {"platform": platform, "runner": runner_for(platform)}
    return [
        (r"/api/v1/jobs", JobsHandler, kw),
        (r"/api/v1/jobs/([^/]+)/max_run_time_minutes", LifeSpanHandler, kw),
        (r"/api/v1/jobs/([^/]+)", JobHandler, kw),
        *monitoring_api.routes(platform),
    ]
