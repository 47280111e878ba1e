"""A tiny misbehaving platform for the failure tests: slow answers, 5xx, redirects to another
host, hop-by-hop headers, an endless download, a download that stalls. Runs a tornado app in its own thread and loop
(so it keeps serving while the test's loop is blocked) and records what it saw."""

from __future__ import annotations

import asyncio
import json
import threading

import jwt
from tornado import httpserver, iostream, web
from tornado.netutil import bind_sockets

TOKEN = jwt.encode({"identity": "alice", "https://platform.neuromation.io/user": "alice"}, "fake-secret")


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.stream_ended = threading.Event()  # the endless download's handler has returned


class Base(web.RequestHandler):
    def initialize(self, rec: Recorder, base: str) -> None:
        self.rec, self.base = rec, base

    def prepare(self) -> None:
        self.rec.requests.append({"method": self.request.method, "path": self.request.path,
                                  "headers": dict(self.request.headers)})


class Config(Base):
    def get(self) -> None:
        b = self.base
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({
            "authorized": True, "auth_url": b, "token_url": b, "logout_url": b, "client_id": "x", "audience": "x",
            "headless_callback_url": b,
            "clusters": [{"name": "default", "orgs": ["local"], "storage_url": f"{b}/api/v1/storage",
                          "monitoring_url": f"{b}/api/v1/monitoring", "registry_url": b, "users_url": b,
                          "secrets_url": b, "disks_url": b, "buckets_url": b, "resource_pool_types": [],
                          "resource_presets": []}],
            "projects": [{"name": "alice", "cluster_name": "default", "org_name": "local", "role": "admin"}],
        }))


class Jobs(Base):
    async def get(self, what: str) -> None:
        if what == "slow":
            await asyncio.sleep(30)
            self.finish({"id": "slow"})
        elif what == "boom":
            self.set_status(503)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": "cluster is being upgraded"}))
        elif what == "redirect":
            self.redirect(self.settings["elsewhere"] + "/steal", status=302)
        elif what == "hop":
            self.set_header("Connection", "X-Hop-Secret")
            self.set_header("X-Hop-Secret", "must-not-pass")
            self.set_header("Keep-Alive", "timeout=5")
            self.set_header("Proxy-Authenticate", "Basic")
            self.set_header("Set-Cookie", "platform-session=abc")
            self.set_header("X-Kept", "yes")
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"id": "hop"}))
        else:
            self.set_status(400)
            self.finish({"error": f"no such job {what}"})


class Endless(Base):
    """``GET .../endless?op=OPEN``: 64 KiB every 10 ms until the client goes away; then
    ``rec.stream_ended`` is set: from that moment nothing more can be pulled from it."""

    async def get(self) -> None:
        self.set_header("Content-Type", "application/octet-stream")
        chunk = b"x" * 65536
        try:
            while True:
                self.write(chunk)
                await self.flush()
                await asyncio.sleep(0.01)
        except iostream.StreamClosedError:
            pass
        finally:
            self.rec.stream_ended.set()


class Stall(Base):
    """``GET .../stall?op=OPEN``: declares 1 MiB, sends 64 KiB, then nothing for 30 s."""

    async def get(self) -> None:
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(1 << 20))
        self.write(b"s" * 65536)
        await self.flush()
        await asyncio.sleep(30)


class Elsewhere(web.RequestHandler):
    def initialize(self, rec: Recorder) -> None:
        self.rec = rec

    def get(self, *args) -> None:  # type: ignore[no-untyped-def]
        self.rec.requests.append({"method": "GET", "path": self.request.path, "headers": dict(self.request.headers)})
        self.finish("stolen")


class FakeUpstream:
    """``url``: the API base (``.../api/v1``); ``elsewhere``: another host the platform redirects to."""

    def __init__(self) -> None:
        self.rec, self.other = Recorder(), Recorder()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "FakeUpstream":
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        s1, s2 = bind_sockets(0, "127.0.0.1"), bind_sockets(0, "127.0.0.1")
        p1, p2 = s1[0].getsockname()[1], s2[0].getsockname()[1]
        base, self.elsewhere = f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"
        self.url = f"{base}/api/v1"
        kw = {"rec": self.rec, "base": base}
        app = web.Application([
            (r"/api/v1/config", Config, kw),
            (r"/api/v1/jobs/([^/]+)", Jobs, kw),
            (r"/api/v1/storage/local/alice/endless", Endless, kw),
            (r"/api/v1/storage/local/alice/stall", Stall, kw),
        ], elsewhere=self.elsewhere)
        other = web.Application([(r"/(.*)", Elsewhere, {"rec": self.other})])
        servers = [httpserver.HTTPServer(app), httpserver.HTTPServer(other)]
        servers[0].add_sockets(s1)
        servers[1].add_sockets(s2)
        self._ready.set()
        await self._stop.wait()
        for server in servers:
            server.stop()
            await server.close_all_connections()

