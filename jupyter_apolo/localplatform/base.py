"""Request handling shared by every service of the embedded platform: bearer authentication,
request body limits and JSON errors in the shape the apolo SDK maps (reference §0:
``{"error": msg}``, plus ``errno`` for storage OS errors and ``missing`` for permission errors).

Request bodies are hostile input: a handler reads at most ``max_body_bytes`` of one (413
beyond, as aiohttp's ``client_max_size`` answers on the real services) and ``json_body``
refuses nesting deeper than ``MAX_JSON_DEPTH``, integers beyond 64 bits and non-finite numbers
(400), so no body can exhaust memory or the interpreter's stack.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Awaitable

from tornado import httputil, web

from . import auth
from .state import Platform, PlatformError

log = logging.getLogger("jupyter_apolo.localplatform")
SERVICE_VERSION = "platform-api/jupyter-apolo-local"
MAX_JSON_BODY = 1024 * 1024  # bytes: aiohttp's default client_max_size, which the platform's services keep
MAX_DROPPED_BODY = 64 * 1024 * 1024  # bytes of an oversized body read and dropped to answer 413 in turn
MAX_JSON_DEPTH = 64  # nested arrays/objects in a request body
_INT64 = 2**63
_DIGITS = re.compile(r"[0-9]{1,30}")


class BaseHandler(web.RequestHandler):
    """Authenticates every request (``Authorization: Bearer <jwt>``) before its verb runs.

    Subclasses set ``auth_optional = True`` to accept anonymous calls (``self.user`` is None).
    Raising ``PlatformError`` anywhere answers ``{"error": ...}`` with its status.
    """

    auth_optional = False
    max_body_bytes: int | None = MAX_JSON_BODY  # None: the handler streams its body itself
    platform: Platform
    user: str | None

    def initialize(self, platform: Platform) -> None:
        self.platform = platform
        self.user = None

    def set_default_headers(self) -> None:
        self.set_header("X-Service-Version", SERVICE_VERSION)

    def check_xsrf_cookie(self) -> None:  # bearer-token API: no cookies, no XSRF
        return None

    def prepare(self) -> None:
        self.check_body_size()
        try:
            self.user = authenticate(self.platform, self.request.headers.get("Authorization"), self.auth_optional)
        except PlatformError:
            if not self.auth_optional:
                raise
            self.user = None  # /config with a dead token answers "authorized": false, as the real one does

    def write_json(self, data: Any, status: int = 200) -> None:
        """Finish with ``data`` as ``application/json``."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def check_body_size(self) -> None:
        """Raise ``PlatformError(413)`` naming the limit when the request body was over
        ``max_body_bytes`` (``PlatformApplication`` read and dropped it)."""
        size = getattr(self.request, "oversized_body", None)
        if size is not None:
            raise PlatformError(
                413, f"Request body too large: {size} bytes; this endpoint accepts at most {self.max_body_bytes} "
                f"bytes ({(self.max_body_bytes or 0) / 2**20:g} MiB). Send less per request (e.g. fewer grants, "
                "a smaller job env)")

    def json_body(self) -> Any:
        """The request body parsed as JSON. Raises ``PlatformError`` 413 for an oversized body,
        400 naming the problem for malformed JSON, nesting deeper than ``MAX_JSON_DEPTH``,
        an integer beyond 64 bits or ``NaN``/``Infinity``."""
        self.check_body_size()
        return parse_json(self.request.body or b"null")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.clear_header("Content-Disposition")
        if isinstance(exc, PlatformError):
            body: dict[str, Any] = {"error": exc.message, **exc.extra}
            if status_code == 401:
                self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-apolo local platform"')
        elif isinstance(exc, web.HTTPError):
            body = {"error": exc.log_message or self._reason}
        else:
            body = {"error": f"Unexpected exception {type(exc).__name__}" if exc else self._reason}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        if isinstance(value, PlatformError):
            return  # an answer, not a fault
        super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, PlatformError):
            status_code = exc.status
        super().send_error(status_code, **kwargs)


def parse_json(body: bytes) -> Any:
    """``body`` (UTF-8 JSON) as Python values; ``PlatformError(400)`` as ``json_body`` says."""
    try:
        value = json.loads(body, parse_int=_int64, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PlatformError(400, f"Malformed JSON body: {exc}") from None
    depth, level = 0, [value]
    while level:  # one nesting level at a time: no recursion on hostile input
        containers = [v for v in level if isinstance(v, (list, dict))]
        if containers:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
        for text in (v for v in level if isinstance(v, str)):
            _check_text(text)
        level = [c for v in containers for c in ((*v.keys(), *v.values()) if isinstance(v, dict) else v)]
    return value


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800): no file name, URI or database text can hold it
        raise PlatformError(400, f"Malformed JSON body: the string {text[:40]!r} is not valid Unicode "
                            "(it holds a lone surrogate escape)") from None


def _too_deep() -> PlatformError:
    return PlatformError(400, f"JSON body nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects")


def _int64(text: str) -> int:
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise ValueError(f"integer {text[:20]}... out of range: numbers must fit in 64 bits")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} out of range")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


class PlatformApplication(web.Application):
    """The platform's tornado ``Application``: bodies of handlers with ``max_body_bytes`` set
    are read through ``LimitedBody``, so an oversized one is never held in memory."""

    def get_handler_delegate(self, request: httputil.HTTPServerRequest, target_class: type[web.RequestHandler],
                             *args: Any, **kwargs: Any) -> httputil.HTTPMessageDelegate:
        delegate = super().get_handler_delegate(request, target_class, *args, **kwargs)
        limit = getattr(target_class, "max_body_bytes", None)
        has_body = "Content-Length" in request.headers or "Transfer-Encoding" in request.headers
        if limit is None or not has_body:
            return delegate
        return LimitedBody(delegate, request, limit)


class LimitedBody(httputil.HTTPMessageDelegate):
    """Passes at most ``limit`` body bytes on to ``inner`` (tornado's buffering delegate).

    Beyond it, the rest is read and dropped (up to ``MAX_DROPPED_BODY``, so the client gets
    its answer on a healthy connection) and ``request.oversized_body`` tells the handler to
    answer 413. A body announced larger than that, or over the limit by a client waiting for
    ``100 Continue``, is answered at once, and tornado then closes the connection rather than
    read it.
    """

    def __init__(self, inner: httputil.HTTPMessageDelegate, request: httputil.HTTPServerRequest, limit: int):
        self.inner, self.request, self.limit = inner, request, limit
        self.received = 0
        self.answered = False

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        length = headers.get("Content-Length", "")
        announced = int(length) if _DIGITS.fullmatch(length) else 0  # anything else: tornado answers 400
        waits = headers.get("Expect", "").lower() == "100-continue"  # the client sends nothing until told to
        if announced > MAX_DROPPED_BODY or (waits and announced > self.limit):
            self.request.oversized_body = announced  # type: ignore[attr-defined]
            self.request.connection.set_max_body_size(announced)  # type: ignore[union-attr]
            self.answered = True
            result = self.inner.headers_received(start_line, headers)
            self.inner.finish()
            return result
        self.request.connection.set_max_body_size(MAX_DROPPED_BODY)  # type: ignore[union-attr]
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.answered:
            return None
        self.received += len(chunk)
        if self.received > self.limit:
            self.request.oversized_body = self.received  # type: ignore[attr-defined]
            return None
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        if not self.answered:
            self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()


def authenticate(platform: Platform, header: str | None, optional: bool = False) -> str | None:
    """The user named by a valid ``Authorization: Bearer`` header.

    Raises ``PlatformError(401)`` for a missing (unless ``optional``), malformed, forged or
    expired token, or one whose user no longer exists or whose job has finished.
    """
    if not header:
        if optional:
            return None
        raise PlatformError(401, "Not authorized: an 'Authorization: Bearer <token>' header is required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PlatformError(401, "Not authorized: use 'Authorization: Bearer <token>'")
    try:
        claims = auth.verify(platform.secret, token.strip())
    except auth.TokenError as exc:
        raise PlatformError(401, str(exc)) from None
    user = str(claims[auth.IDENTITY_CLAIM])
    if platform.principal_kind(user) != "user":
        raise PlatformError(401, f"Token user {user!r} does not exist on this platform")
    job_id = claims.get(auth.JOB_CLAIM)
    if job_id:
        job = platform.load_job(str(job_id))
        if job is None or job["status"] in ("succeeded", "failed", "cancelled"):
            raise PlatformError(401, "Token has expired: it was passed to a job that has finished")
    return user


def not_found(message: str = "Not Found") -> PlatformError:
    return PlatformError(404, message)


class FallbackHandler(BaseHandler):
    """Unknown path under the API: a JSON 404 after authentication."""

    auth_optional = True

    def prepare(self) -> None:
        self.check_body_size()
        raise PlatformError(404, f"No such API path: {self.request.path}")
