"""Storage over real HTTP: ls, stat, mkdir, rm, mv, df, awkward names, permission and
not-found errors; the apolo CLI sees what we did and we see what it did."""

from __future__ import annotations

import errno

import pytest

from jupyter_apolo.client import AuthorizationError, IllegalArgumentError, NotFoundError
from jupyter_apolo.client.storage import child_uri

AWKWARD = "my dir ü 50% #1"  # spaces, unicode, % and #


def test_mkdir_ls_stat(apolo, unique):
    st = apolo("alice").storage
    base = unique("mk")
    st.mkdir(f"storage:{base}")
    with pytest.raises(IllegalArgumentError) as info:
        st.mkdir(f"storage:{base}")
    assert info.value.errno == errno.EEXIST
    assert st.mkdir(f"storage:{base}", exist_ok=True).endswith(f"/{base}")
    with pytest.raises(IllegalArgumentError) as info:
        st.mkdir(f"storage:{base}/a/b")
    assert info.value.errno == errno.ENOENT and "parents=True" in info.value.message
    st.mkdir(f"storage:{base}/a/b", parents=True)
    [entry] = st.ls(f"storage:{base}")
    assert (entry.name, entry.type, entry.is_dir, entry.permission) == ("a", "DIRECTORY", True, "manage")
    assert entry.uri == f"storage://default/local/alice/{base}/a"
    stat = st.stat(f"storage:{base}/a/b")
    assert stat.is_dir and stat.modified > 0
    assert st.exists(f"storage:{base}/a") and not st.exists(f"storage:{base}/zzz")


def test_awkward_names_roundtrip_and_match_cli(apolo, cli, unique, tmp_path):
    api = apolo("alice")
    base = unique("odd")
    root = api.storage.mkdir(f"storage:{base}")
    name_uri = child_uri(root, AWKWARD)
    assert name_uri.endswith("/my%20dir%20%C3%BC%2050%25%20%231")
    api.storage.mkdir(name_uri)
    local = tmp_path / "x.txt"
    local.write_text("content")
    api.transfer.upload_file(local, child_uri(name_uri, "a #b%.txt"))
    assert [e.name for e in api.storage.ls(root)] == [AWKWARD]
    [f] = api.storage.ls(name_uri)
    assert (f.name, f.size, f.is_file) == ("a #b%.txt", 7, True)
    # the CLI lists the same names (it decodes URIs the same way)
    out = cli("alice")("ls", f"storage:{base}/my dir ü 50%25 %231").stdout
    assert out.split("\n")[0] == "a #b%.txt"
    # and a name the CLI creates is readable by us
    cli("alice")("mkdir", f"storage:{base}/cli made %23 ü")
    assert sorted(e.name for e in api.storage.ls(root)) == sorted([AWKWARD, "cli made # ü"])


def test_ls_streams_many_entries(apolo, unique, tmp_path):
    api = apolo("alice")
    base = unique("many")
    src = tmp_path / "many"
    src.mkdir()
    for i in range(1200):  # more than jupyter-drives' 1025 cap
        (src / f"f{i:04}").write_bytes(b"x")
    assert api.transfer.upload_tree(src, f"storage:{base}", concurrency=16) == 1200
    names = [e.name for e in api.storage.ls(f"storage:{base}")]
    assert sorted(names) == sorted(p.name for p in src.iterdir())


def test_rm_and_mv(apolo, cli, unique, tmp_path):
    st = apolo("alice").storage
    base = unique("rm")
    st.mkdir(f"storage:{base}/d/e", parents=True)
    with pytest.raises(IllegalArgumentError) as info:
        st.rm(f"storage:{base}/d")
    assert info.value.errno == errno.EISDIR
    assert st.mv(f"storage:{base}/d", f"storage:{base}/renamed") == f"storage://default/local/alice/{base}/renamed"
    st.mkdir(f"storage:{base}/into")
    assert st.mv(f"storage:{base}/renamed", f"storage:{base}/into").endswith(f"{base}/into/renamed")
    assert "renamed" in cli("alice")("ls", f"storage:{base}/into").stdout
    assert st.rm(f"storage:{base}/into", recursive=True) >= 1
    assert not st.exists(f"storage:{base}/into")
    with pytest.raises(NotFoundError):
        st.rm(f"storage:{base}/into", recursive=True)


def test_not_found_and_permission_errors(apolo, unique):
    alice, bob = apolo("alice"), apolo("bob")
    base = unique("priv")
    alice.storage.mkdir(f"storage:{base}")
    with pytest.raises(NotFoundError):
        alice.storage.stat(f"storage:{base}/missing")
    # storage answers 404 for forbidden too (reference §3.6)
    with pytest.raises(NotFoundError):
        bob.storage.ls(f"storage:/alice/{base}")
    alice.permissions.share(f"storage:{base}", "bob", "read")
    assert bob.storage.ls(f"storage:/alice/{base}") == []
    with pytest.raises((NotFoundError, AuthorizationError)):
        bob.storage.mkdir(f"storage:/alice/{base}/by-bob")


def test_disk_usage(apolo):
    usage = apolo("alice").storage.disk_usage()
    assert set(usage) == {"total", "used", "free"} and usage["total"] > 0


def test_other_cluster_rejected(apolo):
    with pytest.raises(ValueError, match="not reachable from the current cluster"):
        apolo("alice").storage.stat("storage://elsewhere/local/alice/x")
