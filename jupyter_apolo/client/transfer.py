"""File and tree upload/download between local disk and platform storage.

- Constant memory: bodies move in chunks (``CHUNK`` = 1 MiB), never a whole file in RAM.
- Upload as the CLI does (reference §4.4): ``PUT op=CREATE`` with the first chunk, then
  ``PATCH op=WRITE`` with ``Content-Range: bytes S-E/*``; chunks retried with backoff.
- Download resumes after a dropped connection with ``Range: bytes=<pos>-`` and requires
  ``206`` whose ``Content-Range`` starts at ``pos`` (as sdk ``Storage._download_file``).
- Local writes are atomic: a temp file in the target directory, renamed over the target once
  complete (a failed download leaves no partial file and the old file intact).
- Trees: listing and file transfers run concurrently with at most ``concurrency`` files in flight.
- Progress: ``progress(TransferProgress)`` after each chunk and each finished file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, BinaryIO, Callable

from .core import backoff
from .errors import ApoloError, IllegalArgumentError, PlatformUnreachable
from .localfs import ConfinedDir, PendingFile, SymlinkRefused, display_name, open_regular, path_problem
from .storage import CHUNK, child_uri

if TYPE_CHECKING:
    from .core import AsyncApolo

WRITE_CHUNK = 1024 * 1024  # bytes buffered per file before a disk write (done off the event loop)
INLINE_WRITE = 256 * 1024  # smaller final writes go straight to the page cache, no thread hop


@dataclass
class TransferProgress:
    """Cumulative progress of one transfer call: bytes and files done so far, totals when known
    (``None`` while a tree is still being listed), the file last worked on, and the paths ``skipped``
    (symlinks, control paths, names this system cannot hold), each with the reason."""

    bytes_done: int = 0
    bytes_total: int | None = None
    files_done: int = 0
    files_total: int | None = None
    current: str = ""
    skipped: list[dict[str, str]] = field(default_factory=list)  # [{"path", "reason"}]: left alone (localfs rules)


ProgressCallback = Callable[[TransferProgress], None]


class _Tracker:
    def __init__(self, callback: ProgressCallback | None, bytes_total: int | None = None, files_total: int | None = None):
        self.state = TransferProgress(bytes_total=bytes_total, files_total=files_total)
        self.callback = callback

    def add_bytes(self, n: int, current: str) -> None:
        self.state.bytes_done += n
        self.state.current = current
        if self.callback:
            self.callback(self.state)

    def skip(self, path: str, reason: str) -> None:
        self.state.skipped.append({"path": display_name(path), "reason": reason})
        if self.callback:
            self.callback(self.state)

    def file_done(self, current: str) -> None:
        self.state.files_done += 1
        self.state.current = current
        if self.callback:
            self.callback(self.state)


class Transfer:
    """``api.transfer``: upload and download of files and trees."""

    def __init__(self, api: "AsyncApolo", *, retries: int = 10):
        self._api = api
        self.retries = retries  # per file/chunk, like the CLI's 10 retries per chunk

    # -- download -------------------------------------------------------------------------------

    async def download_file(self, src: str, dst: str | os.PathLike[str], *,
                            progress: ProgressCallback | None = None) -> Path:
        """Download storage file ``src`` to local path ``dst`` (an existing directory: into it by name).

        Atomic: the data lands in a temp file next to the target, renamed over it when complete.
        Resumes after dropped connections (``Range``, 206 required). Returns the local path.
        Raises ``NotFoundError``, ``IllegalArgumentError`` (EISDIR if ``src`` is a directory),
        ``PlatformUnreachable`` after ``retries`` failed resumes.
        """
        src_uri = self._api.storage.normalize(src)
        st = await self._api.storage.stat(src_uri)
        if not st.is_file:
            raise IllegalArgumentError(f"Is a directory: '{src_uri}'. Use download_tree.", status=None, errno=21)
        target = Path(dst)
        if target.is_dir():
            target = target / st.name
        with ConfinedDir(target.parent).create_temp(target.name) as pending:
            await self._download(src_uri, st.size, pending, _Tracker(progress, st.size, 1), str(target))
        return target

    async def download_into(self, src: str, out: BinaryIO, *, size: int | None = None,
                            progress: ProgressCallback | None = None) -> str:
        """Stream storage file ``src`` into ``out`` (a binary file open for writing, written from its
        current position) and return the hex sha256 of the bytes written, hashed while streaming.

        ``size``: the file's size in bytes when already known (e.g. from a listing): no
        ``GETFILESTATUS`` is sent, one ``OPEN`` only. Resumes after dropped connections like
        ``download_file``. The caller owns ``out`` (and any temp file/rename around it).
        Raises ``NotFoundError``, ``ApoloError`` when the byte count differs from ``size`` (the file
        changed during the download), ``PlatformUnreachable`` after ``retries`` failed resumes.
        """
        src_uri = self._api.storage.normalize(src)
        if size is None:
            size = (await self._api.storage.stat(src_uri)).size
        digest = hashlib.sha256()
        start = out.tell()
        tracker = _Tracker(progress, size, 1)
        await self._fetch(await self._api.storage.http_url(src_uri), out, tracker, src_uri, digest, start)
        if out.tell() - start != size:
            raise ApoloError(f"{src_uri} changed during the download: got {out.tell() - start} bytes, expected {size}")
        tracker.file_done(src_uri)
        return digest.hexdigest()

    async def _download(self, src_uri: str, size: int, pending: PendingFile, tracker: _Tracker, label: str) -> None:
        """Stream ``src_uri`` into the temp file ``pending`` and publish it over its target (a regular file or
        a free name; a symlink or folder there raises, never written through). The caller discards ``pending``
        on failure, so no partial file is left."""
        url = await self._api.storage.http_url(src_uri)
        await self._fetch(url, pending.file, tracker, label)
        if pending.file.tell() != size:
            raise ApoloError(f"{src_uri} changed during the download: got {pending.file.tell()} bytes, expected {size}")
        await asyncio.to_thread(pending.publish)  # off the event loop (slow on a busy disk)
        tracker.file_done(label)

    async def _fetch(self, url: str, out, tracker: _Tracker, label: str,  # type: ignore[no-untyped-def]
                     digest=None, start: int = 0) -> None:  # type: ignore[no-untyped-def]
        """Stream ``url`` into ``out`` from byte ``out.tell() - start`` of the file, resuming with
        ``Range``; ``digest`` (hashlib object) is updated with every byte written."""
        attempt = 0
        while True:
            pos = out.tell() - start
            try:
                async with self._api.storage.open(url, pos) as resp:
                    if pos:
                        _check_resumed(resp, pos)
                    buffer: list[bytes] = []
                    buffered = 0
                    try:
                        async for chunk in resp.aiter_bytes():
                            buffer.append(chunk)
                            buffered += len(chunk)
                            if buffered >= WRITE_CHUNK:
                                await _write(out, buffer, tracker, label, digest)
                                buffered = 0
                    finally:  # keep what arrived before a drop: the resume starts after it
                        await _write(out, buffer, tracker, label, digest)
                return
            except PlatformUnreachable:
                if attempt >= self.retries:
                    raise
            await backoff(attempt)
            attempt += 1

    async def download_tree(self, src: str, dst: str | os.PathLike[str], *, concurrency: int = 8,
                            progress: ProgressCallback | None = None) -> int:
        """Download storage directory ``src`` as local directory ``dst`` (created; files in it
        replaced atomically one by one; extra local files left alone), like ``apolo cp -r -T``.

        ``concurrency``: files in flight at once (8 measured best here: more only adds event-loop
        overhead once the link is busy). Returns the number of files downloaded.
        Raises ``NotFoundError`` for a missing ``src``; the first file error after the others finish.
        """
        storage = self._api.storage
        root = storage.normalize(src)
        if not (await storage.stat(root)).is_dir:
            raise IllegalArgumentError(f"Not a directory: '{root}'. Use download_file.", status=None, errno=20)
        tracker = _Tracker(progress)
        queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency * 4)  # bounded: constant memory on huge trees
        local_root = Path(dst)
        local_root.mkdir(parents=True, exist_ok=True)
        tree = ConfinedDir(local_root)  # nothing below dst is reached through a symlink (localfs)

        async def walk(uri: str, prefix: str) -> None:
            if prefix:
                try:
                    tree.makedirs(prefix.rstrip("/"))
                except SymlinkRefused as exc:
                    tracker.skip(prefix, f"{exc}")
                    return
            subdirs = []
            async for st in storage.ls(uri):
                rel = prefix + st.name
                problem = path_problem(rel, local_root)  # hostile names and control paths stay on storage
                if problem:
                    tracker.skip(rel + ("/" if st.is_dir else ""), problem)
                elif st.is_dir:
                    subdirs.append((st.uri, rel + "/"))
                elif st.is_file:
                    await queue.put((st, rel))
            for sub in subdirs:
                await walk(*sub)

        async def job(st, rel: str) -> None:  # type: ignore[no-untyped-def]
            try:
                with tree.create_temp(rel) as pending:
                    await self._download(st.uri, st.size, pending, tracker, str(local_root / rel))
            except (SymlinkRefused, NotADirectoryError) as exc:
                tracker.skip(rel, f"{exc}")

        return await _run_pool(walk(root, ""), queue, job, concurrency)

    # -- upload ---------------------------------------------------------------------------------

    async def upload_file(self, src: str | os.PathLike[str], dst: str, *, progress: ProgressCallback | None = None,
                          _tracker: _Tracker | None = None) -> str:
        """Upload local file ``src`` to storage ``dst`` (an existing storage directory: into it by
        name), overwriting. Returns the storage URI. Raises ``FileNotFoundError``,
        ``IsADirectoryError`` locally, ``SymlinkRefused`` when ``src`` is a symlink or special file
        (its target is never uploaded); platform errors as mapped."""
        path = Path(src)
        with open_regular(path) as f:
            return await self.upload_from(f, os.fstat(f.fileno()).st_size, dst, label=str(path), progress=progress,
                                          _tracker=_tracker, into_dir=_tracker is None, name=path.name)

    async def upload_from(self, f: BinaryIO, size: int, dst: str, *, label: str = "", name: str = "",
                          progress: ProgressCallback | None = None, into_dir: bool = False,
                          _tracker: _Tracker | None = None) -> str:
        """Upload ``size`` bytes of the open binary file ``f`` (from its current position) to storage ``dst``,
        overwriting; with ``into_dir`` and an existing storage directory ``dst``, into it as ``name``. For callers
        that opened the file themselves (e.g. confined, without following links). Returns the storage URI."""
        storage = self._api.storage
        dst_uri = storage.normalize(dst)
        if into_dir and name:
            try:
                if (await storage.stat(dst_uri)).is_dir:
                    dst_uri = child_uri(dst_uri, name)
            except ApoloError:
                pass
        label = label or dst_uri
        tracker = _tracker or _Tracker(progress, size, 1)
        url = await storage.http_url(dst_uri)
        first = f.read(CHUNK)
        await self._api.request("PUT", url, params={"op": "CREATE"}, content=first, retry=True,
                                headers={"Content-Type": "application/octet-stream"})
        tracker.add_bytes(len(first), label)
        offset = len(first)
        while chunk := f.read(CHUNK):
            await storage.write(url, offset, chunk)
            offset += len(chunk)
            tracker.add_bytes(len(chunk), label)
        tracker.file_done(label)
        return dst_uri

    async def upload_tree(self, src: str | os.PathLike[str], dst: str, *, concurrency: int = 8,
                          progress: ProgressCallback | None = None) -> int:
        """Upload local directory ``src`` as storage directory ``dst`` (``apolo cp -r -T``):
        directories created (``MKDIRS``), files overwritten. Returns the number of files."""
        storage = self._api.storage
        root = Path(src)
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is not a directory: use upload_file")
        dst_uri = storage.normalize(dst)
        tracker = _Tracker(progress)
        queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency * 4)
        tree = ConfinedDir(root)

        async def walk() -> None:
            # symlinks and special files below the root are reported, never followed or uploaded (localfs)
            scan = await asyncio.to_thread(tree.scan)
            for rel in scan.symlinks:
                tracker.skip(rel, "a symbolic link: not followed, its target is not uploaded")
            for rel in scan.special:
                tracker.skip(rel, "not a regular file: not uploaded")
            await storage.mkdir(dst_uri, parents=True)
            for folder in scan.dirs:
                await storage.mkdir(_child_path(dst_uri, folder), parents=True)
            for rel in sorted(scan.files):
                await queue.put((rel,))

        async def job(rel: str) -> None:
            with tree.open_read(rel) as f:
                await self.upload_from(f, os.fstat(f.fileno()).st_size, _child_path(dst_uri, rel),
                                       label=str(root / rel), _tracker=tracker)

        return await _run_pool(walk(), queue, job, concurrency)


def _child_path(uri: str, rel: str) -> str:
    for part in rel.split("/"):
        uri = child_uri(uri, part)
    return uri


_STOP = object()


async def _run_pool(producer: Awaitable[None], queue: asyncio.Queue, job: Callable[..., Awaitable[None]],
                    concurrency: int) -> int:
    """Run ``producer`` (fills ``queue``) and ``concurrency`` workers calling ``job(*item)``;
    returns the number of items done. The first error stops the producer, lets running jobs
    finish, and is raised; cancelling the caller cancels everything."""
    done = 0
    errors: list[BaseException] = []
    producer_task = asyncio.ensure_future(producer)

    async def worker() -> None:
        nonlocal done
        while (item := await queue.get()) is not _STOP:
            if errors:
                continue  # drain without working after a failure
            try:
                await job(*item)
                done += 1
            except Exception as exc:  # noqa: BLE001 - raised below
                errors.append(exc)
                producer_task.cancel()

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        try:
            await producer_task
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling() or not errors:  # type: ignore[union-attr]
                raise  # the caller was cancelled, not the producer by a failed job
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        for _ in workers:
            await queue.put(_STOP)
        await asyncio.gather(*workers)
    except BaseException:
        producer_task.cancel()
        for w in workers:
            w.cancel()
        raise
    if errors:
        raise errors[0]
    return done


async def _write(out, buffer: list[bytes], tracker: _Tracker, label: str, digest=None) -> None:  # type: ignore[no-untyped-def]
    """Write (and hash into ``digest``) and empty ``buffer``: in a worker thread when large, since slow
    disks must not stall other transfers; inline when small (a thread hop costs more than the write)."""
    if buffer:
        chunks = buffer[:]
        buffer.clear()
        size = sum(map(len, chunks))
        if digest is not None:
            for chunk in chunks:
                digest.update(chunk)
        if size >= INLINE_WRITE:
            await asyncio.to_thread(out.writelines, chunks)
        else:
            out.writelines(chunks)
        tracker.add_bytes(size, label)


def _check_resumed(resp, pos: int) -> None:  # type: ignore[no-untyped-def]
    rng = resp.headers.get("Content-Range", "")
    if resp.status_code != 206 or not rng.startswith(f"bytes {pos}-"):
        raise ApoloError(f"Cannot resume download at byte {pos}: the server answered {resp.status_code} "
                         f"with Content-Range {rng!r} (206 from {pos} is required)")
