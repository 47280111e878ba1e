"""%apolo ls / mkdir / cp / mv / rm against the embedded platform's storage, cross-checked with
the official apolo CLI; names with spaces, unicode, % and #; permission errors; no silent overwrite."""

from __future__ import annotations

import os

import pytest

from jupyter_apolo.magics.storage import FileList

ODD = "notes #1 100% ü.txt"  # space, '#', '%', unicode
ODD_TYPED = "notes %231 100% ü.txt"  # as typed in a storage URI: '#' quoted as %23 (the CLI's rule)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.cli
def test_mkdir_ls_rm_round_trip(shell, cli):
    assert repr(shell("mkdir storage:st-basic")) == "Created storage:st-basic"
    shell("mkdir -p storage:st-basic/a/b storage:st-basic/c")
    listing = shell("ls storage:st-basic")
    assert isinstance(listing, FileList) and listing.names == ["a", "c"]
    assert listing["a"].is_dir and "a" in listing
    assert cli("alice")("ls", "storage:st-basic").stdout.split() == ["a", "c"]
    long = shell("ls -l storage:st-basic")
    assert [h for h, _ in long.columns] == ["TYPE", "PERMISSION", "SIZE", "MODIFIED", "NAME"]
    assert "directory  manage" in repr(long)
    assert shell("ls -d storage:st-basic/a")[0].name == "a"
    assert repr(shell("rm -r storage:st-basic/a")) == "Removed storage:st-basic/a"
    assert shell("ls storage:st-basic").names == ["c"]


def test_mkdir_errors_print_one_line(shell, capsys):
    shell("mkdir -p storage:st-exists")
    assert shell("mkdir storage:st-exists") is None
    assert capsys.readouterr().err.startswith("%apolo mkdir: File exists")
    assert shell("mkdir storage:st-missing-parent/child") is None
    err = capsys.readouterr().err
    assert err.startswith("%apolo mkdir: No such directory") and len(err.strip().splitlines()) == 1


def test_rm_folder_needs_r_and_missing_is_named(shell, capsys):
    shell("mkdir -p storage:st-rm/x")
    assert shell("rm storage:st-rm") is None
    assert "is a folder: use `%apolo rm -r`" in capsys.readouterr().err
    assert shell("ls storage:st-rm").names == ["x"]
    assert shell("rm storage:st-nothing-here") is None
    assert capsys.readouterr().err.strip() == (
        "%apolo rm: cannot access storage:st-nothing-here: not found (or you lack read permission on it)")


@pytest.mark.cli
def test_upload_and_download_odd_names(shell, cli, workdir):
    src = workdir / "up"
    (src / "sub dir").mkdir(parents=True)
    (src / ODD).write_bytes(b"odd bytes\n" * 1000)
    (src / "sub dir" / "deep ü.ipynb").write_text('{"cells": []}')
    shell("mkdir -p storage:st-odd")
    msg = shell("cp -r up storage:st-odd")
    assert msg.files == 2 and "Uploaded up -> storage:st-odd/up" in repr(msg)
    listing = shell("ls storage:st-odd/up")
    assert sorted(listing.names) == sorted([ODD, "sub dir"])
    assert listing[ODD].size == 10_000
    # the official CLI sees the same names (it prints them as they are)
    assert ODD in cli("alice")("ls", "storage:st-odd/up").stdout
    # single file by a typed URI: '#' as %23, '%' and spaces and unicode as they are
    shell(f'cp "storage:st-odd/up/{ODD_TYPED}" copy.txt')
    assert (workdir / "copy.txt").read_bytes() == (src / ODD).read_bytes()
    # a whole tree back, into a new local folder
    shell("cp -r storage:st-odd/up down")
    assert (workdir / "down" / ODD).read_bytes() == (src / ODD).read_bytes()
    assert (workdir / "down" / "sub dir" / "deep ü.ipynb").read_text() == '{"cells": []}'


def test_cell_with_quoted_hash_in_uri(shell, workdir):
    (workdir / "h.txt").write_text("hash")
    shell("mkdir -p storage:st-hash")
    result = shell.cell('%apolo cp h.txt "storage:st-hash/a %23b.txt"')
    assert result.success
    assert shell("ls storage:st-hash").names == ["a #b.txt"]


def test_listing_html_is_escaped(shell, workdir):
    (workdir / "<i>x & y.txt").write_text("x")
    shell("mkdir -p storage:st-html")
    shell("cp --no-progress '<i>x & y.txt' storage:st-html")
    html = shell("ls storage:st-html")._repr_html_()
    assert "&lt;i&gt;x &amp; y.txt" in html and "<i>" not in html


def test_cp_never_overwrites_silently(shell, workdir, capsys):
    (workdir / "f.txt").write_text("one")
    shell("mkdir -p storage:st-ow")
    shell("cp f.txt storage:st-ow/f.txt")
    (workdir / "f.txt").write_text("two")
    assert shell("cp f.txt storage:st-ow/f.txt") is None
    assert "storage:st-ow/f.txt exists: pass -f to overwrite it" in capsys.readouterr().err
    assert shell("cp f.txt storage:st-ow") is None  # into the folder: same file
    capsys.readouterr()
    shell("cp storage:st-ow/f.txt back.txt")
    assert (workdir / "back.txt").read_text() == "one"
    assert shell("cp storage:st-ow/f.txt back.txt") is None
    assert "back.txt exists: pass -f" in capsys.readouterr().err
    shell("cp -f f.txt storage:st-ow/f.txt")
    shell("cp -f storage:st-ow/f.txt back.txt")
    assert (workdir / "back.txt").read_text() == "two"


def test_cp_argument_problems(shell, workdir, capsys):
    (workdir / "d").mkdir()
    assert shell("cp d storage:st-x") is None
    assert "d is a folder: use `%apolo cp -r`" in capsys.readouterr().err
    assert shell("cp nothing.txt storage:st-x") is None
    assert "nothing.txt: no such local file or folder" in capsys.readouterr().err
    assert shell("cp a.txt b.txt") is None
    assert "one side storage:" in capsys.readouterr().err


def test_cp_shows_a_progress_bar(shell, workdir, capsys):
    (workdir / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    shell("mkdir -p storage:st-progress")
    shell("cp big.bin storage:st-progress")
    err = capsys.readouterr().err
    assert "big.bin" in err and "3.00M" in err and "1/1 files" in err  # tqdm's text bar in a terminal
    shell("cp --no-progress storage:st-progress/big.bin big2.bin")
    assert capsys.readouterr().err == ""
    assert (workdir / "big2.bin").read_bytes() == (workdir / "big.bin").read_bytes()


def test_mv(shell, workdir, capsys):
    shell("mkdir -p storage:st-mv/dir storage:st-mv/other")
    (workdir / "m.txt").write_text("m")
    shell("cp m.txt storage:st-mv/m.txt")
    moved = repr(shell("mv storage:st-mv/m.txt storage:st-mv/dir"))
    assert moved == "Moved storage:st-mv/m.txt -> storage:st-mv/dir/m.txt"
    shell("mv storage:st-mv/dir/m.txt 'storage:st-mv/renamed ü.txt'")
    assert sorted(shell("ls storage:st-mv").names) == ["dir", "other", "renamed ü.txt"]
    shell("cp m.txt storage:st-mv/other/m.txt")
    assert shell("mv 'storage:st-mv/renamed ü.txt' storage:st-mv/other/m.txt") is None
    assert "exists: remove it first" in capsys.readouterr().err
    assert "renamed ü.txt" in shell("ls storage:st-mv").names


def test_permissions_on_storage(shell, workdir, capsys):
    shell("mkdir -p storage:st-private/data")
    (workdir / "p.txt").write_text("private")
    shell("cp p.txt storage:st-private/data/p.txt")

    shell.login("bob")
    assert shell("ls storage:/alice/st-private") is None
    assert "cannot access storage:/alice/st-private: not found (or you lack read permission" in capsys.readouterr().err

    shell.login("alice")
    assert "bob can list and download these files" in repr(shell("share storage:st-private bob read"))

    shell.login("bob")
    assert shell("ls storage:/alice/st-private/data").names == ["p.txt"]
    shell("cp storage:/alice/st-private/data/p.txt got.txt")
    assert (workdir / "got.txt").read_text() == "private"
    capsys.readouterr()
    assert shell("cp -f --no-progress got.txt storage:/alice/st-private/data/p.txt") is None  # read is not write
    assert capsys.readouterr().err.startswith("%apolo cp: ")
    assert shell("rm storage:/alice/st-private/data/p.txt") is None
    assert capsys.readouterr().err.startswith("%apolo rm: ")
    shell.login("alice")
    assert shell("ls storage:st-private/data").names == ["p.txt"]


def test_cp_names_what_it_skipped(shell, cli, workdir, capsys):
    tree = workdir / "with-link"
    tree.mkdir()
    (tree / "real.txt").write_text("ok")
    secret = workdir / "secret.txt"
    secret.write_text("never uploaded")
    (tree / "leak.txt").symlink_to(secret)  # a symlink is reported and skipped, never followed
    out = repr(shell("cp -r --no-progress with-link storage:st-skip"))
    assert "1 file(s) copied." in out
    err = capsys.readouterr().err
    assert "%apolo cp: skipped" in err and "leak.txt" in err, err
    assert cli("alice")("ls", "storage:st-skip").stdout.split() == ["real.txt"]
