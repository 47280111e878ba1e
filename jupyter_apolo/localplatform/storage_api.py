"""Storage service: ``{api}/storage/<org>/<project>/<path>?op=...`` (reference §4).

Mirrors platform-storage-api as the apolo SDK 26.9.0 uses it: LISTSTATUS (NDJSON or JSON),
GETFILESTATUS, OPEN (Range / 206 / 416), CREATE, WRITE, MKDIRS, RENAME, DELETE (NDJSON
progress or 204), GETDISKUSAGE and HEAD. Files live under ``platform.storage_root``; every
access is checked against ``storage://<cluster>/<org>/<project>/<path>`` (GET/HEAD need read,
changes need write) and a denied path answers exactly like a missing one (404). Bodies are
streamed both ways: no request or response is ever held whole in memory.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
from typing import Any, Iterable

from tornado import httputil, web

from . import acl
from .base import BaseHandler
from .state import Platform, PlatformError
from .storage_fs import ConfinedFS, Patch, Upload
from .storage_paths import display, parse_destination, parse_request_path

log = logging.getLogger("jupyter_apolo.localplatform")

PREFIX = "/api/v1/storage"
OPS = {  # operation -> the HTTP method it needs (★ defaults below)
    "LISTSTATUS": "GET", "GETFILESTATUS": "GET", "OPEN": "GET", "GETDISKUSAGE": "GET",
    "CREATE": "PUT", "MKDIRS": "PUT", "WRITE": "PATCH", "RENAME": "POST", "DELETE": "DELETE",
}
DEFAULT_OP = {"GET": "OPEN", "HEAD": "OPEN", "PUT": "CREATE", "PATCH": "WRITE", "POST": "RENAME", "DELETE": "DELETE"}
NEEDS = {"LISTSTATUS": "list", "GETFILESTATUS": "list", "OPEN": "read", "GETDISKUSAGE": "read"}  # others: write
CHUNK = 1024 * 1024  # bytes per OPEN read / flush
BATCH = 1000  # NDJSON lines per flush
DEFER_ERRORS_BELOW = 16 * 1024 * 1024  # bytes of request body read before an early error is sent
MAX_UPLOAD = 1 << 40  # bytes; a streamed body is never buffered, so only the disk limits it
NDJSON = "application/x-ndjson"
CONDITIONAL = ("If-Match", "If-None-Match", "If-Range", "If-Unmodified-Since")
# At most 30 digits: int() of a 5,000-digit number raises (sys.get_int_max_str_digits).
_CONTENT_RANGE = re.compile(r"bytes (\d{1,30})-(\d{1,30})/(\d{1,30}|\*)")
_RANGE = re.compile(r"bytes=(\d{0,30})-(\d{0,30})")
MAX_OFFSET = 2**63 - 1  # bytes: off_t; a WRITE ending beyond it is refused (EFBIG)


class RangeNotSatisfiable(PlatformError):
    """416 with ``Content-Range: bytes */<size>`` (RFC 9110 §15.5.17)."""

    def __init__(self, message: str, size: int):
        super().__init__(416, message)
        self.headers = {"Content-Range": f"bytes */{size}"}


def file_type(mode: int) -> str:
    """``FILE``, ``DIRECTORY``, ``SYMLINK`` or ``UNKNOWN`` (FIFOs, sockets...; the SDK tolerates it)."""
    if stat.S_ISREG(mode):
        return "FILE"
    if stat.S_ISDIR(mode):
        return "DIRECTORY"
    return "SYMLINK" if stat.S_ISLNK(mode) else "UNKNOWN"


def file_status(path: str, st: os.stat_result, action: str, target: str | None = None) -> dict[str, Any]:
    """A FileStatus (reference §4.2): ``length`` in bytes (0 for folders), ``modificationTime``
    in integer epoch seconds, ``permission`` the caller's action (``list`` shown as ``read``)."""
    kind = file_type(st.st_mode)
    status: dict[str, Any] = {
        "path": path,
        "type": kind,
        "length": st.st_size if kind == "FILE" else 0,
        "modificationTime": int(st.st_mtime),
        "permission": "read" if action == "list" else action,
    }
    if target is not None:
        status["target"] = target
    return status


def parse_range(header: str, size: int) -> tuple[int, int]:
    """``(first, last)`` byte offsets (inclusive) of a single-range ``Range`` header for a file of
    ``size`` bytes: ``bytes=S-E``, ``bytes=S-`` or ``bytes=-N``. Raises ``RangeNotSatisfiable``
    for anything else or a range outside the file (aiohttp, which the platform runs on, does too)."""
    m = _RANGE.fullmatch(header.strip())
    if not m or not (m[1] or m[2]):
        raise RangeNotSatisfiable(f"Invalid Range {header[:100]!r}: "
                                  "use one range, bytes=START-[END] or bytes=-SUFFIX", size)
    if not m[1]:
        suffix = int(m[2])
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"Range {header!r} is not satisfiable: the file has {size} bytes", size)
        return max(0, size - suffix), size - 1
    first = int(m[1])
    last = int(m[2]) if m[2] else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable(f"Range {header!r} is not satisfiable: the file has {size} bytes", size)
    return first, min(last, size - 1)


def os_error(exc: OSError, segments: list[str]) -> PlatformError:
    """The answer for an ``OSError`` (reference §4.3): missing -> 404; others -> 400
    ``{"error", "errno": "E..."}``, which the SDK turns back into an ``OSError``."""
    if exc.errno == errno.ENOENT:
        return not_found(segments)
    code = errno.errorcode.get(exc.errno or 0, "EIO")
    return PlatformError(400, exc.strerror or str(exc), errno=code)


def not_found(segments: list[str]) -> PlatformError:
    # One answer for "missing" and "not allowed", as on the real platform.
    return PlatformError(404, f"Not found: {display(segments)} (no such file or directory, or no permission)")


def ndjson(items: Iterable[dict[str, Any]]) -> Iterable[str]:
    return (json.dumps(item) + "\r\n" for item in items)


@web.stream_request_body
class StorageHandler(BaseHandler):
    """One handler for every storage operation; ``?op=`` (case-insensitive) picks it."""

    SUPPORTED_METHODS = ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")
    max_body_bytes = None  # streamed to disk (CREATE/WRITE); other ops read and drop theirs
    fs: ConfinedFS

    def initialize(self, platform: Platform, fs: ConfinedFS) -> None:  # type: ignore[override]
        super().initialize(platform)
        self.fs = fs
        self.segments: list[str] = []
        self.sink: Upload | Patch | None = None
        self.expected: int | None = None
        self.op = ""
        self.deferred: Exception | None = None
        self.close_after_error = False

    # -- request set-up: auth, path, op, permission, body sink ------------------------------

    def prepare(self) -> None:
        try:
            self.set_up()
        except (PlatformError, OSError, web.HTTPError) as exc:
            # An answer sent before the request body is read makes tornado drop the
            # connection under a client that may reuse it: read (and discard) the body first
            # and raise in the verb, unless the body is announced as large.
            self.drop_sink()
            length = self.request.headers.get("Content-Length", "0")
            if length.isdigit() and int(length) > DEFER_ERRORS_BELOW:
                self.close_after_error = True
                raise
            self.deferred = exc
            self.request.connection.set_max_body_size(DEFER_ERRORS_BELOW)

    def set_up(self) -> None:
        super().prepare()  # authentication (401 JSON)
        self.segments = parse_request_path(self.request.path[len(PREFIX):])
        self.op = self.operation()
        self.tree = self.platform.tree(self.user)
        self.action = self.require(self.segments, NEEDS.get(self.op, "write"))
        if self.op == "CREATE":
            self.request.connection.set_max_body_size(MAX_UPLOAD)
            self.sink = self.fs.upload(self.segments)
        elif self.op == "WRITE":
            self.sink = self.start_patch()

    def operation(self) -> str:
        """The op named by ``?op=X`` or a bare ``?X`` key, else the method's default."""
        query = self.request.query_arguments
        named = [v.decode("latin-1").upper() for v in query.get("op", [])]
        named += [key.upper() for key in query if key.upper() in OPS]
        if len(named) > 1:
            raise PlatformError(400, "Ambiguous operations: name exactly one, e.g. ?op=LISTSTATUS")
        op = named[0] if named else DEFAULT_OP[self.request.method]
        if op not in OPS:
            raise PlatformError(400, f"Unknown operation {op!r}: use one of {', '.join(OPS)}")
        method = "GET" if self.request.method == "HEAD" else self.request.method
        if OPS[op] != method:
            raise PlatformError(400, f"Operation {op} needs HTTP {OPS[op]}, not {self.request.method}")
        return op

    def uri(self, segments: list[str]) -> str:
        return "/".join([f"storage://{self.platform.cluster}", *segments])

    def require(self, segments: list[str], action: str) -> str:
        """The caller's action on ``segments``; 404 (as if missing) when below ``action``."""
        held = self.tree.action_for(self.uri(segments))
        if acl.action_rank(held) < acl.action_rank(action):
            raise not_found(segments)
        return held

    def start_patch(self) -> Patch:
        headers = self.request.headers
        conditional = [h for h in CONDITIONAL if h in headers]
        if conditional:
            raise PlatformError(400, f"WRITE does not support conditional headers: remove {', '.join(conditional)}")
        if headers.get("Content-Type", "").split(";")[0].strip() != "application/octet-stream":
            raise PlatformError(400, "Content-Type should be application/octet-stream")
        m = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
        if not m or int(m[2]) < int(m[1]):
            raise PlatformError(400, "WRITE needs a Content-Range header: bytes START-END/* (END inclusive)")
        if int(m[2]) >= MAX_OFFSET:
            raise PlatformError(400, f"Content-Range {m[0]!r} ends beyond the largest file offset ({MAX_OFFSET})",
                                errno="EFBIG")
        self.expected = int(m[2]) - int(m[1]) + 1
        if headers.get("Content-Length", str(self.expected)) != str(self.expected):
            raise PlatformError(400, f"Content-Length {headers['Content-Length']} does not match "
                                f"Content-Range {m[0]!r} ({self.expected} bytes)")
        self.request.connection.set_max_body_size(MAX_UPLOAD)
        return Patch(self.fs, self.segments, int(m[1]))

    def raise_deferred(self) -> None:
        if self.deferred is not None:
            raise self.deferred

    def data_received(self, chunk: bytes) -> None:
        if self.sink is not None:
            try:
                self.sink.write(chunk)
            except OSError as exc:  # disk full, file too large: answered (400 + errno) once the body is read
                self.deferred = exc
                self.drop_sink()

    def on_connection_close(self) -> None:
        self.drop_sink()

    def on_finish(self) -> None:
        self.drop_sink()

    def drop_sink(self) -> None:
        if self.sink is not None:
            self.sink.abort()
            self.sink = None

    # -- errors ------------------------------------------------------------------------------

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, OSError):
            kwargs["exc_info"] = (PlatformError, os_error(exc, self.segments), None)
        self.drop_sink()
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        for name, value in getattr(exc, "headers", {}).items():
            self.set_header(name, value)
        if self.close_after_error or status_code == 405:
            # 405 (a method not in SUPPORTED_METHODS) is raised before prepare, so before the body
            # is read: tornado then drops the connection, which the client must not reuse.
            self.set_header("Connection", "close")
        super().write_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        if isinstance(value, OSError):  # an answer (400 + errno), not a fault
            log.info("storage %s %s: %s", self.op, display(self.segments)[:300], value)
            return
        super().log_exception(typ, value, tb)

    # -- verbs -------------------------------------------------------------------------------

    async def get(self) -> None:
        self.raise_deferred()
        if self.op == "LISTSTATUS":
            await self.list_status()
        elif self.op == "GETFILESTATUS":
            st = self.fs.lstat(self.segments)
            target = self.fs.link_target(self.segments) if stat.S_ISLNK(st.st_mode) else None
            self.write_json({"FileStatus": file_status(display(self.segments), st, self.action, target)})
        elif self.op == "GETDISKUSAGE":
            self.write_json(self.fs.disk_usage())
        else:
            await self.open()

    async def head(self) -> None:
        self.raise_deferred()
        st = self.fs.lstat(self.segments)
        if stat.S_ISREG(st.st_mode):
            await self.open(head=True)
        else:
            self.set_header("X-File-Type", file_type(st.st_mode))
            self.set_header("X-File-Permission", self.action)
            self.set_header("Last-Modified", httputil.format_timestamp(st.st_mtime))
            self.finish()

    async def put(self) -> None:
        self.raise_deferred()
        if self.op == "MKDIRS":
            self.fs.mkdirs(self.segments)
        else:
            assert self.sink is not None
            self.sink.commit()
            self.sink = None
        self.set_status(201)
        self.finish()

    async def patch(self) -> None:
        self.raise_deferred()
        assert isinstance(self.sink, Patch)
        written = self.sink.written
        self.sink.close()
        self.sink = None
        if written != self.expected:
            raise PlatformError(400, f"The body had {written} bytes but Content-Range announced {self.expected}")
        self.finish()

    async def post(self) -> None:
        self.raise_deferred()
        self.refuse_project_root()
        target = parse_destination(self.get_query_argument("destination", ""), self.segments)
        self.require(target, "write")
        self.fs.rename(self.segments, target)
        self.set_status(204)
        self.finish()

    async def delete(self) -> None:
        self.raise_deferred()
        self.refuse_project_root()
        recursive = self.get_query_argument("recursive", "true").lower() != "false"
        removed = self.fs.remove(self.segments, recursive=recursive)
        first = next(removed)  # errors (missing, EISDIR) surface here, before any header is sent
        events = ({"path": display(segs), "is_dir": is_dir} for segs, is_dir in _chain(first, removed))
        if NDJSON in self.request.headers.get("Accept", ""):
            self.set_header("Content-Type", NDJSON)
            await self.stream_lines(ndjson(events))
        else:
            for _ in events:
                pass
            self.set_status(204)
            self.finish()

    # -- helpers -----------------------------------------------------------------------------

    def refuse_project_root(self) -> None:
        if len(self.segments) < 3:
            raise PlatformError(400, f"{display(self.segments)} is a project's root folder (or above): it cannot be "
                                "deleted or moved; act on the files inside it", errno="EPERM")

    async def stream_lines(self, lines: Iterable[str], *, error_line: bool = True) -> None:
        """Write ``lines``, flushing every ``BATCH``. An ``OSError`` midway becomes a final
        ``{"error", "errno"}`` line (reference §4.3), or with ``error_line=False`` (a JSON
        document, which cannot carry one) cuts the response short so the client sees it fail."""
        batch: list[str] = []
        try:
            for line in lines:
                batch.append(line)
                if len(batch) >= BATCH:
                    self.write("".join(batch))
                    batch.clear()
                    await self.flush()
        except OSError as exc:
            if not error_line:
                raise
            batch.append(json.dumps({"error": exc.strerror or str(exc),
                                     "errno": errno.errorcode.get(exc.errno or 0, "EIO")}) + "\r\n")
        self.write("".join(batch))
        self.finish()

    async def list_status(self) -> None:
        """LISTSTATUS straight from ``os.scandir``: entries the caller may not even list are
        left out; under a list-only folder only those leading to a grant remain."""
        base = self.uri(self.segments)
        with self.fs.iter_dir(self.segments) as listing:
            def statuses() -> Iterable[dict[str, Any]]:
                for name, st, target in listing:
                    action = self.tree.action_for(f"{base}/{name}")
                    if action != "deny":
                        yield file_status(name, st, action, target)

            if NDJSON in self.request.headers.get("Accept", ""):
                self.set_header("Content-Type", NDJSON)
                await self.stream_lines(ndjson({"FileStatus": s} for s in statuses()))
            else:
                self.set_header("Content-Type", "application/json")
                self.write('{"FileStatuses": {"FileStatus": [')
                await self.stream_lines(_comma_joined(statuses()), error_line=False)

    async def open(self, head: bool = False) -> None:
        """OPEN: the file, or one byte range of it (206), read and flushed ``CHUNK`` at a time."""
        fd = self.fs.open_file(self.segments)
        try:
            st = os.fstat(fd)
            size = st.st_size
            first, last = 0, size - 1
            range_header = self.request.headers.get("Range")
            if range_header:
                first, last = parse_range(range_header, size)
                self.set_status(206)
                self.set_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Length", str(last - first + 1))
            self.set_header("Last-Modified", httputil.format_timestamp(st.st_mtime))
            self.set_header("Accept-Ranges", "bytes")
            self.set_header("Accept-Range", "bytes")  # the platform's own spelling (reference §4.1)
            self.set_header("X-File-Type", "FILE")
            self.set_header("X-File-Permission", self.action)
            self.set_header("X-File-Length", str(size))
            if head:
                self.finish()
                return
            remaining = last - first + 1
            offset = first
            while remaining > 0:
                chunk = os.pread(fd, min(CHUNK, remaining), offset)
                if not chunk:
                    break  # truncated meanwhile: tornado closes the connection (short body)
                self.write(chunk)
                await self.flush()
                offset += len(chunk)
                remaining -= len(chunk)
            self.finish()
        finally:
            os.close(fd)


def _chain(first: Any, rest: Iterable[Any]) -> Iterable[Any]:
    yield first
    yield from rest


def _comma_joined(statuses: Iterable[dict[str, Any]]) -> Iterable[str]:
    sep = ""
    for status in statuses:
        yield sep + json.dumps(status)
        sep = ", "
    yield "]}}"


def routes(platform: Platform) -> list:
    """``{api}/storage`` and everything below it (the org, then projects and their files)."""
    fs = ConfinedFS(platform.storage_root)
    return [(PREFIX + r"(?:/.*)?", StorageHandler, {"platform": platform, "fs": fs})]
