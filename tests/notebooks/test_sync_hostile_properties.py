"""Property (issue 10): for any storage tree a teammate can write (names from hostile alphabets, control paths,
names up to the platform's 255 bytes, non-UTF-8 bytes) and any local checkout holding symlinks (to files and
folders, inside and outside the notebooks folder, dangling), a pull and a push, then a second round with deletions
on both sides, write and delete only regular files strictly inside the notebooks folder, never touch a control
path, never replace or follow a symlink, and never upload a symlink's target.

Real embedded platform over HTTP: bob writes storage with raw platform calls, alice syncs through the client.
Everything outside the notebooks folder and every symlink is watched by an lstat snapshot (nothing followed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_apolo.client.localfs import is_control_name
from jupyter_apolo.notebooks.manifest import Manifest
from jupyter_apolo.notebooks.remote import StorageFolder
from jupyter_apolo.notebooks.sync import CONFLICT_MARK, PULL, PUSH, NotebookSync

pytestmark = pytest.mark.timeout(600)
TEAM_STORAGE = "storage/local/awesome-team/awesome_project"

NAMES = st.sampled_from([
    "a.ipynb", "b.ipynb", "sub", "deep", "link", "linkdir", "é.ipynb", "\U0001f469\u200d\U0001f4bb.ipynb",
    ".git", ".GIT", ".git.", "git~1", ".g\u200cit", ".hg", ".apolo", ".neuro", ".apoloignore", ".gitignore",
    "config", "HEAD", "new\nline.ipynb", "tab\tx.ipynb", "cr\rx.ipynb", "\u202eevil.ipynb", "bidi\u2066.ipynb",
    "-rf.ipynb", "\udcff\udcfe.ipynb", "ok\udc80", "x" * 249 + ".ipynb", "y" * 200, "\u6f22" * 85,
])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(tuple)
STORAGE_TREES = st.dictionaries(PATHS, st.binary(min_size=0, max_size=40), max_size=8)
KINDS = st.sampled_from(["file", "file", "link-out-file", "link-out-dir", "link-in-file", "link-in-dir", "dangling"])
CHECKOUTS = st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=2).map(tuple), KINDS), max_size=8)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry below ``root`` by relative path (lstat, nothing followed): files with size/mtime/sha256,
    symlinks with their target, folders, special files."""
    found: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):  # followlinks=False: a symlinked folder is listed, not entered
        for name in dirs + files:
            path = Path(folder) / name
            st_ = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(st_.st_mode):
                found[rel] = ("L", os.readlink(path))
            elif stat.S_ISDIR(st_.st_mode):
                found[rel] = ("D",)
            elif stat.S_ISREG(st_.st_mode):
                found[rel] = ("F", st_.st_size, st_.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[rel] = ("S",)
    return found


def is_conflict_copy_of(rel: str, paths: set[str]) -> bool:
    """Whether ``rel`` is ``name.from-storage[-N].ext`` beside one of ``paths`` (its stem possibly shortened)."""
    folder, _, name = rel.rpartition("/")
    head = name[: name.find(CONFLICT_MARK)] if CONFLICT_MARK in name else None
    return head is not None and any(p.rpartition("/")[0] == folder and p.rpartition("/")[2].startswith(head)
                                    for p in paths)


def check_local_changes(before: dict, after: dict, writable: set[str], deletable: set[str], what: str) -> None:
    """Between two snapshots of the universe, only regular files below ``checkout/notebooks/`` changed, none
    under a control path: each one written is a storage path of this sync (or a conflict copy of one) in
    ``writable``, each one deleted is in ``deletable``."""
    prefix = "checkout/notebooks/"
    for rel in sorted(set(before) | set(after)):
        old, new = before.get(rel), after.get(rel)
        if old == new or (old and new and old[0] == new[0] == "D"):
            continue
        assert rel.startswith(prefix), f"{what} touched {rel!r} outside the notebooks folder: {old} -> {new}"
        inner = rel[len(prefix):]
        assert old is None or old[0] in ("F", "D"), f"{what} replaced or removed {rel!r} ({old}) -> {new}"
        assert new is None or new[0] in ("F", "D"), f"{what} created {rel!r} as {new}"
        assert not any(is_control_name(p) for p in inner.split("/")), f"{what} touched a control path {rel!r}"
        if new is not None and new[0] == "F":
            assert inner in writable or is_conflict_copy_of(inner, writable), f"{what} wrote {inner!r}, not synced"
        if new is None and old[0] == "F":
            assert inner in deletable, f"{what} deleted {inner!r}, which storage still has"


def wire(path: tuple[str, ...] | str) -> str:
    parts = path.split("/") if isinstance(path, str) else path
    return "/".join(quote(p, safe="", errors="surrogateescape") for p in parts)


class World:
    """One example: a storage folder bob writes, alice's checkout and an outside area with secrets."""

    def __init__(self, platform, api):  # type: ignore[no-untyped-def]
        self.work = Path(tempfile.mkdtemp(prefix="hostile-"))
        self.universe = self.work / "universe"
        self.outside = self.universe / "outside"
        self.notebooks = self.universe / "checkout" / "notebooks"
        (self.outside / "dir" / "sub").mkdir(parents=True)
        self.notebooks.mkdir(parents=True)
        (self.universe / "checkout" / "README.md").write_text("project file outside the notebooks folder")
        tag = uuid.uuid4().hex
        self.secrets = {f"SECRET-FILE-{tag}".encode(), f"SECRET-DIR-{tag}".encode()}
        (self.outside / "secret.txt").write_bytes(f"SECRET-FILE-{tag}".encode())
        (self.outside / "dir" / "secret.ipynb").write_bytes(f"SECRET-DIR-{tag}".encode())
        self.folder = f"prop-{tag[:12]}"
        self.bob = platform.http("bob")
        self.api = api
        self.uri = f"storage:/awesome-team/awesome_project/{self.folder}"

    def close(self) -> None:
        self.bob.close()
        shutil.rmtree(self.work, ignore_errors=True)

    # -- storage (bob) -------------------------------------------------------------------------

    def put(self, path: tuple[str, ...], data: bytes) -> bool:
        resp = self.bob.put(f"{TEAM_STORAGE}/{self.folder}/{wire(path)}", params={"op": "CREATE"}, content=data)
        return resp.status_code in (200, 201)  # a file where a folder is (or vice versa) is refused: fine

    def delete(self, rel: str) -> None:
        self.bob.delete(f"{TEAM_STORAGE}/{self.folder}/{wire(rel)}", params={"op": "DELETE", "recursive": "false"})

    def storage(self) -> dict[str, bytes]:
        """Every file of the storage folder: relative path (decoded, surrogate-escaped) -> bytes."""
        found: dict[str, bytes] = {}

        def walk(rel: str) -> None:
            resp = self.bob.get(f"{TEAM_STORAGE}/{self.folder}/{wire(rel) if rel else ''}".rstrip("/"),
                                params={"op": "LISTSTATUS"})
            if resp.status_code == 404:
                return
            for entry in resp.json()["FileStatuses"]["FileStatus"]:
                child = f"{rel}/{entry['path']}" if rel else entry["path"]
                if entry["type"] == "DIRECTORY":
                    walk(child)
                elif entry["type"] == "FILE":
                    found[child] = self.bob.get(f"{TEAM_STORAGE}/{self.folder}/{wire(child)}",
                                                params={"op": "OPEN"}).content
        walk("")
        return found

    # -- the checkout (alice) --------------------------------------------------------------------

    def make_local(self, path: tuple[str, ...], kind: str) -> None:
        folder = self.notebooks
        for part in path[:-1]:  # never through a symlink or a file: the test must not write outside either
            folder = folder / part
            if not os.path.lexists(folder):
                folder.mkdir()
            elif not stat.S_ISDIR(folder.lstat().st_mode):
                return
        target = folder / path[-1]
        if os.path.lexists(target):
            return
        links = {"link-out-file": self.outside / "secret.txt", "link-out-dir": self.outside / "dir",
                 "link-in-file": self.notebooks / "a.ipynb", "link-in-dir": self.notebooks / "sub",
                 "dangling": self.outside / "missing"}
        if kind == "file":
            target.write_bytes(b"local " + os.fsencode("/".join(path)))
        else:
            os.symlink(links[kind], target)

    def run(self, direction: str, delete: bool):  # type: ignore[no-untyped-def]
        async def go(aio):  # type: ignore[no-untyped-def]
            remote = StorageFolder(aio, self.uri)
            manifest = Manifest.load(self.work / "state" / "notebooks.json", remote.uri)
            syncer = NotebookSync(self.notebooks, remote, manifest)
            plan = await syncer.plan(direction)
            return plan, await syncer.apply(plan, delete=delete)

        return self.api.call(go)


def pull_and_check(world: World, delete: bool, what: str, deleted_on_storage: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    before, on_storage = snapshot(world.universe), world.storage()
    plan, result = world.run(PULL, delete)
    check_local_changes(before, snapshot(world.universe), set(on_storage), set(deleted_on_storage), what)
    return plan, result


def push_and_check(world: World, delete: bool, what: str):  # type: ignore[no-untyped-def]
    before_local, before = snapshot(world.universe), world.storage()
    plan, result = world.run(PUSH, delete)
    after_local, after = snapshot(world.universe), world.storage()
    check_local_changes(before_local, after_local, set(), set(), what)  # a push writes nothing locally
    regular = {rel[len("checkout/notebooks/"):]: v for rel, v in before_local.items()
               if rel.startswith("checkout/notebooks/") and v[0] == "F"}
    for rel, data in after.items():
        assert data not in world.secrets, f"{what} uploaded a symlink's target as {rel!r}"
        if before.get(rel) != data:  # written by this push: only a regular local file, never via a link
            assert rel in regular, f"{what} uploaded {rel!r}, which is no regular local file"
            assert hashlib.sha256(data).hexdigest() == regular[rel][3], f"{what} uploaded other bytes as {rel!r}"
            assert not any(is_control_name(p) for p in rel.split("/")), f"{what} uploaded a control path {rel!r}"
    return plan, result, before, after


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(tree=STORAGE_TREES, checkout=CHECKOUTS, data=st.data())
def test_pull_and_push_touch_only_regular_files_inside_the_notebooks_folder(platform, session, tree, checkout, data):
    world = World(platform, session("alice").api)
    try:
        for path, content in tree.items():
            world.put(path, content)
        for path, kind in checkout:
            world.make_local(path, kind)

        pull_and_check(world, True, "first pull")
        _, _, _, stored = push_and_check(world, True, "first push")

        # round 2: bob deletes some storage files, alice some local regular files; deletions must follow exactly
        gone_remote = data.draw(st.sets(st.sampled_from(sorted(stored)))) if stored else set()
        for rel in gone_remote:
            world.delete(rel)
        local_files = sorted(rel for rel, v in snapshot(world.notebooks).items() if v[0] == "F")
        gone_local = data.draw(st.sets(st.sampled_from(local_files))) if local_files else set()
        for rel in gone_local:
            (world.notebooks / rel).unlink()
        before = snapshot(world.notebooks)
        _, result = pull_and_check(world, True, "second pull", frozenset(gone_remote))
        deleted = {rel for rel, v in before.items() if v[0] == "F" and rel not in snapshot(world.notebooks)}
        assert deleted <= gone_remote and set(result.deleted) <= gone_remote, (deleted, gone_remote)
        _, result, before_push, after_push = push_and_check(world, True, "second push")
        removed = set(before_push) - set(after_push)
        assert removed <= gone_local, f"the push deleted {removed - gone_local} on storage, never deleted locally"
    finally:
        world.close()
