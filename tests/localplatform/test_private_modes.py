"""The embedded platform's data is private to its OS user whatever the umask (issue 10, finding
8): platform.db and its WAL/SHM (job envs hold passed-config tokens), the signing key, storage
files and job logs are 0600-or-less and folders 0700-or-less, including data an older version
left readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.localplatform.test_jobs_api import finished
from tests.support.platform import LocalPlatform


def readable_by_others(root: Path) -> list[str]:
    """Every file or folder under ``root`` (symlinks aside) with a group or other bit."""
    found = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.filemode(st.st_mode)}")
    return found


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_everything_under_the_root_is_private_under_umask_022(tmp_path, loose_umask):
    root = tmp_path / "root"
    # data from an older version, written world-readable before this start
    (root / "storage" / "local" / "alice" / "old").mkdir(parents=True, mode=0o755)
    (root / "storage" / "local" / "alice" / "old" / "notes.txt").write_text("old")
    os.chmod(root / "storage" / "local" / "alice" / "old" / "notes.txt", 0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the platform's")
    (root / "storage" / "local" / "alice" / "link").symlink_to(outside)
    lp = LocalPlatform(root).start()  # inherits umask 022
    try:
        alice = lp.http("alice")
        assert alice.put("/storage/local/alice/new/deep/f.txt", content=b"x").status_code == 201
        assert alice.put("/storage/local/alice/made", params={"op": "MKDIRS"}).status_code == 201
        r = alice.post("/jobs?from_preset", json={
            "preset_name": "cpu-small", "image": "python:3", "pass_config": True,
            "command": "sh -c 'echo log line; echo out > /data/job-out.txt; mkdir -p /data/job-dir; touch ~/home-file'",
            "volumes": [{"src_storage_uri": "storage://default/local/alice/vol", "dst_path": "/data"}]})
        assert r.status_code == 202, r.text
        assert finished(alice, r.json()["id"])["status"] == "succeeded"
        assert alice.get("/storage/local/alice/vol/job-out.txt").text == "out\n"
        for name in ("platform.db", "platform.db-wal", "platform.db-shm", "secret"):
            assert (root / name).exists(), name
        assert (root / "jobs" / r.json()["id"] / "output.log").read_text() == "log line\n"
        assert readable_by_others(root) == []
        assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a symlink's target is left alone
    finally:
        lp.stop()
