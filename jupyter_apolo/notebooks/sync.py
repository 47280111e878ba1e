"""Content-based 3-way sync between a storage folder and a local folder: plan first, then apply.

The base is the :class:`~jupyter_apolo.notebooks.manifest.Manifest` of the last sync. Each side of each path is
``same``/``new``/``changed``/``deleted``/``absent`` against it (storage by size + ``modificationTime``, disk by
size + mtime, then sha256). From that a pull (storage -> disk) or push (disk -> storage) plan follows:

- changed on one side only: transferred in the plan's direction; unchanged files are never transferred;
- changed on both: a **conflict**. A notebook whose last-synced version is in the manifest's store is merged cell
  by cell with nbdime (``merge.py``): edits to different cells, outputs-only and metadata changes give one merged
  notebook in place (``Result.merged``); only a true conflict (the same cell changed on both sides) is reported,
  and then, as for every other file, the storage version is written beside the local one
  (``name.from-storage.ipynb``), plus for notebooks the merge with nbdime's conflict markers
  (``name.merge-conflicts.ipynb``). Either way the storage version becomes the base, so the local file then reads as
  a local edit on top of it (a later push sends it, after you review);
- deleted on the source side: a **proposed** deletion, applied only when asked (``delete=``);
- deleted on one side and changed on the other: nothing is deleted, the changed file is kept (restored).

Apply writes every local file through a temp file + rename, uploads to a temp name + RENAME, and journals each
finished file, so a killed apply re-plans and resumes without half-written notebooks.

Storage names are a teammate's and the checkout may hold anyone's symlinks, so (``client/localfs.py``): control paths
(``.git``, ``.apolo``, ``.apoloignore``...) and names the local system cannot represent safely are left out of the
plan one by one and listed in ``Plan.skipped`` with the reason; local symlinks and special files are listed there
too, never followed, replaced, written through or uploaded; every local file is opened component by component
below the notebooks folder without following a link. Compared with
``apolo-flow download`` (``apolo cp -r -u -T``: newer-wins, no deletes, re-sends after mtime changes) nothing is
silently lost (reference §6.4).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import io
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Protocol

from ..client.errors import IllegalArgumentError, InvalidInput
from ..client.localfs import (
    ConfinedDir,
    PendingFile,
    SymlinkRefused,
    display_name,
    is_control_name,
    path_problem,
    same_file_state,
)
from .ignore import FileFilter
from .manifest import STORE_LIMIT, Entry, Manifest
from .merge import NotANotebook, merge_notebook_bytes

PARTIAL_SUFFIX = ".apolo-partial"
CONFLICT_MARK = ".from-storage"
MERGE_MARK = ".merge-conflicts"
_VERIFIED = "<verified>"
_CONFLICT_COPY = re.compile(f"({re.escape(CONFLICT_MARK)}|{re.escape(MERGE_MARK)})" + r"(-\d+)?(\.[^./]+)?$")
PULL, PUSH = "pull", "push"
# Files in flight during an apply. Measured (tests/bench/bench_notebooks_sync.py, 1,000 notebooks, embedded platform):
# 16 was ~1.5x slower than 4-8, since httpcore's pool re-checks every open connection per request; 8 keeps
# enough requests in flight to hide a real platform's round trips (the client's download_tree uses 8 too).
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class RemoteFile:
    """A file on storage: ``path`` relative to the synced folder (POSIX), ``size`` bytes, ``mtime`` epoch seconds."""

    path: str
    size: int
    mtime: int


class RemoteTree(Protocol):
    """Storage access for one folder (``uri``), relative POSIX paths. Implemented over the client in ``remote.py``."""

    uri: str

    async def list_files(self, skip_dir: Callable[[str], bool]) -> dict[str, RemoteFile]:
        """Every file under the folder ({} if it does not exist); ``skip_dir(rel)`` prunes folders."""

    async def server_time(self) -> float:
        """Now on the clock storage stamps mtimes with (epoch seconds; may lag, never lead)."""

    async def download(self, path: str, out: BinaryIO, size: int | None = None) -> str:
        """Write the file's bytes into ``out`` (an open temp file the caller publishes); return their hex
        sha256. ``size``: bytes, as listed (saves a status request)."""

    async def upload(self, src: BinaryIO, path: str, size: int) -> RemoteFile:
        """Store the ``size`` bytes of the open file ``src`` at ``path`` (parents created, replaced atomically);
        return its new status."""

    async def status(self, path: str) -> RemoteFile | None:
        """The file's current status, None if it does not exist."""

    async def delete(self, path: str) -> None:
        """Delete the file at ``path``."""


@dataclass(frozen=True)
class Change:
    """One planned step. ``action``: ``download``, ``upload``, ``conflict``, ``delete-local``, ``delete-remote``
    or ``forget`` (drop a path gone from both sides). ``reason``: why, in words (``changed on storage``, ...).
    ``size``: bytes to transfer (0 for deletions)."""

    path: str
    action: str
    reason: str
    size: int = 0


@dataclass(frozen=True)
class Skipped:
    """A path sync leaves alone. ``path``: relative, printable (undecodable bytes, control characters and bidi
    marks escaped; a folder ends with ``/``); ``side``: ``storage`` or ``local``; ``reason``: why, in words."""

    path: str
    side: str
    reason: str


@dataclass
class Plan:
    """What an apply would do. ``changes``: steps for this ``direction``; ``elsewhere``: changes the other
    direction would carry (local edits during a pull, storage edits during a push); ``unchanged``: file count;
    ``skipped``: paths left alone (control paths, unrepresentable names, symlinks), with the reason."""

    direction: str
    local_root: Path
    remote: str
    changes: list[Change] = field(default_factory=list)
    elsewhere: list[Change] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unchanged: int = 0
    listed_at: int = 0  # epoch seconds when storage was listed
    # path -> (RemoteFile|None, local stat|None, local sha, base sha)
    _snapshot: dict = field(default_factory=dict, repr=False)

    @property
    def id(self) -> str:
        """A fingerprint of what this plan would do and of the states it saw (storage size/mtime, local
        size/mtime, base sha256 of each changed path): a re-plan with the same id would do exactly the same."""
        h = hashlib.sha256(json.dumps([self.direction, str(self.local_root), self.remote]).encode())
        for c in self.changes:
            r, stat, _, base = self._snapshot.get(c.path, (None, None, None, None))
            state = [c.path, c.action, c.size, [r.size, r.mtime] if r else None,
                     [stat.st_size, stat.st_mtime_ns] if stat else None, base]
            h.update(json.dumps(state).encode())
        return h.hexdigest()[:32]

    def of(self, *actions: str) -> list[Change]:
        return [c for c in self.changes if c.action in actions]

    @property
    def transfers(self) -> list[Change]:
        return self.of("download", "upload")

    @property
    def conflicts(self) -> list[Change]:
        return self.of("conflict")

    @property
    def deletions(self) -> list[Change]:
        """Proposed deletions (applied only with ``apply(..., delete=...)``)."""
        return self.of("delete-local", "delete-remote")

    def to_json(self) -> dict:
        return {"id": self.id, "direction": self.direction, "local": str(self.local_root), "remote": self.remote,
                "unchanged": self.unchanged, "changes": [asdict(c) for c in self.changes],
                "elsewhere": [asdict(c) for c in self.elsewhere], "skipped": [asdict(s) for s in self.skipped]}


@dataclass(frozen=True)
class Conflict:
    """A path changed on both sides: ``kept_as`` is where the storage version now is (None when identical);
    ``merge_as``: for a notebook, where nbdime's merge with conflict markers is (None when not made)."""

    path: str
    reason: str
    kept_as: str | None
    merge_as: str | None = None


@dataclass
class Result:
    """What an apply did: paths ``downloaded``, ``uploaded``, ``deleted``, ``verified`` (re-checked, already
    identical), conflicts, notebooks ``merged`` cell by cell, deletions left proposed, paths ``skipped`` at apply
    time (e.g. a folder replaced by a symlink after the plan) and ``bytes`` transferred."""

    direction: str
    downloaded: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)  # fetched to check, identical to the local file: not rewritten
    conflicts: list[Conflict] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # notebooks changed on both sides, merged cell by cell
    proposed_deletions: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    bytes: int = 0

    @property
    def transferred(self) -> list[str]:
        return self.downloaded + self.uploaded

    def to_json(self) -> dict:
        return {**asdict(self), "transferred": len(self.transferred)}


Progress = Callable[[dict], None]


class NotebookSync:
    """Sync ``local_root`` with ``remote`` using ``manifest`` as the base and ``file_filter`` for exclusions.

    ``concurrency``: files transferred at once. ``plan()``/``apply()`` are coroutines; file hashing and scans
    run in a worker thread so a server's event loop stays responsive. Local files are reached only through
    :class:`~jupyter_apolo.client.localfs.ConfinedDir` (no symlink followed below ``local_root``).
    """

    #: Merge notebooks changed on both sides cell by cell (False: keep two whole copies, as before; the bench
    #: compares both).
    merge = True

    def __init__(self, local_root: Path, remote: RemoteTree, manifest: Manifest,
                 file_filter: FileFilter | None = None, concurrency: int = DEFAULT_CONCURRENCY):
        self.local_root = Path(local_root)
        self.tree = ConfinedDir(self.local_root)
        self.remote, self.manifest = remote, manifest
        self.filter = file_filter or FileFilter()
        self.concurrency = concurrency

    def _skip(self, rel: str, is_dir: bool = False) -> bool:
        """Left out silently: our own temp files and conflict copies, and the project's ignore rules."""
        name = rel.rsplit("/", 1)[-1]
        if name.endswith(PARTIAL_SUFFIX) or (not is_dir and _CONFLICT_COPY.search(name)):
            return True
        return self.filter.excluded(rel, is_dir)

    # -- plan -------------------------------------------------------------------------------------

    async def plan(self, direction: str = PULL) -> Plan:
        """Compare storage, disk and the manifest. Raises ``InvalidInput`` for an unknown ``direction`` and the
        client's errors (e.g. ``AuthorizationError``) when storage cannot be listed. Hostile names, control
        paths and local symlinks never fail the plan: each is listed in ``Plan.skipped``."""
        if direction not in (PULL, PUSH):
            raise InvalidInput(f"direction must be {PULL!r} or {PUSH!r}, not {direction!r}")
        skipped: dict[tuple[str, str], Skipped] = {}

        def skip(side: str, rel: str, reason: str) -> None:
            skipped.setdefault((side, rel), Skipped(display_name(rel), side, reason))

        def refuse_dir(side: str, rel: str) -> bool:
            problem = path_problem(rel, self.local_root)  # reported even where an ignore rule also matches
            if problem:
                skip(side, rel + "/", problem)
            return problem is not None or self._skip(rel, True)

        listed_at = int(await self.remote.server_time())  # storage's clock: this machine's may be skewed
        listing = await self.remote.list_files(lambda rel: refuse_dir("storage", rel))
        remote: dict[str, RemoteFile] = {}
        for p, f in listing.items():
            problem = path_problem(p, self.local_root)
            if problem:
                skip("storage", p, problem)
            elif not self._skip(p):
                remote[p] = f
        scan = await asyncio.to_thread(self.tree.scan, lambda rel: refuse_dir("local", rel), self._skip)
        blocked = set()  # local paths that are not regular files: nothing at or below them is touched
        for rel in scan.symlinks:
            blocked.add(rel)
            skip("local", rel, "a symbolic link: never followed, replaced or uploaded")
        for rel in scan.special:
            blocked.add(rel)
            skip("local", rel, "not a regular file (FIFO, socket or device): left alone")
        local = {}
        for p, st_ in scan.files.items():
            problem = path_problem(p, self.local_root)
            if problem:
                skip("local", p, problem)
            else:
                local[p] = st_
        entries = self.manifest.entries

        def wanted(path: str) -> bool:
            if path in remote or path in local:
                return not any(part in blocked for part in _ancestors(path))
            return path_problem(path, self.local_root) is None and not any(part in blocked for part in _ancestors(path))

        for p in remote:
            if not wanted(p):
                skip("storage", p, "the local path holds a symbolic link or special file: nothing written through it")
        plan = Plan(direction, self.local_root, self.remote.uri, listed_at=listed_at)
        paths = sorted(p for p in set(remote) | set(local) | set(entries) if wanted(p))
        local_states = await asyncio.to_thread(
            lambda: [self._local_state(p, local.get(p), entries.get(p)) for p in paths])
        for path, (ls, sha) in zip(paths, local_states):
            r, stat = remote.get(path), local.get(path)
            rs = _remote_state(r, entries.get(path))
            base = entries.get(path)
            plan._snapshot[path] = (r, stat, sha, base.sha256 if base else None)
            change, other = _decide(direction, path, rs, ls, r)
            if change:
                plan.changes.append(change)
            elif other:
                plan.elsewhere.append(other)
            elif rs == ls == "same":
                plan.unchanged += 1
        plan.skipped = sorted(skipped.values(), key=lambda s: (s.path, s.side))
        return plan

    def _local_state(self, path: str, stat: os.stat_result | None, base: Entry | None) -> tuple[str, str | None]:
        if stat is None:
            return ("deleted" if base else "absent"), None
        if base is None:
            return "new", None
        if stat.st_size == base.size and stat.st_mtime_ns == base.local_mtime_ns:
            return "same", base.sha256
        with self.tree.open_read(path) as f:
            sha = sha256_of(f)
        return ("same" if sha == base.sha256 else "changed"), sha

    # -- apply ------------------------------------------------------------------------------------

    async def apply(self, plan: Plan, *, delete: bool | Iterable[str] = False,
                    progress: Progress | None = None) -> Result:
        """Carry out ``plan``. ``delete``: True applies every proposed deletion, an iterable only those paths.
        ``progress(event)`` gets ``{"done", "total", "path", "action", "bytes"}`` after each step.

        A file edited locally after planning is never overwritten: its download becomes a conflict copy. A path
        that became a symlink (or whose folder did) since the plan is skipped (``Result.skipped``), never
        written through. Errors from storage or the local disk (e.g. ``OSError`` ENOSPC) propagate after the
        steps already finished were recorded (re-plan to resume).
        """
        wanted = set(c.path for c in plan.deletions) if delete is True else set(delete or ())
        result = Result(plan.direction)
        result.proposed_deletions = [c.path for c in plan.deletions if c.path not in wanted]
        steps = [c for c in plan.changes if c.action not in ("delete-local", "delete-remote") or c.path in wanted]
        await asyncio.to_thread(self._remove_partials)
        sem = asyncio.Semaphore(self.concurrency)
        done = 0

        async def run(change: Change) -> None:
            nonlocal done
            async with sem:
                try:
                    await self._step(plan, change, result)
                except (SymlinkRefused, NotADirectoryError, IsADirectoryError) as exc:
                    result.skipped.append(Skipped(display_name(change.path), "local", f"{exc}"))
                except IllegalArgumentError as exc:  # storage holds a file where a folder goes (or the reverse)
                    if exc.errno not in (errno.EISDIR, errno.ENOTDIR, errno.EEXIST):
                        raise
                    result.skipped.append(Skipped(display_name(change.path), "storage", exc.message))
                except OSError as exc:
                    if exc.errno != errno.ENAMETOOLONG:
                        if exc.filename is None:  # a failed write (ENOSPC, EFBIG): say which file
                            raise OSError(exc.errno, exc.strerror, display_name(change.path)) from exc
                        raise
                    result.skipped.append(Skipped(display_name(change.path), "local", "the path is too long here"))
            done += 1
            if progress:
                progress({"done": done, "total": len(steps), "path": change.path, "action": change.action,
                          "bytes": result.bytes})

        try:
            await _gather_all([run(c) for c in steps])
        finally:
            await asyncio.to_thread(self.manifest.compact)
        for lst in (result.downloaded, result.uploaded, result.deleted, result.verified, result.merged):
            lst.sort()
        result.conflicts.sort(key=lambda c: c.path)
        result.proposed_deletions.sort()
        result.skipped.sort(key=lambda s: s.path)
        return result

    async def _step(self, plan: Plan, change: Change, result: Result) -> None:
        path, action = change.path, change.action
        remote_file, stat, sha, base_sha = plan._snapshot[path]
        if action == "download":
            kept = await self._download(path, remote_file, plan.listed_at, expect=stat, local_sha=sha)
            if kept == _VERIFIED:
                result.verified.append(path)
            elif kept is None:
                result.downloaded.append(path)
                result.bytes += remote_file.size
            else:
                result.conflicts.append(Conflict(path, "changed on disk while pulling", kept))
        elif action == "upload":
            uploaded = await self._upload(path)
            result.uploaded.append(path)
            result.bytes += uploaded.size
        elif action == "conflict":
            await self._conflict(plan, change, result)
        elif action == "delete-local":
            if stat is not None and self.tree.unlink(path, expect=stat):  # only the regular file the plan saw
                self.manifest.forget(path)
                result.deleted.append(path)
            else:  # edited (or replaced) since the plan: keep it, say so
                result.proposed_deletions.append(path)
        elif action == "delete-remote":
            if await self.remote.status(path) == remote_file:  # not edited by a teammate since the plan
                await self.remote.delete(path)
                self.manifest.forget(path)
                result.deleted.append(path)
            else:
                result.proposed_deletions.append(path)
        elif action == "forget":
            self.manifest.forget(path)

    async def _conflict(self, plan: Plan, change: Change, result: Result) -> None:
        path = change.path
        remote_file, stat, sha, base_sha = plan._snapshot[path]
        if remote_file is None:  # deleted on storage, changed on disk
            if plan.direction == PUSH:
                await self._upload(path)
                result.uploaded.append(path)
            else:
                self.manifest.forget(path)  # the local file stays, now simply new on disk
            result.conflicts.append(Conflict(path, change.reason, None))
            return
        if stat is None:  # deleted on disk, changed on storage: restore it
            kept = await self._download(path, remote_file, plan.listed_at, expect=None)
            result.downloaded.append(path)
            result.conflicts.append(Conflict(path, change.reason, kept))
            return
        if self.merge and path.endswith(".ipynb") and await self._merge(plan, change, result):
            return
        kept = await self._download(path, remote_file, plan.listed_at, expect=stat, beside=True, base_sha=base_sha)
        result.bytes += remote_file.size
        if kept is None:  # same content on both sides (e.g. a first sync into a checkout): nothing to resolve
            result.verified.append(path)
        else:
            result.conflicts.append(Conflict(path, change.reason, kept))

    async def _merge(self, plan: Plan, change: Change, result: Result) -> bool:
        """Merge a notebook changed on both sides cell by cell, with the last-synced version from the manifest's
        store as the base (``merge.py``). Returns False, having changed nothing, when the merge does not apply:
        no stored base, a file too big to keep, storage content identical to the local file or to the base, a
        side that is not a notebook, or a local file edited since the plan (the caller keeps two copies then)."""
        path = change.path
        remote_file, stat, local_sha, base_sha = plan._snapshot[path]
        base = self.manifest.base_content(base_sha)
        if base is None or remote_file.size > STORE_LIMIT:
            return False
        buffer = io.BytesIO()
        theirs_sha = await self.remote.download(path, buffer, remote_file.size)
        theirs = buffer.getvalue()
        try:
            with self.tree.open_read(path) as f:
                seen = os.fstat(f.fileno())
                mine = f.read()
        except FileNotFoundError:
            return False
        if not same_file_state(seen, stat) or theirs_sha in (base_sha, hashlib.sha256(mine).hexdigest()):
            return False  # edited since the plan, or nothing to merge: the usual path decides
        try:
            outcome = await asyncio.to_thread(merge_notebook_bytes, base, mine, theirs)
        except NotANotebook:
            return False
        result.bytes += remote_file.size

        def record() -> None:  # the storage version becomes the base: the local file reads as an edit on top
            self.manifest.keep_base(theirs_sha, theirs)
            self.manifest.record(Entry(path, remote_file.size, theirs_sha, remote_file.mtime, -1, plan.listed_at))

        if outcome.clean:
            with self.tree.create_temp(path) as pending:
                pending.file.write(outcome.merged)
                if pending.publish(expect=stat) is None:  # edited in the meantime: never overwritten
                    return False
            record()
            result.merged.append(path)
            return True
        with self.tree.create_temp(path) as pending:
            pending.file.write(theirs)
            kept = _publish_conflict_copy(pending)
        with self.tree.create_temp(path) as pending:
            pending.file.write(outcome.merged)
            merge_as = _publish_conflict_copy(pending, MERGE_MARK)
        record()
        cells = ", ".join(outcome.conflicts[:5]) + (" ..." if len(outcome.conflicts) > 5 else "")
        result.conflicts.append(Conflict(path, f"{change.reason}; conflicting: {cells}", kept, merge_as))
        return True

    def _keep_base(self, rel: str, sha: str) -> None:
        """Keep notebook ``rel``'s bytes (hex sha256 ``sha``, as recorded) as the next merge base; nothing when it
        is not a notebook, already kept, too big, or no longer has that content (edited meanwhile)."""
        if not (self.merge and rel.endswith(".ipynb")) or self.manifest.base_content(sha) is not None:
            return
        try:
            with self.tree.open_read(rel) as f:
                data = f.read(STORE_LIMIT + 1)
        except (OSError, SymlinkRefused):
            return
        if len(data) <= STORE_LIMIT and hashlib.sha256(data).hexdigest() == sha:
            self.manifest.keep_base(sha, data)

    async def _download(self, path: str, remote_file: RemoteFile, listed_at: int, *,
                        expect: os.stat_result | None, local_sha: str | None = None, beside: bool = False,
                        base_sha: str | None = None) -> str | None:
        """Download ``path`` atomically. Returns None when written in place, ``_VERIFIED`` when the local file
        (``local_sha``, as planned) already had this content, else the relative path of the conflict copy.
        ``expect``: the local stat the plan saw (None: absent); if the file changed since, or ``beside``, the
        download is kept as a copy unless its content equals the local file. The temp file is made in the
        target's folder opened without following links (inline: per-file thread hops cost more CPU, bench)."""

        def record(sha: str, local_mtime_ns: int) -> None:
            self.manifest.record(Entry(path, remote_file.size, sha, remote_file.mtime, local_mtime_ns, listed_at))

        with self.tree.create_temp(path) as pending:
            sha = await self.remote.download(path, pending.file, remote_file.size)
            if not beside and expect is not None and sha == local_sha:
                current = pending.lstat()
                if current is not None and same_file_state(current, expect):
                    record(sha, expect.st_mtime_ns)
                    self._keep_base(path, sha)
                    return _VERIFIED
            elif not beside:  # the usual case: renamed into place unless edited since the plan
                placed = pending.publish(expect=expect)
                if placed is not None:
                    record(sha, placed.st_mtime_ns)
                    self._keep_base(path, sha)
                    return None
            current_file = pending.open_sibling()
            current_sha = None
            if current_file is not None:
                with current_file:
                    current_sha = await asyncio.to_thread(sha256_of, current_file)
            if sha == current_sha:  # identical content: nothing to keep twice
                record(sha, pending.lstat().st_mtime_ns)  # type: ignore[union-attr]
                self._keep_base(path, sha)
                return None
            if sha == base_sha:  # storage did not change after all: the local file stays a local edit
                record(sha, -1)
                return None
            copy = _publish_conflict_copy(pending)
            # The storage version becomes the base: the local file reads as an edit on top of it.
            record(sha, -1)
            self._keep_base(copy, sha)
            return copy

    async def _upload(self, path: str) -> RemoteFile:
        with self.tree.open_read(path) as src:  # a regular file strictly below the root, never a link's target
            before = os.fstat(src.fileno())
            sha = await asyncio.to_thread(sha256_of, src)
            src.seek(0)
            uploaded = await self.remote.upload(src, path, before.st_size)
        read_at = int(await self.remote.server_time())  # when its status was read, on storage's clock
        now = self.tree.lstat(path)
        unchanged = now is not None and same_file_state(now, before)
        self.manifest.record(Entry(path, uploaded.size, sha, uploaded.mtime, before.st_mtime_ns if unchanged else -1,
                                   read_at))
        self._keep_base(path, sha)
        return uploaded

    def _remove_partials(self) -> None:
        """Delete temp files a killed apply left (only ours, only regular files, never inside control folders)."""
        scan = self.tree.scan(lambda rel: is_control_name(rel.rsplit("/", 1)[-1]),
                              lambda rel: not rel.endswith(PARTIAL_SUFFIX))
        for leftover in scan.files:
            self.tree.unlink(leftover)


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _publish_conflict_copy(pending: PendingFile, marker: str = CONFLICT_MARK) -> str:
    """Publish ``pending`` under the first free ``name<marker>[-N].ext`` (``marker``: ``.from-storage``, or
    ``.merge-conflicts`` for nbdime's conflict-marked merge) beside its target (never over anything); returns its
    path relative to the confined root."""
    stem, dot, suffix = pending.name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if stem else (pending.name, "")
    for n in range(1, 10_000):
        mark = f"{marker}{'' if n == 1 else f'-{n}'}{suffix}"
        room = 255 - len(mark.encode())
        name = stem.encode()[:room].decode("utf-8", "ignore") + mark
        if pending.publish(name, expect=None) is not None:
            return f"{pending.folder}/{name}" if pending.folder else name
    raise FileExistsError(f"too many conflict copies of {pending.target}: resolve them first")


def _remote_state(r: RemoteFile | None, base: Entry | None) -> str:
    if r is None:
        return "deleted" if base else "absent"
    if base is None:
        return "new"
    if (r.size, r.mtime) != (base.size, base.remote_mtime):
        return "changed"
    # Storage mtimes have 1 s resolution: a same-size edit in the second we listed would look unchanged
    # ("racy git"). Such entries are re-checked by content (downloaded, hashed, not rewritten if identical).
    return "same" if r.mtime < base.listed_at else "unsure"


def _decide(direction: str, path: str, rs: str, ls: str, r: RemoteFile | None) -> tuple[Change | None, Change | None]:
    """(step for this direction, change only the other direction would carry). ``rs`` may be ``unsure``: same
    size and mtime as the base but within the second of that listing, so the content decides (downloaded, hashed)."""
    size = r.size if r else 0
    if rs == "unsure":
        if ls == "deleted":  # the local deletion is the news; a same-second storage edit is not worth a restore
            rs = "same"
        elif ls == "changed" or direction == PULL:
            reason = "maybe changed on storage (same-second mtime): content is compared"
            return Change(path, "conflict" if ls == "changed" else "download", reason, size), None
        else:
            rs = "same"  # a push of an unchanged local file has nothing to send
    if rs in ("new", "changed") and ls in ("new", "changed"):
        return Change(path, "conflict", f"{rs} on storage and {ls} on disk", size), None
    if rs == "deleted" and ls == "deleted":
        return Change(path, "forget", "deleted on both sides"), None
    if rs == "changed" and ls == "deleted":
        return Change(path, "conflict", "changed on storage, deleted on disk", size), None
    if rs == "deleted" and ls == "changed":
        return Change(path, "conflict", "deleted on storage, changed on disk"), None
    pull = {"new": ("download", "new on storage"), "changed": ("download", "changed on storage"),
            "deleted": ("delete-local", "deleted on storage")}
    push = {"new": ("upload", "new on disk"), "changed": ("upload", "changed on disk"),
            "deleted": ("delete-remote", "deleted on disk")}
    mine, theirs, state, other_state = (pull, push, rs, ls) if direction == PULL else (push, pull, ls, rs)
    change = other = None
    if state in mine:
        action, reason = mine[state]
        change = Change(path, action, reason, size if action == "download" else 0)
    if other_state in theirs:
        action, reason = theirs[other_state]
        other = Change(path, action, reason, size if action == "download" else 0)
    return change, (other if change is None else None)


def sha256_of(f: BinaryIO, chunk: int = 1 << 20) -> str:
    """Hex sha256 of an open file's content from its current position (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    while block := f.read(chunk):
        h.update(block)
    return h.hexdigest()


async def _gather_all(coros: list) -> None:
    """Run all; if some fail, let the others finish (their results are journaled), then raise the first error."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    for res in results:
        if isinstance(res, BaseException):
            raise res
