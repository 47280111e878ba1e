"""Small JSON endpoints the UI needs: the version handshake and the current platform context.

Every handler derives from ``ApoloHandler``: jupyter_server authentication (``@authenticated``,
``@authorized`` on resource ``apolo``), XSRF for cookie-authenticated mutations (done by
``JupyterHandler.prepare``), and errors as ``{"error": message, ...}`` JSON.
"""

from __future__ import annotations

import errno
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

import jupyter_apolo

from ..client import ApoloError, ConfigError, PlatformUnreachable
from .settings import Connection, job_identity

API_VERSION = 1
AUTH_RESOURCE = "apolo"

#: What the 503 answer adds to the client's error (which already lists the commands to run).
CONFIG_FIX = ("After `apolo login`, press refresh; no restart is needed. A server can also be configured with "
              "c.ApoloServer.url and c.ApoloServer.token_file.")


class JSONError(web.HTTPError):
    """An answer ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(status, reason=None)
        self.message, self.extra = message, extra


def error_from_apolo(exc: ApoloError) -> JSONError:
    """The JSON answer for a client error: its status (502 unreachable, 504 timeout, 503 no
    credentials) and the platform's message verbatim, plus ``missing``/``errno`` when known."""
    if isinstance(exc, ConfigError):
        return JSONError(503, exc.message, fix=CONFIG_FIX)
    if isinstance(exc, PlatformUnreachable):
        timed_out = "timed out" in exc.message.lower() or "timeout" in exc.message.lower()
        return JSONError(504 if timed_out else 502, exc.message)
    extra: dict[str, Any] = {}
    if getattr(exc, "missing", None):
        extra["missing"] = exc.missing
    if getattr(exc, "errno", None) is not None:  # symbolic, as the platform sends it (§4.3)
        extra["errno"] = errno.errorcode.get(exc.errno, exc.errno)
    return JSONError(exc.status or 500, exc.message, **extra)


class ApoloHandler(APIHandler):
    """Base of every jupyter-apolo handler. ``self.connection``: the shared ``Connection``."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, connection: Connection) -> None:  # noqa: D401 - tornado hook
        self.connection = connection

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, JSONError):
            body = {"error": exc.message, **exc.extra}
        elif isinstance(exc, ApoloError):
            err = error_from_apolo(exc)
            self.set_status(err.status_code)
            body = {"error": err.message, **err.extra}
        elif isinstance(exc, web.HTTPError):
            body = {"error": exc.log_message or self._reason}
        else:
            body = {"error": "Internal error in the jupyter-apolo server extension; see the server log."}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, JSONError):
            status_code = exc.status_code
        elif isinstance(exc, ApoloError):
            status_code = error_from_apolo(exc).status_code
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        if isinstance(value, (JSONError, ApoloError)):
            self.log.info("apolo: %s %s -> %s", self.request.method, self.request.path, value)
            return  # an answer, not a fault; messages never carry tokens
        super().log_exception(typ, value, tb)


class VersionHandler(ApoloHandler):
    """``GET apolo/version`` -> ``{"version", "api"}``: lets the UI detect a missing or
    mismatched server extension (the jupyterlab-git handshake)."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json({"version": jupyter_apolo.__version__, "api": API_VERSION})


class ContextHandler(ApoloHandler):
    """``GET apolo/context`` -> ``{"user", "cluster", "org", "project", "platform": {"url",
    "embedded"}, "job": null | {"id", "name"}}``; 503 ``{"error", "fix"}`` without credentials."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        # fresh: the sidebar's refresh must see a login made a moment ago (proxied calls use the TTL)
        config = (await self.connection.client(fresh=True)).config  # ConfigError -> 503 via write_error
        self.write_json({
            "user": config.username,
            "cluster": config.cluster,
            "org": config.org,
            "project": config.project,
            "platform": {"url": config.url, "embedded": config.source == "embedded"},
            "job": job_identity(),
        })
