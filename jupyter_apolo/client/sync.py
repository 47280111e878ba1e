"""``Apolo``: the synchronous facade. It runs an ``AsyncApolo`` on one background event-loop
thread per process and waits on futures, so it works inside IPython kernels (whose own loop is
already running: never ``asyncio.run`` in a cell) and in plain scripts alike."""

from __future__ import annotations

import asyncio
import inspect
import threading
from concurrent.futures import Future
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, TypeVar

from .config import ApoloConfig
from .core import AsyncApolo

T = TypeVar("T")
_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()

# Async-generator methods returned as lazy iterators (they may run for long); all others as lists.
STREAMING = frozenset({"logs"})


def background_loop() -> asyncio.AbstractEventLoop:
    """The process-wide event loop running in a daemon thread (started on first use)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="jupyter-apolo-client", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Awaitable[T], timeout: float | None = None) -> T:
    """Run ``coro`` on the background loop and wait for its result (re-raising its exception).

    Raises ``RuntimeError`` if called from the background loop itself (that would deadlock).
    """
    loop = background_loop()
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread: the usual case
        current = None
    if current is loop:
        if inspect.iscoroutine(coro):
            coro.close()
        raise RuntimeError("Apolo (sync) was called from its own event loop: use AsyncApolo there")
    future: Future = asyncio.run_coroutine_threadsafe(coro, loop)  # type: ignore[arg-type]
    try:
        return future.result(timeout)
    except BaseException:
        future.cancel()  # Ctrl-C in a kernel (or a timeout) stops the coroutine on the loop too
        raise


def iterate(agen: AsyncIterator[T]) -> Iterator[T]:
    """A sync iterator pulling ``agen`` item by item on the background loop; closing it closes ``agen``."""
    try:
        while True:
            try:
                yield run(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        if getattr(agen, "aclose", None) is not None:
            run(_aclose_when_idle(agen))


async def _aclose_when_idle(agen: Any) -> None:
    # After an interrupt, the cancelled __anext__ may still be unwinding on the loop; closing a
    # running generator raises "aclose(): asynchronous generator is already running".
    for _ in range(500):
        if not getattr(agen, "ag_running", False):
            break
        await asyncio.sleep(0.01)
    await agen.aclose()


class SyncService:
    """Sync view of one async service: coroutine methods become blocking calls, async-generator
    methods return lists (``STREAMING`` ones: lazy iterators); other attributes pass through."""

    def __init__(self, service: Any):
        self._service = service

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._service, name)
        if inspect.isasyncgenfunction(attr):
            if name in STREAMING:
                return lambda *a, **kw: iterate(attr(*a, **kw))
            return lambda *a, **kw: run(_collect(attr(*a, **kw)))
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **kw: run(attr(*a, **kw))
        return attr

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._service)) | set(super().__dir__()))

    def __repr__(self) -> str:
        return f"<sync {type(self._service).__name__}>"


async def _collect(agen: AsyncIterator[T]) -> list[T]:
    return [item async for item in agen]


class Apolo:
    """Synchronous client: ``Apolo(config)`` (None: ``resolve_config()``), same services as
    ``AsyncApolo`` with blocking methods: ``api.jobs.list()`` -> ``list[Job]``,
    ``api.jobs.logs(job)`` -> iterator of byte chunks, ``api.storage.ls(uri)`` -> ``list[FileStatus]``,
    ``api.transfer.download_tree(src, dst)`` ... Use as a context manager or call ``close()``.
    ``**kw`` go to ``AsyncApolo`` (``timeout``, ``retries``, ``transport``).
    """

    def __init__(self, config: ApoloConfig | None = None, **kw: Any):
        async def make() -> AsyncApolo:
            api = AsyncApolo(config, **kw)
            await api.open()
            return api

        self.aio: AsyncApolo = run(make())
        self.jobs = SyncService(self.aio.jobs)
        self.permissions = SyncService(self.aio.permissions)
        self.storage = SyncService(self.aio.storage)
        self.transfer = SyncService(self.aio.transfer)

    @property
    def config(self) -> ApoloConfig:
        return self.aio.config

    def cluster_info(self, refresh: bool = False):  # type: ignore[no-untyped-def]
        """See ``AsyncApolo.cluster_info``."""
        return run(self.aio.cluster_info(refresh))

    def request(self, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        """See ``AsyncApolo.request`` (the response body is already read)."""
        return run(self.aio.request(method, url, **kw))

    def call(self, fn: Callable[[AsyncApolo], Awaitable[T]]) -> T:
        """Run ``await fn(self.aio)`` on the background loop: for anything not wrapped here."""
        return run(fn(self.aio))

    def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        run(self.aio.close())

    def __enter__(self) -> "Apolo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self.aio).replace("AsyncApolo", "Apolo", 1)
