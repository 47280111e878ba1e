"""Server-side copies between platform storage and the Jupyter workspace (the server's
``root_dir``), with progress the UI polls.

REST (all ``@authenticated``; bodies and answers JSON):

- ``POST apolo/transfers`` ``{"direction": "download"|"upload", "src", "dst", "overwrite": false}``:
  ``download`` copies storage ``src`` (``storage:rel``, ``storage:/project/rel`` or
  ``storage://c/o/p/rel``, the CLI's forms) to workspace path ``dst``; ``upload`` copies
  workspace path ``src`` to storage ``dst``. An existing directory as ``dst`` receives ``src``
  by name (``apolo cp``). -> 202 the task (below) with ``Location``. 404 missing source, 409 the
  target exists and ``overwrite`` is false, 400 a workspace path outside ``root_dir``.
- ``GET apolo/transfers`` -> ``[task, ...]``; ``GET apolo/transfers/<id>`` -> task;
  ``DELETE apolo/transfers/<id>`` cancels a running transfer (204).

A task: ``{"id", "direction", "src", "dst", "bytes", "bytes_total", "files", "files_total",
"current", "skipped": [{"path", "reason"}], "done", "error"}``; bytes in bytes, totals null while
unknown, ``skipped`` what was left alone (symlinks below the source or destination, control
paths such as ``.git``, names this system cannot hold; ``client/localfs.py``), ``error`` null or
``{"error": message, ...}``. Files land atomically (the client's transfer functions write a
temp file and rename it), so a failed or cancelled transfer leaves no partial file.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..client import AsyncApolo, CopyPlan, TargetExists, TransferProgress
from .base import ApoloHandler, JSONError, error_answer

KEEP_FINISHED = 100  # finished tasks remembered for polling


@dataclass
class Task:
    """One running or finished transfer. ``shown``: how a local path appears in answers."""

    id: str
    direction: str
    src: str
    dst: str
    shown: Callable[[str], str] = field(repr=False)
    progress: TransferProgress = field(default_factory=TransferProgress)
    done: bool = False
    error: dict | None = None
    future: asyncio.Future | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        p = self.progress
        return {"id": self.id, "direction": self.direction, "src": self.src, "dst": self.dst,
                "bytes": p.bytes_done, "bytes_total": p.bytes_total, "files": p.files_done,
                "files_total": p.files_total, "current": self.shown(p.current), "skipped": p.skipped, "done": self.done,
                "error": self.error}


class Transfers:
    """The transfers of this server process (cancelled together by ``cancel_all`` at shutdown)."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}

    def start(self, api: AsyncApolo, plan: CopyPlan, src: str, shown_dst: str,
              shown: Callable[[str], str]) -> Task:
        """Run ``plan`` (checked by ``Transfer.resolve_copy``) in the background; returns its task."""
        task = Task(uuid.uuid4().hex, plan.direction, src, shown_dst, shown)
        task.future = asyncio.ensure_future(api.transfer.copy(plan, progress=_tracker(task)))
        task.future.add_done_callback(lambda f: self._finished(task, f))
        self.tasks[task.id] = task
        self._forget_old()
        return task

    async def cancel_all(self) -> None:
        """Cancel every running transfer and wait for them to stop (no partial file is left)."""
        running = [t.future for t in self.tasks.values() if t.future is not None and not t.future.done()]
        for future in running:
            future.cancel()
        if running:
            await asyncio.wait(running)

    def _finished(self, task: Task, future: asyncio.Future) -> None:
        task.done = True
        if future.cancelled():
            task.error = {"error": "Cancelled."}
        elif (exc := future.exception()) is not None:
            answer = error_answer(exc)
            if answer is not None:
                task.error = {"error": answer.message, "status": answer.status_code, **answer.extra}
            elif isinstance(exc, OSError):
                task.error = {"error": f"{exc.strerror or exc}: {task.shown(str(exc.filename or ''))}".rstrip(": ")}
            else:
                task.error = {"error": f"Unexpected {type(exc).__name__}; see the server log."}

    def _forget_old(self) -> None:
        finished = [t for t in self.tasks.values() if t.done]
        for task in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self.tasks[task.id]


def _tracker(task: Task) -> Callable[[TransferProgress], None]:
    def update(progress: TransferProgress) -> None:
        task.progress = progress

    return update


class TransfersHandler(ApoloHandler):
    """``POST apolo/transfers`` starts one; ``GET apolo/transfers`` lists them (module docstring)."""

    transfers: Transfers

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        src, dst, direction = body.get("src"), body.get("dst"), body.get("direction")
        if not (isinstance(src, str) and src and isinstance(dst, str) and dst):
            raise JSONError(400, 'Expected a JSON body {"direction": "download"|"upload", "src": ..., "dst": ...}.')
        if direction not in ("download", "upload"):
            raise JSONError(400, f"Unknown direction {direction!r}: use 'download' (storage -> workspace) "
                                 "or 'upload' (workspace -> storage).")
        api = await self.connection.client()
        try:
            plan, shown_dst = await self._plan(api, direction, src, dst, bool(body.get("overwrite", False)))
        except TargetExists as exc:
            where = "in the workspace" if isinstance(exc.target, Path) else "on storage"
            shown = self.shown_path(exc.target) if isinstance(exc.target, Path) else exc.target
            text = exc.describe(shown) if exc.clash else f"{shown} already exists {where}."
            fix = "Choose another destination." if exc.clash else \
                "Pass overwrite: true to replace it, or choose another destination."
            raise JSONError(409, text, fix=fix) from None
        task = self.transfers.start(api, plan, src, shown_dst, self._shown_local)
        self.set_header("Location", url_path_join(self.base_url, "apolo/transfers", task.id))
        self.write_json(task.as_json(), status=202)

    async def _plan(self, api: AsyncApolo, direction: str, src: str, dst: str, overwrite: bool) -> tuple[CopyPlan, str]:
        """The checked copy and its destination as answers show it. Raises ``TargetExists``,
        ``NotFoundError`` (storage source), ``JSONError`` (workspace path outside or missing)."""
        if direction == "upload":
            local = self.local_path(src)
            if not local.exists():
                raise JSONError(404, f"{src!r} does not exist in the workspace.",
                                fix="Check the path in the file browser.")
            plan = await api.transfer.resolve_copy(local, dst, overwrite=overwrite)
            return plan, str(plan.target)
        plan = await api.transfer.resolve_copy(src, self.local_path(dst), overwrite=overwrite)
        target = plan.target
        assert isinstance(target, Path)
        shown = self.shown_path(target)
        self.local_path(shown)  # the name received "into" a folder must not lead outside either
        return plan, shown

    def _shown_local(self, path: str) -> str:
        root = str(self.workspace_root)
        return path[len(root):].lstrip(os.sep) if path.startswith(root) else path

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json([t.as_json() for t in self.transfers.tasks.values()])


class TransferHandler(ApoloHandler):
    """``GET``/``DELETE apolo/transfers/<id>``: progress of one transfer / cancel it."""

    transfers: Transfers

    def _task(self, task_id: str) -> Task:
        task = self.transfers.tasks.get(task_id)
        if task is None:
            raise JSONError(404, f"No transfer {task_id!r} (finished ones are kept for the last {KEEP_FINISHED}).")
        return task

    @web.authenticated
    @authorized
    def get(self, task_id: str) -> None:  # type: ignore[override]
        self.write_json(self._task(task_id).as_json())

    @web.authenticated
    @authorized
    async def delete(self, task_id: str) -> None:
        task = self._task(task_id)
        if task.future is not None and not task.future.done():
            task.future.cancel()
            await asyncio.wait({task.future})
        self.set_status(204)
        self.finish()
