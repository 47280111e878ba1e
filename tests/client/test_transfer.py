"""Transfers over real HTTP: trees both ways byte-identical (and identical to what `apolo cp`
gets), resume after a dropped connection, atomic local writes, progress, concurrency."""

from __future__ import annotations

import filecmp
import hashlib
import os
from pathlib import Path

import pytest

from jupyter_apolo.client import Apolo, NotFoundError, PlatformUnreachable, resolve_config
from jupyter_apolo.client.storage import child_uri
from jupyter_apolo.client.transfer import CHUNK
from tests.support.tcp_proxy import CuttingProxy


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_notebooks_tree_roundtrip_matches_cli(apolo, cli, shared_fixtures, unique, tmp_path):
    api = apolo("alice")
    src = shared_fixtures / "notebooks"
    remote = f"storage:{unique('nb')}/notebooks"
    seen = []
    n = api.transfer.upload_tree(src, remote, progress=lambda p: seen.append((p.bytes_done, p.files_done)))
    files = tree_digest(src)
    assert n == len(files) and seen[-1] == (sum((src / f).stat().st_size for f in files), len(files))

    got = tmp_path / "ours"
    assert api.transfer.download_tree(remote, got, concurrency=4) == len(files)
    assert tree_digest(got) == files
    cli("alice")("cp", "-r", "-T", remote, str(tmp_path / "cli"))
    assert tree_digest(tmp_path / "cli") == files
    # the CLI uploads, we download: identical too
    cli("alice")("cp", "-r", "-T", str(src / "ipywidgets"), f"{remote}-cli")
    api.transfer.download_tree(f"{remote}-cli", tmp_path / "back")
    assert tree_digest(tmp_path / "back") == tree_digest(src / "ipywidgets")
    assert not list(got.rglob("*.part"))


def test_large_file_chunks_and_progress(apolo, unique, tmp_path):
    api = apolo("alice")
    data = os.urandom(3 * CHUNK + 12345)  # CREATE + 3 WRITE chunks
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    remote = f"storage:{unique('big')}.bin"
    ups = []
    api.transfer.upload_file(src, remote, progress=lambda p: ups.append(p.bytes_done))
    assert ups[-1] == len(data) and len(ups) >= 4
    assert api.storage.stat(remote).size == len(data)
    downs = []
    out = api.transfer.download_file(remote, tmp_path / "out.bin", progress=lambda p: downs.append(
        (p.bytes_done, p.bytes_total, p.files_done)))
    assert out.read_bytes() == data and downs[-1] == (len(data), len(data), 1)
    # into an existing directory, by name
    (tmp_path / "dir").mkdir()
    assert api.transfer.download_file(remote, tmp_path / "dir").name == remote.split(":")[1]


def test_download_resumes_after_dropped_connections(platform, apolo, unique, tmp_path):
    api = apolo("alice")
    data = os.urandom(5 * 1024 * 1024)
    (tmp_path / "src.bin").write_bytes(data)
    folder = api.storage.mkdir(f"storage:{unique('resume')}")
    remote = api.transfer.upload_file(tmp_path / "src.bin", child_uri(folder, "big file #1 100%.bin"))
    port = platform.port
    proxy = CuttingProxy(port, cut_after=1_500_000, cuts=3)
    try:
        with Apolo(resolve_config(url=f"http://127.0.0.1:{proxy.port}/api/v1", token=platform.token("alice"),
                                  environ={})) as via_proxy:
            out = via_proxy.transfer.download_file(remote, tmp_path / "dst.bin")
    finally:
        proxy.close()
    assert proxy.cut_count == 3
    assert out.read_bytes() == data
    ranges = [r for r in proxy.requests if b"Range: bytes=" in r or b"range: bytes=" in r]
    assert len(ranges) == 3 and all(b"op=OPEN" in r for r in ranges)
    assert not list(tmp_path.glob(".*.part"))


def test_failed_download_leaves_nothing_and_keeps_old_file(platform, apolo, unique, tmp_path):
    api = apolo("alice")
    data = os.urandom(2 * 1024 * 1024)
    (tmp_path / "src.bin").write_bytes(data)
    remote = api.transfer.upload_file(tmp_path / "src.bin", f"storage:{unique('atomic')}.bin")
    target = tmp_path / "keep.bin"
    target.write_bytes(b"old content")
    port = platform.port
    proxy = CuttingProxy(port, cut_after=1_000_000, cuts=100)
    try:
        with Apolo(resolve_config(url=f"http://127.0.0.1:{proxy.port}/api/v1", token=platform.token("alice"),
                                  environ={})) as via_proxy:
            via_proxy.transfer.retries = 1
            with pytest.raises(PlatformUnreachable):
                via_proxy.transfer.download_file(remote, target)
    finally:
        proxy.close()
    assert target.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bin", "src.bin"]


def test_missing_source_and_directory_errors(apolo, unique, tmp_path):
    api = apolo("alice")
    with pytest.raises(NotFoundError):
        api.transfer.download_file(f"storage:{unique('nope')}", tmp_path / "x")
    with pytest.raises(NotFoundError):
        api.transfer.download_tree(f"storage:{unique('nope')}", tmp_path / "y")
    assert not (tmp_path / "x").exists()
    with pytest.raises(IsADirectoryError):
        api.transfer.upload_file(tmp_path, "storage:x")


def test_download_tree_into_existing_keeps_extra_local_files(apolo, unique, tmp_path):
    api = apolo("alice")
    src = tmp_path / "src"
    (src / "a b" / "ü").mkdir(parents=True)
    (src / "a b" / "ü" / "n%#.ipynb").write_text("{}")
    (src / "top.txt").write_text("top")
    remote = f"storage:{unique('tree')}"
    api.transfer.upload_tree(src, remote)
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "local-only.txt").write_text("mine")
    (dst / "top.txt").write_text("stale")
    assert api.transfer.download_tree(remote, dst) == 2
    assert (dst / "local-only.txt").read_text() == "mine"
    assert filecmp.cmp(src / "top.txt", dst / "top.txt", shallow=False)
    assert (dst / "a b" / "ü" / "n%#.ipynb").read_text() == "{}"


def test_retries_only_idempotent_calls(platform, apolo, unique):
    """A connection dropped before the answer: GET is retried, POST (share) is not."""
    apolo("alice").storage.mkdir(f"storage:{unique('retry')}")
    port = platform.port
    proxy = CuttingProxy(port, cut_after=0, cuts=0)
    try:
        with Apolo(resolve_config(url=f"http://127.0.0.1:{proxy.port}/api/v1", token=platform.token("alice"),
                                  environ={})) as via_proxy:
            sent = lambda verb: sum(r.startswith(verb) for r in proxy.requests)
            proxy.cuts = 2
            before = sent(b"GET ")
            assert via_proxy.storage.ls("storage:")  # GET: two drops, third attempt answers
            assert proxy.cut_count == 2 and sent(b"GET ") - before == 3
            proxy.cuts = 1
            with pytest.raises(PlatformUnreachable):
                via_proxy.permissions.share("storage:retry-target", "bob", "read")
            assert proxy.cut_count == 3 and sent(b"POST ") == 1
    finally:
        proxy.close()


def test_failure_in_tree_stops_and_raises(apolo, unique, tmp_path):
    api = apolo("alice")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        (src / f"f{i:02}").write_text(str(i))
    remote = f"storage:{unique('stop')}"
    api.transfer.upload_tree(src, remote)
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "f07").mkdir()  # a directory where a file must go: that file fails
    (dst / "f07" / "keep").write_text("x")
    with pytest.raises(IsADirectoryError):
        api.transfer.download_tree(remote, dst, concurrency=4)
    assert (dst / "f07" / "keep").read_text() == "x"
    assert not list(dst.glob(".*.part"))
