"""The server extension's configuration (``c.ApoloServer.*``) and where its credentials come from.

Credentials resolve like the apolo CLI (design.md "Credentials"): explicit traitlets config first,
then ``APOLO_PASSED_CONFIG``/``NEURO_PASSED_CONFIG``, the CLI's ``~/.apolo/db``, and the embedded
platform the launcher started — that order lives in ``jupyter_apolo.client.resolve_config``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from traitlets import Float, List, Unicode
from traitlets.config import Configurable

#: Upstream API calls the proxy forwards: ``"METHOD regex"``, the regex matching the whole path
#: after ``{api}/`` (reference §1-§3: config, jobs, users/permissions).
DEFAULT_API_ALLOW = [
    "GET config",
    "GET jobs",
    "POST jobs",
    "GET jobs/[^/]+",
    "DELETE jobs/[^/]+",
    "PUT jobs/[^/]+/max_run_time_minutes",
    "GET users/[^/]+/permissions",
    "POST users/[^/]+/permissions",
    "DELETE users/[^/]+/permissions",
    "GET users/[^/]+/permissions/shared",
    "GET users/[^/]+/subroles",
]

#: Storage operations the proxy forwards: ``"METHOD OP"`` (reference §4.1; ``?op=`` is
#: case-insensitive, a missing op means the method's default).
DEFAULT_STORAGE_ALLOW = [
    "GET LISTSTATUS",
    "GET GETFILESTATUS",
    "GET OPEN",
    "HEAD OPEN",
    "HEAD GETFILESTATUS",
    "GET GETDISKUSAGE",
    "PUT CREATE",
    "PUT MKDIRS",
    "PATCH WRITE",
    "POST RENAME",
    "DELETE DELETE",
]


class ApoloServer(Configurable):
    """``c.ApoloServer.*``: how the Jupyter server reaches the Apolo platform.

    Any of ``url``/``token``/``cluster``/``org``/``project`` left empty falls back to the client's
    resolution order (passed config, apolo CLI login, embedded platform).
    """

    url = Unicode("", config=True, help="Platform API base including /api/v1, e.g. https://api.apolo.us/api/v1.")
    token = Unicode("", config=True, help="Platform bearer token (never logged nor sent to the browser).")
    cluster = Unicode("", config=True, help="Cluster name override.")
    org = Unicode("", config=True, help="Organisation name override.")
    project = Unicode("", config=True, help="Project name override.")
    connect_timeout = Float(10.0, config=True, help="Seconds to wait for a connection to the platform.")
    request_timeout = Float(
        60.0, config=True,
        help="Seconds to wait for the platform's response headers, and between two body chunks.",
    )
    api_allow = List(
        Unicode(), DEFAULT_API_ALLOW, config=True,
        help="Proxied API calls: 'METHOD regex' entries, the regex matching the path after {api}/.",
    )
    storage_allow = List(
        Unicode(), DEFAULT_STORAGE_ALLOW, config=True,
        help="Proxied storage operations: 'METHOD OP' entries (reference §4.1).",
    )

    def overrides(self) -> dict[str, str | None]:
        """The explicit settings as ``resolve_config`` keyword arguments (empty -> None)."""
        return {k: (getattr(self, k) or None) for k in ("url", "token", "cluster", "org", "project")}


class Connection:
    """One ``AsyncApolo`` per server process, opened on first use, rebuilt when credentials change.

    ``config()`` re-resolves credentials on every call (cheap: env, one small SQLite read), so a
    ``apolo login`` after the server started is picked up; raises ``ConfigError`` when none resolve.
    """

    def __init__(self, settings: ApoloServer, environ: dict[str, str] | None = None):
        self.settings = settings
        self.environ = environ
        self._client: Any = None
        self._lock = asyncio.Lock()

    def config(self):  # -> jupyter_apolo.client.ApoloConfig
        """The resolved credentials. Raises ``ConfigError`` saying what to run when none resolve."""
        try:
            from ..client import resolve_config
        except ImportError:  # TEMPORARY until jupyter_apolo.client.config lands
            return _interim_resolve(self.settings.overrides(), self.environ)
        return resolve_config(**self.settings.overrides(), environ=self.environ)

    async def client(self):  # -> jupyter_apolo.client.AsyncApolo
        """The shared, open ``AsyncApolo`` for the current credentials. Raises ``ConfigError``."""
        from ..client import AsyncApolo

        config = self.config()
        async with self._lock:
            if self._client is None or self._client.config != config:
                if self._client is not None:
                    await self._client.__aexit__(None, None, None)
                    self._client = None
                client = AsyncApolo(config, **self._client_options())
                await client.__aenter__()
                self._client = client
            return self._client

    def _client_options(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None


def job_identity(environ: dict[str, str] | None = None) -> dict[str, str] | None:
    """``{"id", "name"}`` of the platform job this server runs in (env ``NEURO_JOB_ID`` /
    ``NEURO_JOB_NAME``, reference §2.8), or None outside a job. ``name`` is None when unnamed."""
    env = os.environ if environ is None else environ
    job_id = env.get("NEURO_JOB_ID")
    if not job_id:
        return None
    return {"id": job_id, "name": env.get("NEURO_JOB_NAME") or None}


def _interim_resolve(explicit: dict, environ: dict | None):  # TEMPORARY: replaced by client.resolve_config
    import base64
    import json
    from types import SimpleNamespace

    import jwt

    from ..client.errors import ConfigError

    env = os.environ if environ is None else environ
    found = {k: v for k, v in explicit.items() if v}
    source = "explicit"
    if not (found.get("url") and found.get("token")):
        blob = env.get("APOLO_PASSED_CONFIG") or env.get("NEURO_PASSED_CONFIG")
        if not blob:
            raise ConfigError("No Apolo credentials found. Run `apolo login`, or set c.ApoloServer.url and "
                              "c.ApoloServer.token, or start `jupyter apolo lab`.")
        data = json.loads(base64.b64decode(blob))
        found = {"url": data["url"], "token": data["token"], "cluster": data["cluster"],
                 "org": data.get("org_name"), "project": data.get("project_name"), **found}
        source = "passed-config"
    claims = jwt.decode(found["token"], options={"verify_signature": False})
    user = claims.get("identity") or claims.get("https://platform.neuromation.io/user")
    return SimpleNamespace(url=found["url"], token=found["token"], cluster=found.get("cluster") or "default",
                           org=found.get("org") or "local", project=found.get("project") or user,
                           username=user, source=source)
