"""The embedded platform's tornado application and its ``serve`` entry point.

Each service module exposes ``routes(platform) -> [(pattern, handler, kwargs)]`` and may
expose ``async startup(platform)`` / ``async shutdown(platform)`` hooks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from types import ModuleType
from typing import Callable

from tornado import httpserver, web

from . import base, config_api, flow_api, job_proxy, jobs_api, storage_api, users_api
from .state import Platform, make_private

# job hosts first
SERVICES: tuple[ModuleType, ...] = (job_proxy, config_api, users_api, jobs_api, storage_api, flow_api)
log = logging.getLogger("jupyter_apolo.localplatform")


def make_app(platform: Platform) -> web.Application:
    """A tornado ``Application`` serving every service of ``platform``."""
    handlers: list = []
    for service in SERVICES:
        handlers.extend(service.routes(platform))
    handlers.append((r"/.*", base.FallbackHandler, {"platform": platform}))
    # websocket_ping_interval keeps log streams alive behind idle timeouts (the SDK pings every 10 s)
    return base.PlatformApplication(handlers, websocket_ping_interval=30, log_function=_log_request)


def _log_request(handler: web.RequestHandler) -> None:
    # Never log headers (the bearer token lives there); path and status only.
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING
    path = handler.request.path
    if len(path) > 300:  # a hostile 60 KiB path is one short line
        path = f"{path[:300]}... ({len(path)} chars)"
    log.log(level, "%d %s %s %.1fms", status, handler.request.method, path, 1000.0 * handler.request.request_time())


class RunningPlatform:
    """A platform serving on ``host:port`` inside the current asyncio loop.

    ``url`` is the API base (``http://host:port/api/v1``) clients log in with.
    """

    def __init__(self, platform: Platform, server: httpserver.HTTPServer, host: str, port: int):
        self.platform, self.server, self.host, self.port = platform, server, host, port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/api/v1"

    async def stop(self) -> None:
        """Stop accepting requests, run service shutdown hooks, close the database."""
        self.server.stop()
        for service in SERVICES:
            hook = getattr(service, "shutdown", None)
            if hook:
                await hook(self.platform)
        await self.server.close_all_connections()
        self.platform.close()


async def start(platform: Platform, host: str = "127.0.0.1", port: int = 0) -> RunningPlatform:
    """Run service startup hooks, then listen on ``host:port`` (0 = a free port).

    Raises ``OSError`` when the address is taken.
    """
    for service in SERVICES:
        hook = getattr(service, "startup", None)
        if hook:
            await hook(platform)
    app = make_app(platform)
    server = httpserver.HTTPServer(
        app, max_buffer_size=64 * 1024 * 1024, chunk_size=1 << 20, idle_connection_timeout=3600
    )
    sockets = _bind(host, port)
    server.add_sockets(sockets)
    actual_port = sockets[0].getsockname()[1]
    return RunningPlatform(platform, server, host, actual_port)


def _bind(host: str, port: int) -> list[socket.socket]:
    from tornado.netutil import bind_sockets

    return bind_sockets(port, address=host, reuse_port=False)


def serve(root: str, host: str = "127.0.0.1", port: int = 8780, *, cluster: str = "default",
          org: str = "local", on_ready: Callable[[RunningPlatform], None] | None = None) -> None:
    """Serve the platform stored under ``root`` until SIGINT/SIGTERM; ``on_ready`` is called
    once listening (the CLI prints the API URL there).

    Sets this process's umask to 0o077 first: everything the platform and its jobs create
    (database, storage, job logs and sandboxes) is private to the OS user (issue 10).
    """
    os.umask(0o077)

    async def main() -> None:
        make_private(root)  # data an older version or a looser umask left readable; before the db opens
        running = await start(Platform(root, cluster=cluster, org=org), host, port)
        if on_ready:
            on_ready(running)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await running.stop()

    asyncio.run(main())
