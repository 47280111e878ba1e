"""Storage: ls (streamed), stat, mkdir, rm, mv, df, and the byte-level calls transfer.py uses
(reference §4). URIs accept the CLI's forms: ``storage:rel``, ``storage:/project/path``,
``storage://cluster/org/project/path``."""

from __future__ import annotations

import errno as _errno
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator

from .errors import IllegalArgumentError, InvalidInput, NotFoundError
from .uris import normalize_uri, quote_path, split_uri

if TYPE_CHECKING:
    import httpx

    from .core import AsyncApolo

CHUNK = 1024 * 1024  # the CLI's upload chunk (CREATE carries the first one), bytes


@dataclass(frozen=True)
class FileStatus:
    """One storage entry (reference §4.2): ``name`` (last path segment), ``type``
    (``FILE``/``DIRECTORY``/``SYMLINK``), ``size`` bytes, ``modified`` epoch seconds,
    ``permission`` (read/write/manage), ``uri`` canonical storage URI."""

    name: str
    type: str
    size: int
    modified: int
    permission: str
    uri: str

    @property
    def is_dir(self) -> bool:
        return self.type == "DIRECTORY"

    @property
    def is_file(self) -> bool:
        return self.type == "FILE"


def _status(d: dict, uri: str) -> FileStatus:
    return FileStatus(name=posixpath.basename(split_uri(uri)[2].rstrip("/")) or "/", type=d.get("type", "UNKNOWN"),
                      size=int(d.get("length") or 0), modified=int(d.get("modificationTime") or 0),
                      permission=d.get("permission", "read"), uri=uri)


def child_uri(uri: str, name: str) -> str:
    """``uri`` + ``/`` + ``name`` (``name`` decoded, encoded here)."""
    return uri.rstrip("/") + "/" + quote_path(name)


def parent_uri(uri: str) -> str:
    """The canonical URI of ``uri``'s parent directory."""
    return uri.rstrip("/").rsplit("/", 1)[0]


class Storage:
    """``api.storage``: the storage service of the current cluster."""

    def __init__(self, api: "AsyncApolo"):
        self._api = api

    def normalize(self, uri: str) -> str:
        """The canonical storage URI for ``uri``; ``ValueError`` with the CLI's message."""
        return normalize_uri(uri, self._api.config, allowed_schemes=("storage",))

    async def http_url(self, uri: str) -> str:
        """The HTTP URL of a storage URI: ``{storage_url}/{o}/{p}/{path}``, segments percent-encoded
        (sdk ``Storage._get_storage_url``). Raises ``ValueError`` for another cluster."""
        canonical = self.normalize(uri)
        _, cluster, path = split_uri(canonical)
        info = await self._api.cluster_info()
        if cluster != info.name:
            raise InvalidInput(f"Storage of cluster {cluster!r} is not reachable from the current cluster "
                               f"{info.name!r}: switch cluster (cluster=...) to use it")
        return info.storage_url + quote_path(path.rstrip("/") or "/")

    async def ls(self, uri: str = "storage:") -> AsyncIterator[FileStatus]:
        """Entries of directory ``uri``, streamed (``LISTSTATUS`` NDJSON; nothing hidden, unlike
        ``apolo ls`` which drops dot files). Raises ``NotFoundError`` (missing or forbidden),
        ``IllegalArgumentError`` (``errno`` ENOTDIR) for a file."""
        canonical = self.normalize(uri)
        url = await self.http_url(canonical)
        async for item in self._api.ndjson("GET", url, params={"op": "LISTSTATUS"}, list_key="FileStatuses.FileStatus"):
            st = item.get("FileStatus", item)
            yield _status(st, child_uri(canonical, st["path"]))

    async def stat(self, uri: str) -> FileStatus:
        """The status of ``uri`` (``GETFILESTATUS``; ``apolo ls -d``). Raises ``NotFoundError``."""
        canonical = self.normalize(uri)
        resp = await self._api.request("GET", await self.http_url(canonical), params={"op": "GETFILESTATUS"})
        return _status(resp.json()["FileStatus"], canonical)

    async def stat_or_none(self, uri: str) -> FileStatus | None:
        """The status of ``uri``, or None when it does not exist (or is not visible to me)."""
        try:
            return await self.stat(uri)
        except NotFoundError:
            return None

    async def exists(self, uri: str) -> bool:
        """Whether ``uri`` exists and is visible to me."""
        return await self.stat_or_none(uri) is not None

    async def mkdir(self, uri: str, *, parents: bool = False, exist_ok: bool = False) -> str:
        """Create directory ``uri``; returns its canonical URI. Like ``apolo mkdir [-p]``: without
        ``parents`` the parent must exist and ``uri`` must not (unless ``exist_ok``).

        Raises ``IllegalArgumentError`` with ``errno`` EEXIST (exists) / ENOENT (no parent) /
        ENOTDIR (a file on the way).
        """
        canonical = self.normalize(uri)
        if not parents or exist_ok:
            try:
                st = await self.stat(canonical)
            except NotFoundError:
                pass
            else:
                if exist_ok and st.is_dir:
                    return canonical
                raise IllegalArgumentError(f"File exists: '{canonical}'", errno=_errno.EEXIST)
        if not parents:
            try:
                st = await self.stat(parent_uri(canonical))
            except NotFoundError:
                raise IllegalArgumentError(f"No such directory: '{parent_uri(canonical)}'. Use parents=True "
                                           "(`apolo mkdir -p`).", status=None, errno=_errno.ENOENT) from None
            if not st.is_dir:
                raise IllegalArgumentError(f"Not a directory: '{parent_uri(canonical)}'", status=None,
                                           errno=_errno.ENOTDIR)
        await self._api.request("PUT", await self.http_url(canonical), params={"op": "MKDIRS"})
        return canonical

    async def rm(self, uri: str, *, recursive: bool = False) -> int:
        """Delete ``uri`` (``apolo rm [-r]``); a directory needs ``recursive``. Returns the number
        of entries the platform reported deleted. Raises ``NotFoundError``, ``IllegalArgumentError``
        (EISDIR for a directory without ``recursive``)."""
        canonical = self.normalize(uri)
        params = {"op": "DELETE", "recursive": "true" if recursive else "false"}
        count = 0
        async for _ in self._api.ndjson("DELETE", await self.http_url(canonical), params=params):
            count += 1
        return count

    async def mv(self, src: str, dst: str) -> str:
        """Rename ``src`` to ``dst`` (``apolo mv``): into ``dst`` when it is an existing directory.
        Returns the destination URI. Raises ``NotFoundError``, ``ValueError`` across clusters."""
        src_c, dst_c = self.normalize(src), self.normalize(dst)
        if split_uri(src_c)[1] != split_uri(dst_c)[1]:
            raise InvalidInput("Cannot move between clusters: copy, then remove")
        try:
            if (await self.stat(dst_c)).is_dir:
                dst_c = child_uri(dst_c, posixpath.basename(split_uri(src_c)[2].rstrip("/")))
        except NotFoundError:
            pass
        await self.rename(src_c, dst_c)
        return dst_c

    async def rename(self, src: str, dst: str) -> None:
        """The platform's RENAME of ``src`` to exactly ``dst``, replacing a file there (no
        directory check, unlike ``mv``; reference §4.1). Raises ``NotFoundError`` and the
        platform's errno errors (``IllegalArgumentError``)."""
        await self._api.request("POST", await self.http_url(src),
                                params={"op": "RENAME", "destination": split_uri(self.normalize(dst))[2]})

    async def usage(self, uri: str) -> tuple[int, int]:
        """``(files, bytes)`` under ``uri``: 1 and its size for a file; for a folder every file
        below it (symlinks and other entries not counted), walked folder by folder with streamed
        listings, so memory stays flat on huge trees. What ``apolo rm -r`` would delete, what a
        download would fetch. Raises ``NotFoundError``."""
        st = await self.stat(uri)
        if not st.is_dir:
            return (1, st.size) if st.is_file else (0, 0)
        files = size = 0
        todo = [st.uri]
        while todo:
            async for entry in self.ls(todo.pop()):
                if entry.is_dir:
                    todo.append(entry.uri)
                elif entry.is_file:
                    files += 1
                    size += entry.size
        return files, size

    async def disk_usage(self, uri: str = "storage:") -> dict[str, int]:
        """``{"total", "used", "free"}`` bytes for the project of ``uri`` (``apolo storage df``)."""
        resp = await self._api.request("GET", await self.http_url(uri), params={"op": "GETDISKUSAGE"})
        return {k: int(v) for k, v in resp.json().items()}

    # -- byte-level calls (used by transfer.py; usable directly) ---------------------------------

    def open(self, url: str, offset: int = 0):  # type: ignore[no-untyped-def]
        """``async with storage.open(http_url, offset) as resp``: a streamed ``OPEN`` from byte
        ``offset`` (``Range: bytes=offset-``). Raises the mapped error on status >= 400."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        return self._api.stream("GET", url, params={"op": "OPEN"}, headers=headers,
                                timeout=_no_read_timeout(self._api))

    async def create(self, url: str, data: bytes) -> None:
        """``PUT op=CREATE`` with the first chunk (creates parents, truncates an existing file)."""
        await self._api.request("PUT", url, params={"op": "CREATE"}, content=data,
                                headers={"Content-Type": "application/octet-stream"})

    async def write(self, url: str, offset: int, data: bytes) -> None:
        """``PATCH op=WRITE`` of ``data`` at byte ``offset`` (``Content-Range: bytes S-E/*``).
        Retried on connection errors: the same bytes at the same offset are idempotent."""
        await self._api.request("PATCH", url, params={"op": "WRITE"}, content=data, retry=True, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {offset}-{offset + len(data) - 1}/*",
        })


def _no_read_timeout(api: "AsyncApolo") -> "httpx.Timeout":
    import httpx

    return httpx.Timeout(api._timeout, read=None)  # transfers disable sock_read, like the SDK
