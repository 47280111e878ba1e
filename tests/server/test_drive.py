"""``apolo/drive/*``: the Lab storage drive's server side, against the embedded platform with the
official ``apolo`` CLI as the other client (paging, chunked upload and resume, file and zip
download, copies with a conflict choice, bookmarks, errors as 4xx JSON naming the fix)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import zipfile
from urllib.parse import quote

import pytest


def body(resp):
    return json.loads(resp.body)


def post(fetch, endpoint, **data):
    return fetch("POST", endpoint, body=json.dumps(data), headers={"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def big_folder(cli, platform):
    """``storage:big`` with 1,234 files, written straight into alice's storage folder on disk
    (the CLI would take minutes); their names are what the listing must page through."""
    cli("alice")("mkdir", "-p", "storage:big")
    on_disk = [p for p in platform.root.rglob("big") if p.is_dir() and p.parent.name == "alice"]
    assert len(on_disk) == 1, on_disk
    for i in range(1234):
        (on_disk[0] / f"f{i:05d}.txt").write_text(str(i))
    return {f"f{i:05d}.txt" for i in range(1234)}


async def test_list_pages_through_a_folder_without_repeats(fetch, big_folder):
    seen, offset, pages = [], 0, 0
    while offset is not None:
        resp = await fetch("GET", f"apolo/drive/list?path=alice/big&offset={offset}&limit=500")
        assert resp.code == 200, resp.body
        page = body(resp)
        assert page["type"] == "directory" and page["uri"] == "storage://default/local/alice/big"
        assert page["short"] == "storage:big"
        seen += [e["name"] for e in page["entries"]]
        assert all(e["path"] == f"alice/big/{e['name']}" for e in page["entries"])
        offset, pages = page["next_offset"], pages + 1
    assert pages == 3 and len(seen) == 1234 and set(seen) == big_folder


async def test_list_a_file_and_the_org_root(fetch, cli, tmp_path):
    (tmp_path / "a b.txt").write_text("x")
    cli("alice")("mkdir", "-p", "storage:docs")
    cli("alice")("cp", str(tmp_path / "a b.txt"), "storage:docs/a b.txt")
    page = body(await fetch("GET", "apolo/drive/list?path=" + quote("alice/docs/a b.txt")))
    assert page["entries"] is None and page["type"] == "file" and page["size"] == 1
    assert page["permission"] == "manage" and page["short"] == "storage:docs/a%20b.txt"
    root = body(await fetch("GET", "apolo/drive/list?path="))
    assert "alice" in [e["name"] for e in root["entries"]] and root["path"] == ""


@pytest.mark.parametrize("query, needle", [
    ("path=alice/../bob", "'..'"),
    ("path=alice&limit=0", "limit"),
    ("path=alice&offset=-3", "offset"),
    ("path=storage://other/local/x", "cluster"),
])
async def test_bad_list_requests_answer_400_naming_the_problem(fetch, query, needle):
    resp = await fetch("GET", f"apolo/drive/list?{query}")
    assert resp.code == 400, resp.body
    assert needle in body(resp)["error"]


async def test_missing_path_answers_404_json(fetch):
    resp = await fetch("GET", "apolo/drive/list?path=alice/nope")
    assert resp.code == 404 and "nope" in body(resp)["error"]


async def test_new_folder_and_file_get_free_names(fetch, cli):
    cli("alice")("mkdir", "-p", "storage:fresh")
    first = body(await post(fetch, "apolo/drive/new", path="alice/fresh", type="directory"))
    second = body(await post(fetch, "apolo/drive/new", path="alice/fresh", type="directory"))
    assert (first["name"], second["name"]) == ("Untitled Folder", "Untitled Folder (1)")
    nb = body(await post(fetch, "apolo/drive/new", path="alice/fresh", type="file", ext=".ipynb"))
    assert nb["name"] == "untitled.ipynb" and nb["type"] == "file"
    assert "untitled.ipynb" in cli("alice")("ls", "storage:fresh").stdout


async def upload(fetch, path, data: bytes, chunk: int = 1 << 20, conflict="ask"):
    resp = await post(fetch, "apolo/drive/uploads", path=path, size=len(data), conflict=conflict)
    assert resp.code == 201, resp.body
    session = body(resp)
    for offset in range(0, max(len(data), 1), chunk):
        resp = await fetch("PUT", f"apolo/drive/uploads/{session['id']}?offset={offset}",
                           body=data[offset:offset + chunk])
        assert resp.code == 200, resp.body
    return body(resp)


async def test_chunked_upload_is_byte_identical_through_the_cli(fetch, cli, tmp_path):
    data = os.urandom(3 * (1 << 20) + 123)
    done = await upload(fetch, "alice/up/data.bin", data)
    assert done["done"] and done["path"] == "alice/up/data.bin"
    cli("alice")("cp", "storage:up/data.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    listing = cli("alice")("ls", "-a", "storage:up").stdout.split()
    assert listing == ["data.bin"], "no part file may stay behind"


async def test_chunks_arrive_in_any_order_and_a_lost_answer_is_sent_again(fetch, cli, tmp_path):
    data = os.urandom(5 * (1 << 20))
    session = body(await post(fetch, "apolo/drive/uploads", path="alice/up/resumed.bin", size=len(data)))
    url = f"apolo/drive/uploads/{session['id']}"
    later = await fetch("PUT", f"{url}?offset={2 << 20}", body=data[2 << 20: 4 << 20])
    assert later.code == 200 and body(later)["offset"] == 0 and not body(later)["done"]
    first = body(await fetch("PUT", f"{url}?offset=0", body=data[: 2 << 20]))
    assert first["offset"] == 4 << 20 and not first["done"]
    # The browser lost that answer and sends the chunk again: written again, nothing breaks.
    again = await fetch("PUT", f"{url}?offset=0", body=data[: 2 << 20])
    assert again.code == 200 and body(again)["offset"] == 4 << 20
    where = body(await fetch("GET", url))
    assert where["offset"] == 4 << 20 and where["size"] == len(data)
    assert not cli("alice")("ls", "storage:up").stdout.count("resumed.bin\n"), "not visible before complete"
    assert body(await fetch("PUT", f"{url}?offset={4 << 20}", body=data[4 << 20:]))["done"]
    cli("alice")("cp", "storage:up/resumed.bin", str(tmp_path / "r.bin"))
    assert (tmp_path / "r.bin").read_bytes() == data


async def test_unknown_size_chunks_must_come_in_order(fetch):
    session = body(await post(fetch, "apolo/drive/uploads", path="alice/up/ordered.txt", size=None,
                              conflict="overwrite"))
    url = f"apolo/drive/uploads/{session['id']}"
    assert (await fetch("PUT", f"{url}?offset=0", body=b"hello ")).code == 200
    wrong = await fetch("PUT", f"{url}?offset=9", body=b"world")
    assert wrong.code == 409 and body(wrong)["offset"] == 6 and "Resume" in body(wrong)["fix"]


async def _slow_chunk(port: int, url: str, auth: dict, offset: int, data: bytes):
    """Start ``PUT url?offset=`` with a ``len(data)`` body of which only the first half is sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"PUT {url}?offset={offset} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth['Authorization']}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n")
    writer.write(head.encode() + data[: len(data) // 2])
    await writer.drain()
    return reader, writer


def _part_bytes(platform) -> int:
    return sum(p.stat().st_size for p in platform.root.rglob("*.apolo-part"))


async def test_parallel_chunks_never_overlap_one_being_written(fetch, cli, platform, jp_http_port, jp_base_url,
                                                              jp_auth_header, tmp_path):
    data = os.urandom(3 << 20)
    session = body(await post(fetch, "apolo/drive/uploads", path="alice/up/parallel.bin", size=len(data)))
    url = f"apolo/drive/uploads/{session['id']}"
    reader, writer = await _slow_chunk(jp_http_port, jp_base_url + url, jp_auth_header, 0, data[: 2 << 20])
    for _ in range(600):  # the first half reached the platform: the chunk is being written
        if _part_bytes(platform) >= 1 << 20:
            break
        await asyncio.sleep(0.05)
    overlap = await fetch("PUT", f"{url}?offset={1 << 20}", body=data[1 << 20:])
    assert overlap.code == 409 and "being written" in body(overlap)["error"]
    beside = await fetch("PUT", f"{url}?offset={2 << 20}", body=data[2 << 20:])
    assert beside.code == 200 and not body(beside)["done"], "a chunk beside it is written at the same time"
    writer.write(data[1 << 20: 2 << 20])
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert b" 200 " in answer.split(b"\r\n")[0] and b'"done": true' in answer
    cli("alice")("cp", "storage:up/parallel.bin", str(tmp_path / "p.bin"))
    assert (tmp_path / "p.bin").read_bytes() == data


async def test_a_chunk_dropped_mid_way_can_be_sent_again(fetch, cli, platform, jp_http_port, jp_base_url,
                                                        jp_auth_header, tmp_path):
    data = os.urandom(2 << 20)
    session = body(await post(fetch, "apolo/drive/uploads", path="alice/up/dropped.bin", size=len(data)))
    url = f"apolo/drive/uploads/{session['id']}"
    _, writer = await _slow_chunk(jp_http_port, jp_base_url + url, jp_auth_header, 0, data)
    for _ in range(600):
        if _part_bytes(platform) >= 1 << 20:
            break
        await asyncio.sleep(0.05)
    writer.close()  # the browser tab went away mid-chunk
    for _ in range(600):  # until the server noticed: then the same chunk is accepted again
        resp = await fetch("PUT", f"{url}?offset=0", body=data)
        if resp.code != 409:
            break
        await asyncio.sleep(0.05)
    assert resp.code == 200 and body(resp)["done"], resp.body
    cli("alice")("cp", "storage:up/dropped.bin", str(tmp_path / "d.bin"))
    assert (tmp_path / "d.bin").read_bytes() == data


async def test_upload_conflicts_never_overwrite_silently(fetch, cli, tmp_path):
    await upload(fetch, "alice/up/same.txt", b"first")
    resp = await post(fetch, "apolo/drive/uploads", path="alice/up/same.txt", size=6)
    assert resp.code == 409 and body(resp)["conflict"] == {"path": "alice/up/same.txt"}
    assert "overwrite" in body(resp)["fix"]
    kept = await upload(fetch, "alice/up/same.txt", b"second", conflict="keep-both")
    assert kept["path"] == "alice/up/same (1).txt"
    await upload(fetch, "alice/up/same.txt", b"third!", conflict="overwrite")
    cli("alice")("cp", "storage:up/same.txt", str(tmp_path / "s.txt"))
    cli("alice")("cp", "storage:up/same (1).txt", str(tmp_path / "s1.txt"))
    assert (tmp_path / "s.txt").read_bytes() == b"third!" and (tmp_path / "s1.txt").read_bytes() == b"second"


async def test_cancelled_upload_leaves_nothing(fetch, cli):
    session = body(await post(fetch, "apolo/drive/uploads", path="alice/up/gone.bin", size=10))
    await fetch("PUT", f"apolo/drive/uploads/{session['id']}?offset=0", body=b"12345")
    assert (await fetch("DELETE", f"apolo/drive/uploads/{session['id']}")).code == 204
    assert "gone" not in cli("alice")("ls", "-a", "storage:up").stdout
    assert (await fetch("GET", f"apolo/drive/uploads/{session['id']}")).code == 404


async def test_read_only_share_refuses_upload_with_the_platforms_message(fetch, cli):
    cli("bob")("mkdir", "-p", "storage:shared-ro")
    cli("bob")("share", "storage:shared-ro", "alice", "read")
    listing = body(await fetch("GET", "apolo/drive/list?path=bob/shared-ro"))
    assert listing["permission"] == "read"
    resp = await post(fetch, "apolo/drive/uploads", path="bob/shared-ro/x.txt", size=1)
    assert resp.code == 404, resp.body
    assert body(resp)["error"] == ("Not found: /local/bob/shared-ro/x.txt (no such file or directory, "
                                   "or no permission)")  # the platform's words, about the file chosen
    assert "write access" in body(resp)["fix"]
    assert "x.txt" not in cli("bob")("ls", "-a", "storage:shared-ro").stdout


async def test_download_a_file_streamed_as_attachment(fetch, cli, tmp_path):
    data = os.urandom(2 * (1 << 20) + 5)
    (tmp_path / "d.bin").write_bytes(data)
    cli("alice")("mkdir", "-p", "storage:dl")
    cli("alice")("cp", str(tmp_path / "d.bin"), "storage:dl/d.bin")
    resp = await fetch("GET", "apolo/drive/download?path=alice/dl/d.bin")
    assert resp.code == 200 and resp.body == data
    assert 'filename="d.bin"' in resp.headers["Content-Disposition"]


async def test_download_a_folder_as_a_zip(fetch, cli, tmp_path):
    src = tmp_path / "tree"
    (src / "sub" / "empty").mkdir(parents=True)
    (src / "a.ipynb").write_text('{"cells": []}')
    (src / "sub" / "b.bin").write_bytes(os.urandom(1500 * 1024))
    cli("alice")("cp", "-r", "-T", str(src), "storage:tree")
    resp = await fetch("GET", "apolo/drive/download?path=alice/tree")
    assert resp.code == 200 and resp.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.body)) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert {"tree/", "tree/a.ipynb", "tree/sub/", "tree/sub/b.bin", "tree/sub/empty/"} <= names
        assert archive.read("tree/sub/b.bin") == (src / "sub" / "b.bin").read_bytes()


async def finished(fetch, task_id: str) -> dict:
    for _ in range(600):
        task = body(await fetch("GET", f"apolo/transfers/{task_id}"))
        if task["done"]:
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(task)


async def test_copy_to_workspace_with_conflict_choices(fetch, cli, jp_root_dir, tmp_path):
    src = tmp_path / "proj"
    src.mkdir()
    (src / "n.ipynb").write_text("v1")
    cli("alice")("cp", "-r", "-T", str(src), "storage:proj")
    resp = await post(fetch, "apolo/drive/copy", direction="download", src="alice/proj", dst="")
    assert resp.code == 202, resp.body
    assert (await finished(fetch, body(resp)["id"]))["error"] is None
    assert (jp_root_dir / "proj" / "n.ipynb").read_text() == "v1"

    (jp_root_dir / "proj" / "n.ipynb").write_text("my edits")
    ask = await post(fetch, "apolo/drive/copy", direction="download", src="storage:proj", dst="")
    assert ask.code == 409 and body(ask)["conflict"] == {"target": "proj", "is_dir": True}
    skip = await post(fetch, "apolo/drive/copy", direction="download", src="storage:proj", dst="", conflict="skip")
    assert body(skip) == {"skipped": True, "target": "proj"}
    both = await post(fetch, "apolo/drive/copy", direction="download", src="storage:proj", dst="",
                      conflict="keep-both")
    assert body(both)["dst"] == "proj (1)"
    await finished(fetch, body(both)["id"])
    assert (jp_root_dir / "proj" / "n.ipynb").read_text() == "my edits"
    assert (jp_root_dir / "proj (1)" / "n.ipynb").read_text() == "v1"


async def test_upload_to_storage_with_keep_both(fetch, cli, jp_root_dir, tmp_path):
    (jp_root_dir / "result.csv").write_text("a,b\n")
    cli("alice")("mkdir", "-p", "storage:res")
    first = await post(fetch, "apolo/drive/copy", direction="upload", src="result.csv", dst="alice/res")
    assert (await finished(fetch, body(first)["id"]))["error"] is None
    ask = await post(fetch, "apolo/drive/copy", direction="upload", src="result.csv", dst="alice/res")
    assert ask.code == 409 and "on storage" in body(ask)["error"]
    both = await post(fetch, "apolo/drive/copy", direction="upload", src="result.csv", dst="alice/res",
                      conflict="keep-both")
    assert body(both)["dst"] == "alice/res/result (1).csv"
    await finished(fetch, body(both)["id"])
    assert sorted(cli("alice")("ls", "storage:res").stdout.splitlines()) == ["result (1).csv", "result.csv"]


async def test_copy_refuses_a_workspace_path_outside(fetch):
    resp = await post(fetch, "apolo/drive/copy", direction="upload", src="../etc/passwd", dst="alice")
    assert resp.code == 400 and "'..'" in body(resp)["error"]


async def test_bookmarks_from_live_yml(fetch, jp_root_dir):
    (jp_root_dir / ".apolo").mkdir()
    (jp_root_dir / ".apolo" / "project.yml").write_text("id: demo\n")
    (jp_root_dir / ".apolo" / "live.yml").write_text(
        "kind: live\nvolumes:\n  data:\n    remote: storage:demo/data\n    mount: /project/data\n    read_only: true\n"
        "  notebooks:\n    remote: storage:demo/notebooks\n    mount: /project/notebooks\n    local: notebooks\n")
    answer = body(await fetch("GET", "apolo/drive/bookmarks"))
    assert answer["home"]["path"] == "alice" and answer["flow_project"] == "demo"
    assert [(b["id"], b["path"], b["read_only"]) for b in answer["bookmarks"]] == [
        ("data", "alice/demo/data", True), ("notebooks", "alice/demo/notebooks", False)]


async def test_bookmarks_find_a_flow_project_in_a_subfolder(fetch, jp_root_dir):
    project = jp_root_dir / "awesome"
    (project / ".apolo").mkdir(parents=True)
    (project / "notebooks").mkdir()
    (project / ".apolo" / "project.yml").write_text("id: awesome_project\nproject_name: team\n")
    (project / ".apolo" / "live.yml").write_text(
        "kind: live\nvolumes:\n  notebooks:\n"
        "    remote: storage:/$[[ project.project_name ]]/$[[ flow.project_id ]]/nb\n    mount: /project/notebooks\n")
    for where in ("", "awesome/notebooks"):
        answer = body(await fetch("GET", f"apolo/drive/bookmarks?path={where}"))
        assert [b["path"] for b in answer["bookmarks"]] == ["team/awesome_project/nb"], where
        assert answer["bookmarks"][0]["short"] == "storage:/team/awesome_project/nb"
    (jp_root_dir / "plain").mkdir()
    assert body(await fetch("GET", "apolo/drive/bookmarks?path=plain"))["bookmarks"] == []


async def test_mutations_need_xsrf_with_cookie_auth(fetch, cookie_session):
    cookie, xsrf = await cookie_session()
    resp = await fetch("POST", "apolo/drive/uploads", body=json.dumps({"path": "alice/x", "size": 1}),
                       headers={"Cookie": cookie}, auth=False)
    assert resp.code == 403
    resp = await fetch("POST", "apolo/drive/uploads", body=json.dumps({"path": "alice/x", "size": 1}),
                       headers={"Cookie": cookie, "X-XSRFToken": xsrf}, auth=False)
    assert resp.code == 201


@pytest.mark.parametrize("method, path", [
    ("GET", "apolo/drive/list?path=alice"),
    ("POST", "apolo/drive/new"),
    ("POST", "apolo/drive/uploads"),
    ("PUT", "apolo/drive/uploads/abc?offset=0"),
    ("GET", "apolo/drive/uploads/abc"),
    ("DELETE", "apolo/drive/uploads/abc"),
    ("POST", "apolo/drive/item"),
    ("DELETE", "apolo/drive/item?path=alice/x"),
    ("GET", "apolo/drive/download?path=alice"),
    ("POST", "apolo/drive/copy"),
    ("GET", "apolo/drive/bookmarks"),
])
async def test_unauthenticated_requests_are_refused(fetch, method, path):
    resp = await fetch(method, path, auth=False, body=b"{}" if method in ("POST", "PUT") else None)
    assert resp.code == 403, (resp.code, resp.body)


async def test_upload_of_unknown_size_ends_with_a_final_chunk(fetch, cli, tmp_path):
    session = body(await post(fetch, "apolo/drive/uploads", path="alice/up/stream.txt", size=None,
                              conflict="overwrite"))
    url = f"apolo/drive/uploads/{session['id']}"
    assert not body(await fetch("PUT", f"{url}?offset=0", body=b"hello "))["done"]
    assert body(await fetch("PUT", f"{url}?offset=6&final=1", body=b"world"))["done"]
    cli("alice")("cp", "storage:up/stream.txt", str(tmp_path / "s.txt"))
    assert (tmp_path / "s.txt").read_text() == "hello world"


async def test_rename_refuses_an_existing_target_and_delete_removes(fetch, cli):
    await upload(fetch, "alice/mv/a.txt", b"a")
    await upload(fetch, "alice/mv/b.txt", b"b")
    resp = await post(fetch, "apolo/drive/item", path="alice/mv/a.txt", new_path="alice/mv/b.txt")
    assert resp.code == 409 and "exists" in body(resp)["error"]
    resp = await post(fetch, "apolo/drive/item", path="alice/mv/a.txt", new_path="alice/mv/c.txt")
    assert resp.code == 200 and body(resp)["path"] == "alice/mv/c.txt"
    assert (await fetch("DELETE", "apolo/drive/item?path=alice/mv")).code == 204
    assert cli("alice")("ls", "storage:mv", check=False).returncode != 0
    resp = await fetch("DELETE", "apolo/drive/item?path=alice")
    assert resp.code == 400 and "project" in body(resp)["error"]
