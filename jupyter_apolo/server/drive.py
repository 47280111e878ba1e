"""The storage drive's server side: what the Lab "Apolo storage" browser needs beyond the byte
proxy. Drive paths are ``<project>/<path in it>`` below the current org (``""`` is the org: its
projects); answers also carry the canonical ``uri`` and the CLI's ``short`` form, so the browser
never builds or parses a storage URI.

REST (all ``@authenticated``, errors ``{"error", "fix"?}`` with a 4xx status):

- ``GET apolo/drive/list?path=P&offset=0&limit=500`` -> ``{"path", "uri", "short", "name", "type":
  "directory"|"file"|"symlink", "size", "modified", "permission", "entries": [entry...] | null,
  "offset", "next_offset": int | null}``. One page of a folder, read from the platform's streamed
  ``LISTSTATUS`` (``client.drive.list_page``); ``entries`` is null for a file. An entry has the
  same keys without ``entries``/``offset``/``next_offset``.
- ``POST apolo/drive/new {"path": folder, "type": "directory"|"file", "ext"?}`` -> entry: a new
  untitled folder/file with a free name chosen here ("Untitled Folder", "untitled (1).txt").
- ``POST apolo/drive/uploads {"path", "size", "conflict": "ask"|"overwrite"|"keep-both"}`` -> 201
  ``{"id", "path", "offset": 0, "size"}``: a chunked upload of ``size`` bytes into a hidden part file
  beside the target, renamed onto it when complete (a cancelled or broken upload never leaves a half
  file under the target's name). ``ask`` and an existing target: 409 ``{"error", "fix", "conflict":
  {"path"}}``; ``keep-both``: ``path`` is a free name.
- ``PUT apolo/drive/uploads/<id>?offset=N[&final=1]`` (raw body, up to ``MAX_CHUNK``) ->
  ``{"offset", "done", "path"}``, ``offset`` being the bytes received from 0 on without a gap. With a
  known ``size``, chunks may come in any order and several at once (the browser sends a few in
  parallel); a chunk overlapping one still being written -> 409, and a chunk sent again (its answer
  was lost) is simply written again. The upload completes when every byte arrived. With ``size``
  null, chunks come one after the other (another ``offset`` -> 409 with ``offset``: resume from
  there) and ``final=1`` marks the last one. ``GET apolo/drive/uploads/<id>`` -> ``{"id", "path",
  "offset", "size"}`` (where to resume). ``DELETE`` removes the part file (204).
- ``DELETE apolo/drive/item?path=P`` (recursive); ``POST apolo/drive/item {"path", "new_path"}``: rename
  or move; an existing target answers 409 (never replaced).
- ``GET apolo/drive/download?path=P`` -> the file's bytes, or a folder as a zip, streamed as
  attachments with constant memory.
- ``POST apolo/drive/copy {"direction": "download"|"upload", "src", "dst", "conflict"}`` -> 202 a
  transfer task of ``apolo/transfers`` (progress, cancel there), or 200 ``{"skipped": true, "target"}``,
  or 409 (``ask`` and the target exists) ``{"error", "fix", "conflict": {"target", "is_dir"}}``.
  ``src``/``dst`` on storage: a drive path or any CLI storage URI; in the workspace: a path.
- ``GET apolo/drive/bookmarks?path=<workspace folder>`` -> ``{"home": {"path", "uri", "short"},
  "bookmarks": [{"id", "path", "uri", "short", "read_only"}], "flow_project"}``: the current project,
  and the storage volumes of the flow project (``.apolo/live.yml``) at or above that folder, or
  directly under the workspace root.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web
from tornado.iostream import StreamClosedError

from ..client import ApoloError, AsyncApolo, FileStatus, NotFoundError, TargetExists
from ..client.drive import MAX_PAGE, free_name, list_page, numbered, zip_tree
from ..client.storage import child_uri, parent_uri
from ..client.uris import quote_path, short_uri, split_uri, storage_path
from ..notebooks import ProjectError
from ..notebooks.project import FlowProject, load_project
from .base import AUTH_RESOURCE, ApoloHandler, JSONError
from .proxy import QUEUED_CHUNKS
from .transfers import Transfers

CONFLICT_CHOICES = ("ask", "skip", "overwrite", "keep-both")
#: Largest body of one upload chunk (bytes); the browser sends 32 MiB.
MAX_CHUNK = 64 * 1024 * 1024
PART_SUFFIX = ".apolo-part"
TYPES = {"DIRECTORY": "directory", "FILE": "file", "SYMLINK": "symlink"}


def _conflict(value: Any, allowed: tuple[str, ...] = CONFLICT_CHOICES) -> str:
    value = value or "ask"
    if value not in allowed:
        raise JSONError(400, f"Unknown conflict choice {value!r}: use one of {', '.join(allowed)}.")
    return value


class DriveHandler(ApoloHandler):
    """Shared mapping between drive paths (``project/dir/file``) and storage URIs."""

    async def api(self) -> AsyncApolo:
        return await self.connection.client()

    def org_uri(self, api: AsyncApolo) -> str:
        c = api.config
        return f"storage://{c.cluster}/{c.org}" if c.org else f"storage://{c.cluster}"

    def uri_of(self, api: AsyncApolo, path: str | None) -> str:
        """The canonical URI of drive path ``path``. Raises ``JSONError(400)`` for ``..``, empty
        segments, NUL or backslash (the same refusals as the proxy)."""
        path = (path or "").strip("/")
        parts = path.split("/") if path else []
        if any(p in ("", ".", "..") or "\x00" in p or "\\" in p for p in parts):
            raise JSONError(400, f"Invalid storage path {path[:80]!r}: use '/'-separated names without '..', "
                                 "empty segments, NUL or backslash.")
        return self.org_uri(api) + (quote_path("/" + path) if path else "")

    def path_of(self, api: AsyncApolo, uri: str) -> str:
        """The drive path of canonical ``uri``; ``JSONError(400)`` outside the current org."""
        org = self.org_uri(api)
        if uri != org and not uri.startswith(org + "/"):
            raise JSONError(400, f"{uri} is outside {org}: the Apolo drive shows the current cluster and org only.",
                            fix="Switch cluster or org with `apolo config switch-cluster`/`switch-org`.")
        return split_uri(uri)[2][len(split_uri(org)[2]):].strip("/")

    def storage_arg(self, api: AsyncApolo, value: str) -> str:
        """A storage location given as a CLI URI (``storage:...``) or a drive path -> canonical URI."""
        if value.startswith("storage:"):
            try:
                return api.storage.normalize(value)
            except ValueError as exc:
                raise JSONError(400, str(exc)) from None
        return self.uri_of(api, value)

    def entry(self, api: AsyncApolo, st: FileStatus) -> dict[str, Any]:
        return {"name": st.name, "path": self.path_of(api, st.uri), "uri": st.uri,
                "short": short_uri(st.uri, api.config), "type": TYPES.get(st.type, "other"),
                "size": st.size, "modified": st.modified, "permission": st.permission}

    async def status(self, api: AsyncApolo, uri: str) -> FileStatus:
        """GETFILESTATUS, except for the org itself (no project: shown as a readable folder)."""
        if uri == self.org_uri(api):
            return FileStatus(name="", type="DIRECTORY", size=0, modified=0, permission="read", uri=uri)
        return await api.storage.stat(uri)


def _int_arg(handler: ApoloHandler, name: str, default: int, low: int = 0, high: int | None = None) -> int:
    raw = handler.get_argument(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise JSONError(400, f"Invalid {name}={raw!r}: give an integer {bound}.")
    return value


class ListHandler(DriveHandler):
    """``GET apolo/drive/list``: one page of a folder, or a file's status (module docstring)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        api = await self.api()
        offset = _int_arg(self, "offset", 0)
        limit = _int_arg(self, "limit", 500, 1, MAX_PAGE)
        uri = self.storage_arg(api, self.get_argument("path", ""))
        # Both at once (one platform round trip less): a file makes the listing fail, ignored then.
        st, page = await asyncio.gather(self.status(api, uri), list_page(api, uri, offset, limit),
                                        return_exceptions=True)
        if isinstance(st, BaseException):
            raise st
        answer: dict[str, Any] = {**self.entry(api, st), "entries": None, "offset": offset, "next_offset": None}
        if st.is_dir:
            if isinstance(page, BaseException):
                raise page
            answer["entries"] = [self.entry(api, e) for e in page.entries]
            answer["next_offset"] = offset + len(page.entries) if page.more else None
        self.write_json(answer)


class NewHandler(DriveHandler):
    """``POST apolo/drive/new``: an untitled folder or empty file under a free name."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        api = await self.api()
        kind = body.get("type", "file")
        if kind not in ("directory", "file"):
            raise JSONError(400, f"Unknown type {kind!r}: use 'directory' or 'file'.")
        ext = str(body.get("ext") or (".txt" if kind == "file" else ""))
        if ext and not ext.startswith("."):
            ext = "." + ext
        name = "Untitled Folder" if kind == "directory" else f"untitled{ext}"
        folder = self.storage_arg(api, str(body.get("path") or ""))
        uri = await free_name(api, child_uri(folder, name), is_dir=kind == "directory")
        if kind == "directory":
            await api.storage.mkdir(uri, parents=True)
        else:
            await api.storage.create(await api.storage.http_url(uri), b"")
        self.write_json(self.entry(api, await api.storage.stat(uri)), status=201)


@dataclass
class Upload:
    """One chunked upload: ``target`` and ``part`` canonical URIs, ``size`` bytes expected (None:
    unknown, chunks strictly in order), ``replace``: the target may be replaced at the end.

    ``written``: the byte ranges ``[start, end)`` the platform acknowledged, merged and sorted;
    ``writing``: the ranges of chunks being written now (``start -> end``), which no other chunk may
    overlap, so two writes of the same bytes never race.
    """

    id: str
    target: str
    part: str
    size: int | None
    replace: bool
    written: list[tuple[int, int]] = field(default_factory=list)
    writing: dict[int, int] = field(default_factory=dict)

    @property
    def received(self) -> int:
        """Bytes acknowledged from offset 0 on without a gap (where a sequential sender resumes)."""
        return self.written[0][1] if self.written and self.written[0][0] == 0 else 0

    @property
    def complete(self) -> bool:
        return self.size is not None and self.received == self.size

    def claim(self, offset: int, length: int) -> None:
        """Reserve ``[offset, offset + length)`` for a chunk about to be written; ``JSONError``
        (409 with the resume ``offset``) when it may not be written now (module docstring)."""
        end = offset + length
        if self.size is None:
            if offset != self.received or self.writing:
                raise JSONError(409, f"Expected the chunk at offset {self.received}, got {offset}.",
                                fix="Resume from the offset given.", offset=self.received)
        elif any(offset < busy_end and busy_start < end for busy_start, busy_end in self.writing.items()):
            raise JSONError(409, f"Bytes {offset}-{end} overlap a chunk being written now.",
                            fix="Send that chunk again once the other one is answered.", offset=self.received)
        if length:
            self.writing[offset] = end

    def release(self, offset: int, acknowledged: bool) -> None:
        """The chunk claimed at ``offset`` ended; ``acknowledged``: the platform wrote all of it."""
        end = self.writing.pop(offset, None)
        if end is None or not acknowledged:
            return
        merged: list[tuple[int, int]] = []
        for start, stop in sorted([*self.written, (offset, end)]):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
            else:
                merged.append((start, stop))
        self.written = merged

    def restart_from(self, offset: int) -> None:
        """Forget what was acknowledged past ``offset`` (the part file on storage says otherwise)."""
        self.written = [(0, offset)] if offset else []


class Uploads:
    """The chunked uploads of this server process, by id."""

    def __init__(self) -> None:
        self.sessions: dict[str, Upload] = {}


class UploadsHandler(DriveHandler):
    """``POST apolo/drive/uploads``: start a chunked upload (module docstring)."""

    uploads: Uploads

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        api = await self.api()
        size = body.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise JSONError(400, 'Expected {"path", "size": bytes or null, "conflict"}, size an integer >= 0.')
        conflict = _conflict(body.get("conflict"), ("ask", "overwrite", "keep-both"))
        target = self.storage_arg(api, str(body.get("path") or ""))
        if "/" not in self.path_of(api, target):
            raise JSONError(400, "Upload into a project folder, not at the top of the drive.",
                            fix="Open a project (e.g. your own) first.")
        existing = await api.storage.stat_or_none(target)
        if existing is not None:
            if existing.is_dir:
                raise JSONError(409, f"{self.path_of(api, target)} is a folder; the upload is a file.",
                                fix="Choose another name.")
            if conflict == "ask":
                raise JSONError(409, f"{self.path_of(api, target)} already exists on storage.",
                                fix="Choose overwrite or keep both.", conflict={"path": self.path_of(api, target)})
            if conflict == "keep-both":
                target = await free_name(api, target)
        upload_id = uuid.uuid4().hex
        name = posixpath.basename(split_uri(target)[2])
        part = child_uri(parent_uri(target), f".{name}.{upload_id[:12]}{PART_SUFFIX}")
        session = Upload(upload_id, target, part, size, replace=conflict == "overwrite")
        try:
            await api.storage.create(await api.storage.http_url(part), b"")  # refusals (read-only) come now
        except ApoloError as exc:
            # The platform's words, about the file the user chose rather than our hidden part file.
            exc.message = exc.message.replace(storage_path(part), storage_path(target))
            if isinstance(exc, NotFoundError) and (parent := await api.storage.stat_or_none(parent_uri(target))):
                if parent.permission == "read":
                    raise JSONError(404, exc.message, fix="You can only read this folder: ask its owner for write "
                                    "access, or upload into your own project.") from None
            raise
        self.uploads.sessions[upload_id] = session
        self.write_json(self._answer(api, session), status=201)

    def _answer(self, api: AsyncApolo, s: Upload) -> dict[str, Any]:
        return {"id": s.id, "path": self.path_of(api, s.target), "uri": s.target, "offset": s.received,
                "size": s.size, "done": False}


@web.stream_request_body
class UploadHandler(DriveHandler):
    """``PUT|GET|DELETE apolo/drive/uploads/<id>``: send a chunk, ask where to resume, cancel.

    A chunk is never held whole in memory: its body streams to the platform's ``WRITE`` (into the
    part file ``POST`` created) as it arrives, at most ``QUEUED_CHUNKS`` pieces buffered. So
    authentication, authorization and the offset checks happen in ``prepare``, before any byte
    goes upstream.
    """

    uploads: Uploads
    _answer = UploadsHandler._answer
    _exchange: asyncio.Future | None = None
    _body: asyncio.Queue | None = None
    _session_claimed: Upload | None = None
    _offset = 0
    _length = 0

    def _session(self, upload_id: str) -> Upload:
        session = self.uploads.sessions.get(upload_id)
        if session is None:
            raise JSONError(404, f"No upload {upload_id!r} on this server (it finished, was cancelled, or the "
                                 "server restarted).", fix="Start the upload again.")
        return session

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self._finished or self.request.method != "PUT":
            return
        if self.current_user is None:
            raise web.HTTPError(403)
        if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, "write", AUTH_RESOURCE)):
            raise web.HTTPError(403, f"User is not authorized to write on resource: {AUTH_RESOURCE}.")
        session = self._session(self.path_args[0])
        offset = _int_arg(self, "offset", 0)
        try:
            length = int(self.request.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length < 0:
            raise JSONError(411, "Send each chunk with a Content-Length.")
        if length > MAX_CHUNK:
            raise JSONError(413, f"Chunk of {length} bytes is over {MAX_CHUNK}: send smaller chunks.")
        if session.size is not None and offset + length > session.size:
            raise JSONError(400, f"The chunk ends at {offset + length}, past the announced size {session.size}.")
        session.claim(offset, length)
        self._session_claimed, self._offset, self._length = session, offset, length
        self.request.connection.set_max_body_size(MAX_CHUNK)
        if length:
            self._body = asyncio.Queue(maxsize=QUEUED_CHUNKS)
            self._exchange = asyncio.ensure_future(self._write(session, offset, length))

    async def data_received(self, chunk: bytes) -> None:
        if self._body is None or self._exchange is None or self._exchange.done():
            return  # no upstream call, or it already ended (its error is answered in put)
        if not self._body.full():
            self._body.put_nowait(chunk)
            return
        put = asyncio.ensure_future(self._body.put(chunk))
        await asyncio.wait({put, self._exchange}, return_when=asyncio.FIRST_COMPLETED)
        put.cancel()

    def on_connection_close(self) -> None:
        if self._exchange is not None:
            self._exchange.cancel()  # the browser went away: so does the platform call
        self._release(acknowledged=False)

    def on_finish(self) -> None:
        self._release(acknowledged=False)  # answered with an error: the chunk must be sent again

    def _release(self, acknowledged: bool) -> None:
        if self._session_claimed is not None:
            self._session_claimed.release(self._offset, acknowledged)
            self._session_claimed = None

    async def _pieces(self) -> AsyncIterator[bytes]:
        assert self._body is not None
        while (piece := await self._body.get()) is not None:
            yield piece

    async def _write(self, session: Upload, offset: int, length: int) -> None:
        """``PATCH op=WRITE`` of the streamed body at ``offset`` of the part file (reference §4.1)."""
        api, relay = await self.connection.clients()
        url = await api.storage.http_url(session.part) + "?op=WRITE"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length),
                   "Content-Range": f"bytes {offset}-{offset + length - 1}/*"}
        async with relay.exchange("PATCH", url, headers=headers, body=self._pieces()) as upstream:
            async for _ in upstream.chunks():
                pass

    @web.authenticated
    @authorized
    async def put(self, upload_id: str) -> None:  # type: ignore[override]
        session = self._session(upload_id)
        api = await self.api()
        if self._exchange is not None:
            if self._body is not None and not self._exchange.done():
                await self._body.put(None)
            await asyncio.wait({self._exchange})
            self._exchange.result()  # the platform's refusal, answered as JSON
        self._release(acknowledged=True)
        final = self.get_argument("final", "") in ("1", "true") and session.size is None
        answer = self._answer(api, session)
        # Only the chunk completing the file finishes it: with chunks in parallel, it may not be the last one sent.
        if final or (session.complete and session.id in self.uploads.sessions):
            await self._finish(api, session)
            answer["done"] = True
        self.write_json(answer)

    async def _finish(self, api: AsyncApolo, session: Upload) -> None:
        """Rename the part onto the target, unless the target appeared meanwhile and may not be
        replaced (409; the part stays so a later choice can still finish)."""
        del self.uploads.sessions[session.id]  # finished once, even if chunks answer at the same time
        try:
            await self._rename_part(api, session)
        except BaseException:
            self.uploads.sessions[session.id] = session  # the part stays: resume or choose again
            raise

    async def _rename_part(self, api: AsyncApolo, session: Upload) -> None:
        part = await api.storage.stat(session.part)
        if part.size != session.received:  # never rename a part that is not exactly what was sent
            sent = session.received
            session.restart_from(part.size if session.size is None else 0)
            raise JSONError(409, f"The upload has {part.size} bytes on storage, {sent} were sent.",
                            fix="Resume from the offset given.", offset=session.received)
        existing = await api.storage.stat_or_none(session.target)
        if existing is not None and (existing.is_dir or not session.replace):
            raise JSONError(409, f"{self.path_of(api, session.target)} appeared on storage during the upload.",
                            fix="Upload again and choose overwrite or keep both.")
        await api.storage.rename(session.part, session.target)

    @web.authenticated
    @authorized
    async def get(self, upload_id: str) -> None:  # type: ignore[override]
        session = self._session(upload_id)
        api = await self.api()
        if session.size is None and not session.writing:
            part = await api.storage.stat_or_none(session.part)
            session.restart_from(part.size if part is not None else 0)  # what really arrived: resume from there
        self.write_json(self._answer(api, session))

    @web.authenticated
    @authorized
    async def delete(self, upload_id: str) -> None:  # type: ignore[override]
        session = self._session(upload_id)
        api = await self.api()
        del self.uploads.sessions[upload_id]
        try:
            await api.storage.rm(session.part)
        except NotFoundError:
            pass
        self.set_status(204)
        self.finish()


class ItemHandler(DriveHandler):
    """``DELETE apolo/drive/item?path=P`` (recursive, as the file browser's Delete after its
    confirmation); ``POST apolo/drive/item {"path", "new_path"}``: rename or move, refusing an
    existing target with 409 (the file browser then asks whether to overwrite)."""

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        api = await self.api()
        uri = self.storage_arg(api, self.get_argument("path", ""))
        if "/" not in self.path_of(api, uri):
            raise JSONError(400, "A whole project cannot be deleted from the file browser.",
                            fix="Use the platform's project administration.")
        await api.storage.rm(uri, recursive=True)
        self.set_status(204)
        self.finish()

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        api = await self.api()
        src, dst = body.get("path"), body.get("new_path")
        if not (isinstance(src, str) and src and isinstance(dst, str) and dst):
            raise JSONError(400, 'Expected {"path": ..., "new_path": ...}.')
        src_uri, dst_uri = self.storage_arg(api, src), self.storage_arg(api, dst)
        if "/" not in self.path_of(api, src_uri) or "/" not in self.path_of(api, dst_uri):
            raise JSONError(400, "Projects cannot be renamed or moved from the file browser.")
        if await api.storage.stat_or_none(dst_uri) is not None:
            raise JSONError(409, f"{self.path_of(api, dst_uri)} already exists on storage.",
                            fix="Choose another name, or overwrite it.")
        await api.storage.rename(src_uri, dst_uri)
        self.write_json(self.entry(api, await api.storage.stat(dst_uri)))


class DownloadHandler(DriveHandler):
    """``GET apolo/drive/download?path=P``: a file, or a folder as a zip, streamed."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        api = await self.api()
        uri = self.storage_arg(api, self.get_argument("path", ""))
        st = await self.status(api, uri)
        name = st.name or "storage"
        if st.is_dir:
            self._attachment(name + ".zip", "application/zip")
            await zip_tree(api, uri, self._emit)
        else:
            self._attachment(name, "application/octet-stream")
            self.set_header("Content-Length", str(st.size))
            async with api.storage.open(await api.storage.http_url(uri)) as resp:
                async for chunk in resp.aiter_bytes():
                    await self._emit(chunk)
        self.finish()

    def _attachment(self, name: str, content_type: str) -> None:
        self.set_header("Content-Type", content_type)
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
        self.set_header("Content-Disposition", f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}")

    async def _emit(self, data: bytes) -> None:
        self.write(data)
        try:
            await self.flush()  # back-pressure: wait until the browser took it
        except StreamClosedError:
            raise web.Finish() from None


class CopyHandler(DriveHandler):
    """``POST apolo/drive/copy``: a server-side copy with a conflict choice, run by ``apolo/transfers``."""

    transfers: Transfers

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        direction, src, dst = body.get("direction"), body.get("src"), body.get("dst", "")
        if direction not in ("download", "upload") or not isinstance(src, str) or not src or not isinstance(dst, str):
            raise JSONError(400, 'Expected {"direction": "download"|"upload", "src": ..., "dst": ..., '
                                 '"conflict": "ask"|"skip"|"overwrite"|"keep-both"}.')
        conflict = _conflict(body.get("conflict"))
        api = await self.api()
        if direction == "download":
            source = await api.storage.stat(self.storage_arg(api, src))
            folder = self.local_path(dst)
            target: Path | str = folder / source.name if folder.is_dir() else folder
            self.local_path(self.shown_path(Path(target)))  # the name received must stay inside too
            exists = os.path.lexists(target)
            is_dir = source.is_dir
            target_is_dir = Path(target).is_dir()
            shown = self.shown_path(Path(target))
        else:
            local = self.local_path(src)
            if not local.exists():
                raise JSONError(404, f"{src!r} does not exist in the workspace.",
                                fix="Check the path in the file browser.")
            is_dir = local.is_dir()
            dst_uri = self.storage_arg(api, dst)
            folder_st = await api.storage.stat_or_none(dst_uri)
            target = child_uri(dst_uri, local.name) if folder_st and folder_st.is_dir \
                else dst_uri
            existing = await api.storage.stat_or_none(target)
            exists, target_is_dir = existing is not None, bool(existing and existing.is_dir)
            shown = self.path_of(api, target)
        if exists:
            if conflict == "ask":
                where = "in the workspace" if direction == "download" else "on storage"
                raise JSONError(409, f"{shown} already exists {where}.", fix="Choose skip, overwrite or keep both.",
                                conflict={"target": shown, "is_dir": target_is_dir})
            if conflict == "skip":
                self.write_json({"skipped": True, "target": shown})
                return
            if conflict == "keep-both":
                target = _free_local(Path(target), is_dir) if direction == "download" \
                    else await free_name(api, str(target), is_dir=is_dir)
                shown = self.shown_path(Path(target)) if direction == "download" else self.path_of(api, str(target))
        storage_side = source.uri if direction == "download" else str(target)
        try:
            if direction == "download":
                plan = await api.transfer.resolve_copy(storage_side, target, overwrite=conflict == "overwrite",
                                                       into_dir=False)
            else:
                plan = await api.transfer.resolve_copy(local, storage_side, overwrite=conflict == "overwrite",
                                                       into_dir=False)
        except TargetExists as exc:
            raise JSONError(409, f"{shown} {exc.describe('').strip()}.", fix="Choose another destination.") from None
        task = self.transfers.start(api, plan, src, shown, self._shown_local)
        self.set_header("Location", url_path_join(self.base_url, "apolo/transfers", task.id))
        self.write_json(task.as_json(), status=202)

    def _shown_local(self, path: str) -> str:
        root = str(self.workspace_root)
        return path[len(root):].lstrip(os.sep) if path.startswith(root) else path


def _free_local(path: Path, is_dir: bool) -> Path:
    """``path`` or the first free ``name (N).ext`` beside it (never following a symlink)."""
    if not os.path.lexists(path):
        return path
    for n in range(1, 1001):
        candidate = path.with_name(numbered(path.name, n, is_dir))
        if not os.path.lexists(candidate):
            return candidate
    raise JSONError(409, f"No free name like {numbered(path.name, 1, is_dir)!r} after 1000 tries.",
                    fix="Rename or remove some copies.")


class BookmarksHandler(DriveHandler):
    """``GET apolo/drive/bookmarks?path=<workspace folder>``: the current project and the storage
    volumes of the flow project at or above ``path`` (else the first one directly under the
    workspace root, where ``jupyter apolo lab`` puts the sample project)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        api = await self.api()
        home = api.storage.normalize("storage:")
        answer: dict[str, Any] = {"home": {"path": self.path_of(api, home), "uri": home,
                                           "short": short_uri(home, api.config)},
                                  "bookmarks": [], "flow_project": None}
        project = self._project(self.local_path(self.get_argument("path", "")), api.config.project)
        if project is None:
            self.write_json(answer)
            return
        answer["flow_project"] = project.project_id
        for vid, vol in sorted(project.volumes.items()):
            if not vol.remote.startswith("storage:"):
                continue
            try:
                uri = api.storage.normalize(vol.remote)
                path = self.path_of(api, uri)
            except (ValueError, JSONError):
                continue  # another cluster or org: not in this drive
            answer["bookmarks"].append({"id": vid, "path": path, "uri": uri, "short": short_uri(uri, api.config),
                                        "read_only": vol.read_only})
        self.write_json(answer)

    def _project(self, folder: Path, default_project: str | None) -> FlowProject | None:
        candidates = [folder]
        if folder == self.workspace_root:
            try:
                candidates += sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()
                                     and not p.name.startswith("."))[:200]
            except OSError:
                pass
        for candidate in candidates:
            try:
                project = load_project(candidate, default_project_name=default_project)
            except (ProjectError, OSError, ValueError):
                continue
            if project.root == self.workspace_root or self.workspace_root in project.root.parents:
                return project  # never a project above the workspace: it is not the user's to browse
        return None


def routes(plain: dict[str, Any], transfers: Transfers) -> list[tuple[str, type, dict[str, Any]]]:
    """The drive's ``(pattern, handler, kwargs)`` for the extension's route table."""
    uploads = {**plain, "uploads": Uploads()}
    return [
        ("apolo/drive/list", ListHandler, plain),
        ("apolo/drive/new", NewHandler, plain),
        ("apolo/drive/uploads", UploadsHandler, uploads),
        ("apolo/drive/uploads/([0-9a-f]+)", UploadHandler, uploads),
        ("apolo/drive/item", ItemHandler, plain),
        ("apolo/drive/download", DownloadHandler, plain),
        ("apolo/drive/copy", CopyHandler, {**plain, "transfers": transfers}),
        ("apolo/drive/bookmarks", BookmarksHandler, plain),
    ]
