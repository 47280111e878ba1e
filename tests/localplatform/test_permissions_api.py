"""Permissions over real HTTP: grant, revoke, list, shared, roles (reference §3.1)."""


def test_owner_manages_project_and_shares(platform):
    alice, bob = platform.http("alice"), platform.http("bob")
    uri = "storage://default/local/alice/data"
    r = alice.post("/users/bob/permissions", json=[{"uri": uri, "action": "read"}])
    assert r.status_code == 201, r.text
    assert r.json() == [{"uri": uri, "action": "read"}]
    listed = bob.get("/users/bob/permissions", params={"uri": "storage:"}).json()
    assert {"uri": uri, "action": "read"} in listed
    shared = alice.get("/users/alice/permissions/shared").json()
    assert {"uri": uri, "action": "read", "user": "bob"} in shared
    # bob cannot re-share what he only reads
    r = bob.post("/users/alice/permissions", json=[{"uri": uri, "action": "read"}])
    assert r.status_code == 403 and r.json()["missing"] == [{"uri": uri, "action": "manage"}]
    r = alice.delete("/users/bob/permissions", params={"uri": uri})
    assert r.status_code == 204
    r = alice.delete("/users/bob/permissions", params={"uri": uri})
    assert r.status_code == 400 and r.json() == {"error": "Operation has no effect"}


def test_effective_action_higher_than_asked(platform):
    alice = platform.http("alice")
    uri = "job://default/local/alice"
    assert alice.post("/users/bob/permissions", json=[{"uri": uri, "action": "write"}]).status_code == 201
    r = alice.post("/users/bob/permissions", json=[{"uri": uri + "/job-x", "action": "read"}])
    assert r.json() == [{"uri": uri + "/job-x", "action": "write"}]
    alice.delete("/users/bob/permissions", params={"uri": uri})
    alice.delete("/users/bob/permissions", params={"uri": uri + "/job-x"})


def test_unknown_user_and_bad_input(platform):
    alice = platform.http("alice")
    r = alice.post("/users/nobody/permissions", json=[{"uri": "storage://default/local/alice", "action": "read"}])
    assert r.status_code == 404 and r.json() == {"error": 'user "nobody" was not found'}
    r = alice.post("/users/bob/permissions", content=b"{not json")
    assert r.status_code == 400 and "Malformed JSON" in r.json()["error"]
    r = alice.post("/users/bob/permissions", json=[{"uri": "storage://default/local/alice", "action": "own"}])
    assert r.status_code == 400 and "Invalid action" in r.json()["error"]


def test_roles_carry_permissions(platform):
    alice, bob = platform.http("alice"), platform.http("bob")
    assert alice.post("/users", json={"name": "alice/roles/team"}).status_code == 201
    uri = "storage://default/local/alice/team"
    assert alice.post("/users/alice:roles:team/permissions", json=[{"uri": uri, "action": "write"}]).status_code == 201
    assert alice.post("/users/bob/permissions",
                      json=[{"uri": "role://alice/roles/team", "action": "read"}]).status_code == 201
    assert bob.get("/users/bob/subroles").json() == {"subroles": ["alice/roles/team"]}
    assert {"uri": uri, "action": "write"} in bob.get("/users/bob/permissions").json()
    assert alice.delete("/users/alice:roles:team").status_code == 204
    assert {"uri": uri, "action": "write"} not in bob.get("/users/bob/permissions").json()


def test_tokens_verified(platform):
    anon = platform.http(None)
    assert anon.get("/users/alice/permissions").status_code == 401
    r = anon.get("/users/alice/permissions", headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401 and "error" in r.json()
    forged = platform.token("alice").rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    r = anon.get("/users/alice/permissions", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"] == "Invalid token signature"
    expired = platform.token("alice", lifetime=-10)
    r = anon.get("/users/alice/permissions", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # config works anonymously but says not authorized
    assert anon.get("/config").json()["authorized"] is False
    assert "clusters" in platform.http("alice").get("/config").json()


def test_project_membership(platform):
    platform.add_project_user("team-x", "alice")  # creates it, alice admin
    platform.add_project_user("team-x", "bob", "reader")
    bob = platform.http("bob")
    projects = {p["name"]: p["role"] for p in bob.get("/config").json()["projects"]}
    assert projects == {"bob": "admin", "team-x": "reader"}
    acl = bob.get("/users/bob/permissions", params={"uri": "storage://default/local/team-x"}).json()
    assert acl == [{"uri": "storage://default/local/team-x", "action": "read"}]


def test_config_with_dead_token_is_not_authorized(platform):
    expired = platform.token("alice", lifetime=-10)
    r = platform.http(None).get("/config", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 200 and r.json()["authorized"] is False and "clusters" not in r.json()
