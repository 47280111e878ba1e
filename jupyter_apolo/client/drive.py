"""What a file-browser view of storage needs beyond ``apolo ls``/``cp``: one page of a big folder
read from the streamed ``LISTSTATUS`` (never the whole listing in memory), a free "keep both"
name, and a folder streamed as a zip archive with constant memory.

Used by the server extension's ``apolo/drive/*`` endpoints; nothing here imports Jupyter.
"""

from __future__ import annotations

import posixpath
import time
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from .errors import InvalidInput, NotFoundError
from .storage import FileStatus, child_uri, parent_uri
from .uris import split_uri

if TYPE_CHECKING:
    from .core import AsyncApolo

#: Largest page a caller may ask for (entries); a page is held in memory while it is answered.
MAX_PAGE = 5000
#: How many "name (N).ext" candidates ``free_name`` tries before giving up.
MAX_CANDIDATES = 1000
#: Bytes buffered between two flushes of a zip stream.
ZIP_FLUSH = 1024 * 1024


@dataclass(frozen=True)
class Page:
    """``entries`` from index ``offset`` of a folder listing (platform order, unsorted: sorting
    would need the whole listing); ``more``: whether entries follow (then ``offset + len(entries)``
    is the next page's offset)."""

    entries: list[FileStatus]
    offset: int
    more: bool


async def list_page(api: "AsyncApolo", uri: str, offset: int = 0, limit: int = 500) -> Page:
    """Entries ``offset .. offset+limit-1`` of storage folder ``uri`` (any of the CLI's forms).

    Reads the platform's NDJSON ``LISTSTATUS`` as it streams, skips the first ``offset`` entries
    without keeping them and stops reading (closing the upstream response) after ``limit + 1``:
    memory is bounded by ``limit``, time by ``offset + limit``. Raises ``InvalidInput`` for a bad
    offset/limit (``limit`` 1..``MAX_PAGE``), ``NotFoundError`` (missing or not visible),
    ``IllegalArgumentError`` (ENOTDIR: a file).
    """
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"offset must be >= 0 and limit 1..{MAX_PAGE} (got offset={offset}, limit={limit})")
    entries: list[FileStatus] = []
    index = 0
    listing = api.storage.ls(uri)
    try:
        async for status in listing:
            if index >= offset:
                if len(entries) == limit:
                    return Page(entries, offset, True)
                entries.append(status)
            index += 1
    finally:
        await listing.aclose()  # type: ignore[attr-defined]  # an early return closes the platform's stream now, not at GC
    return Page(entries, offset, False)


def numbered(name: str, n: int, is_dir: bool) -> str:
    """``report.ipynb``, 2 -> ``report (2).ipynb`` (folders and dot files keep the whole name)."""
    stem, ext = (name, "") if is_dir else posixpath.splitext(name)
    return f"{stem} ({n}){ext}"


async def free_name(api: "AsyncApolo", uri: str, *, is_dir: bool = False) -> str:
    """``uri`` when nothing exists there, else the first free ``name (N).ext`` beside it (N from 1),
    for "keep both". One ``GETFILESTATUS`` per candidate. Raises ``InvalidInput`` after
    ``MAX_CANDIDATES`` taken names."""
    if await api.storage.stat_or_none(uri) is None:
        return api.storage.normalize(uri)
    parent, name = parent_uri(api.storage.normalize(uri)), posixpath.basename(split_uri(uri)[2].rstrip("/"))
    for n in range(1, MAX_CANDIDATES + 1):
        candidate = child_uri(parent, numbered(name, n, is_dir))
        if await api.storage.stat_or_none(candidate) is None:
            return candidate
    raise InvalidInput(f"No free name like {numbered(name, 1, is_dir)!r} in {parent} after {MAX_CANDIDATES} tries: "
                       "rename or remove some copies")


class _Sink:
    """A write-only, non-seekable file object collecting what zipfile writes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts, self.size = b"".join(self.parts), [], 0
        return data


async def zip_tree(api: "AsyncApolo", uri: str, emit: Callable[[bytes], Awaitable[None]]) -> int:
    """Stream storage folder ``uri`` as a ZIP archive (stored, zip64, data descriptors: written
    front to back, never seeked) through ``emit(bytes)``, awaited about every ``ZIP_FLUSH`` bytes
    so a slow reader slows the platform reads (constant memory).

    Entry names are relative to ``uri``, prefixed with the folder's name; empty folders are kept;
    symlinks and entries of unknown type are skipped (never followed). Folders are listed one at
    a time, depth first. Returns the number of files written. Raises the platform's errors
    (``NotFoundError``, ...) — after some bytes were emitted the archive is then truncated, which
    unzip reports as damaged, never as a complete archive.
    """
    root = await api.storage.stat(uri)
    if not root.is_dir:
        raise InvalidInput(f"{uri} is a file: download it directly, only folders are zipped")
    sink = _Sink()
    files = 0
    # zipfile's "w" mode needs only write(); the stub asks for more. Non-seekable: data descriptors.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:  # type: ignore[call-overload]
        stack = [(root.uri, root.name)]
        while stack:
            folder_uri, prefix = stack.pop()
            archive.writestr(_dir_info(prefix + "/"), b"")
            async for entry in api.storage.ls(folder_uri):
                arcname = f"{prefix}/{entry.name}"
                if entry.is_dir:
                    stack.append((entry.uri, arcname))
                elif entry.is_file:
                    await _zip_file(api, archive, entry, arcname, sink, emit)
                    files += 1
            if sink.size >= ZIP_FLUSH:
                await emit(sink.take())
    await emit(sink.take())
    return files


def _dir_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, time.localtime()[:6])
    info.external_attr = 0o40755 << 16 | 0x10
    return info


async def _zip_file(api: "AsyncApolo", archive: zipfile.ZipFile, entry: FileStatus, arcname: str,
                    sink: _Sink, emit: Callable[[bytes], Awaitable[None]]) -> None:
    info = zipfile.ZipInfo(arcname, time.localtime(max(entry.modified, 315532800))[:6])
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_STORED
    with archive.open(info, "w", force_zip64=True) as out:
        try:
            async with api.storage.open(await api.storage.http_url(entry.uri)) as resp:
                async for chunk in resp.aiter_bytes():
                    out.write(chunk)
                    if sink.size >= ZIP_FLUSH:
                        await emit(sink.take())
        except NotFoundError:
            pass  # removed while zipping: an empty entry rather than a failed archive
