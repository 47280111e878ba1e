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
- Copy planning, once for every surface (magics, server, widgets): ``resolve_copy`` checks a copy
  the way ``apolo cp`` reads its arguments (into an existing folder, file-vs-folder clashes) and
  refuses to overwrite unless asked; ``copy`` then runs the plan without asking the platform again
  what the plan already knows.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, BinaryIO, Callable, Literal, Union

from .core import backoff
from .errors import ApoloError, IllegalArgumentError, InvalidInput, NotFoundError, PlatformUnreachable
from .localfs import ConfinedDir, PendingFile, SymlinkRefused, display_name, open_regular, path_problem
from .storage import CHUNK, FileStatus, child_uri

if TYPE_CHECKING:
    from .core import AsyncApolo

WRITE_CHUNK = 1024 * 1024  # bytes buffered per file before a disk write (done off the event loop)
INLINE_WRITE = 256 * 1024  # smaller final writes go straight to the page cache, no thread hop


@dataclass
class TransferProgress:
    """Cumulative progress of one transfer call: bytes and files done so far, totals when known
    (``None`` while a tree is still being listed), the file last worked on, and the paths ``skipped``
    (symlinks, control paths, names this system cannot hold; see ``localfs``), each with the reason."""

    bytes_done: int = 0
    bytes_total: int | None = None
    files_done: int = 0
    files_total: int | None = None
    current: str = ""
    skipped: list[dict[str, str]] = field(default_factory=list)  # [{"path", "reason"}]


ProgressCallback = Callable[[TransferProgress], None]
LocalPath = Union[str, "os.PathLike[str]"]


class TargetExists(ApoloError):
    """The copy's destination exists and overwriting was not asked for (or cannot help: a folder
    onto a file or the reverse). ``target``: the local ``Path`` or storage URI; ``clash``: True when
    it is of the other kind (file vs folder), so ``overwrite`` would not help either;
    ``target_is_dir``: what the target is."""

    status = 409

    def __init__(self, target: "Path | str", *, target_is_dir: bool, clash: bool = False):
        what = ("is a folder; the source is a file" if target_is_dir else "is a file; the source is a folder") \
            if clash else "exists"
        super().__init__(f"{target} {what}", status=409)
        self.target, self.target_is_dir, self.clash = target, target_is_dir, clash

    def describe(self, shown: str) -> str:
        """This refusal about ``shown`` (the target as the caller prints it), without the fix."""
        return self.message.replace(str(self.target), shown, 1)


@dataclass(frozen=True)
class CopyPlan:
    """A checked copy between storage and local disk, decided before a byte moves.

    ``direction``: ``"download"`` (storage -> local) or ``"upload"``. ``source``: the storage entry
    (``FileStatus``, stat'ed once) of a download, the local ``Path`` of an upload. ``target``: the
    local ``Path`` of a download, the canonical storage URI of an upload (after "into an existing
    folder"). ``is_dir``: a folder copy. ``size``: bytes of a file source (None for folders).
    ``replaces``: the target exists and will be overwritten.
    """

    direction: Literal["download", "upload"]
    source: FileStatus | Path
    target: Path | str
    is_dir: bool
    size: int | None
    replaces: bool


class _Tracker:
    def __init__(self, callback: ProgressCallback | None, bytes_total: int | None = None,
                 files_total: int | None = None):
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

    # -- planning -------------------------------------------------------------------------------

    async def resolve_copy(self, src: LocalPath, dst: LocalPath, *, overwrite: bool = False,
                           into_dir: bool = True) -> CopyPlan:
        """Check a copy between storage and local disk and say what it will do (``apolo cp``'s rules).

        Exactly one of ``src``/``dst`` is a storage URI (a ``str`` starting ``storage:``, any of the
        CLI's forms); the other a local path (``str`` or ``os.PathLike``). ``into_dir``: an existing
        folder as ``dst`` receives ``src`` by name (``apolo cp``; False is ``apolo cp -T``).
        ``overwrite``: an existing target file may be replaced (``apolo cp`` always replaces;
        jupyter-apolo asks first). ``plan.is_dir`` tells a folder copy (the CLI's ``-r`` check is the
        caller's, before ``copy``).

        Platform calls: one ``GETFILESTATUS`` of the source (download) or of the target (upload; one
        more when the target is a folder receiving ``src`` by name). Raises ``NotFoundError`` (missing
        source, local or on storage), ``InvalidInput`` (both or neither side on storage), ``TargetExists``.
        """
        src_remote, dst_remote = _is_storage(src), _is_storage(dst)
        if src_remote == dst_remote:
            raise InvalidInput("copy between storage and local paths: one side storage:..., the other a local path")
        if src_remote:
            return await self._plan_download(str(src), Path(dst), overwrite, into_dir)
        return await self._plan_upload(Path(src), str(dst), overwrite, into_dir)

    async def _plan_download(self, src: str, dst: Path, overwrite: bool, into_dir: bool) -> CopyPlan:
        st = await self._api.storage.stat(src)
        target = dst / st.name if into_dir and dst.is_dir() else dst
        exists = target.exists()
        if exists and (st.is_dir != target.is_dir() or not overwrite):
            raise TargetExists(target, target_is_dir=target.is_dir(), clash=st.is_dir != target.is_dir())
        return CopyPlan("download", st, target, st.is_dir, None if st.is_dir else st.size, exists)

    async def _plan_upload(self, src: Path, dst: str, overwrite: bool, into_dir: bool) -> CopyPlan:
        if not src.exists():
            raise NotFoundError(f"{src}: no such local file or folder")
        is_dir = src.is_dir()
        storage = self._api.storage
        target = storage.normalize(dst)
        existing = await storage.stat_or_none(target)
        if existing is not None and existing.is_dir and into_dir:
            target = child_uri(target, Path(os.path.abspath(src)).name)
            existing = await storage.stat_or_none(target)
        if existing is not None and (existing.is_dir != is_dir or not overwrite):
            raise TargetExists(target, target_is_dir=existing.is_dir, clash=existing.is_dir != is_dir)
        size = None if is_dir else src.stat().st_size
        return CopyPlan("upload", src, target, is_dir, size, existing is not None)

    async def copy(self, plan: CopyPlan, *, concurrency: int = 8, progress: ProgressCallback | None = None) -> int:
        """Run ``plan`` (from ``resolve_copy``); returns the number of files copied. No platform call
        repeats what the plan knows: a file download is one ``OPEN``, a folder download lists and
        opens; missing local parent folders of a download's target are created. Raises what the
        transfers raise (``ApoloError``, ``OSError``); files already copied stay, none is left
        half-written."""
        if plan.direction == "download":
            assert isinstance(plan.source, FileStatus) and isinstance(plan.target, Path)
            await asyncio.to_thread(plan.target.parent.mkdir, parents=True, exist_ok=True)
            if plan.is_dir:
                return await self._download_tree(plan.source.uri, plan.target, concurrency, progress)
            await self._download(plan.source.uri, plan.source.size, plan.target,
                                 _Tracker(progress, plan.source.size, 1))
            return 1
        assert isinstance(plan.source, Path) and isinstance(plan.target, str)
        if plan.is_dir:
            return await self._upload_tree(plan.source, plan.target, concurrency, progress)
        await self._upload(plan.source, plan.target, _Tracker(progress, plan.size, 1))
        return 1

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
        await self._download(src_uri, st.size, target, _Tracker(progress, st.size, 1))
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

    async def _download(self, src_uri: str, size: int, target: Path, tracker: _Tracker,
                        pending: PendingFile | None = None) -> None:
        """Stream ``src_uri`` into a temp file beside ``target`` and publish it over it: a regular file or a
        free name only (a symlink there raises ``SymlinkRefused``, a folder ``IsADirectoryError``; never
        written through). ``pending``: that temp file, when the caller made it in a confined tree. A failure
        leaves no partial file."""
        with pending or ConfinedDir(target.parent).create_temp(target.name) as tmp:
            url = await self._api.storage.http_url(src_uri)
            await self._fetch(url, tmp.file, tracker, str(target))
            if tmp.file.tell() != size:
                raise ApoloError(f"{src_uri} changed during the download: got {tmp.file.tell()} bytes, expected {size}")
            await asyncio.to_thread(tmp.publish)  # off the event loop (slow on a busy disk)
        tracker.file_done(str(target))

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
        root = self._api.storage.normalize(src)
        if not (await self._api.storage.stat(root)).is_dir:
            raise IllegalArgumentError(f"Not a directory: '{root}'. Use download_file.", status=None, errno=20)
        return await self._download_tree(root, Path(dst), concurrency, progress)

    async def _download_tree(self, root: str, dst: Path, concurrency: int, progress: ProgressCallback | None) -> int:
        storage = self._api.storage
        tracker = _Tracker(progress)
        queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency * 4)  # bounded: constant memory on huge trees
        dst.mkdir(parents=True, exist_ok=True)
        tree = ConfinedDir(dst)  # nothing below dst is reached through a symlink; hostile names stay on storage

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
                problem = path_problem(rel, dst)
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
                await self._download(st.uri, st.size, dst / rel, tracker, tree.create_temp(rel))
            except (SymlinkRefused, NotADirectoryError) as exc:  # a link or file where a folder goes: left alone
                tracker.skip(rel, f"{exc}")

        return await _run_pool(walk(root, ""), queue, job, concurrency)

    # -- upload ---------------------------------------------------------------------------------

    async def upload_file(self, src: LocalPath, dst: str, *, progress: ProgressCallback | None = None) -> str:
        """Upload local file ``src`` to storage ``dst`` (an existing storage directory: into it by
        name), overwriting. Returns the storage URI. Raises ``FileNotFoundError``,
        ``IsADirectoryError`` locally; platform errors as mapped."""
        path = Path(src)
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a directory: use upload_tree")
        size = path.stat().st_size
        dst_uri = self._api.storage.normalize(dst)
        existing = await self._api.storage.stat_or_none(dst_uri)
        if existing is not None and existing.is_dir:
            dst_uri = child_uri(dst_uri, path.name)
        await self._upload(path, dst_uri, _Tracker(progress, size, 1))
        return dst_uri

    async def upload_from(self, f: BinaryIO, size: int, dst: str, *, label: str = "",
                          progress: ProgressCallback | None = None) -> str:
        """Upload the ``size`` bytes of the open binary file ``f`` (from its current position) as exactly storage
        ``dst``, overwriting; for callers that opened the file themselves (e.g. confined, without following
        links; ``label``: its name in progress). Returns the storage URI. Closes ``f``."""
        dst_uri = self._api.storage.normalize(dst)
        await self._upload(Path(label or dst_uri), dst_uri, _Tracker(progress, size, 1), opened=f)
        return dst_uri

    async def _upload(self, path: Path, dst_uri: str, tracker: _Tracker, opened: BinaryIO | None = None) -> None:
        """Send local file ``path`` (or the already ``opened`` file) as exactly ``dst_uri`` (``CREATE`` then
        ``WRITE`` chunks). ``path`` must be a regular file: a symlink raises ``SymlinkRefused`` and its target
        is never sent."""
        storage = self._api.storage
        with opened or open_regular(path) as f:
            url = await storage.http_url(dst_uri)
            first = f.read(CHUNK)
            await self._api.request("PUT", url, params={"op": "CREATE"}, content=first, retry=True,
                                    headers={"Content-Type": "application/octet-stream"})
            tracker.add_bytes(len(first), str(path))
            offset = len(first)
            while chunk := f.read(CHUNK):
                await storage.write(url, offset, chunk)
                offset += len(chunk)
                tracker.add_bytes(len(chunk), str(path))
        tracker.file_done(str(path))

    async def upload_tree(self, src: str | os.PathLike[str], dst: str, *, concurrency: int = 8,
                          progress: ProgressCallback | None = None) -> int:
        """Upload local directory ``src`` as storage directory ``dst`` (``apolo cp -r -T``):
        directories created (``MKDIRS``), files overwritten. Returns the number of files."""
        root = Path(src)
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is not a directory: use upload_file")
        return await self._upload_tree(root, self._api.storage.normalize(dst), concurrency, progress)

    async def _upload_tree(self, root: Path, dst_uri: str, concurrency: int, progress: ProgressCallback | None) -> int:
        storage = self._api.storage
        tracker = _Tracker(progress)
        queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency * 4)
        tree = ConfinedDir(root)

        async def walk() -> None:
            # inline, like the scandir it replaces; symlinks and special files are reported, never followed or sent
            await storage.mkdir(dst_uri, parents=True)
            for kind, rel, _ in tree.walk():
                if kind == "dir":
                    await storage.mkdir(_child_uri(dst_uri, rel), parents=True)
                elif kind == "file":
                    await queue.put((rel,))
                elif kind == "symlink":
                    tracker.skip(rel, "a symbolic link: not followed, its target is not uploaded")
                else:
                    tracker.skip(rel, "not a regular file (FIFO, socket or device): not uploaded")

        async def job(rel: str) -> None:
            await self._upload(root / rel, _child_uri(dst_uri, rel), tracker, opened=tree.open_read(rel))

        return await _run_pool(walk(), queue, job, concurrency)


_STOP = object()


def _child_uri(uri: str, rel: str) -> str:
    """``uri`` + the ``/``-separated relative path ``rel``, each name encoded."""
    for part in rel.split("/"):
        uri = child_uri(uri, part)
    return uri


def _is_storage(location: LocalPath) -> bool:
    return isinstance(location, str) and location.startswith("storage:")


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
