"""Jobs for the Lab Jobs panel, normalised on the server with the client's CLI rules.

REST (all ``@authenticated``; JSON errors ``{"error", ...}``):

- ``GET apolo/jobs`` -> ``application/x-ndjson``, one job summary (below) a line, streamed as the
  platform lists them. Query: ``status`` (repeatable: pending, running, suspended, succeeded, failed,
  cancelled; ``all``: every status; default the active ones, as ``apolo ps``), ``owner`` (repeatable;
  ``ME``), ``name``, ``tag`` (repeatable, all must match), ``q`` (text in name, id, tags or
  description), ``project`` (repeatable; default every project I can see, so jobs teammates shared
  with me are listed beside mine, as ``apolo ps --all-projects``), ``limit``.
- ``GET apolo/jobs/<job>`` -> one job summary plus ``history`` (``[{"status", "reason",
  "description", "at"}]``: the platform's status transitions, oldest first) and ``raw`` (the platform's
  job JSON). ``<job>``: an id, a name or a percent-encoded job URI.
- ``DELETE apolo/jobs/<job>`` -> 200 ``{"id"}``: kill (needs write; finished jobs are left as they are).
- ``GET apolo/jobs/<job>/log`` -> ``text/plain`` bytes as the job prints them, following a running job;
  ends when the job ends or the browser leaves (the platform's log stream is then closed).

A job summary: ``{"id", "name", "owner", "project", "status", "reason", "description", "exit_code",
"created_at", "started_at", "finished_at", "image", "command", "preset", "tags", "http_url", "uri",
"life_span_minutes", "volumes": [{"src", "dst", "read_only"}], "access": "read"|"write"|"manage"}``
(``access``: what I may do with it; kill needs write). Times are ISO 8601 UTC strings or null.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..client import AsyncApolo, Job
from ..client.jobs import ACTIVE_STATUSES, FINISHED_STATUSES
from ..client.permissions import Permission, action_rank, best_action
from .base import ApoloHandler, JSONError

STATUSES = ACTIVE_STATUSES + FINISHED_STATUSES


def job_summary(job: Job, access: str | None) -> dict[str, Any]:
    """The JSON the panel shows for ``job`` (module docstring); ``access``: my action on it."""
    history = job.raw.get("history") or {}
    container = job.raw.get("container") or {}
    return {
        "id": job.id, "name": job.name, "owner": job.owner, "project": job.project, "status": job.status,
        "reason": history.get("reason"), "description": job.raw.get("description") or history.get("description"),
        "exit_code": history.get("exit_code"), "created_at": history.get("created_at"),
        "started_at": history.get("started_at"), "finished_at": history.get("finished_at"),
        "image": job.image, "command": job.command, "preset": job.preset_name, "tags": list(job.tags),
        "http_url": job.http_url or None, "uri": job.uri, "life_span_minutes": job.raw.get("max_run_time_minutes"),
        "volumes": [{"src": v.get("src_storage_uri"), "dst": v.get("dst_path"), "read_only": bool(v.get("read_only"))}
                    for v in container.get("volumes") or []],
        "access": access,
    }


def job_access(job: Job, me: str, permissions: list[Permission]) -> str | None:
    """My action on ``job``: manage for my own jobs, else the strongest share covering its id URI
    or its name URI (a share by name covers every run with that name, reference §6.7)."""
    if job.owner == me:
        return "manage"
    uris = [job.uri] + ([job.uri.rsplit("/", 1)[0] + "/" + job.name] if job.name else [])
    found = [a for a in (best_action(u, permissions) for u in uris) if a]
    return max(found, key=action_rank) if found else None


def _matches(summary: dict[str, Any], text: str) -> bool:
    text = text.lower()
    fields = [summary["id"], summary["name"] or "", summary["description"] or "", *summary["tags"]]
    return any(text in f.lower() for f in fields)


class JobsHandler(ApoloHandler):
    """``GET apolo/jobs``: the job list as NDJSON (module docstring)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        statuses = self.get_query_arguments("status")
        if any(s not in (*STATUSES, "all") for s in statuses):
            raise JSONError(400, f"Unknown status in {statuses}: use {', '.join(STATUSES)} or all.")
        limit = self.get_query_argument("limit", "")
        if limit and not limit.isdigit():
            raise JSONError(400, f"limit must be a whole number, not {limit!r}.")
        api = await self.connection.client()
        text = self.get_query_argument("q", "").strip()
        permissions = await api.permissions.list("job:")
        me = api.config.username
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Cache-Control", "no-store")
        projects = self.get_query_arguments("project")
        jobs = api.jobs.list(
            statuses=() if "all" in statuses else (statuses or None), owners=self.get_query_arguments("owner"),
            name=self.get_query_argument("name", None) or None, tags=self.get_query_arguments("tag"),
            projects=projects or None, all_projects=not projects, limit=int(limit) if limit else None)
        batch: list[str] = []
        async for job in jobs:
            summary = job_summary(job, job_access(job, me, permissions))
            if text and not _matches(summary, text):
                continue
            batch.append(json.dumps(summary))
            if len(batch) >= 200:  # one write per 200 jobs: 10,000 jobs in 50 flushes
                await self._send(batch)
        await self._send(batch)
        self.finish()

    async def _send(self, lines: list[str]) -> None:
        if lines:
            self.write("\n".join(lines) + "\n")
            lines.clear()
            await self.flush()


class JobHandler(ApoloHandler):
    """``GET``/``DELETE apolo/jobs/<job>``: one job's details / kill it."""

    @web.authenticated
    @authorized
    async def get(self, ref: str) -> None:  # type: ignore[override]
        api = await self.connection.client()
        job = await api.jobs.get(unquote(ref))
        permissions = await api.permissions.list("job:")
        summary = job_summary(job, job_access(job, api.config.username, permissions))
        history = job.raw.get("history") or {}
        # The platform's ``statuses`` (reference §jobs: every transition with its time and reason).
        summary["history"] = [
            {"status": s.get("status"), "reason": s.get("reason"), "description": s.get("description"),
             "at": s.get("transition_time")} for s in job.raw.get("statuses") or []
        ] or [{"status": job.status, "reason": history.get("reason"), "at": history.get("created_at")}]
        summary["raw"] = job.raw
        self.write_json(summary)

    @web.authenticated
    @authorized
    async def delete(self, ref: str) -> None:  # type: ignore[override]
        api = await self.connection.client()
        self.write_json({"id": await api.jobs.kill(unquote(ref))})


class JobLogHandler(ApoloHandler):
    """``GET apolo/jobs/<job>/log``: the log as it grows (module docstring)."""

    _pump: asyncio.Task | None = None

    @web.authenticated
    @authorized
    async def get(self, ref: str) -> None:  # type: ignore[override]
        api = await self.connection.client()
        job_id = await api.jobs.resolve(unquote(ref))  # errors answer as JSON before the stream starts
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self._pump = asyncio.ensure_future(self._relay(api, job_id))
        try:
            await self._pump
        except asyncio.CancelledError:
            return  # the browser left: the platform stream is closed with the task
        self.finish()

    async def _relay(self, api: AsyncApolo, job_id: str) -> None:
        try:
            async for chunk in api.jobs.logs(job_id):
                self.write(chunk)
                await self.flush()
        except StreamClosedError:
            pass

    def on_connection_close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
