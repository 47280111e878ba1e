"""Property tests: whatever path string a client sends (any encoding, ``..``, ``%2f``, NUL,
symlinks planted in storage), the storage service never touches anything outside the caller's
reach and never answers 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.localplatform.test_storage_api import raw, snapshot

# A path = some "ups" in any spelling, then names (guarded ones, links, odd bytes, any text),
# joined by real or encoded separators.
UPS = st.sampled_from(["..", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "..%2f..", "%252e%252e", "...", ".", ""])
NAMES = st.one_of(
    st.sampled_from([
        "escape", "escape-file", "bob", "bob-data", "b.txt", "local", "alice", "sentinel", "keep.txt", "nested",
        "deep.txt", "%2f", "%00", "\x00", "%", "%zz", "~", "\\", "é", "\udcff", " ", "?", "#", "n" * 256,
    ]),
    st.text(min_size=1, max_size=6),
)
TRAVERSALS = st.tuples(st.lists(UPS, max_size=6), st.lists(st.one_of(NAMES, UPS), max_size=4),
                       st.sampled_from(["/", "/", "%2f", "%2F", "/./", "//"])).map(
    lambda parts: parts[2].join(parts[0] + parts[1]))
# Walks through the planted symlinks (escape -> sentinel, escape-file -> sentinel/keep.txt,
# bob -> bob's project), optionally one name further.
LINK_WALKS = st.tuples(
    st.sampled_from(["escape", "escape/keep.txt", "escape/nested", "escape/nested/deep.txt", "escape-file",
                     "bob", "bob/bob-data", "bob/bob-data/b.txt", "escape/./nested", "bob//bob-data"]),
    st.sampled_from(["", "/new", "/keep.txt", "/nested/new"]),
).map("".join)
PATHS = st.one_of(TRAVERSALS, LINK_WALKS)
#: Contents outside alice's reach, and names only a listing of the platform's own root would show.
GUARDED_BYTES = (b"outside the root", b"bob's", b"root.log", b"platform.db", b"secret")
OPERATIONS = st.sampled_from([
    ("GET", "OPEN"), ("GET", "LISTSTATUS"), ("GET", "GETFILESTATUS"), ("HEAD", "OPEN"), ("PUT", "CREATE"),
    ("PUT", "MKDIRS"), ("PATCH", "WRITE"), ("POST", "RENAME"), ("DELETE", "DELETE"),
])


def encode(path: str) -> str:
    """A request-line-safe spelling of ``path`` that keeps its ``%``, ``/`` and ``.`` as typed."""
    data = path.encode("utf-8", "surrogateescape")
    return quote(data, safe="/%.-_~!$&'()*+,;=:@")


@pytest.fixture(scope="module")
def guarded(platform):
    """Sentinel tree outside the root, symlinks to it inside alice's storage, and the trees
    alice must not change (bob's project) — with their snapshots."""
    sentinel = platform.root.parent / "sentinel"
    (sentinel / "nested").mkdir(parents=True, exist_ok=True)
    (sentinel / "keep.txt").write_text("outside the root\n")
    (sentinel / "nested" / "deep.txt").write_text("deep\n")
    bob_dir = platform.root / "storage" / "local" / "bob"
    (bob_dir / "bob-data").mkdir(exist_ok=True)
    (bob_dir / "bob-data" / "b.txt").write_text("bob's\n")
    guarded = [platform.root.parent / "sentinel", bob_dir]
    return guarded, [snapshot(p) for p in guarded]


def plant_links(platform) -> None:
    alice_dir = platform.root / "storage" / "local" / "alice"
    for name, target in (("escape", platform.root.parent / "sentinel"),
                         ("escape-file", platform.root.parent / "sentinel" / "keep.txt"),
                         ("bob", platform.root / "storage" / "local" / "bob")):
        if not (alice_dir / name).is_symlink() and not (alice_dir / name).exists():
            (alice_dir / name).symlink_to(target)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, destination=PATHS, operation=OPERATIONS, absolute=st.booleans())
def test_random_paths_stay_confined(platform, guarded, path, destination, operation, absolute):
    roots, before = guarded
    plant_links(platform)
    method, op = operation
    base = "/storage/local/alice/" if not absolute else "/storage/"
    query = f"?op={op}"
    headers = {}
    body = None
    if op == "RENAME":
        query += "&destination=" + quote(destination.encode("utf-8", "surrogateescape"), safe="")
    elif op in ("CREATE", "WRITE"):
        body = b"pwned"
        headers = {"Content-Type": "application/octet-stream", "Content-Range": "bytes 0-4/*"}
    status, hdrs, data = raw(platform, method, base + encode(path) + query, headers=headers, body=body)
    assert status < 500, (method, op, path, status, data)
    # a marker the request itself spelled (hypothesis may ask for a file named "secret") is an echo, not a leak
    echoed = (path + destination).encode("utf-8", "surrogateescape")
    signing_key = (platform.root / "secret").read_bytes()
    leaks = [m for m in GUARDED_BYTES if m in data and m not in echoed]
    assert not leaks and signing_key not in data, (method, op, path, leaks, data)
    if status >= 400 and method != "HEAD":
        assert hdrs["content-type"] == "application/json", (path, status, data)
    assert [snapshot(p) for p in roots] == before, (method, op, path, destination)
