"""The proxy when the platform misbehaves: 5xx, down, slow, stalling mid-body, redirecting to
another host, sending hop-by-hop headers; and when the browser goes away mid-download. Uses the tiny local
``FakeUpstream`` (real HTTP, its own thread) instead of the embedded platform."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.net import free_port
from tests.support.platform import async_wait_for

from .fake_upstream import TOKEN, FakeUpstream


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def apolo_config(upstream, responses, tmp_path, request):
    token_file = tmp_path / "token"
    token_file.write_text(responses.watch(TOKEN))
    url = f"http://127.0.0.1:{free_port()}/api/v1" if getattr(request, "param", "") == "down" else upstream.url
    return {"url": url, "token_file": str(token_file), "request_timeout": 0.5, "connect_timeout": 1.0}


async def test_upstream_5xx_keeps_status_and_message(fetch):
    resp = await fetch("GET", "apolo/api/v1/jobs/boom")
    assert resp.code == 503
    assert json.loads(resp.body) == {"error": "cluster is being upgraded"}


async def test_upstream_4xx_keeps_status_and_message(fetch):
    resp = await fetch("GET", "apolo/api/v1/jobs/job-gone")
    assert resp.code == 400 and json.loads(resp.body) == {"error": "no such job job-gone"}


@pytest.mark.parametrize("apolo_config", ["down"], indirect=True)
async def test_upstream_down_is_502_json(fetch):
    resp = await fetch("GET", "apolo/api/v1/jobs/any")
    assert resp.code == 502
    assert "Connection to the platform failed" in json.loads(resp.body)["error"]


async def test_upstream_slow_is_504_json(fetch, upstream):
    await fetch("GET", "apolo/api/v1/jobs/boom")  # the shared client is open, /config cached
    resp = await fetch("GET", "apolo/api/v1/jobs/slow")
    assert resp.code == 504
    assert "timed out" in json.loads(resp.body)["error"]
    assert resp.request_time < 15  # the 0.5 s read timeout, not the platform's 30 s


async def test_redirect_to_another_host_is_refused_not_followed(fetch, upstream):
    resp = await fetch("GET", "apolo/api/v1/jobs/redirect")
    assert resp.code == 502
    assert "never follows redirects" in json.loads(resp.body)["error"]
    assert "Location" not in resp.headers
    # The platform got the request and answered 302 before the proxy answered 502: following the
    # redirect would have reached the other host before that answer, so there is nothing to wait for.
    assert upstream.rec.requests[-1]["path"] == "/api/v1/jobs/redirect"
    assert upstream.other.requests == []  # the other host never got a request


async def test_hop_by_hop_and_cookie_headers_are_stripped(fetch, upstream):
    resp = await fetch("GET", "apolo/api/v1/jobs/hop", headers={"Cookie": "_xsrf=1; jupyter-secret=2",
                                                                 "X-Custom": "1", "Accept": "application/json"})
    assert resp.code == 200 and json.loads(resp.body) == {"id": "hop"}
    assert resp.headers.get("X-Kept") == "yes"
    for name in ("X-Hop-Secret", "Keep-Alive", "Proxy-Authenticate"):
        assert name not in resp.headers, name
    assert not any("platform-session" in c for c in resp.headers.get_list("Set-Cookie"))
    seen = upstream.rec.requests[-1]["headers"]
    assert seen["Authorization"] == f"Bearer {TOKEN}"  # the platform token, added server-side
    assert seen["Accept"] == "application/json"
    for name in ("Cookie", "X-Custom", "X-Xsrftoken"):
        assert name not in seen, name


@pytest.fixture
def browser_download(http_server_client, jp_http_port, jp_base_url, jp_auth_header):
    """``await browser_download(name)`` -> ``(reader, writer, head)``: the proxied download of alice's
    storage file ``name`` on a raw connection, which the test reads and drops as a browser would."""

    async def go(name: str):
        reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
        writer.write((f"GET {jp_base_url}apolo/storage/local/alice/{name}?op=OPEN HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{jp_http_port}\r\n"
                      f"Authorization: {jp_auth_header['Authorization']}\r\n\r\n").encode())
        await writer.drain()
        return reader, writer, await reader.readuntil(b"\r\n\r\n")

    return go


async def test_client_disconnect_cancels_the_upstream_download(browser_download, upstream):
    reader, writer, head = await browser_download("endless")
    assert head.startswith(b"HTTP/1.1 200"), head
    got = 0
    while got < 1 << 20:  # read 1 MiB of the endless body, then hang up
        got += len(await reader.read(65536))
    writer.close()
    # the platform's handler sees its connection closed and ends: nothing more is pulled from it
    await async_wait_for(upstream.rec.stream_ended.is_set, 10, what="the proxy to drop the upstream download")
    assert [r["path"] for r in upstream.rec.requests].count("/api/v1/storage/local/alice/endless") == 1  # no retry


async def test_a_download_that_stalls_is_cut_not_left_hanging(browser_download, upstream):
    # request_timeout is 0.5 s: the browser must see the connection close, never a clean end
    start = asyncio.get_running_loop().time()
    reader, writer, head = await browser_download("stall")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 1048576" in head, head
    body = await asyncio.wait_for(reader.read(), 10)  # until the proxy closes the connection
    assert body == b"s" * 65536
    assert asyncio.get_running_loop().time() - start < 5
    writer.close()
