"""``Apolo``: the synchronous facade, typed service by service, plus a non-blocking ``submit``.

It runs an ``AsyncApolo`` on one background event-loop thread per process and waits on futures,
so it works inside IPython kernels (whose own loop is already running: never ``asyncio.run`` in a
cell) and in plain scripts alike. Blocking calls (``api.jobs.list()``) suit magics and scripts; a
widget callback uses ``api.submit(lambda aio: aio.jobs.list_all())``, which returns a
``concurrent.futures.Future`` at once, so the kernel's comm handling is never blocked. Cancelling
that future (or interrupting a blocking call with Ctrl-C) cancels the coroutine on the loop.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout  # not the builtin before Python 3.11
from datetime import datetime
from pathlib import Path
from typing import AsyncIterator, Awaitable, BinaryIO, Callable, Iterable, Iterator, List, Mapping, TypeVar

import httpx

from .config import ApoloConfig
from .core import AsyncApolo, ClusterInfo
from .jobs import LOG_SEPARATOR, Job, Jobs, Volume
from .permissions import Access, Permission, Permissions, ShareResult
from .storage import FileStatus, Storage
from .transfer import CopyPlan, LocalPath, ProgressCallback, Transfer

T = TypeVar("T")
CLOSE_TIMEOUT = 10.0  # seconds an abandoned stream may take to close
_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The process-wide event loop running in a daemon thread (started on first use)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="jupyter-apolo-client", daemon=True).start()
            _loop = loop
        return _loop


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def submit(awaitable: Awaitable[T]) -> "Future[T]":
    """Schedule ``awaitable`` on the background loop and return its ``concurrent.futures.Future``
    at once (``result()``, ``add_done_callback``, ``cancel()`` cancels the coroutine).

    Never blocks, so it may be called from any thread, the background loop's included (a done
    callback, which runs there, may start the next call: widgets chain work that way). Waiting on
    the future from the loop itself would deadlock: ``run`` refuses that.
    """
    return asyncio.run_coroutine_threadsafe(_await(awaitable), background_loop())


def run(awaitable: Awaitable[T], timeout: float | None = None) -> T:
    """Run ``awaitable`` on the background loop and wait for its result (re-raising its exception);
    ``timeout`` in seconds (``TimeoutError`` after it). An interrupt (Ctrl-C) or the timeout cancels
    the coroutine on the loop too. Raises ``RuntimeError`` when called from the background loop
    (it would wait on itself forever: await the ``AsyncApolo`` call there instead)."""
    loop = background_loop()
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread: the usual case
        current = None
    if current is loop:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise RuntimeError("Apolo (sync) was called from its own event loop: use AsyncApolo there")
    future = submit(awaitable)
    try:
        return future.result(timeout)
    except BaseException:
        future.cancel()
        raise


def iterate(agen: AsyncIterator[T]) -> Iterator[T]:
    """A sync iterator pulling ``agen`` item by item on the background loop; closing it (or an
    interrupt while it waits) closes ``agen``."""
    try:
        while True:
            try:
                yield run(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        # At interpreter exit the loop thread is frozen: waiting on it would hang the exit forever.
        if getattr(agen, "aclose", None) is not None and not sys.is_finalizing():
            try:
                run(_aclose_when_idle(agen), timeout=CLOSE_TIMEOUT)
            except FutureTimeout:
                pass  # the stream is abandoned: its connection closes with the loop


async def _aclose_when_idle(agen: AsyncIterator[T]) -> None:
    # After an interrupt, the cancelled __anext__ may still be unwinding on the loop; closing a
    # running generator raises "aclose(): asynchronous generator is already running".
    for _ in range(500):
        if not getattr(agen, "ag_running", False):
            break
        await asyncio.sleep(0.01)
    await agen.aclose()  # type: ignore[attr-defined]


async def _collect(agen: AsyncIterator[T]) -> list[T]:
    return [item async for item in agen]


class SyncJobs:
    """Blocking twin of ``AsyncApolo.jobs`` (``client.jobs.Jobs``): same arguments, same errors."""

    def __init__(self, jobs: Jobs):
        self._jobs = jobs

    def list(self, *, statuses: Iterable[str] | None = None, name: str | None = None, owners: Iterable[str] = (),
             tags: Iterable[str] = (), since: datetime | str | None = None, until: datetime | str | None = None,
             projects: Iterable[str] | None = None, all_projects: bool = False, reverse: bool = False,
             limit: int | None = None) -> list[Job]:
        """Every job ``Jobs.list`` streams, as a list (see there for the filters)."""
        return run(_collect(self._jobs.list(
            statuses=statuses, name=name, owners=owners, tags=tags, since=since, until=until, projects=projects,
            all_projects=all_projects, reverse=reverse, limit=limit)))

    def run(self, image: str, command: str | None = None, *, preset: str | None = None, name: str | None = None,
            tags: Iterable[str] = (), volumes: Iterable[Volume] = (), env: Mapping[str, str] | None = None,
            http_port: int | None = 80, http_auth: bool = True, life_span_minutes: int | None = 1440,
            pass_config: bool = False, description: str | None = None, entrypoint: str | None = None,
            working_dir: str | None = None, extshm: bool = True, share_with: Iterable[str] = ()) -> Job:
        """Start a job like ``apolo run --detach`` (``Jobs.run``)."""
        return run(self._jobs.run(
            image, command, preset=preset, name=name, tags=tags, volumes=volumes, env=env, http_port=http_port,
            http_auth=http_auth, life_span_minutes=life_span_minutes, pass_config=pass_config,
            description=description, entrypoint=entrypoint, working_dir=working_dir, extshm=extshm,
            share_with=share_with))

    def resolve(self, job: str, *, active_only: bool = False) -> str:
        """The job id of an id, name or job URI (``Jobs.resolve``)."""
        return run(self._jobs.resolve(job, active_only=active_only))

    def get(self, job: str) -> Job:
        """One job by id, name or URI (``Jobs.get``)."""
        return run(self._jobs.get(job))

    def kill(self, job: str) -> str:
        """Kill a job; returns its id (``Jobs.kill``)."""
        return run(self._jobs.kill(job))

    def current(self, environ: Mapping[str, str] | None = None) -> Job | None:
        """This job inside a platform job, else None (``Jobs.current``)."""
        return run(self._jobs.current(environ))

    def logs(self, job: str, *, since: datetime | str | None = None, timestamps: bool = False,
             separator: str | None = LOG_SEPARATOR, via: str = "websocket") -> Iterator[bytes]:
        """The job's log as a lazy iterator of byte chunks, following a running job (``Jobs.logs``);
        an interrupt stops it and closes the stream."""
        return iterate(self._jobs.logs(job, since=since, timestamps=timestamps, separator=separator, via=via))


class SyncPermissions:
    """Blocking twin of ``AsyncApolo.permissions`` (``client.permissions.Permissions``)."""

    def __init__(self, permissions: Permissions):
        self._permissions = permissions

    def normalize(self, uri: str) -> str:
        """The canonical URI (share schemes); ``InvalidInput`` with the CLI's message."""
        return self._permissions.normalize(uri)

    def share(self, uri: str, user: str, action: str) -> ShareResult:
        """Grant ``action`` on ``uri`` to ``user`` (``apolo share``; ``Permissions.share``)."""
        return run(self._permissions.share(uri, user, action))

    def revoke(self, uri: str, user: str) -> None:
        """Take back ``user``'s permission on ``uri`` (``apolo acl revoke``)."""
        return run(self._permissions.revoke(uri, user))

    def list(self, uri: str | None = None, *, user: str | None = None) -> List[Permission]:
        """What ``user`` (default: me) can access (``apolo acl ls``)."""
        return run(self._permissions.list(uri, user=user))

    def shared(self, uri: str | None = None, *, user: str | None = None) -> List[Permission]:
        """What ``user`` (default: me) shared with others (``apolo acl ls --shared``)."""
        return run(self._permissions.shared(uri, user=user))

    def user_exists(self, name: str) -> bool:
        """Whether the platform knows user or role ``name`` (``Permissions.user_exists``)."""
        return run(self._permissions.user_exists(name))

    def access(self, uri: str, *, aliases: Iterable[str] = ()) -> List[Access]:
        """Who has access to ``uri`` through grants I can see (``Permissions.access``)."""
        return run(self._permissions.access(uri, aliases=aliases))

    def roles(self, user: str | None = None) -> List[str]:
        """Roles ``user`` (default: me) holds (``apolo acl list-roles``)."""
        return run(self._permissions.roles(user))

    def add_role(self, name: str) -> None:
        """Create role ``name`` (``apolo acl add-role``)."""
        return run(self._permissions.add_role(name))

    def remove_role(self, name: str) -> None:
        """Delete role ``name`` (``apolo acl remove-role``)."""
        return run(self._permissions.remove_role(name))


class SyncStorage:
    """Blocking twin of ``AsyncApolo.storage`` (``client.storage.Storage``)."""

    def __init__(self, storage: Storage):
        self._storage = storage

    def normalize(self, uri: str) -> str:
        """The canonical storage URI; ``InvalidInput`` with the CLI's message."""
        return self._storage.normalize(uri)

    def ls(self, uri: str = "storage:") -> list[FileStatus]:
        """Every entry of folder ``uri`` (``apolo ls -a``); ``iter_ls`` streams them instead."""
        return run(_collect(self._storage.ls(uri)))

    def iter_ls(self, uri: str = "storage:") -> Iterator[FileStatus]:
        """The entries of folder ``uri`` as a lazy iterator, streamed as the platform lists them."""
        return iterate(self._storage.ls(uri))

    def stat(self, uri: str) -> FileStatus:
        """The status of ``uri`` (``apolo ls -d``); ``NotFoundError``."""
        return run(self._storage.stat(uri))

    def stat_or_none(self, uri: str) -> FileStatus | None:
        """The status of ``uri``, or None when missing."""
        return run(self._storage.stat_or_none(uri))

    def exists(self, uri: str) -> bool:
        """Whether ``uri`` exists and is visible to me."""
        return run(self._storage.exists(uri))

    def mkdir(self, uri: str, *, parents: bool = False, exist_ok: bool = False) -> str:
        """Create a folder (``apolo mkdir [-p]``); returns its canonical URI."""
        return run(self._storage.mkdir(uri, parents=parents, exist_ok=exist_ok))

    def rm(self, uri: str, *, recursive: bool = False) -> int:
        """Delete (``apolo rm [-r]``); returns the number of entries deleted."""
        return run(self._storage.rm(uri, recursive=recursive))

    def mv(self, src: str, dst: str) -> str:
        """Move or rename (``apolo mv``); returns the destination URI."""
        return run(self._storage.mv(src, dst))

    def rename(self, src: str, dst: str) -> None:
        """The platform's RENAME of ``src`` to exactly ``dst``."""
        return run(self._storage.rename(src, dst))

    def usage(self, uri: str) -> tuple[int, int]:
        """``(files, bytes)`` under ``uri`` (``Storage.usage``)."""
        return run(self._storage.usage(uri))

    def disk_usage(self, uri: str = "storage:") -> dict[str, int]:
        """``{"total", "used", "free"}`` bytes (``apolo storage df``)."""
        return run(self._storage.disk_usage(uri))


class SyncTransfer:
    """Blocking twin of ``AsyncApolo.transfer`` (``client.transfer.Transfer``)."""

    def __init__(self, transfer: Transfer):
        self._transfer = transfer

    @property
    def retries(self) -> int:
        """Attempts after the first per file or chunk (``Transfer.retries``; settable)."""
        return self._transfer.retries

    @retries.setter
    def retries(self, value: int) -> None:
        self._transfer.retries = value

    def resolve_copy(self, src: LocalPath, dst: LocalPath, *, overwrite: bool = False,
                     into_dir: bool = True) -> CopyPlan:
        """Check a copy and say what it will do (``Transfer.resolve_copy``: ``TargetExists``,
        ``NotFoundError``, ``InvalidInput``)."""
        return run(self._transfer.resolve_copy(src, dst, overwrite=overwrite, into_dir=into_dir))

    def copy(self, plan: CopyPlan, *, concurrency: int = 8, progress: ProgressCallback | None = None) -> int:
        """Run a ``CopyPlan``; returns the number of files copied (``Transfer.copy``)."""
        return run(self._transfer.copy(plan, concurrency=concurrency, progress=progress))

    def download_file(self, src: str, dst: LocalPath, *, progress: ProgressCallback | None = None) -> Path:
        """Download one storage file, overwriting (``Transfer.download_file``)."""
        return run(self._transfer.download_file(src, dst, progress=progress))

    def download_into(self, src: str, out: BinaryIO, *, size: int | None = None,
                      progress: ProgressCallback | None = None) -> str:
        """Stream a storage file into ``out``; returns its sha256 hex (``Transfer.download_into``)."""
        return run(self._transfer.download_into(src, out, size=size, progress=progress))

    def download_tree(self, src: str, dst: LocalPath, *, concurrency: int = 8,
                      progress: ProgressCallback | None = None) -> int:
        """Download a storage folder as ``dst`` (``apolo cp -r -T``); returns the file count."""
        return run(self._transfer.download_tree(src, dst, concurrency=concurrency, progress=progress))

    def upload_file(self, src: LocalPath, dst: str, *, progress: ProgressCallback | None = None) -> str:
        """Upload one local file, overwriting; returns the storage URI (``Transfer.upload_file``)."""
        return run(self._transfer.upload_file(src, dst, progress=progress))

    def upload_tree(self, src: LocalPath, dst: str, *, concurrency: int = 8,
                    progress: ProgressCallback | None = None) -> int:
        """Upload a local folder as ``dst`` (``apolo cp -r -T``); returns the file count."""
        return run(self._transfer.upload_tree(src, dst, concurrency=concurrency, progress=progress))


class Apolo:
    """Synchronous client: ``Apolo(config)`` (None: ``resolve_config()``). Services mirror
    ``AsyncApolo``'s with blocking methods: ``api.jobs.list()`` -> ``list[Job]``, ``api.jobs.logs(job)``
    -> iterator of byte chunks, ``api.storage.ls(uri)`` -> ``list[FileStatus]``, ``api.transfer.copy(plan)``.
    ``api.submit(lambda aio: aio.storage.stat("storage:x"))`` runs any async call without blocking
    and returns a ``concurrent.futures.Future``. Use as a context manager or call ``close()``.
    ``timeout`` (seconds), ``retries``, ``max_connections`` and ``transport`` go to ``AsyncApolo``.
    """

    def __init__(self, config: ApoloConfig | None = None, *, timeout: float = 60.0, retries: int = 5,
                 max_connections: int = 32, transport: httpx.AsyncBaseTransport | None = None):
        async def make() -> AsyncApolo:
            api = AsyncApolo(config, timeout=timeout, retries=retries, max_connections=max_connections,
                             transport=transport)
            await api.open()
            return api

        self._aio = run(make())
        self.jobs = SyncJobs(self._aio.jobs)
        self.permissions = SyncPermissions(self._aio.permissions)
        self.storage = SyncStorage(self._aio.storage)
        self.transfer = SyncTransfer(self._aio.transfer)

    @property
    def config(self) -> ApoloConfig:
        """The resolved credentials and scope (cluster, org, project) in use."""
        return self._aio.config

    def cluster_info(self, refresh: bool = False) -> ClusterInfo:
        """The current cluster (``AsyncApolo.cluster_info``)."""
        return run(self._aio.cluster_info(refresh))

    def submit(self, call: Callable[[AsyncApolo], Awaitable[T]]) -> "Future[T]":
        """Start ``call(async_client)`` on the background loop and return at once with its
        ``concurrent.futures.Future``: the non-blocking entry for widget callbacks and long work
        (callable from any thread, including a done-callback running on the loop).
        ``future.cancel()`` cancels the coroutine; exceptions are the client's (``ApoloError``...)."""
        return submit(call(self._aio))

    def call(self, call: Callable[[AsyncApolo], Awaitable[T]]) -> T:
        """``submit(call).result()``: run any async client call to completion, blocking."""
        return run(call(self._aio))

    def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        run(self._aio.close())

    def __enter__(self) -> "Apolo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._aio).replace("AsyncApolo", "Apolo", 1)


__all__ = ["Apolo", "SyncJobs", "SyncPermissions", "SyncStorage", "SyncTransfer", "background_loop", "run",
           "submit"]
