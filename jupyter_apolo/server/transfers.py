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
"current", "done", "error"}``; bytes in bytes, totals null while unknown, ``error`` null or
``{"error": message, ...}``. Files land atomically (the client's transfer functions write a
temp file and rename it), so a failed or cancelled transfer leaves no partial file.
"""

from __future__ import annotations

import asyncio
import errno
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..client import ApoloError, AsyncApolo, NotFoundError, TransferProgress
from ..client.storage import child_uri
from .handlers import ApoloHandler, JSONError, error_from_apolo

KEEP_FINISHED = 100  # finished tasks remembered for polling


def workspace_path(root: Path, rel: str) -> Path:
    """The local path of workspace path ``rel`` (``a/b.ipynb``; a leading ``/`` is allowed, as
    in the contents API). Raises ``JSONError(400)`` for ``..`` segments or a path that leaves
    ``root`` (also through a symlink)."""
    if "\x00" in rel or "\\" in rel:
        raise JSONError(400, f"Invalid workspace path {rel!r}: use '/'-separated names without NUL.")
    parts = PurePosixPath(rel.strip("/")).parts
    if ".." in parts:
        raise JSONError(400, f"Invalid workspace path {rel!r}: '..' is not allowed; give a path inside the workspace.")
    path = root.joinpath(*parts)
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise JSONError(400, f"Invalid workspace path {rel!r}: it leads outside the workspace.")
    return path


@dataclass
class Task:
    """One running or finished transfer."""

    id: str
    direction: str
    src: str
    dst: str
    root: Path
    progress: TransferProgress = field(default_factory=TransferProgress)
    done: bool = False
    error: dict | None = None
    future: asyncio.Future | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        p = self.progress
        current = p.current
        if current.startswith(str(self.root)):
            current = current[len(str(self.root)):].lstrip(os.sep)
        return {"id": self.id, "direction": self.direction, "src": self.src, "dst": self.dst,
                "bytes": p.bytes_done, "bytes_total": p.bytes_total, "files": p.files_done,
                "files_total": p.files_total, "current": current, "skipped": p.skipped, "done": self.done,
                "error": self.error}


class Transfers:
    """The transfers of this server process. ``root``: the Jupyter ``root_dir``."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.tasks: dict[str, Task] = {}

    async def start(self, api: AsyncApolo, direction: str, src: str, dst: str, overwrite: bool) -> Task:
        """Check the request, then run it in the background. Raises ``JSONError`` (400, 404,
        409) or the client's ``ApoloError`` before anything is copied."""
        if direction == "download":
            run, shown_dst = await self._plan_download(api, src, dst, overwrite)
        elif direction == "upload":
            run, shown_dst = await self._plan_upload(api, src, dst, overwrite)
        else:
            raise JSONError(400, f"Unknown direction {direction!r}: use 'download' (storage -> workspace) "
                                 "or 'upload' (workspace -> storage).")
        task = Task(uuid.uuid4().hex, direction, src, shown_dst, self.root)
        task.future = asyncio.ensure_future(run(task))
        task.future.add_done_callback(lambda f: self._finished(task, f))
        self.tasks[task.id] = task
        self._forget_old()
        return task

    async def _plan_download(self, api: AsyncApolo, src: str, dst: str, overwrite: bool):  # type: ignore[no-untyped-def]
        st = await api.storage.stat(src)  # NotFoundError -> 404
        target = workspace_path(self.root, dst)
        if target.is_dir():
            target = workspace_path(self.root, f"{dst.rstrip('/')}/{st.name}")
        if target.exists() and not overwrite:
            raise JSONError(409, f"{self._shown(target)} already exists in the workspace.",
                            fix="Pass overwrite: true to replace it, or choose another destination.")
        if st.is_dir and target.exists() and not target.is_dir():
            raise JSONError(409, f"{self._shown(target)} is a file; the storage source is a directory.",
                            fix="Choose another destination.")
        target.parent.mkdir(parents=True, exist_ok=True)

        async def run(task: Task) -> None:
            track = _tracker(task)
            if st.is_dir:
                await api.transfer.download_tree(st.uri, target, progress=track)
            else:
                await api.transfer.download_file(st.uri, target, progress=track)

        return run, self._shown(target)

    async def _plan_upload(self, api: AsyncApolo, src: str, dst: str, overwrite: bool):  # type: ignore[no-untyped-def]
        local = workspace_path(self.root, src)
        if not local.exists():
            raise JSONError(404, f"{src!r} does not exist in the workspace.", fix="Check the path in the file browser.")
        target = api.storage.normalize(dst)
        existing = await _stat_or_none(api, target)
        if existing is not None and existing.is_dir:
            target = child_uri(target, local.name)
            existing = await _stat_or_none(api, target)
        if existing is not None and not overwrite:
            raise JSONError(409, f"{target} already exists on storage.",
                            fix="Pass overwrite: true to replace it, or choose another destination.")

        async def run(task: Task) -> None:
            track = _tracker(task)
            if local.is_dir():
                await api.transfer.upload_tree(local, target, progress=track)
            else:
                await api.transfer.upload_file(local, target, progress=track)

        return run, target

    def _shown(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _finished(self, task: Task, future: asyncio.Future) -> None:
        task.done = True
        if future.cancelled():
            task.error = {"error": "Cancelled."}
        elif (exc := future.exception()) is not None:
            if isinstance(exc, ApoloError):
                err = error_from_apolo(exc)
                task.error = {"error": err.message, "status": err.status_code, **err.extra}
            elif isinstance(exc, OSError):
                task.error = {"error": f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")}
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


async def _stat_or_none(api: AsyncApolo, uri: str):  # type: ignore[no-untyped-def]
    try:
        return await api.storage.stat(uri)
    except NotFoundError:
        return None


class _TransferBase(ApoloHandler):
    def initialize(self, connection, transfers: Transfers) -> None:  # type: ignore[override]
        super().initialize(connection)
        self.transfers = transfers


class TransfersHandler(_TransferBase):
    """``POST apolo/transfers`` starts one; ``GET apolo/transfers`` lists them (module docstring)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.get_json_body()
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body.get(k) for k in ("src", "dst")):
            raise JSONError(400, 'Expected a JSON body {"direction": "download"|"upload", "src": ..., "dst": ...}.')
        api = await self.connection.client()
        try:
            task = await self.transfers.start(api, str(body.get("direction")), body["src"], body["dst"],
                                              bool(body.get("overwrite", False)))
        except ValueError as exc:  # a URI the CLI refuses too (another cluster, a query, not storage:)
            raise JSONError(400, str(exc)) from None
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            raise JSONError(400, f"A name in the workspace path is too long ({exc.strerror}): names may have "
                                 "255 bytes.") from None
        self.set_header("Location", url_path_join(self.base_url, "apolo/transfers", task.id))
        self.write_json(task.as_json(), status=202)

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json([t.as_json() for t in self.transfers.tasks.values()])


class TransferHandler(_TransferBase):
    """``GET``/``DELETE apolo/transfers/<id>``: progress of one transfer / cancel it."""

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
