"""``client/localfs.py`` on a real file system: nothing below a confined root is reached through a symlink, also
when the link appears between a check and the write; hostile names are told apart from representable ones."""

from __future__ import annotations

import os

import pytest

from jupyter_apolo.client.localfs import (
    ConfinedDir,
    SymlinkRefused,
    display_name,
    is_control_name,
    open_regular,
    path_problem,
)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "root/sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/secret").write_text("secret")
    (tmp_path / "root/sub/a.ipynb").write_text("a")
    os.symlink(tmp_path / "outside", tmp_path / "root/linkdir")
    os.symlink(tmp_path / "outside/secret", tmp_path / "root/leak.ipynb")
    os.mkfifo(tmp_path / "root/fifo")
    return ConfinedDir(tmp_path / "root")


def test_scan_reports_links_and_special_files_without_following_them(tree):
    scan = tree.scan()
    assert set(scan.files) == {"sub/a.ipynb"} and scan.dirs == ["sub"]
    assert scan.symlinks == ["leak.ipynb", "linkdir"] and scan.special == ["fifo"]


def test_reads_and_writes_never_go_through_a_symlink(tree, tmp_path):
    with pytest.raises(SymlinkRefused):
        tree.open_read("leak.ipynb")
    with pytest.raises(SymlinkRefused):
        tree.open_read("linkdir/secret")
    with pytest.raises(SymlinkRefused):
        tree.open_read("fifo")  # would block a plain open(); refused at once
    with pytest.raises(SymlinkRefused):
        tree.create_temp("linkdir/new.ipynb")
    with pytest.raises(SymlinkRefused):
        tree.makedirs("linkdir/deeper")
    with tree.create_temp("leak.ipynb") as pending:  # a link at the target itself: never replaced
        pending.file.write(b"x")
        with pytest.raises(SymlinkRefused):
            pending.publish()
    assert not tree.unlink("leak.ipynb") and not tree.unlink("linkdir/secret")
    assert os.listdir(tmp_path / "outside") == ["secret"] and (tmp_path / "outside/secret").read_text() == "secret"
    assert tree.lstat("leak.ipynb") is not None
    with pytest.raises(SymlinkRefused):
        tree.lstat("linkdir/secret")
    with pytest.raises(SymlinkRefused):
        open_regular(tmp_path / "root/leak.ipynb")
    with pytest.raises(ValueError):
        tree.create_temp("../escape")


def test_a_folder_swapped_for_a_link_after_the_check_is_not_written_through(tree, tmp_path):
    with tree.create_temp("sub/new.ipynb") as pending:
        pending.file.write(b"new")
        os.rename(tmp_path / "root/sub", tmp_path / "root/sub-moved")
        os.symlink(tmp_path / "outside", tmp_path / "root/sub")
        assert pending.publish() is not None  # published in the folder that was opened, not through the link
    assert (tmp_path / "root/sub-moved/new.ipynb").read_bytes() == b"new"
    assert os.listdir(tmp_path / "outside") == ["secret"]


def test_a_name_of_255_bytes_in_any_script_can_be_written(tree, tmp_path):
    name = "\u6f22" * 85  # 85 CJK characters, 3 bytes each: the longest name a file system takes
    with tree.create_temp(f"sub/{name}") as pending:
        pending.file.write(b"x")
        assert pending.publish() is not None
    assert (tmp_path / "root/sub" / name).read_bytes() == b"x"


def test_publish_keeps_what_appeared_meanwhile(tree, tmp_path):
    with tree.create_temp("sub/b.ipynb") as pending:
        pending.file.write(b"ours")
        (tmp_path / "root/sub/b.ipynb").write_text("someone else's")
        assert pending.publish(expect=None) is None  # must not exist: kept
        placed = pending.publish("b.copy.ipynb", expect=None)
    assert placed is not None and (tmp_path / "root/sub/b.ipynb").read_text() == "someone else's"
    assert (tmp_path / "root/sub/b.copy.ipynb").read_bytes() == b"ours"
    assert not [n for n in os.listdir(tmp_path / "root/sub") if n.endswith(".apolo-partial")]


@pytest.mark.parametrize("rel, problem", [
    (".git/config", "control path"), ("sub/.GIT/HEAD", "control path"), (".g\u200cit/config", "control path"),
    (".git./config", "control path"), ("GIT~1/config", "control path"), (".apolo/live.yml", "control path"),
    (".apoloignore", "control path"), ("a/.neuroignore", "control path"), (".gitattributes", "control path"),
    ("new\nline.ipynb", "U+000A"), ("tab\t.ipynb", "U+0009"), ("\u202eexe.ipynb", "U+202E"),
    ("-rf.ipynb", "starts with '-'"), ("\udcff.ipynb", "not valid UTF-8"), ("x" * 256, "longer than 255"),
    ("/".join(["d" * 200] * 21), "longer than 4000"),
])
def test_hostile_paths_are_named(rel, problem):
    assert problem in (path_problem(rel, "/home/me/project/notebooks") or "")


@pytest.mark.parametrize("rel", ["a.ipynb", "sub/é.ipynb", "\U0001f469\u200d\U0001f4bb.ipynb", "x" * 255,
                                 "results.git", "git", "my.apolo.ipynb", "a-b.ipynb"])
def test_ordinary_paths_pass(rel):
    assert path_problem(rel) is None and not is_control_name(rel)


def test_display_name_cannot_forge_a_line():
    assert display_name("a\nb\u202e\udcff") == "a\\nb\\u202e\\xff"
