"""Project roles with the official apolo CLI: ``apolo share role://<owner>/projects/<project> USER
read`` gives USER what the role holds on the project (its owner's membership, at most write), and
``apolo acl revoke`` takes it back; a role named after a project its owner is not in gives nothing."""

from __future__ import annotations

import re


def test_share_project_role_gives_the_project_and_revoke_takes_it(platform, cli):
    platform.add_project_user("bobteam", "bob")  # bob owns project bobteam
    platform.token("carol")
    assert platform.http("bob").put("/storage/local/bobteam/data", params={"op": "MKDIRS"}).status_code in (200, 201)
    alice, bob = cli("alice"), cli("bob")
    assert alice("ls", "storage:/bobteam", check=False).returncode != 0
    assert platform.http("alice").get("/jobs", params={"project_name": "bobteam"}).json()["jobs"] == []

    bob("share", "role://bob/projects/bobteam", "alice", "read")
    try:
        assert "data" in alice("ls", "storage:/bobteam").stdout.split()
        alice("mkdir", "storage:/bobteam/from-alice")  # the role holds write
        listing = alice("acl", "ls", "--full-uri").stdout
        assert re.search(r"^role://bob/projects/bobteam\s+read\s*$", listing, re.M), listing
        assert re.search(r"^storage://default/local/bobteam\s+write\s*$", listing, re.M), listing
        # the role holds write, never manage: alice cannot re-share bob's project
        denied = alice("share", "storage:/bobteam", "carol", "read", check=False)
        assert denied.returncode != 0 and "Not enough permissions" in denied.stderr
    finally:
        bob("acl", "revoke", "role://bob/projects/bobteam", "alice")
    assert alice("ls", "storage:/bobteam", check=False).returncode != 0


def test_project_role_of_a_non_member_grants_nothing(platform, cli):
    platform.add_project_user("bobteam", "bob")
    platform.token("carol")
    cli("carol")("share", "role://carol/projects/bobteam", "alice", "read")  # carol is not in bobteam
    try:
        assert cli("alice")("ls", "storage:/bobteam", check=False).returncode != 0
    finally:
        cli("carol")("acl", "revoke", "role://carol/projects/bobteam", "alice")
