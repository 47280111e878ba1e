"""Properties of the 3-way pull over random edit histories: no local edit is ever lost, every storage edit arrives
(in place or as a conflict copy), and a second pull has nothing left to do.

Storage is a local folder here (``DirRemote``): these tests exercise the plan/apply logic over thousands of
combinations in seconds; the same logic against the real platform is in test_sync_platform.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_apolo.notebooks.manifest import Manifest
from jupyter_apolo.notebooks.sync import PUSH, NotebookSync, RemoteFile


class DirRemote:
    """A ``RemoteTree`` over a local folder (whole-second mtimes, like storage). ``skew``: seconds the
    "storage" clock runs ahead of this machine's (negative: behind); its mtimes and clock both carry it."""

    def __init__(self, root: Path, skew: int = 0):
        self.root, self.uri, self.skew = root, f"file://{root}", skew

    def _status(self, rel: str) -> RemoteFile:
        st_ = (self.root / rel).stat()
        return RemoteFile(rel, st_.st_size, int(st_.st_mtime) + self.skew)

    async def server_time(self) -> float:
        return time.time() + self.skew

    async def list_files(self, skip_dir):  # type: ignore[no-untyped-def]
        return {p.relative_to(self.root).as_posix(): self._status(p.relative_to(self.root).as_posix())
                for p in self.root.rglob("*") if p.is_file()}

    async def download(self, path: str, out, size: int | None = None) -> str:  # type: ignore[no-untyped-def]
        data = (self.root / path).read_bytes()
        out.write(data)
        return hashlib.sha256(data).hexdigest()

    async def upload(self, src, path: str, size: int) -> RemoteFile:  # type: ignore[no-untyped-def]
        (self.root / path).parent.mkdir(parents=True, exist_ok=True)
        (self.root / path).write_bytes(src.read())
        return self._status(path)

    async def status(self, path: str) -> RemoteFile | None:
        return self._status(path) if (self.root / path).is_file() else None

    async def delete(self, path: str) -> None:
        (self.root / path).unlink()


OPS = st.sampled_from(["keep", "modify", "delete"])
CASE = st.tuples(st.booleans(), OPS, OPS)  # (exists at the last sync, storage op, local op)


def syncer(work: Path) -> NotebookSync:
    return NotebookSync(work / "local", DirRemote(work / "remote"), Manifest.load(work / "state/nb.json", "r"))


def apply_op(root: Path, rel: str, op: str, existed: bool, tag: str) -> bytes | None:
    path = root / rel
    if op == "modify":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{rel} by {tag}".encode())  # creates the file when it did not exist
        return path.read_bytes()
    if op == "delete" and existed:
        path.unlink()
    return None


@settings(max_examples=15, deadline=None)
@given(st.dictionaries(st.sampled_from(["a.ipynb", "b.ipynb", "d/c.ipynb", "d/e.txt"]), CASE, min_size=1))
def test_pull_loses_nothing_and_converges(cases):
    work = Path(tempfile.mkdtemp())
    try:
        (work / "local").mkdir(), (work / "remote").mkdir()
        for rel, (existed, _, _) in cases.items():
            if existed:
                (work / "remote" / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / "remote" / rel).write_bytes(f"{rel} base".encode())
        s = syncer(work)
        asyncio.run(s.apply(asyncio.run(s.plan())))
        local_edits, remote_edits = {}, {}
        for rel, (existed, remote_op, local_op) in cases.items():
            remote_edits[rel] = apply_op(work / "remote", rel, remote_op, existed, "bob")
            local_edits[rel] = apply_op(work / "local", rel, local_op, existed, "alice")

        s = syncer(work)
        result = asyncio.run(s.apply(asyncio.run(s.plan()), delete=True))
        local_contents = {p.read_bytes() for p in (work / "local").rglob("*") if p.is_file()}
        for rel, content in local_edits.items():
            if content is not None:
                assert (work / "local" / rel).read_bytes() == content, f"local edit of {rel} lost"
        for rel, content in remote_edits.items():
            if content is not None:
                assert content in local_contents, f"storage edit of {rel} did not arrive"
        for rel, (existed, remote_op, local_op) in cases.items():
            if existed and remote_op == "delete" and local_op == "keep":
                assert not (work / "local" / rel).exists() and rel in result.deleted
        assert not list((work / "local").rglob("*.apolo-partial"))

        again = syncer(work)
        plan = asyncio.run(again.plan())
        # only same-second storage mtimes may be re-checked, and the re-check transfers nothing
        assert all(c.reason.startswith("maybe changed") or c.action == "forget" for c in plan.changes), plan.changes
        result = asyncio.run(again.apply(plan))
        assert result.downloaded == [] and result.conflicts == []
    finally:
        shutil.rmtree(work)


@settings(max_examples=8, deadline=None)
@given(st.dictionaries(st.sampled_from(["a.ipynb", "d/c.ipynb"]), CASE, min_size=1))
def test_push_never_overwrites_a_teammates_edit(cases):
    work = Path(tempfile.mkdtemp())
    try:
        (work / "local").mkdir(), (work / "remote").mkdir()
        for rel, (existed, _, _) in cases.items():
            if existed:
                (work / "local" / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / "local" / rel).write_bytes(f"{rel} base".encode())
        s = syncer(work)
        asyncio.run(s.apply(asyncio.run(s.plan(PUSH))))
        remote_edits = {rel: apply_op(work / "remote", rel, r, e, "bob") for rel, (e, r, _) in cases.items()}
        local_edits = {rel: apply_op(work / "local", rel, loc, e, "alice") for rel, (e, _, loc) in cases.items()}
        s = syncer(work)
        asyncio.run(s.apply(asyncio.run(s.plan(PUSH))))
        for rel, content in remote_edits.items():
            if content is not None:  # bob's version is on storage or kept beside alice's file
                kept = {p.read_bytes() for p in (work / "local").rglob("*") if p.is_file()}
                assert (work / "remote" / rel).read_bytes() == content or content in kept
        for rel, content in local_edits.items():
            if content is not None:
                assert (work / "local" / rel).read_bytes() == content
        assert os.listdir(work / "local") is not None
    finally:
        shutil.rmtree(work)


@pytest.mark.parametrize("skew", [0, -30, 30])
def test_a_same_second_storage_edit_arrives_whatever_the_clock_skew(tmp_path, skew):
    # bob's same-size edit lands in the second after our listing began, with storage's clock `skew` s off ours:
    # (size, mtime) are unchanged, so only a listing time taken on storage's clock tells it apart
    (tmp_path / "local").mkdir(), (tmp_path / "remote").mkdir()
    nb = tmp_path / "remote" / "a.ipynb"
    stamp = time.time() + 1  # the file's mtime second is never before the listing's
    nb.write_bytes(b"AAAA")
    os.utime(nb, (stamp, stamp))

    def sync() -> NotebookSync:
        return NotebookSync(tmp_path / "local", DirRemote(tmp_path / "remote", skew),
                            Manifest.load(tmp_path / "state/nb.json", "r"))

    s = sync()
    asyncio.run(s.apply(asyncio.run(s.plan())))
    assert (tmp_path / "local" / "a.ipynb").read_bytes() == b"AAAA"
    nb.write_bytes(b"BBBB")
    os.utime(nb, (stamp, stamp))
    s = sync()
    asyncio.run(s.apply(asyncio.run(s.plan())))
    assert (tmp_path / "local" / "a.ipynb").read_bytes() == b"BBBB"
