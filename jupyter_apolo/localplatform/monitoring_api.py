"""Monitoring service at ``{api}/monitoring`` (the cluster's ``monitoring_url``; reference §2.6):

- ``GET /capacity``: ``{"<preset>": n}``, how many more jobs of each preset fit the local pool
  next to the pending/running ones (``apolo config show`` fails without it);
- WS ``/{id}/log_ws`` (read): binary frames of raw log bytes, ``since``/``timestamps``/
  ``separator`` query as the SDK sends them; closes once the job is finished and its log drained.
  Handshake errors carry ``X-Error`` (JSON ``{"error": ...}``), which the SDK reads;
- ``GET /{id}/log`` (read): the same stream as chunked ``text/plain`` with ``X-Separator``;
- WS ``attach``, ``exec``, ``port_forward/{port}``, ``top``: ``monitoring_ws``.

The separator is only written between archived and live logs; the embedded platform keeps one
log per job, so it never writes it.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime
from typing import Any

from tornado import websocket

from . import config_api, jobs_api, monitoring_ws
from .base import BaseHandler
from .runner import follow_log, parse_iso
from .state import Platform, PlatformError


def capacity(platform: Platform) -> dict[str, int]:
    """Jobs of each preset that still fit the pool's CPUs and memory beside the live jobs."""
    cpu, memory = config_api.POOL["cpu"], config_api.POOL["memory"]
    for job in platform.iter_jobs("status IN ('pending', 'running')"):
        cpu -= job["container"]["resources"]["cpu"]
        memory -= job["container"]["resources"]["memory"]
    return {p["name"]: max(0, min(math.floor(cpu / p["cpu"] + 1e-9), memory // p["memory"]))
            for p in config_api.PRESETS}


def _log_args(handler: BaseHandler) -> dict[str, Any]:
    since = handler.get_query_argument("since", None)
    try:
        since_dt: datetime | None = parse_iso(since) if since else None
    except ValueError:
        raise PlatformError(400, f"Invalid since={since!r}: use an ISO 8601 date-time") from None
    timestamps = handler.get_query_argument("timestamps", "false").lower() in ("true", "1")
    return {"since": since_dt, "timestamps": timestamps}


class CapacityHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(capacity(self.platform))


class LogHandler(BaseHandler):
    async def get(self, job_id: str) -> None:
        job = jobs_api.resolve(self, job_id, "read")
        args = _log_args(self)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("X-Separator", self.get_query_argument("separator", ""))
        async for chunk in follow_log(self.platform, job["id"], **args):
            self.write(chunk)
            await self.flush()
        self.finish()


class LogWebSocket(BaseHandler, websocket.WebSocketHandler):
    """WS ``/{id}/log_ws``: authenticated and authorised in ``prepare`` (before the upgrade)."""

    job: dict[str, Any]
    _task: asyncio.Task | None = None

    def prepare(self) -> None:
        super().prepare()
        self.job = jobs_api.resolve(self, self.path_args[0], "read")
        self.log_args = _log_args(self)

    def check_origin(self, origin: str) -> bool:  # bearer-token API: no cookies to protect
        return True

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, PlatformError):
            self.set_header("X-Error", json.dumps({"error": exc.message, **exc.extra}))
        super().write_error(status_code, **kwargs)

    def open(self, job_id: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._stream())

    async def _stream(self) -> None:
        try:
            async for chunk in follow_log(self.platform, self.job["id"], **self.log_args):
                await self.write_message(chunk, binary=True)
        except websocket.WebSocketClosedError:
            return
        self.close()

    def on_close(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()


def routes(platform: Platform) -> list:
    """Literal ``/capacity`` first, then the ``{id}`` routes."""
    kw = {"platform": platform}
    return [
        (r"/api/v1/monitoring/capacity", CapacityHandler, kw),
        (r"/api/v1/monitoring/([^/]+)/log_ws", LogWebSocket, kw),
        (r"/api/v1/monitoring/([^/]+)/log", LogHandler, kw),
        *monitoring_ws.routes(kw),
    ]
