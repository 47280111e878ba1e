"""One exception taxonomy for every caller of the client.

The mapping mirrors the apolo SDK's ``_core._raise_error`` (reference §0): the platform's JSON
``{"error": msg}`` is kept verbatim as ``.message``; a 400 carrying ``"errno"`` is a storage OS
error (``IllegalArgumentError.errno``); the platform's 400 ``no such job <id>`` is a
``NotFoundError`` because that is what it means.
"""

from __future__ import annotations

import errno as _errno
import json
from typing import Any


class ApoloError(Exception):
    """Base of every client error. ``.status``: HTTP status or None; ``.message``: text for a person."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class ConfigError(ApoloError):
    """No usable credentials, or a malformed credential source; the message says what to run."""


class AuthenticationError(ApoloError):
    """401: the token is missing, invalid or expired. Log in again."""

    status = 401


class AuthorizationError(ApoloError):
    """403: not enough permissions. ``.missing`` = ``[{"uri", "action"}]`` when the platform says."""

    status = 403

    def __init__(self, message: str, *, status: int | None = 403, missing: list[dict[str, str]] | None = None):
        super().__init__(message, status=status)
        self.missing = list(missing or [])


class NotFoundError(ApoloError):
    """404, and the platform's 400 ``no such job <id>``. (Storage answers 404 for forbidden too.)"""

    status = 404


class IllegalArgumentError(ApoloError):
    """400 (and other 4xx): bad input. ``.errno`` is set for storage OS errors (e.g. ``errno.EEXIST``)."""

    status = 400

    def __init__(self, message: str, *, status: int | None = 400, errno: int | None = None):
        super().__init__(message, status=status)
        self.errno = errno


class ServerError(ApoloError):
    """5xx from the platform."""

    status = 500


class PlatformUnreachable(ApoloError):
    """Connection refused, DNS failure or a connection dropped mid-response (and, as its subclass
    ``PlatformTimeout``, no answer in time)."""


class PlatformTimeout(PlatformUnreachable):
    """The platform accepted the connection but did not answer (or send body data) in time."""


class InvalidInput(ApoloError, ValueError):
    """Input rejected by the client before anything was sent (a malformed URI, job name, volume,
    life span...). Both an ``ApoloError`` and a ``ValueError``; the message names the fix."""

    def __init__(self, message: str):
        super().__init__(message, status=None)


def _errno_of(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return getattr(_errno, value, None)
    return None


def error_from_body(status: int, raw: bytes | str) -> ApoloError:
    """The exception for an HTTP error answer whose body is ``raw`` (JSON ``{"error": ...}`` or
    plain text, as the platform sends either). One parser for ``core`` and ``relay``."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        body = json.loads(text) if text else None
    except (ValueError, RecursionError):  # not JSON, or absurdly nested: keep the text
        body = None
    return error_from_response(status, body, text if body is None else "")


def error_from_response(status: int, body: Any, text: str = "") -> ApoloError:
    """The exception for an HTTP error answer.

    ``body``: the parsed JSON body (dict) or None; ``text``: the raw body (used when not JSON).
    """
    data = body if isinstance(body, dict) else {}
    message = str(data.get("error") or text.strip() or _REASONS.get(status, f"HTTP {status}"))
    if status == 401:
        return AuthenticationError(message, status=401)
    if status == 403:
        missing = data.get("missing") if isinstance(data.get("missing"), list) else None
        return AuthorizationError(message, status=403, missing=missing)
    if status == 404:
        return NotFoundError(message, status=404)
    if status == 400 and message.startswith("no such job"):
        return NotFoundError(message, status=400)
    if status >= 500:
        return ServerError(message, status=status)
    return IllegalArgumentError(message, status=status, errno=_errno_of(data.get("errno")))


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 416: "Range Not Satisfiable", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable"}
