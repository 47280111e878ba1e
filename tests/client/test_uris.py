"""URI normalisation and the short display form, unit-checked and cross-checked against the
official apolo CLI resolving the same strings on the same platform."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from jupyter_apolo.client import normalize_uri, short_uri
from jupyter_apolo.client.uris import storage_path

SCOPE = ("default", "local", "alice")


def _in_parallel(fn, items):  # type: ignore[no-untyped-def]
    """CLI runs are slow to start: run them a few at a time (each has its own process)."""
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(fn, items))


@pytest.mark.parametrize("text, expected", [
    ("storage:", "storage://default/local/alice"),
    ("storage:data/x", "storage://default/local/alice/data/x"),
    ("storage:/bob/x", "storage://default/local/bob/x"),
    ("storage://default/local/alice/x", "storage://default/local/alice/x"),
    ("job:", "job://default/local/alice"),
    ("job:notebook", "job://default/local/alice/notebook"),
    ("job:/team/notebook", "job://default/local/team/notebook"),
    ("image:myimage", "image://default/local/alice/myimage"),
    ("role://alice/roles/team", "role://alice/roles/team"),
    ("storage:my dir/ü", "storage://default/local/alice/my%20dir/%C3%BC"),
    ("storage:50%25%23", "storage://default/local/alice/50%25%23"),
    ("STORAGE:x", "storage://default/local/alice/x"),
])
def test_normalize(text, expected):
    assert normalize_uri(text, SCOPE) == expected


@pytest.mark.parametrize("text, message", [
    ("foo:x", "Invalid scheme 'foo:' "
              "(only 'storage:', 'image:', 'job:', 'blob:', 'role:', 'secret:', 'disk:', 'flow:' are allowed)"),
    ("nothing", "URI Scheme not specified. Please specify one of storage, image, job, blob, role, secret, disk, flow."),
    ("role:x", "Absolute URI is required for scheme role"),
    ("image:ubuntu:22.04", "tag is not allowed"),
    ("storage:a#b", "Fragment part is not allowed in storage URI. Use '%23' to quote '#' in path."),
    ("storage:a?b", "Query part is not allowed in storage URI. Use '%3F' to quote '?' in path."),
    ("storage://me@default/x", "User is not allowed in storage URI."),
    ("storage://default:80/x", "Port is not allowed in storage URI"),
    ("storage:~/x", "Cannot expand user for storage:~/x"),
])
def test_rejected_with_cli_messages(text, message):
    with pytest.raises(ValueError) as info:
        normalize_uri(text, SCOPE)
    assert str(info.value) == message


def test_allowed_schemes_single():
    with pytest.raises(ValueError, match=r"Invalid scheme 'job:' \(only 'storage:' is allowed\)"):
        normalize_uri("job:x", SCOPE, allowed_schemes=("storage",))


@pytest.mark.parametrize("uri, short", [
    ("storage://default/local/alice/x", "storage:x"),
    ("storage://default/local/alice", "storage:"),
    ("storage://default/local/bob/x", "storage:/bob/x"),
    ("storage://other/local/alice/x", "storage://other/local/alice/x"),
    ("storage://default/org2/alice/x", "storage://default/org2/alice/x"),
    ("job://default/local/alice/job-1", "job:job-1"),
    ("role://alice/roles/team", "role://alice/roles/team"),
    ("user://alice", "user://alice"),
    ("storage://default/local/alice/a%20b", "storage:a%20b"),
])
def test_short(uri, short):
    assert short_uri(uri, SCOPE) == short


def test_storage_path_decodes():
    assert storage_path("storage://default/local/alice/a%20b/%25%23") == "/local/alice/a b/%#"


CROSS_CHECK = ["storage:", "storage:data/x", "storage:/bob/shared", "storage:my dir/ü", "storage:50%25%23x",
               "job:notebook", "job:/bob/nb", "image:myimage", "storage://default/local/alice/full"]


def test_cli_resolves_the_same_strings(platform, cli, apolo):
    """``apolo -v share URI bob read`` prints ``Using resource '<uri>'``: the CLI's own
    normalisation of the same string must equal ours."""
    ours = apolo("alice")
    alice = cli("alice")  # logged in once, before the parallel runs share its config
    runs = _in_parallel(lambda text: alice("-v", "share", text, "bob", "read", check=False), CROSS_CHECK)
    for text, out in zip(CROSS_CHECK, runs):  # 403 for other projects: the URI is still resolved first
        cli_uri = re.search(r"Using resource '([^']+)'", out.stderr).group(1)
        assert cli_uri == normalize_uri(text, ours.config), text


def test_cli_rejects_what_we_reject_with_the_same_message(cli):
    texts = ["storage:a#b", "storage:a?b", "role:x", "image:ubuntu:22.04", "foo:x", "nothing",
             "storage://me@default/x", "storage://default:80/x"]
    alice = cli("alice")
    runs = _in_parallel(lambda text: alice("share", text, "bob", "read", check=False), texts)
    for text, out in zip(texts, runs):
        with pytest.raises(ValueError) as info:
            normalize_uri(text, SCOPE)
        assert out.stderr.strip() == f"ERROR: Could not share resource '{text}': {info.value}"


def test_short_form_matches_acl_ls(platform, cli, apolo):
    """``apolo acl ls --shared`` prints short URIs; ``--full-uri`` the canonical ones."""
    ours = apolo("alice")
    platform.add_project_user("teamx", "alice", "admin")
    ours.permissions.share("storage:/teamx/data", "bob", "read")
    ours.permissions.share("storage:short dir", "bob", "write")
    full = [line.split()[0] for line in cli("alice")("acl", "ls", "--shared", "--full-uri").stdout.splitlines()
            if line.strip()]
    short = [line.split()[0] for line in cli("alice")("acl", "ls", "--shared").stdout.splitlines() if line.strip()]
    assert len(full) == len(short) and full
    assert [short_uri(u, ours.config) for u in full] == short
    assert "storage:/teamx/data" in short
