"""``client/streaming.py``: bulk reads against the embedded platform over real HTTP. httpcore's
own reads stop at 64 KiB, so a chunk larger than that proves the wider reads are in effect."""

from __future__ import annotations

import asyncio
import hashlib
import os

import httpx
import pytest

from jupyter_apolo.client import AsyncApolo, NotFoundError, resolve_config
from jupyter_apolo.client.streaming import LargeReadBackend, bulk_transport

SIZE = 8 << 20  # bytes: large enough for the socket to hold more than 64 KiB at some read


@pytest.fixture(scope="module")
def big_file(platform):
    """``(storage url, sha256)`` of an 8 MiB file on alice's storage."""
    data = os.urandom(SIZE)
    url = f"{platform.storage_url}/local/alice/streaming-big.bin"
    with httpx.Client(headers={"Authorization": f"Bearer {platform.token('alice')}"}, timeout=60) as c:
        assert c.put(url, params={"op": "CREATE"}, content=data).status_code == 201
    return url, hashlib.sha256(data).hexdigest()


def download(platform, url: str, transport) -> tuple[str, int, int]:
    """``(sha256, largest chunk, chunk count)`` of ``url`` streamed through ``AsyncApolo``."""

    async def main():
        cfg = resolve_config(url=platform.url, token=platform.token("alice"), environ={})
        async with AsyncApolo(cfg, transport=transport) as api:
            digest, largest, count = hashlib.sha256(), 0, 0
            async with api.stream("GET", url, params={"op": "OPEN"}) as resp:
                async for chunk in resp.aiter_raw():
                    digest.update(chunk)
                    largest, count = max(largest, len(chunk)), count + 1
            # the same pool keeps serving ordinary calls and error mapping afterwards
            assert (await api.request("GET", "config")).json()["authorized"] is True
            with pytest.raises(NotFoundError):
                await api.request("GET", "no/such/path")
            return digest.hexdigest(), largest, count

    return asyncio.run(main())


def test_bulk_transport_reads_more_than_64_kib_at_once(platform, big_file):
    url, sha = big_file
    got, largest, count = download(platform, url, bulk_transport(max_connections=4))
    assert got == sha
    assert 64 * 1024 < largest <= 1 << 20, largest
    default_sha, default_largest, default_count = download(platform, url, None)
    assert default_sha == sha and default_largest <= 64 * 1024  # what httpcore does on its own
    assert count < default_count


def test_read_size_caps_each_read(platform, big_file):
    url, sha = big_file
    transport = bulk_transport(max_connections=2, read_size=100_000)
    got, largest, _ = download(platform, url, transport)
    assert got == sha and largest <= 100_000


def test_read_size_must_be_positive():
    with pytest.raises(ValueError, match="read_size"):
        LargeReadBackend(0)
