"""StorageFolder.download over real HTTP through a connection-cutting proxy: one OPEN per file (no status
request when the listing gave the size), resumed with Range after drops, sha256 of exactly the stored bytes."""

from __future__ import annotations

import hashlib
import os

from jupyter_apolo.client import AsyncApolo, resolve_config
from jupyter_apolo.client.sync import run
from jupyter_apolo.notebooks.remote import StorageFolder
from tests.support.tcp_proxy import CuttingProxy


def test_download_resumes_hashes_and_sends_one_open_per_file(platform, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    folder = f"storage:/alice/remote-test-{os.getpid()}"

    async def scenario():  # type: ignore[no-untyped-def]
        async with AsyncApolo(resolve_config(url=platform.url, token=platform.token("alice"), environ={})) as api:
            await api.storage.create(await api.storage.http_url(f"{folder}/sub/nb.ipynb"), data)
        port = platform.port
        proxy = CuttingProxy(port, cut_after=1_000_000, cuts=2)
        try:
            url = f"http://127.0.0.1:{proxy.port}/api/v1"
            async with AsyncApolo(resolve_config(url=url, token=platform.token("alice"), environ={})) as api:
                remote = StorageFolder(api, folder)
                [listed] = (await remote.list_files(lambda rel: False)).values()
                proxy.requests.clear()
                with open(tmp_path / "nb.ipynb", "wb") as out:
                    sha = await remote.download(listed.path, out, listed.size)
        finally:
            proxy.close()
        return listed, sha, proxy

    listed, sha, proxy = run(scenario())
    assert (listed.path, listed.size) == ("sub/nb.ipynb", len(data))
    assert proxy.cut_count == 2
    assert (tmp_path / "nb.ipynb").read_bytes() == data
    assert sha == hashlib.sha256(data).hexdigest()
    heads = [r.split(b"\r\n", 1)[0] for r in proxy.requests if r.startswith((b"GET ", b"PUT ", b"POST ", b"HEAD "))]
    assert len(heads) == 3 and all(b"op=OPEN" in h for h in heads), heads  # first try + 2 resumes, no status
