"""Issue 10, findings 2, 3 and 8 on ``apolo/transfers``: symlinks in the workspace are never followed on upload
or written through on download, storage names a teammate chose (control paths, control characters) stay on
storage, and malformed requests answer 400 naming the problem. Real server extension (pytest-jupyter) and
embedded platform; storage is written with raw platform calls, as any other client could."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest


async def start(fetch, **request):  # type: ignore[no-untyped-def]
    return await fetch("POST", "apolo/transfers", body=json.dumps(request),
                       headers={"Content-Type": "application/json"})


async def finished(fetch, task_id: str, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.1)):
        task = json.loads((await fetch("GET", f"apolo/transfers/{task_id}")).body)
        if task["done"]:
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"transfer {task_id} not done after {timeout}s")


@pytest.fixture
def alice_storage(platform):
    """``put(rel, data)`` / ``names(rel)`` on alice's storage (``rel`` percent-encoded, as on the wire)."""
    http = platform.http("alice")

    class Storage:
        def put(self, rel: str, data: str = "x") -> None:
            resp = http.put(f"storage/local/alice/{rel}", params={"op": "CREATE"}, content=data.encode())
            assert resp.status_code in (200, 201), resp.text

        def tree(self, rel: str) -> dict[str, str]:
            """Every entry below ``rel``: relative path -> type."""
            found: dict[str, str] = {}

            def walk(folder: str, prefix: str) -> None:
                resp = http.get(f"storage/local/alice/{folder}", params={"op": "LISTSTATUS"})
                assert resp.status_code == 200, resp.text
                for st in resp.json()["FileStatuses"]["FileStatus"]:
                    found[prefix + st["path"]] = st["type"]
                    if st["type"] == "DIRECTORY":
                        walk(f"{folder}/{st['path']}", f"{prefix}{st['path']}/")

            walk(rel, "")
            return found

        def read(self, rel: str) -> bytes:
            return http.get(f"storage/local/alice/{rel}", params={"op": "OPEN"}).content

    yield Storage()
    http.close()


async def test_a_folder_upload_never_sends_what_a_symlink_points_to(fetch, jp_root_dir, tmp_path, alice_storage):
    # finding 2: files behind symlinks below the top level were uploaded
    secret = tmp_path / "embedded.json"
    secret.write_text('{"token": "SECRET-PLATFORM-TOKEN"}')
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/private.ipynb").write_text("SECRET-PRIVATE")
    results = jp_root_dir / "results"
    (results / "sub").mkdir(parents=True)
    (results / "a.ipynb").write_text("{}")
    (results / "sub/b.ipynb").write_text("{}")
    os.symlink(secret, results / "sub/leak.ipynb")
    os.symlink(tmp_path / "outside", results / "sub/linkdir")
    os.symlink(results / "a.ipynb", results / "sub/inner.ipynb")
    dst = f"up-{uuid.uuid4().hex[:8]}"

    resp = await start(fetch, direction="upload", src="results", dst=f"storage:{dst}")
    assert resp.code == 202, resp.body
    task = await finished(fetch, json.loads(resp.body)["id"])
    assert alice_storage.tree(dst) == {"a.ipynb": "FILE", "sub": "DIRECTORY", "sub/b.ipynb": "FILE"}
    assert task["error"] is None and task["files"] == 2, task
    assert {s["path"] for s in task["skipped"]} == {"sub/leak.ipynb", "sub/linkdir", "sub/inner.ipynb"}


async def test_a_download_never_writes_through_a_symlinked_subfolder(fetch, jp_root_dir, tmp_path, alice_storage):
    # finding 3: a transfer download with overwrite into a tree holding a symlinked subfolder wrote through it
    src = f"down-{uuid.uuid4().hex[:8]}"
    alice_storage.put(f"{src}/a.ipynb", "{}")
    alice_storage.put(f"{src}/sub/evil.ipynb", "bob's")
    outside = tmp_path / "outside"
    outside.mkdir()
    (jp_root_dir / "copies" / src).mkdir(parents=True)
    os.symlink(outside, jp_root_dir / "copies" / src / "sub")

    resp = await start(fetch, direction="download", src=f"storage:{src}", dst="copies", overwrite=True)
    assert resp.code == 202, resp.body
    task = await finished(fetch, json.loads(resp.body)["id"])
    assert os.listdir(outside) == []
    assert task["error"] is None, task
    assert [s["path"] for s in task["skipped"]] == ["sub/"] and "symbolic link" in task["skipped"][0]["reason"]
    assert (jp_root_dir / "copies" / src / "a.ipynb").read_text() == "{}"


async def test_a_download_leaves_control_paths_and_hostile_names_on_storage(fetch, jp_root_dir, alice_storage):
    src = f"names-{uuid.uuid4().hex[:8]}"
    for rel in (".git/config", ".apolo/live.yml", "sub/.neuroignore", "new%0Aline.ipynb", "%E2%80%AEfdp.exe",
                "-rf.ipynb", "%FF.ipynb", "ok.ipynb", "sub/fine.ipynb"):
        alice_storage.put(f"{src}/{rel}")
    resp = await start(fetch, direction="download", src=f"storage:{src}", dst="fresh")
    task = await finished(fetch, json.loads(resp.body)["id"])
    assert task["error"] is None and task["files"] == 2, task
    assert {s["path"] for s in task["skipped"]} == {".git/", ".apolo/", "sub/.neuroignore", "new\\nline.ipynb",
                                                    "\\u202efdp.exe", "-rf.ipynb", "\\xff.ipynb"}
    got = {p.relative_to(jp_root_dir / "fresh").as_posix() for p in (jp_root_dir / "fresh").rglob("*") if p.is_file()}
    assert got == {"ok.ipynb", "sub/fine.ipynb"}


@pytest.mark.parametrize("request_body, says", [
    ({"direction": "download", "src": "storage:x.ipynb", "dst": "n" * 300}, "too long"),
    ({"direction": "upload", "src": "n" * 300, "dst": "storage:x"}, "too long"),
    ({"direction": "download", "src": "storage://other-host/o/p/x.ipynb", "dst": "w"}, "other-host"),
    ({"direction": "upload", "src": "w", "dst": "storage://other-host/o/p/x"}, "other-host"),
    ({"direction": "download", "src": "http://example.com/x.ipynb", "dst": "w"}, "storage:"),
    ({"direction": "upload", "src": "w", "dst": "http://example.com/x"}, "storage:"),
    ({"direction": "download", "src": "storage:x?op=DELETE", "dst": "w"}, "Query"),
    ({"direction": "upload", "src": "w", "dst": "storage:x?y"}, "Query"),
])
async def test_malformed_transfers_answer_400_naming_the_problem(fetch, jp_root_dir, alice_storage, request_body, says):
    # finding 8: these gave an unhandled 500
    alice_storage.put("x.ipynb")
    (jp_root_dir / "w").mkdir(exist_ok=True)
    resp = await start(fetch, **request_body)
    assert resp.code == 400, (resp.code, resp.body)
    assert says in json.loads(resp.body)["error"], resp.body
