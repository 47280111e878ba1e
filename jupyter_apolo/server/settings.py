"""The server extension's configuration (``c.ApoloServer.*``) and where its credentials come from.

Credentials resolve like the apolo CLI (design.md "Credentials"): explicit traitlets config first,
then ``APOLO_PASSED_CONFIG``/``NEURO_PASSED_CONFIG``, the CLI's ``~/.apolo/db``, and the embedded
platform the launcher started — that order lives in ``jupyter_apolo.client.resolve_config``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import Configurable

from ..client import ApoloConfig, AsyncApolo, ConfigError, resolve_config
from ..client.relay import Relay

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
    token = Unicode(
        "", config=True,
        help="Platform bearer token. Prefer token_file: jupyter_server logs config values with --debug.",
    )
    token_file = Unicode(
        "", config=True, help="Path of a file holding the platform bearer token (read on every resolution).",
    )
    cluster = Unicode("", config=True, help="Cluster name override.")
    org = Unicode("", config=True, help="Organisation name override.")
    project = Unicode("", config=True, help="Project name override.")
    kernel_magics = Bool(
        True, config=True,
        help="Register %apolo in every IPython kernel this server starts (no %load_ext needed); "
        "a kernel with JUPYTER_APOLO_MAGICS=0 in its environment opts out.",
    )
    connect_timeout = Float(10.0, config=True, help="Seconds to wait for a connection to the platform.")
    request_timeout = Float(
        60.0, config=True,
        help="Seconds to wait for the platform's response headers, and between two body chunks.",
    )
    max_connections = Int(
        64, config=True,
        help="Most simultaneous connections to the platform (per pool: the proxy's, and the server's own calls').",
    )
    max_connections_per_user = Int(
        16, config=True,
        help="Most simultaneous proxied platform calls of one Jupyter user (all holders of the server's token "
        "count as one); more wait their turn, and get 429 when none of the user's calls ended for "
        "queue_timeout seconds. 0: no per-user limit.",
    )
    queue_timeout = Float(
        30.0, config=True,
        help="Seconds without any upstream connection freed after which a waiting proxied call is answered 429 "
        "(its user's max_connections_per_user are all in use) or 503 (all max_connections are in use).",
    )
    max_upload_bytes = Int(
        1 << 40, config=True, help="Largest request body the storage proxy streams upstream (bytes).",
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
        """The explicit settings as ``resolve_config`` keyword arguments (empty -> None).

        Raises ``ConfigError`` when ``token_file`` cannot be read.
        """
        found = {k: (getattr(self, k) or None) for k in ("url", "token", "cluster", "org", "project")}
        if self.token_file and not found["token"]:
            try:
                found["token"] = Path(self.token_file).expanduser().read_text().strip() or None
            except OSError as exc:
                raise ConfigError(f"Cannot read c.ApoloServer.token_file {self.token_file!r}: "
                                  f"{exc.strerror or exc}. Fix the path or unset it.") from None
        return found


class Connection:
    """One ``AsyncApolo`` (calls the server makes) and one ``Relay`` (calls the proxy passes
    through) per server process, opened on first use, rebuilt together when credentials change.

    ``config()`` re-resolves credentials at most every ``CONFIG_TTL`` seconds (env, token file,
    the CLI's small SQLite db), so an ``apolo login`` after the server started is picked up
    without a file read on every proxied call; raises ``ConfigError`` when none resolve.
    """

    CONFIG_TTL = 2.0  # seconds

    def __init__(self, settings: ApoloServer, environ: dict[str, str] | None = None):
        self.settings = settings
        self.environ = environ
        self._client: AsyncApolo | None = None
        self._relay: Relay | None = None
        self._resolved: ApoloConfig | None = None
        self._lock = asyncio.Lock()
        self._cached: tuple[float, ApoloConfig] | None = None

    def config(self, fresh: bool = False) -> ApoloConfig:
        """The resolved credentials (``fresh``: re-resolve now, ignoring the TTL). Raises
        ``ConfigError`` saying what to run when none resolve."""
        now = time.monotonic()
        if fresh or self._cached is None or now - self._cached[0] > self.CONFIG_TTL:
            self._cached = None  # a failure is never cached
            self._cached = (now, resolve_config(**self.settings.overrides(), environ=self.environ))
        return self._cached[1]

    async def client(self, fresh: bool = False) -> AsyncApolo:
        """The shared, open ``AsyncApolo`` for the current credentials (its cluster/org/project
        completed from ``/config`` when not configured; ``fresh`` as in ``config``). Raises
        ``ConfigError`` without credentials, ``PlatformUnreachable`` when ``/config`` cannot be read."""
        return (await self.clients(fresh))[0]

    async def clients(self, fresh: bool = False) -> tuple[AsyncApolo, Relay]:
        """The shared client and the proxy's ``Relay``, both for the current credentials (errors as
        ``client``)."""
        config = self.config(fresh)
        if self._client is None or self._resolved != config:
            async with self._lock:
                if self._client is None or self._resolved != config:
                    await self.close()
                    s = self.settings
                    client = AsyncApolo(config, timeout=s.request_timeout, max_connections=s.max_connections)
                    await client.open()
                    self._relay = Relay(client.config, connect_timeout=s.connect_timeout,
                                        read_timeout=s.request_timeout, max_connections=s.max_connections,
                                        max_per_client=s.max_connections_per_user,
                                        queue_timeout=s.queue_timeout)
                    self._client, self._resolved = client, config
        assert self._client is not None and self._relay is not None
        return self._client, self._relay

    async def close(self) -> None:
        """Close the shared client and relay (idempotent)."""
        client, relay = self._client, self._relay
        self._client, self._relay, self._resolved = None, None, None
        if relay is not None:
            await relay.close()
        if client is not None:
            await client.close()

