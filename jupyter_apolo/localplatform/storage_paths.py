"""Storage paths of the embedded platform: request path -> validated path segments.

A storage request names ``/<org>/<project>/<path>`` below ``{storage_url}``. The raw,
percent-encoded request path is split on ``/`` *before* decoding and each segment is decoded
exactly once, so ``%2f`` can never act as a separator and ``%252e%252e`` stays the literal
name ``%2e%2e``. A segment that decodes to something no file name can be (``..``, a ``/``,
NUL, more than 255 bytes) is refused with a 400 naming the problem. ``.`` and empty
segments are dropped, as a POSIX path does. Symbolic links are handled in ``storage_fs``.
"""

from __future__ import annotations

import os
from urllib.parse import unquote

from .state import PlatformError

MAX_NAME_BYTES = 255  # NAME_MAX on Linux file systems


def display(segments: list[str]) -> str:
    """``["o", "p", "a b"]`` -> ``"/o/p/a b"`` (the platform's own spelling of a path)."""
    return "/" + "/".join(segments)


def check_segment(name: str, path: str) -> None:
    """Refuse a decoded path segment that could escape its directory or is no valid file name.

    ``path`` is the whole path as given (for the message). Raises ``PlatformError(400)`` with
    ``errno`` ``EINVAL`` (``..``, ``/``, NUL) or ``ENAMETOOLONG`` (over 255 bytes).
    """
    if name == "..":
        raise PlatformError(400, f"Invalid path {path!r}: '..' segments are not allowed; name the path "
                            "from the project root instead", errno="EINVAL")
    if "/" in name:
        raise PlatformError(400, f"Invalid path {path!r}: a file name cannot contain an encoded '/' (%2F)",
                            errno="EINVAL")
    if "\0" in name:
        raise PlatformError(400, f"Invalid path {path!r}: a file name cannot contain NUL", errno="EINVAL")
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        raise PlatformError(400, f"File name too long: {name[:40]!r}... has more than {MAX_NAME_BYTES} bytes",
                            errno="ENAMETOOLONG")


def _clean(parts: list[str], path: str) -> list[str]:
    segments = []
    for name in parts:
        if name in ("", "."):
            continue
        check_segment(name, path)
        segments.append(name)
    return segments


def parse_request_path(raw: str) -> list[str]:
    """Segments of a raw (still percent-encoded) URL path below the storage prefix.

    ``"/local/alice/my%20dir/a.txt"`` -> ``["local", "alice", "my dir", "a.txt"]``. Bytes that
    are not UTF-8 are kept as surrogate escapes (``os.fsencode`` gives the original bytes
    back). Raises ``PlatformError(400)`` as ``check_segment`` does.
    """
    decoded = [unquote(part, errors="surrogateescape") for part in raw.split("/")]
    return _clean(decoded, unquote(raw, errors="replace"))


def parse_destination(destination: str, source: list[str]) -> list[str]:
    """Segments of a RENAME ``destination`` (already URL-decoded once, as a query value).

    Absolute (``/<org>/<project>/new``) or relative to the source's parent (``new``, ``sub/new``),
    as platform-storage-api reads it. Raises ``PlatformError(400)`` ``"No destination"`` when
    empty, ``"Incorrect destination"`` when it leaves the source's org or names no path inside
    a project, and as ``check_segment`` does.
    """
    if not destination:
        raise PlatformError(400, "No destination: add &destination=/<org>/<project>/<path>")
    parts = _clean(destination.split("/"), destination)
    target = parts if destination.startswith("/") else source[:-1] + parts
    if len(target) < 3 or target[0] != source[0]:
        raise PlatformError(400, f"Incorrect destination {destination!r}: use /{source[0]}/<project>/<path> "
                            "or a path relative to the source's folder")
    return target
