"""The storage service over real HTTP (reference §4): every op, its errors, auth, and
confinement of hand-written hostile paths. ``raw()`` sends a path byte for byte (httpx would
normalise ``..`` away before it left the client)."""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.platform import wait_for

ND = {"Accept": "application/x-ndjson"}
OCTET = "application/octet-stream"


def raw(platform, method: str, path: str, *, user: str | None = "alice", headers: dict | None = None,
        body: bytes | None = None) -> tuple[int, dict, bytes]:
    """Send ``method path`` (a raw, already-encoded path below ``/api/v1``) unchanged."""
    url = urlsplit(platform.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    hdrs = dict(headers or {})
    if user:
        hdrs["Authorization"] = f"Bearer {platform.token(user)}"
    conn.request(method, "/api/v1" + path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def snapshot(root: Path) -> dict[str, tuple[str, bytes, int]]:
    """Everything below ``root``: relative path -> (kind, content or link target, mtime_ns)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p.relative_to(root))] = ("link", os.readlink(p).encode(), st.st_mtime_ns)
            elif p.is_dir():
                out[str(p.relative_to(root))] = ("dir", b"", st.st_mtime_ns)
            else:
                out[str(p.relative_to(root))] = ("file", p.read_bytes(), st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def alice(platform):
    return platform.http("alice")


@pytest.fixture(scope="module")
def bob(platform):
    return platform.http("bob")


@pytest.fixture
def outside(platform):
    """A sentinel tree beside (outside) the platform root, and symlinks to it planted inside
    alice's storage, as a job could plant them (re-planted for each test)."""
    sentinel = platform.root.parent / "sentinel"
    if not sentinel.exists():
        (sentinel / "nested").mkdir(parents=True)
        (sentinel / "keep.txt").write_text("outside the root\n")
        (sentinel / "nested" / "deep.txt").write_text("deep\n")
    alice_dir = platform.root / "storage" / "local" / "alice"
    for name, target in (("escape", sentinel), ("escape-file", sentinel / "keep.txt")):
        if not (alice_dir / name).is_symlink():
            (alice_dir / name).symlink_to(target)
    return sentinel


def put_file(client, path: str, data: bytes) -> None:
    r = client.put(f"/storage/local/alice/{path}?op=CREATE", content=data)
    assert r.status_code == 201, r.text


def test_create_stat_list(alice):
    put_file(alice, "api/dir one/a.txt", b"hello")  # parents created
    r = alice.get("/storage/local/alice/api/dir one/a.txt?op=GETFILESTATUS")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    status = r.json()["FileStatus"]
    assert status["path"] == "/local/alice/api/dir one/a.txt"
    assert status["type"] == "FILE" and status["length"] == 5 and status["permission"] == "manage"
    assert isinstance(status["modificationTime"], int)

    r = alice.get("/storage/local/alice/api?op=LISTSTATUS", headers=ND)
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.text.endswith("\r\n")
    lines = [json.loads(line) for line in r.text.split("\r\n") if line]
    assert lines == [{"FileStatus": {"path": "dir one", "type": "DIRECTORY", "length": 0,
                                      "modificationTime": lines[0]["FileStatus"]["modificationTime"],
                                      "permission": "manage"}}]
    r = alice.get("/storage/local/alice/api/dir one?op=liststatus")  # case-insensitive, JSON form
    assert r.headers["content-type"] == "application/json"
    assert [s["path"] for s in r.json()["FileStatuses"]["FileStatus"]] == ["a.txt"]
    r = alice.get("/storage/local/alice/api/dir one?LISTSTATUS")  # bare op key
    assert r.status_code == 200 and r.json()["FileStatuses"]["FileStatus"][0]["length"] == 5


def test_create_replaces_atomically_and_refuses_folders(platform, alice):
    put_file(alice, "atomic/f.bin", b"first version")
    put_file(alice, "atomic/f.bin", b"second")
    assert alice.get("/storage/local/alice/atomic/f.bin").content == b"second"
    r = alice.put("/storage/local/alice/atomic?op=CREATE", content=b"x")
    assert r.status_code == 400 and r.json() == {"error": "Destination is a directory", "errno": "EISDIR"}
    r = alice.put("/storage/local/alice/atomic/f.bin/under?op=CREATE", content=b"x")
    assert r.status_code == 400 and r.json()["errno"] == "ENOTDIR"
    assert sorted(os.listdir(platform.root / "storage/local/alice/atomic")) == ["f.bin"]


def test_partial_upload_never_visible(platform, alice):
    """A CREATE whose client dies halfway leaves nothing behind, and is invisible meanwhile."""
    url = urlsplit(platform.url)
    sock = socket.create_connection((url.hostname, url.port))
    head = (f"PUT /api/v1/storage/local/alice/partial/big.bin?op=CREATE HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {platform.token('alice')}\r\nContent-Length: 10000000\r\n\r\n")
    sock.sendall(head.encode() + b"x" * 300_000)
    folder = platform.root / "storage/local/alice/partial"
    wait_for(lambda: folder.is_dir() and os.listdir(folder), what="the upload's temp file")
    listed = alice.get("/storage/local/alice/partial?op=LISTSTATUS").json()["FileStatuses"]["FileStatus"]
    assert listed == []
    assert alice.get("/storage/local/alice/partial/big.bin?op=GETFILESTATUS").status_code == 404
    sock.close()
    wait_for(lambda: os.listdir(folder) == [], what="the temp file to be removed")


def test_open_ranges(alice):
    put_file(alice, "ranges.txt", b"0123456789")
    r = alice.get("/storage/local/alice/ranges.txt?op=OPEN")
    assert r.status_code == 200 and r.content == b"0123456789" and r.headers["x-file-length"] == "10"
    cases = {"bytes=2-4": (b"234", "bytes 2-4/10"), "bytes=7-": (b"789", "bytes 7-9/10"),
             "bytes=-3": (b"789", "bytes 7-9/10"), "bytes=8-100": (b"89", "bytes 8-9/10")}
    for rng, (body, content_range) in cases.items():
        r = alice.get("/storage/local/alice/ranges.txt", headers={"Range": rng})
        assert (r.status_code, r.content, r.headers["content-range"]) == (206, body, content_range), rng
    for bad in ("bytes=10-", "bytes=5-2", "bytes=abc", "bytes=0-1,4-5", "items=0-1", "bytes=-0"):
        r = alice.get("/storage/local/alice/ranges.txt", headers={"Range": bad})
        assert r.status_code == 416, bad
        assert r.headers["content-range"] == "bytes */10"
        assert r.headers["content-type"] == "application/json" and r.json()["error"], bad


def test_head(alice):
    put_file(alice, "head.txt", b"abc")
    r = alice.head("/storage/local/alice/head.txt")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == "3" and r.headers["x-file-type"] == "FILE"
    assert r.headers["x-file-permission"] == "manage" and "last-modified" in r.headers
    r = alice.head("/storage/local/alice")
    assert r.status_code == 200 and r.headers["x-file-type"] == "DIRECTORY"


def test_write(alice):
    put_file(alice, "w.txt", b"hello")
    url = "/storage/local/alice/w.txt?op=WRITE"
    r = alice.patch(url, content=b" world", headers={"Content-Type": OCTET, "Content-Range": "bytes 5-10/*"})
    assert r.status_code == 200, r.text
    assert alice.get("/storage/local/alice/w.txt").content == b"hello world"
    r = alice.patch(url, content=b"xx", headers={"Content-Range": "bytes 0-1/*"})
    assert r.status_code == 400 and r.json()["error"] == "Content-Type should be application/octet-stream"
    r = alice.patch(url, content=b"xx", headers={"Content-Type": OCTET})
    assert r.status_code == 400 and "Content-Range" in r.json()["error"]
    r = alice.patch(url, content=b"xx", headers={"Content-Type": OCTET, "Content-Range": "bytes 0-5/*"})
    assert r.status_code == 400 and "does not match" in r.json()["error"]
    r = alice.patch(url, content=b"xx",
                    headers={"Content-Type": OCTET, "Content-Range": "bytes 0-1/*", "If-Match": '"x"'})
    assert r.status_code == 400 and "If-Match" in r.json()["error"]
    assert alice.get("/storage/local/alice/w.txt").content == b"hello world"
    r = alice.patch("/storage/local/alice/missing.txt?op=WRITE", content=b"x",
                    headers={"Content-Type": OCTET, "Content-Range": "bytes 0-0/*"})
    assert r.status_code == 404
    r = alice.patch("/storage/local/alice?op=WRITE", content=b"x",
                    headers={"Content-Type": OCTET, "Content-Range": "bytes 0-0/*"})
    assert r.status_code == 400 and r.json()["errno"] == "EISDIR"


def test_mkdirs_errors(alice):
    assert alice.put("/storage/local/alice/mk/a/b?op=MKDIRS").status_code == 201
    assert alice.put("/storage/local/alice/mk/a/b?op=MKDIRS").status_code == 201  # like mkdir -p
    put_file(alice, "mk/file", b"x")
    r = alice.put("/storage/local/alice/mk/file?op=MKDIRS")
    assert r.status_code == 400 and r.json() == {"error": "File exists", "errno": "EEXIST"}
    r = alice.put("/storage/local/alice/mk/file/sub?op=MKDIRS")
    assert r.status_code == 400 and r.json() == {"error": "Predecessor is not a directory", "errno": "ENOTDIR"}
    r = alice.get("/storage/local/alice/mk/file?op=LISTSTATUS")
    assert r.status_code == 400 and r.json() == {"error": "Not a directory", "errno": "ENOTDIR"}


def test_rename(platform, alice):
    put_file(alice, "mv/a.txt", b"a")
    r = alice.post("/storage/local/alice/mv/a.txt?op=RENAME&destination=b.txt")  # relative to the parent
    assert r.status_code == 204, r.text
    r = alice.post("/storage/local/alice/mv/b.txt", params={"op": "RENAME", "destination": "/local/alice/mv/c d.txt"})
    assert r.status_code == 204, r.text
    names = [s["path"] for s in alice.get("/storage/local/alice/mv?op=LISTSTATUS").json()["FileStatuses"]["FileStatus"]]
    assert names == ["c d.txt"]
    r = alice.post("/storage/local/alice/mv/c d.txt?op=RENAME")
    assert r.status_code == 400 and "No destination" in r.json()["error"]
    for dest in ("/other-org/alice/x", "/local", "../../bob/x", "/local/alice/../bob/x"):
        r = alice.post("/storage/local/alice/mv/c d.txt", params={"op": "RENAME", "destination": dest})
        assert r.status_code == 400 and r.json()["error"], dest
    r = alice.post("/storage/local/alice/mv/c d.txt", params={"op": "RENAME", "destination": "/local/bob/stolen"})
    assert r.status_code == 404  # no write on bob's project: looks missing
    assert not (platform.root / "storage/local/bob/stolen").exists()
    assert (platform.root / "storage/local/alice/mv/c d.txt").read_bytes() == b"a"


def test_delete(alice):
    put_file(alice, "del/x/1.txt", b"1")
    put_file(alice, "del/x/y/2.txt", b"2")
    r = alice.delete("/storage/local/alice/del/x?op=DELETE&recursive=false")
    assert r.status_code == 400 and r.json() == {"error": "Target is a directory", "errno": "EISDIR"}
    r = alice.delete("/storage/local/alice/del/x", headers=ND)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in r.text.split("\r\n") if line]
    assert sorted((e["path"], e["is_dir"]) for e in events) == [
        ("/local/alice/del/x", True), ("/local/alice/del/x/1.txt", False),
        ("/local/alice/del/x/y", True), ("/local/alice/del/x/y/2.txt", False)]
    assert events[-1] == {"path": "/local/alice/del/x", "is_dir": True}  # the folder after its contents
    put_file(alice, "del/z.txt", b"z")
    r = alice.delete("/storage/local/alice/del/z.txt?op=DELETE&recursive=false")
    assert r.status_code == 204 and r.content == b""
    assert alice.delete("/storage/local/alice/del/z.txt").status_code == 404
    r = alice.delete("/storage/local/alice")
    assert r.status_code == 400 and r.json()["errno"] == "EPERM"


def test_disk_usage(alice):
    r = alice.get("/storage/local/alice?op=GETDISKUSAGE")
    usage = r.json()
    assert r.status_code == 200 and set(usage) == {"total", "used", "free"}
    assert usage["total"] >= usage["free"] > 0


def test_ops_unknown_ambiguous_mismatched(alice):
    for url, needle in [("?op=FROB", "Unknown operation"), ("?op=OPEN&LISTSTATUS", "Ambiguous operations"),
                        ("?op=OPEN&op=LISTSTATUS", "Ambiguous operations"), ("?op=CREATE", "needs HTTP PUT")]:
        r = alice.get("/storage/local/alice" + url)
        assert r.status_code == 400 and r.headers["content-type"] == "application/json", url
        assert needle in r.json()["error"], (url, r.json())


def test_auth_errors(platform):
    url = "/storage/local/alice?op=LISTSTATUS"
    expired = platform.token("alice", lifetime=-10)
    forged = platform.token("alice")[:-4] + "AAAA"
    for headers in ({}, {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"},
                    {"Authorization": "Basic YWxpY2U6eA=="}):
        status, hdrs, body = raw(platform, "GET", url, user=None, headers=headers)
        assert status == 401 and hdrs["content-type"] == "application/json", headers
        assert json.loads(body)["error"] and hdrs["www-authenticate"].startswith("Bearer")
    status, _, body = raw(platform, "PUT", "/storage/local/alice/anon.txt?op=CREATE", user=None, body=b"x" * 100_000)
    assert status == 401 and not (platform.root / "storage/local/alice/anon.txt").exists()


def test_other_users_storage_looks_missing(platform, alice, bob):
    put_file(alice, "mine/f.txt", b"private")
    for method, url in [("GET", "mine/f.txt"), ("GET", "mine?op=LISTSTATUS"), ("GET", "mine?op=GETFILESTATUS"),
                        ("PUT", "mine/g.txt?op=CREATE"), ("PUT", "mine/n?op=MKDIRS"), ("DELETE", "mine"),
                        ("POST", "mine/f.txt?op=RENAME&destination=/local/bob/f.txt"), ("HEAD", "mine/f.txt")]:
        r = bob.request(method, "/storage/local/alice/" + url, content=b"x" if method == "PUT" else None)
        assert r.status_code == 404, (method, url, r.text)
        r_missing = bob.request(method, "/storage/local/alice/nothing-here")
        assert r_missing.status_code == 404
        if method != "HEAD":
            assert r.headers["content-type"] == "application/json"
    assert (platform.root / "storage/local/alice/mine/f.txt").read_bytes() == b"private"
    assert sorted(os.listdir(platform.root / "storage/local/alice/mine")) == ["f.txt"]


def test_list_only_and_org_listing(platform, alice, bob):
    put_file(alice, "team/shared/s.txt", b"s")
    put_file(alice, "team/hidden/h.txt", b"h")
    r = alice.post("/users/bob/permissions",
                   json=[{"uri": "storage://default/local/alice/team/shared", "action": "read"}])
    assert r.status_code == 201
    try:
        team = bob.get("/storage/local/alice/team?op=LISTSTATUS").json()["FileStatuses"]["FileStatus"]
        assert [(s["path"], s["permission"]) for s in team] == [("shared", "read")]
        projects = bob.get("/storage/local?op=LISTSTATUS").json()["FileStatuses"]["FileStatus"]
        assert sorted((s["path"], s["permission"]) for s in projects) == [("alice", "read"), ("bob", "manage")]
        assert bob.get("/storage/local/alice/team/shared/s.txt").content == b"s"
        assert bob.get("/storage/local/alice/team/hidden/h.txt").status_code == 404
        assert bob.put("/storage/local/alice/team/shared/s.txt?op=CREATE", content=b"no").status_code == 404
        listing = alice.get("/storage/local?op=LISTSTATUS").json()["FileStatuses"]["FileStatus"]
        assert [s["path"] for s in listing] == ["alice"]
    finally:
        alice.delete("/users/bob/permissions", params={"uri": "storage://default/local/alice/team/shared"})
    assert bob.get("/storage/local/alice/team/shared/s.txt").status_code == 404


TRAVERSALS = [  # (raw path below /api/v1/storage, expected status, errno or None)
    ("/local/alice/../bob", 400, "EINVAL"),
    ("/local/alice/%2e%2e/bob", 400, "EINVAL"),
    ("/local/alice/%2E%2E/%2E%2E/%2E%2E/sentinel", 400, "EINVAL"),
    ("/local/alice/..%2f..%2fbob", 400, "EINVAL"),
    ("/local/alice/sub%2f..%2f..", 400, "EINVAL"),
    ("/local/alice/a%00b", 400, "EINVAL"),
    ("/local/alice/" + "n" * 256, 400, "ENAMETOOLONG"),
    ("/local/alice/escape", 400, "ELOOP"),  # a symlink out of the root is never followed
    ("/local/alice/escape/keep.txt", 400, "ELOOP"),
    ("/local/alice/escape-file", 400, "ELOOP"),
    ("/..", 400, "EINVAL"),
    ("/local/../../sentinel/keep.txt", 400, "EINVAL"),
    ("//local/alice/%252e%252e", 404, None),  # double-encoded: the literal name "%2e%2e", missing
]


@pytest.mark.parametrize("path,status,err", TRAVERSALS)
def test_traversal_attempts(platform, outside, path, status, err):
    before = snapshot(outside), snapshot(platform.root / "storage/local/bob")
    attempts = [("GET", "?op=OPEN", None), ("GET", "?op=LISTSTATUS", None), ("PUT", "?op=CREATE", b"pwned"),
                ("PUT", "?op=MKDIRS", None), ("PATCH", "?op=WRITE", b"pwned"), ("DELETE", "?op=DELETE", None)]
    for method, query, body in attempts:
        headers = {"Content-Type": OCTET, "Content-Range": "bytes 0-4/*"} if method == "PATCH" else {}
        got, hdrs, data = raw(platform, method, "/storage" + path + query, headers=headers, body=body)
        assert got < 500, (method, path, got, data)
        assert got < 400 or hdrs["content-type"] == "application/json", (method, path, got, data)
        if method == "GET" and query == "?op=OPEN":
            assert got == status, (path, got, data)
            if err:
                assert json.loads(data)["errno"] == err, data
        elif method == "GET":
            assert got in (400, 404), (method, path, got, data)
        # PUT/PATCH/DELETE may act on a literal name or the link itself; never beyond it.
    assert (snapshot(outside), snapshot(platform.root / "storage/local/bob")) == before


def test_double_encoded_name_stays_inside(platform, outside):
    got, _, _ = raw(platform, "PUT", "/storage/local/alice/%252e%252e?op=CREATE", body=b"literal")
    assert got == 201
    assert (platform.root / "storage/local/alice/%2e%2e").read_bytes() == b"literal"


def test_rename_through_symlink_refused(platform, outside, alice):
    before = snapshot(outside)
    put_file(alice, "victim.txt", b"v")
    r = alice.post("/storage/local/alice/victim.txt",
                   params={"op": "RENAME", "destination": "/local/alice/escape/victim.txt"})
    assert r.status_code == 400 and r.json()["errno"] == "ELOOP"
    listing = alice.get("/storage/local/alice?op=LISTSTATUS").json()["FileStatuses"]["FileStatus"]
    link = next(s for s in listing if s["path"] == "escape")
    assert link["type"] == "SYMLINK" and link["target"] == str(outside)
    status = alice.get("/storage/local/alice/escape?op=GETFILESTATUS").json()["FileStatus"]
    assert (status["type"], status["target"], status["path"]) == ("SYMLINK", str(outside), "/local/alice/escape")
    r = alice.delete("/storage/local/alice/escape-file")  # removes the link, never its target
    assert r.status_code == 204
    assert snapshot(outside) == before


def test_large_listing_streams_every_entry(platform, alice):
    folder = platform.root / "storage/local/alice/many"
    folder.mkdir()
    for i in range(2500):  # several flush batches
        (folder / f"f{i:05d}").touch()
    (folder / ".apolo-upload-0123456789abcdef").touch()  # an upload in progress stays hidden
    with alice.stream("GET", "/storage/local/alice/many?op=LISTSTATUS", headers=ND) as r:
        names = [json.loads(line)["FileStatus"]["path"] for line in r.iter_lines() if line]
    assert sorted(names) == [f"f{i:05d}" for i in range(2500)]
    doc = alice.get("/storage/local/alice/many?op=LISTSTATUS").json()
    assert len(doc["FileStatuses"]["FileStatus"]) == 2500
