"""Small JSON endpoints the UI needs: the version handshake and the current platform context."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

import jupyter_apolo

from ..client import current_job
from .base import ApoloHandler

API_VERSION = 1


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
            "job": this_job(),
        })


def this_job() -> dict[str, str | None] | None:
    """``{"id", "name"}`` of the platform job this server runs in, or None (``client.current_job``)."""
    job = current_job()
    return {"id": job.id, "name": job.name} if job else None
