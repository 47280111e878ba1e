"""A storage folder as :class:`~jupyter_apolo.notebooks.sync.RemoteTree`, through the client's storage service.

Listing is a recursive LISTSTATUS (folders listed concurrently); downloads stream ``OPEN`` into the caller's temp
file; uploads go to a hidden temp name (CREATE + WRITE chunks, as ``apolo cp``) and are then RENAMEd over the
target, so a killed upload never leaves a half-written notebook on storage (reference §4.1).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import BinaryIO, Callable

from ..client.errors import ApoloError, NotFoundError
from ..client.localfs import MAX_NAME_BYTES
from ..client.storage import child_uri
from .sync import PARTIAL_SUFFIX, RemoteFile


def temp_name(name: str) -> str:
    """The hidden name an upload of ``name`` is written under before its RENAME, at most 255 bytes (a name near
    the limit is shortened and told apart by a digest)."""
    tmp = f".{name}{PARTIAL_SUFFIX}"
    raw = name.encode("utf-8", "surrogateescape")
    if len(tmp.encode("utf-8", "surrogateescape")) <= MAX_NAME_BYTES:
        return tmp
    digest = hashlib.sha256(raw).hexdigest()[:12]
    head = raw[: MAX_NAME_BYTES - len(PARTIAL_SUFFIX) - len(digest) - 2].decode("utf-8", "ignore")
    return f".{head}-{digest}{PARTIAL_SUFFIX}"


class StorageFolder:
    """``RemoteTree`` over ``api.storage`` for the folder ``uri`` (any CLI form, e.g. ``storage:/team/proj/notebooks``).

    ``api``: an open ``AsyncApolo``. ``concurrency``: directories listed at once.
    """

    def __init__(self, api, uri: str, concurrency: int = 8):  # type: ignore[no-untyped-def]
        self.api = api
        self.uri = api.storage.normalize(uri)
        self._sem = asyncio.Semaphore(concurrency)

    def _uri(self, path: str) -> str:
        uri = self.uri
        for part in path.split("/"):
            uri = child_uri(uri, part)
        return uri

    async def list_files(self, skip_dir: Callable[[str], bool]) -> dict[str, RemoteFile]:
        """All files below the folder, keyed by relative POSIX path; {} if the folder does not exist.
        Raises the client's errors (``IllegalArgumentError`` ENOTDIR when the URI is a file)."""
        found: dict[str, RemoteFile] = {}

        async def walk(uri: str, prefix: str) -> None:
            async with self._sem:
                entries = [st async for st in self.api.storage.ls(uri)]
            subdirs = []
            for st in entries:
                rel = prefix + st.name
                if st.is_dir:
                    if not skip_dir(rel):
                        subdirs.append(walk(st.uri, rel + "/"))
                elif st.is_file:
                    found[rel] = RemoteFile(rel, st.size, st.modified)
            await asyncio.gather(*subdirs)

        try:
            await walk(self.uri, "")
        except NotFoundError:
            if found:
                raise
        return found

    async def server_time(self) -> float:
        """Storage's clock now, epoch seconds (see ``AsyncApolo.server_time``)."""
        return await self.api.server_time()

    async def download(self, path: str, out: BinaryIO, size: int | None = None) -> str:
        """Stream the file at ``path`` into ``out`` (an open temp file the caller publishes) through the client's
        transfer machinery (resumes dropped connections, checks the byte count); returns the hex sha256 of its
        bytes, hashed while streaming. ``size`` (bytes, from the listing) saves a ``GETFILESTATUS``."""
        return await self.api.transfer.download_into(self._uri(path), out, size=size)

    async def upload(self, src: BinaryIO, path: str, size: int) -> RemoteFile:
        """Upload the ``size`` bytes of the open file ``src`` to ``path`` via a temp name and RENAME; returns the
        new size/mtime. The caller opened ``src`` (confined, never through a symlink)."""
        final = self._uri(path)
        folder, _, name = path.rpartition("/")
        tmp = child_uri(self._uri(folder) if folder else self.uri, temp_name(name))
        try:
            await self.api.transfer.upload_from(src, size, tmp)  # CREATE + WRITE chunks; creates parent folders
            await self.api.storage.rename(tmp, final)
        except ApoloError:  # e.g. a folder where the file goes: leave no temp file behind on storage
            try:
                await self.api.storage.rm(tmp)
            except ApoloError:
                pass
            raise
        st = await self.api.storage.stat(final)
        return RemoteFile(path, st.size, st.modified)

    async def status(self, path: str) -> RemoteFile | None:
        """``GETFILESTATUS`` of ``path``; None when missing."""
        try:
            st = await self.api.storage.stat(self._uri(path))
        except NotFoundError:
            return None
        return RemoteFile(path, st.size, st.modified) if st.is_file else None

    async def delete(self, path: str) -> None:
        """Delete the file at ``path`` (``apolo rm``)."""
        await self.api.storage.rm(self._uri(path))
