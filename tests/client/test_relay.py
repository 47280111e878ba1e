"""``client/relay.py``, the proxy's byte relay: against the embedded platform over real HTTP, and
against tiny raw-socket servers for what a platform should never do (stall, redirect, set
cookies, not answer)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

import jwt
import pytest

from jupyter_apolo.client import NotFoundError, PlatformUnreachable, resolve_config
from jupyter_apolo.client.relay import Relay
from tests.support.net import free_port

TOKEN = jwt.encode({"identity": "alice", "https://platform.neuromation.io/user": "alice"}, "not-the-platforms-key")


def relay_for(platform, user: str = "alice", **kw) -> Relay:
    return Relay(resolve_config(url=platform.url, token=platform.token(user), environ={}), **kw)


async def body_of(upstream) -> bytes:
    return b"".join([chunk async for chunk in upstream.chunks()])


def test_upload_and_download_through_the_relay_are_byte_identical(platform):
    data = os.urandom(3 * 1024 * 1024 + 7)
    url = f"{platform.storage_url}/local/alice/relay/blob.bin"

    async def body():
        for i in range(0, len(data), 100_000):
            yield data[i:i + 100_000]

    async def main():
        async with relay_for(platform) as relay:
            async with relay.exchange("PUT", f"{url}?op=MKDIRS".replace("/blob.bin", "")) as up:
                assert up.status == 201
            async with relay.exchange("PUT", f"{url}?op=CREATE", body=body(),
                                      headers={"Content-Type": "application/octet-stream"}) as up:
                assert up.status == 201
            async with relay.exchange("GET", f"{url}?op=OPEN") as up:
                assert up.status == 200 and up.length == len(data)
                got = await body_of(up)
            async with relay.exchange("GET", f"{url}?op=OPEN", headers={"Range": "bytes=10-19"}) as up:
                assert (up.status, await body_of(up)) == (206, data[10:20])
                assert ("Content-Range", f"bytes 10-19/{len(data)}") in up.headers
        return got

    assert hashlib.sha256(asyncio.run(main())).digest() == hashlib.sha256(data).digest()


def test_platform_errors_keep_their_message_and_the_token_is_the_users(platform):
    async def main():
        async with relay_for(platform, "bob") as relay:
            async with relay.exchange("GET", f"{platform.url}/users/bob/permissions") as up:
                assert up.status == 200 and b"storage://default/local/bob" in await body_of(up)
            with pytest.raises(NotFoundError, match="No such API path"):
                async with relay.exchange("GET", f"{platform.url}/no/such/path"):
                    pass

    asyncio.run(main())


def test_unreachable_platform_is_platform_unreachable():
    port = free_port()

    async def main():
        cfg = resolve_config(url=f"http://127.0.0.1:{port}/api/v1", token=TOKEN, environ={})
        async with Relay(cfg, connect_timeout=2) as relay:
            with pytest.raises(PlatformUnreachable, match="Connection to the platform failed"):
                async with relay.exchange("GET", f"http://127.0.0.1:{port}/api/v1/config"):
                    pass

    asyncio.run(main())


async def raw_server(handler):
    """A one-handler TCP server; ``handler(reader, writer, head)`` answers after the request head."""
    async def serve(reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await handler(reader, writer, head.decode("latin-1"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def relay_to(base: str, read_timeout: float = 0.3) -> Relay:
    return Relay(resolve_config(url=f"{base}/api/v1", token=TOKEN, environ={}), read_timeout=read_timeout)


def test_a_body_that_stalls_fails_as_timed_out():
    async def stall(reader, writer, head):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()
        await asyncio.sleep(30)

    async def main():
        server, base = await raw_server(stall)
        async with server, relay_to(base) as relay:
            async with relay.exchange("GET", f"{base}/api/v1/stall") as up:
                start, got = time.monotonic(), b""
                with pytest.raises(PlatformUnreachable, match="timed out"):
                    async for chunk in up.chunks():
                        got += chunk
                assert got == b"x" * 10
                assert time.monotonic() - start < 3  # 0.3 s timeout, checked every 0.075 s

    asyncio.run(main())


def test_a_slow_reader_is_not_a_stall():
    size = 4 * 1024 * 1024

    async def fast(reader, writer, head):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // 65536):
            writer.write(b"y" * 65536)
            await writer.drain()

    async def main():
        server, base = await raw_server(fast)
        async with server, relay_to(base) as relay:
            async with relay.exchange("GET", f"{base}/api/v1/big") as up:
                n, first = 0, True
                async for chunk in up.chunks():
                    n += len(chunk)
                    if first:  # the caller dawdles 4x the read timeout: back-pressure, not a stall
                        await asyncio.sleep(1.2)
                        first = False
                return n

    assert asyncio.run(main()) == size


def test_no_answer_times_out_redirects_are_not_followed_and_cookies_not_kept():
    seen: list[str] = []

    async def answer(reader, writer, head):
        seen.append(head)
        if " /api/v1/silent " in head:
            await asyncio.sleep(30)
        elif " /api/v1/moved " in head:
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/steal\r\nContent-Length: 0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async def main():
        server, base = await raw_server(answer)
        async with server, relay_to(base) as relay:
            with pytest.raises(PlatformUnreachable, match="timed out"):
                async with relay.exchange("GET", f"{base}/api/v1/silent"):
                    pass
            async with relay.exchange("GET", f"{base}/api/v1/moved") as up:
                assert up.status == 302 and ("Location", "http://elsewhere.example/steal") in up.headers
            for _ in range(2):
                async with relay.exchange("GET", f"{base}/api/v1/ok") as up:
                    assert await body_of(up) == b"ok"

    asyncio.run(main())
    assert len(seen) == 4  # the redirect was not followed
    assert all(f"Authorization: Bearer {TOKEN}" in h for h in seen)
    assert not any("cookie:" in h.lower() for h in seen)


def test_empty_answers_end_every_time(platform):
    # aiohttp answers every 204 with one shared empty stream: reading it must end each time
    uri = "storage://default/local/alice/relay-shared"
    grant = f'[{{"uri": "{uri}", "action": "read"}}]'.encode()

    async def one_body():
        yield grant

    async def main():
        platform.token("bob")  # bob exists
        async with relay_for(platform) as relay:
            for _ in range(3):
                async with relay.exchange("POST", f"{platform.url}/users/bob/permissions", body=one_body(),
                                          headers={"Content-Type": "application/json"}) as up:
                    assert up.status == 201
                async with relay.exchange("DELETE", f"{platform.url}/users/bob/permissions?uri={uri}") as up:
                    assert (up.status, await body_of(up)) == (204, b"")

    asyncio.run(asyncio.wait_for(main(), 30))
