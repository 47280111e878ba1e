"""Sharing jobs with the official apolo CLI (reference §6.8): share, acl ls, acl ls --shared,
acl revoke and its errors, unknown users, and grants by someone without manage."""

from __future__ import annotations

import re

import pytest

JOB_ID = re.compile(r"job-[0-9a-f-]{36}")


@pytest.fixture(scope="module")
def job(platform, cli):
    """A running job of alice's, killed at the end of the module."""
    out = cli("alice")("run", "--detach", "-s", "cpu-small", "--name", "shared-job", "python:3", "--", "sleep", "900")
    job_id = JOB_ID.search(out.stdout).group(0)
    yield job_id
    cli("alice")("kill", job_id)


def test_share_ls_shared_revoke_cycle(platform, cli, job):
    alice, bob = cli("alice"), cli("bob")
    uri = f"job://default/local/alice/{job}"
    assert platform.http("bob").get(f"/jobs/{job}").status_code == 403

    shared = alice("share", f"job:{job}", "bob", "read")
    assert shared.stdout == ""  # success prints nothing
    assert platform.http("bob").get(f"/jobs/{job}").status_code == 200

    mine = bob("acl", "ls", "--full-uri").stdout
    assert re.search(rf"^{re.escape(uri)}\s+read\s*$", mine, re.M), mine
    theirs = alice("acl", "ls", "--shared", "--full-uri").stdout
    assert re.search(rf"^{re.escape(uri)}\s+read\s+bob\s*$", theirs, re.M), theirs

    assert alice("acl", "revoke", f"job:{job}", "bob").returncode == 0
    assert platform.http("bob").get(f"/jobs/{job}").status_code == 403
    assert job not in alice("acl", "ls", "--shared").stdout

    again = alice("acl", "revoke", f"job:{job}", "bob", check=False)
    assert again.returncode == 127
    assert f"Could not unshare resource 'job:{job}': Operation has no effect" in again.stderr


def test_share_with_unknown_user(cli, job):
    out = cli("alice")("share", f"job:{job}", "nobody", "read", check=False)
    assert out.returncode == 127
    assert 'user "nobody" was not found' in out.stderr


def test_grant_without_manage_is_refused(platform, cli, job):
    alice, bob = cli("alice"), cli("bob")
    platform.token("carol")
    alice("share", f"job:{job}", "bob", "write")
    try:
        refused = bob("share", f"job:/alice/{job}", "carol", "read", check=False)
        assert refused.returncode == 77, refused.stderr
        assert "Not enough permissions" in refused.stderr
        assert platform.http("carol").get(f"/jobs/{job}").status_code == 403
        # manage lets bob re-share
        alice("share", f"job:{job}", "bob", "manage")
        bob("share", f"job:/alice/{job}", "carol", "read")
        assert platform.http("carol").get(f"/jobs/{job}").status_code == 200
    finally:
        bob("acl", "revoke", f"job:/alice/{job}", "carol", check=False)
        alice("acl", "revoke", f"job:{job}", "bob")


def test_share_by_name_covers_the_named_job(platform, cli, job):
    alice = cli("alice")
    alice("share", "job:shared-job", "bob", "read")
    try:
        assert platform.http("bob").get(f"/jobs/{job}").json()["name"] == "shared-job"
    finally:
        alice("acl", "revoke", "job:shared-job", "bob")
    assert platform.http("bob").get(f"/jobs/{job}").status_code == 403


def test_bad_permission_word_is_a_usage_error(cli, job):
    out = cli("alice")("share", f"job:{job}", "bob", "admin", check=False)
    assert out.returncode == 2
    assert "'admin' is not one of 'read', 'write', 'manage'" in out.stderr
