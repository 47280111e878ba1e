"""The Apolo platform client (httpx). Imports nothing from Jupyter, tornado or IPython.

Credentials::

    cfg = resolve_config()          # explicit args > APOLO_/NEURO_PASSED_CONFIG > apolo CLI db > embedded
    cfg.url, cfg.cluster, cfg.org, cfg.project, cfg.username, cfg.source   # token: repr=False

Async core (server extension, on tornado's loop)::

    async with AsyncApolo(cfg) as api:
        await api.cluster_info()                       # ClusterInfo(storage_url, monitoring_url, presets, ...)
        async for job in api.jobs.list(statuses=()):   # Job(id, name, owner, status, ..., raw)
        await api.jobs.run("ubuntu", "echo hi", preset="cpu-small", volumes=[Volume.parse("storage:d:/d:ro")])
        await api.jobs.get("job:notebook"); await api.jobs.kill(job_id)
        async for chunk in api.jobs.logs(job_id): ...  # bytes, over {mon}/{id}/log_ws
        await api.jobs.current()                       # this job (NEURO_JOB_ID) or None
        await api.permissions.share("job:x", "bob", "read")   # ShareResult(action, requested, higher)
        await api.permissions.revoke("job:x", "bob"); await api.permissions.list("storage:")
        await api.permissions.shared(); await api.permissions.roles()
        await api.permissions.access("job:x")           # who has access: [Access(user, action, granted_uri, role)]
        await api.permissions.user_exists("alice")      # GET users/{name}: False when unknown
        async for st in api.storage.ls("storage:dir"): # FileStatus(name, type, size, modified, permission, uri)
        await api.storage.stat/mkdir/rm/mv(...)
        plan = await api.transfer.resolve_copy("storage:nb", "nb")        # CopyPlan; TargetExists...
        await api.transfer.copy(plan, progress=cb)                          # -> files copied
        await api.transfer.download_tree("storage:nb", "nb", progress=cb)   # also download_file,
        await api.transfer.upload_tree("nb", "storage:nb")                  # upload_file
        await api.request("GET", "config"); async with api.stream("GET", url) as resp: ...

Sync facade (magics, widgets, scripts; one background loop thread per process)::

    with Apolo() as api:
        api.jobs.list()            # -> list[Job];  api.jobs.logs(job) -> iterator of bytes
        api.storage.ls("storage:") # -> list[FileStatus]
        future = api.submit(lambda aio: aio.storage.stat("storage:x"))   # never blocks: a Future

"This job": ``current_job()`` -> ``ThisJob(id, name)`` or None (``NEURO_JOB_ID``).

Byte relay for the server extension's proxy (aiohttp; ``relay.py``)::

    async with Relay(cfg).exchange("GET", url, headers=...) as up:   # status, headers, chunks()

URIs (the CLI's rules): ``normalize_uri("storage:x", cfg)`` -> ``storage://c/o/p/x``;
``short_uri(uri, cfg)`` -> ``storage:x``. Errors: ``ApoloError`` and subclasses in ``errors``
(``InvalidInput`` is also a ``ValueError``; ``PlatformTimeout`` a ``PlatformUnreachable``).
"""

from .config import ApoloConfig, resolve_config
from .core import AsyncApolo, ClusterInfo, Preset
from .errors import (
    ApoloError,
    AuthenticationError,
    AuthorizationError,
    ConfigError,
    IllegalArgumentError,
    InvalidInput,
    NotFoundError,
    PlatformTimeout,
    PlatformUnreachable,
    ServerError,
)
from .jobs import Job, ThisJob, current_job
from .permissions import Access, Permission, ShareResult
from .storage import FileStatus
from .sync import Apolo
from .transfer import CopyPlan, TargetExists, TransferProgress
from .uris import normalize_uri, short_uri

__all__ = [
    "Access", "Apolo", "ApoloConfig", "ApoloError", "AsyncApolo", "AuthenticationError", "AuthorizationError",
    "ClusterInfo", "ConfigError", "CopyPlan", "FileStatus", "IllegalArgumentError", "InvalidInput", "Job",
    "NotFoundError", "Permission", "PlatformTimeout", "PlatformUnreachable", "Preset", "ServerError",
    "ShareResult", "TargetExists", "ThisJob", "TransferProgress", "current_job", "normalize_uri",
    "resolve_config", "short_uri",
]
