"""Permissions over real HTTP: share, revoke, what I can access, what I shared, roles, and the
errors (unknown user, permission error, no effect), cross-checked with the apolo CLI."""

from __future__ import annotations

import pytest

from jupyter_apolo.client import AuthorizationError, IllegalArgumentError, NotFoundError


def _rows(table: str) -> list[list[str]]:
    """The cells of the CLI's headerless grid (URIs here hold no spaces)."""
    return [line.split() for line in table.splitlines() if line.strip()]


def test_share_list_shared_revoke(apolo, cli, unique):
    alice, bob = apolo("alice"), apolo("bob")
    name = unique("shared dir ")
    uri = alice.permissions.normalize(f"storage:{name}")
    result = alice.permissions.share(f"storage:{name}", "bob", "read")
    assert (result.uri, result.user, result.action, result.requested, result.higher) == (
        uri, "bob", "read", "read", False)

    assert any(p.uri == uri and p.action == "read" for p in bob.permissions.list())
    assert [p for p in bob.permissions.list(f"storage:/alice/{name}")] [0].action == "read"
    mine = alice.permissions.shared(f"storage:{name}")
    assert [(p.uri, p.action, p.user) for p in mine] == [(uri, "read", "bob")]
    # the CLI (second client) sees the same share
    assert [uri, "read", "bob"] in _rows(cli("alice")("acl", "ls", "--shared", "--full-uri").stdout)

    alice.permissions.revoke(f"storage:{name}", "bob")
    assert not alice.permissions.shared(f"storage:{name}")
    assert not any(p.uri == uri for p in bob.permissions.list())
    with pytest.raises(IllegalArgumentError) as info:
        alice.permissions.revoke(f"storage:{name}", "bob")
    assert info.value.message == "Operation has no effect" and info.value.status == 400


def test_share_reports_higher_effective_action(apolo, unique):
    alice = apolo("alice")
    parent = unique("parent")
    alice.permissions.share(f"storage:{parent}", "bob", "write")
    result = alice.permissions.share(f"storage:{parent}/child", "bob", "read")
    assert result.action == "write" and result.requested == "read" and result.higher


def test_unknown_user_keeps_platform_message(apolo):
    with pytest.raises(NotFoundError) as info:
        apolo("alice").permissions.share("storage:x", "nobody", "read")
    assert info.value.message == 'user "nobody" was not found' and info.value.status == 404
    with pytest.raises(NotFoundError, match='user "nobody" was not found'):
        apolo("alice").permissions.list(user="nobody")


def test_permission_error_without_manage(apolo):
    with pytest.raises(AuthorizationError) as info:
        apolo("bob").permissions.share("storage:/alice/secret", "bob", "manage")
    assert info.value.status == 403
    assert info.value.missing == [{"uri": "storage://default/local/alice/secret", "action": "manage"}]
    with pytest.raises(AuthorizationError):
        apolo("bob").permissions.list(user="alice")


def test_bad_input_sends_nothing(apolo):
    alice = apolo("alice")
    before = alice.permissions.shared()
    with pytest.raises(ValueError, match="Invalid action 'own'"):
        alice.permissions.share("storage:x", "bob", "own")
    with pytest.raises(ValueError, match="Fragment part is not allowed"):
        alice.permissions.share("storage:x#y", "bob", "read")
    with pytest.raises(ValueError, match="Invalid user or role name"):
        alice.permissions.share("storage:x", "bob:x", "read")
    assert alice.permissions.shared() == before


def test_share_job_by_name_with_cli_crosscheck(apolo, cli):
    alice = apolo("alice")
    alice.permissions.share("job:notebook", "bob", "write")
    assert ["job://default/local/alice/notebook", "write"] in _rows(cli("bob")("acl", "ls", "--full-uri").stdout)
    # a share made by the CLI shows in our listing
    cli("alice")("share", "storage:from-cli", "bob", "manage")
    assert any(p.uri == "storage://default/local/alice/from-cli" and p.action == "manage"
               for p in apolo("bob").permissions.list("storage:"))


def test_roles(apolo):
    alice = apolo("alice")
    alice.permissions.add_role("alice/roles/team")
    alice.permissions.share("storage:team-data", "alice/roles/team", "read")
    alice.permissions.share("role://alice/roles/team", "bob", "read")
    assert "alice/roles/team" in apolo("bob").permissions.roles()
    assert any(p.uri == "storage://default/local/alice/team-data" for p in apolo("bob").permissions.list())
    assert [p.uri for p in alice.permissions.list(user="alice/roles/team")] == ["storage://default/local/alice/team-data"]
    alice.permissions.remove_role("alice/roles/team")
    assert "alice/roles/team" not in apolo("bob").permissions.roles()
