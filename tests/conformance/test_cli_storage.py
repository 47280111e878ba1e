"""The official apolo CLI (26.9.0) against the embedded platform's storage service, as two
users: every storage command it has, byte-identical round trips, and sharing with bob."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import pytest

from tests.support.platform import strip_ansi

# Each apolo call starts a Python CLI (1-2 s idle, 10-15 s on a loaded 2-core machine).
pytestmark = [pytest.mark.cli, pytest.mark.slow, pytest.mark.timeout(900)]


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every file below ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def names(proc) -> set[str]:
    return {line.strip() for line in strip_ansi(proc.stdout).splitlines() if line.strip()}


@pytest.fixture(scope="module")
def local_tree(tmp_path_factory) -> Path:
    """Names with spaces, nesting, an empty file and a file over 4 MiB (several WRITE chunks)."""
    root = tmp_path_factory.mktemp("local") / "tree"
    (root / "sub dir" / "deeper").mkdir(parents=True)
    (root / "sub dir" / "a file.txt").write_text("spaces in names\n")
    (root / "sub dir" / "deeper" / "empty").write_bytes(b"")
    (root / "big.bin").write_bytes(os.urandom(4 * 1024 * 1024 + 12345))
    (root / "ünïcode näme.md").write_text("ok\n")
    return root


def test_mkdir_and_ls(cli):
    alice = cli("alice")
    alice("mkdir", "-p", "storage:ls-test/a/b")
    alice("mkdir", "storage:ls-test/c")
    assert names(alice("ls", "storage:ls-test")) == {"a", "c"}
    long = strip_ansi(alice("ls", "-l", "storage:ls-test").stdout)
    assert long.count("dm ") == 2, long  # directory, manage
    only = strip_ansi(alice("ls", "-d", "storage:ls-test/a").stdout)
    assert only.strip().endswith("a") and len(only.strip().splitlines()) == 1, only
    again = alice("mkdir", "storage:ls-test/c", check=False)
    assert again.returncode != 0 and "exists" in again.stderr.lower(), again.stderr
    orphan = alice("mkdir", "storage:ls-test/missing/x", check=False)
    assert orphan.returncode == 72 and "No such directory" in orphan.stderr, orphan.stderr


def test_fixture_notebooks_round_trip(cli, shared_fixtures, tmp_path):
    alice = cli("alice")
    src = shared_fixtures / "notebooks"
    alice("mkdir", "-p", "storage:rt")
    alice("cp", "-r", "-T", str(src), "storage:rt/notebooks", timeout=300)
    assert "jupyter-docs" in names(alice("ls", "storage:rt/notebooks"))
    back = tmp_path / "notebooks"
    alice("cp", "-r", "-T", "storage:rt/notebooks", str(back), timeout=300)
    assert tree_bytes(back) == tree_bytes(src)
    assert not filecmp.dircmp(src, back).diff_files


def test_spaces_unicode_and_big_file_round_trip(cli, local_tree, tmp_path):
    alice = cli("alice")
    alice("mkdir", "-p", "storage:rt")
    alice("cp", "-r", "-T", str(local_tree), "storage:rt/tree", timeout=300)
    long = strip_ansi(alice("ls", "-l", "storage:rt/tree").stdout)
    assert str(4 * 1024 * 1024 + 12345) in long.replace(",", "") or "4.0M" in long, long
    back = tmp_path / "tree"
    alice("cp", "-r", "-T", "storage:rt/tree", str(back), timeout=300)
    assert tree_bytes(back) == tree_bytes(local_tree)
    single = tmp_path / "single.txt"
    alice("cp", "storage:rt/tree/sub dir/a file.txt", str(single))
    assert single.read_text() == "spaces in names\n"


def test_mv_rm_tree_df(cli, tmp_path):
    alice = cli("alice")
    (tmp_path / "f.txt").write_text("move me\n")
    alice("mkdir", "-p", "storage:ops/inner")
    alice("cp", str(tmp_path / "f.txt"), "storage:ops/f.txt")
    alice("mv", "storage:ops/f.txt", "storage:ops/g.txt")
    assert names(alice("ls", "storage:ops")) == {"g.txt", "inner"}
    alice("mv", "storage:ops/g.txt", "storage:ops/inner")  # into an existing folder
    assert names(alice("ls", "storage:ops/inner")) == {"g.txt"}
    tree = strip_ansi(alice("storage", "tree", "storage:ops").stdout)
    assert "inner" in tree and "g.txt" in tree, tree
    df = strip_ansi(alice("storage", "df").stdout)
    assert "Total" in df and "Free" in df, df
    alice("rm", "-r", "storage:ops")
    gone = alice("ls", "storage:ops", check=False)
    assert gone.returncode == 72 and "not found" in gone.stderr.lower(), gone.stderr


def test_share_read_then_revoke(cli, tmp_path):
    alice, bob = cli("alice"), cli("bob")
    (tmp_path / "secret.txt").write_text("for bob, later\n")
    alice("mkdir", "-p", "storage:x")
    alice("mkdir", "-p", "storage:private")
    alice("cp", str(tmp_path / "secret.txt"), "storage:x/secret.txt")

    before = bob("ls", "storage:/alice/x", check=False)
    assert before.returncode == 72 and "not found" in before.stderr.lower(), before.stderr
    fetch = bob("cp", "storage:/alice/x/secret.txt", str(tmp_path / "stolen.txt"), check=False)
    assert fetch.returncode != 0 and not (tmp_path / "stolen.txt").exists()

    alice("share", "storage:/alice/x", "bob", "read")
    assert names(bob("ls", "storage:/alice/x")) == {"secret.txt"}
    assert "r" in strip_ansi(bob("ls", "-l", "storage:/alice/x").stdout).split()[0]
    # list-only on the project folder: only the shared entry shows, not "private"
    assert names(bob("ls", "storage:/alice")) == {"x"}
    bob("cp", "storage:/alice/x/secret.txt", str(tmp_path / "got.txt"))
    assert (tmp_path / "got.txt").read_text() == "for bob, later\n"

    (tmp_path / "bobs.txt").write_text("bob was here\n")
    write = bob("cp", str(tmp_path / "bobs.txt"), "storage:/alice/x/bobs.txt", check=False)
    assert write.returncode != 0, write.stdout
    assert bob("rm", "storage:/alice/x/secret.txt", check=False).returncode != 0
    assert bob("mkdir", "-p", "storage:/alice/x/sub", check=False).returncode != 0
    assert names(alice("ls", "storage:x")) == {"secret.txt"}

    alice("acl", "revoke", "storage:/alice/x", "bob")
    after = bob("ls", "storage:/alice/x", check=False)
    assert after.returncode == 72 and "not found" in after.stderr.lower(), after.stderr
