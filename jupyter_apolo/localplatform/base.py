"""Request handling shared by every service of the embedded platform: bearer authentication
and JSON errors in the shape the apolo SDK maps (reference §0: ``{"error": msg}``, plus
``errno`` for storage OS errors and ``missing`` for permission errors)."""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado import web

from . import auth
from .state import Platform, PlatformError

log = logging.getLogger("jupyter_apolo.localplatform")
SERVICE_VERSION = "platform-api/jupyter-apolo-local"


class BaseHandler(web.RequestHandler):
    """Authenticates every request (``Authorization: Bearer <jwt>``) before its verb runs.

    Subclasses set ``auth_optional = True`` to accept anonymous calls (``self.user`` is None).
    Raising ``PlatformError`` anywhere answers ``{"error": ...}`` with its status.
    """

    auth_optional = False
    platform: Platform
    user: str | None

    def initialize(self, platform: Platform) -> None:  # noqa: D401 - tornado hook
        self.platform = platform
        self.user = None

    def set_default_headers(self) -> None:
        self.set_header("X-Service-Version", SERVICE_VERSION)

    def check_xsrf_cookie(self) -> None:  # bearer-token API: no cookies, no XSRF
        return None

    def prepare(self) -> None:
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

    def json_body(self) -> Any:
        """The request body parsed as JSON; ``PlatformError(400)`` naming the problem otherwise."""
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise PlatformError(400, f"Malformed JSON body: {exc}") from None

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
        raise PlatformError(404, f"No such API path: {self.request.path}")
