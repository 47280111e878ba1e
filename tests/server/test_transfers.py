"""``apolo/transfers``: copy storage to the workspace and upload workspace paths to storage,
server-side, with progress; against the embedded platform, the official CLI as the referee."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from jupyter_apolo.client.localfs import TEMP_SUFFIX
from tests.support.platform import async_wait_for
from tests.support.tcp_proxy import CuttingProxy


def body(resp):
    return json.loads(resp.body)


async def start(fetch, **request):
    resp = await fetch("POST", "apolo/transfers", body=json.dumps(request),
                       headers={"Content-Type": "application/json"})
    return resp


async def finished(fetch, task_id: str, timeout: float = 60) -> dict:
    """Poll the task as the UI does until it is done."""
    for _ in range(int(timeout / 0.1)):
        task = body(await fetch("GET", f"apolo/transfers/{task_id}"))
        if task["done"]:
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"transfer {task_id} not done after {timeout}s: {task}")


@pytest.fixture(scope="module")
def storage_tree(cli, tmp_path_factory):
    """``storage:nb-src`` holding two notebooks and a sub directory, uploaded by the CLI."""
    src = tmp_path_factory.mktemp("src") / "nb-src"
    (src / "sub").mkdir(parents=True)
    (src / "a.ipynb").write_text('{"cells": []}\n')
    (src / "sub" / "b.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    cli("alice")("cp", "-r", "-T", str(src), "storage:nb-src")
    return src


async def test_download_a_storage_directory_into_the_workspace(fetch, storage_tree, jp_root_dir):
    resp = await start(fetch, direction="download", src="storage:nb-src", dst="copies/nb")
    assert resp.code == 202, resp.body
    task = body(resp)
    assert resp.headers["Location"].endswith(f"/apolo/transfers/{task['id']}")
    task = await finished(fetch, task["id"])
    assert task["error"] is None
    assert task["files"] == 2 and task["bytes"] == 3 * 1024 * 1024 + 17 + len('{"cells": []}\n')
    assert (jp_root_dir / "copies/nb/a.ipynb").read_text() == '{"cells": []}\n'
    assert (jp_root_dir / "copies/nb/sub/b.bin").read_bytes() == (storage_tree / "sub" / "b.bin").read_bytes()
    assert task["dst"] == "copies/nb"
    listed = body(await fetch("GET", "apolo/transfers"))
    assert task["id"] in [t["id"] for t in listed]


async def test_download_a_file_into_an_existing_directory_keeps_its_name(fetch, storage_tree, jp_root_dir):
    (jp_root_dir / "work").mkdir()
    task = await finished(fetch, body(await start(fetch, direction="download", src="storage:nb-src/a.ipynb",
                                                   dst="work"))["id"])
    assert task["error"] is None and task["dst"] == "work/a.ipynb"
    assert task["bytes"] == task["bytes_total"] == len('{"cells": []}\n')
    assert (jp_root_dir / "work/a.ipynb").read_text() == '{"cells": []}\n'


async def test_no_silent_overwrite(fetch, storage_tree, jp_root_dir):
    (jp_root_dir / "a.ipynb").write_text("my local edits")
    resp = await start(fetch, direction="download", src="storage:nb-src/a.ipynb", dst="a.ipynb")
    assert resp.code == 409
    assert "overwrite" in body(resp)["fix"]
    assert (jp_root_dir / "a.ipynb").read_text() == "my local edits"

    resp = await start(fetch, direction="download", src="storage:nb-src/a.ipynb", dst="a.ipynb", overwrite=True)
    assert (await finished(fetch, body(resp)["id"]))["error"] is None
    assert (jp_root_dir / "a.ipynb").read_text() == '{"cells": []}\n'


async def test_upload_workspace_file_and_directory(fetch, cli, jp_root_dir, tmp_path):
    (jp_root_dir / "results" / "plots").mkdir(parents=True)
    (jp_root_dir / "results" / "metrics.json").write_text('{"acc": 0.9}')
    (jp_root_dir / "results" / "plots" / "p.png").write_bytes(b"\x89PNG" + os.urandom(2_000_000))

    started = await start(fetch, direction="upload", src="results", dst="storage:up/results")
    task = await finished(fetch, body(started)["id"])
    assert task["error"] is None and task["files"] == 2
    assert task["dst"] == "storage://default/local/alice/up/results"
    cli("alice")("cp", "-r", "-T", "storage:up/results", str(tmp_path / "back"))
    assert (tmp_path / "back" / "plots" / "p.png").read_bytes() == (jp_root_dir / "results/plots/p.png").read_bytes()

    # a file into an existing storage directory keeps its name; again: 409, storage untouched
    (jp_root_dir / "notes.txt").write_text("v1")
    task = await finished(fetch, body(await start(fetch, direction="upload", src="notes.txt", dst="storage:up"))["id"])
    assert task["error"] is None and task["dst"].endswith("/up/notes.txt")
    (jp_root_dir / "notes.txt").write_text("v2")
    resp = await start(fetch, direction="upload", src="/notes.txt", dst="storage:up")
    assert resp.code == 409
    cli("alice")("cp", "storage:up/notes.txt", str(tmp_path / "notes.txt"))
    assert (tmp_path / "notes.txt").read_text() == "v1"


@pytest.mark.parametrize("request_body, status", [
    ({"direction": "download", "src": "storage:nb-src/a.ipynb", "dst": "../outside.ipynb"}, 400),
    ({"direction": "download", "src": "storage:nb-src/a.ipynb", "dst": "x/../../outside.ipynb"}, 400),
    ({"direction": "upload", "src": "../../etc/passwd", "dst": "storage:stolen"}, 400),
    ({"direction": "upload", "src": "escape/passwd", "dst": "storage:stolen"}, 400),
    ({"direction": "upload", "src": "no-such-file", "dst": "storage:x"}, 404),
    ({"direction": "download", "src": "storage:no-such-thing", "dst": "x"}, 404),
    ({"direction": "sideways", "src": "a", "dst": "b"}, 400),
    ({"src": "a"}, 400),
])
async def test_bad_requests_name_the_problem(fetch, storage_tree, jp_root_dir, request_body, status):
    (jp_root_dir / "escape").symlink_to("/etc")
    resp = await start(fetch, **request_body)
    assert resp.code == status, resp.body
    assert body(resp)["error"]
    assert not (jp_root_dir.parent / "outside.ipynb").exists()


async def test_unknown_transfer_is_404(fetch):
    resp = await fetch("GET", "apolo/transfers/0123abcd")
    assert resp.code == 404 and "No transfer" in body(resp)["error"]


@pytest.fixture
def stalling_network(platform):
    """The platform behind a proxy that forwards 1 MiB of a response, then nothing until the test ends."""
    proxy = CuttingProxy(platform.port, hold_after=1 << 20)
    yield proxy
    proxy.close()


@pytest.fixture
def apolo_config(apolo_config, request):
    """The conftest's config; a test that asks for ``stalling_network`` reaches the platform through it."""
    if "stalling_network" not in request.fixturenames:
        return apolo_config
    proxy = request.getfixturevalue("stalling_network")
    return {**apolo_config, "url": f"http://127.0.0.1:{proxy.port}/api/v1"}


def partial_files(root) -> list[str]:
    return [p.name for p in root.iterdir() if p.name.endswith(TEMP_SUFFIX)]


async def test_cancel_leaves_no_partial_file(fetch, platform, jp_root_dir, stalling_network):
    size = 8 << 20
    resp = platform.http("alice").put("storage/local/alice/big.bin", params={"op": "CREATE"}, content=bytes(size))
    assert resp.status_code == 201
    task = body(await start(fetch, direction="download", src="storage:big.bin", dst="big.bin"))
    # the download is surely mid-way: 1 MiB of 8 came through, the rest is held back
    await async_wait_for(stalling_network.held.is_set, 30, what="the download to reach the stalled network")
    assert partial_files(jp_root_dir), "no partial file to clean up: the test would prove nothing"
    assert not body(await fetch("GET", f"apolo/transfers/{task['id']}"))["done"]

    assert (await fetch("DELETE", f"apolo/transfers/{task['id']}")).code == 204
    task = await finished(fetch, task["id"])
    assert task["error"] == {"error": "Cancelled."}
    assert task["bytes"] < size
    assert not (jp_root_dir / "big.bin").exists()
    assert partial_files(jp_root_dir) == []
