"""The async core and the sync facade themselves: raw calls, streaming, cluster info, error
mapping, and the facade working from inside a running event loop (as in a kernel)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from jupyter_apolo.client import (
    Apolo,
    AsyncApolo,
    AuthenticationError,
    IllegalArgumentError,
    NotFoundError,
    resolve_config,
)
from jupyter_apolo.client.sync import background_loop


def test_async_core_raw_calls_and_cluster_info(platform):
    async def main():
        cfg = resolve_config(url=platform.url, token=platform.token("alice"), environ={})
        async with AsyncApolo(cfg) as api:
            info = await api.cluster_info()
            assert (info.name, info.storage_url, info.monitoring_url) == (
                "default", platform.storage_url, platform.monitoring_url)
            assert [p.name for p in info.presets][:1] == ["cpu-small"] and info.presets[0].memory > 0
            resp = await api.request("GET", "config")
            assert resp.json()["authorized"] is True
            async with api.stream("GET", f"{platform.url}/users/alice/permissions") as resp:
                body = b"".join([chunk async for chunk in resp.aiter_bytes()])
            assert b"storage://default/local/alice" in body
            with pytest.raises(NotFoundError, match="No such API path"):
                await api.request("GET", "no/such/path")
            with pytest.raises(IllegalArgumentError, match="Malformed JSON body"):
                await api.request("POST", "users/bob/permissions", content=b"{")
            with pytest.raises(NotFoundError):
                async with api.stream("GET", "no/such/path"):
                    pass
        with pytest.raises(RuntimeError, match="not open"):
            await api.request("GET", "config")

    asyncio.run(main())


def test_expired_token_is_authentication_error(platform):
    import time

    token = platform.token("alice", lifetime=1)
    time.sleep(2)
    with pytest.raises(AuthenticationError, match="expired"):
        Apolo(resolve_config(url=platform.url, token=token, environ={}))


def test_sync_facade_inside_a_running_loop(platform):
    """A kernel already runs a loop: the facade must work there without asyncio.run."""

    async def cell():
        with Apolo(resolve_config(url=platform.url, token=platform.token("bob"), environ={})) as api:
            return api.config.project, api.storage.ls("storage:"), api.jobs.list()

    project, entries, jobs = asyncio.run(cell())
    assert project == "bob" and isinstance(entries, list) and isinstance(jobs, list)


def test_one_background_loop_per_process(platform):
    a = Apolo(resolve_config(url=platform.url, token=platform.token("alice"), environ={}))
    b = Apolo(resolve_config(url=platform.url, token=platform.token("bob"), environ={}))
    try:
        assert background_loop() is background_loop()
        names = [t.name for t in threading.enumerate() if t.name == "jupyter-apolo-client"]
        assert names == ["jupyter-apolo-client"]
        assert (a.config.username, b.config.username) == ("alice", "bob")
        assert a.call(lambda aio: aio.cluster_info()).name == "default"
    finally:
        a.close()
        b.close()


def test_sync_call_from_the_background_loop_is_refused(platform):
    from jupyter_apolo.client.sync import run

    async def nested():
        return run(asyncio.sleep(0))

    with pytest.raises(RuntimeError, match="its own event loop"):
        run(nested())


def test_server_time_follows_the_platforms_date_header_not_the_local_clock(platform):
    # a platform whose clock is an hour behind this machine's: Date says so on every answer
    from email.utils import formatdate

    async def behind(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"authorized": true}'
        writer.write(b"HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (formatdate(time.time() - 3600, usegmt=True).encode(), len(body), body))
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(behind, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/v1"
        async with server:
            cfg = resolve_config(url=url, token=platform.token("alice"), cluster="default", org="local",
                                 project="alice", environ={})
            async with AsyncApolo(cfg) as api:
                first = await api.server_time()  # nothing answered yet: asks /config
                first_local = time.time()
                await asyncio.sleep(1.1)
                later = await api.server_time()  # no new answer: the local time elapsed is added
        # the real platform, same machine: same clock
        async with AsyncApolo(resolve_config(url=platform.url, token=platform.token("alice"), environ={})) as api:
            here, here_local = await api.server_time(), time.time()
        return first - first_local, later - first, here - here_local

    first, elapsed, here = asyncio.run(main())
    assert -3602 < first < -3598
    assert 1.0 < elapsed < 2.0
    assert -2 < here <= 0.5  # whole-second Date: never ahead, at most ~1 s behind
