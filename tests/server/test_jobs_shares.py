"""``apolo/jobs`` and ``apolo/shares``: the Lab Jobs panel's and Share dialog's endpoints, against the
embedded platform with the official CLI as the other users (bob, carol). The server acts as alice."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import quote

import pytest

JOB_ID = re.compile(r"job-[0-9a-f-]{36}")


def run_job(cli, user: str, *args: str) -> str:
    out = cli(user)("run", "--detach", "-s", "cpu-small", *args).stdout
    return JOB_ID.search(out).group(0)


@pytest.fixture(scope="module")
def jobs(platform, cli):
    """alice's sleeper (named), bob's sleeper shared with alice at read, bob's private one, and a
    finished job of alice's that printed lines."""
    platform.token("carol")
    ids = {
        "alice": run_job(cli, "alice", "--name", "alice-train", "--tag", "exp:1", "ubuntu", "--", "sleep", "600"),
        "bob_shared": run_job(cli, "bob", "--name", "bob-notebook", "ubuntu", "--", "sleep", "600"),
        "bob_private": run_job(cli, "bob", "ubuntu", "--", "sleep", "600"),
        "printer": run_job(cli, "alice", "ubuntu", "--", "sh", "-c",
                           "for i in 1 2 3; do echo line $i; sleep 0.3; done"),
    }
    cli("bob")("share", f"job:{ids['bob_shared']}", "alice", "read")
    yield ids
    for user, key in (("alice", "alice"), ("bob", "bob_shared"), ("bob", "bob_private")):
        cli(user)("kill", ids[key], check=False)


def ndjson(resp) -> list[dict]:
    assert resp.headers["Content-Type"].startswith("application/x-ndjson"), resp.headers["Content-Type"]
    return [json.loads(line) for line in resp.body.decode().splitlines() if line]


def body(resp):
    return json.loads(resp.body)


JSON = {"Content-Type": "application/json"}


async def test_list_my_jobs_and_the_ones_shared_with_me(fetch, jobs):
    listed = {j["id"]: j for j in ndjson(await fetch("GET", "apolo/jobs"))}
    assert jobs["alice"] in listed and jobs["bob_shared"] in listed and jobs["bob_private"] not in listed
    assert listed[jobs["alice"]]["access"] == "manage" and listed[jobs["bob_shared"]]["access"] == "read"
    mine = listed[jobs["alice"]]
    assert (mine["name"], mine["owner"], mine["preset"], mine["tags"]) == (
        "alice-train", "alice", "cpu-small", ["exp:1"])
    assert mine["status"] in ("pending", "running") and mine["uri"].startswith("job://")
    found = ndjson(await fetch("GET", "apolo/jobs?q=EXP:1"))
    assert [j["id"] for j in found] == [jobs["alice"]]
    everything = ndjson(await fetch("GET", "apolo/jobs?status=all&owner=alice"))
    assert {jobs["alice"], jobs["printer"]} <= {j["id"] for j in everything}
    assert all(j["owner"] == "alice" for j in everything)
    bad = await fetch("GET", "apolo/jobs?status=sleeping")
    assert bad.code == 400 and "Unknown status" in body(bad)["error"]


async def test_details_and_errors(fetch, jobs):
    details = body(await fetch("GET", f"apolo/jobs/{jobs['bob_shared']}"))
    assert details["owner"] == "bob" and details["access"] == "read" and details["history"]
    assert details["raw"]["id"] == jobs["bob_shared"]
    # Every status transition the platform recorded, with its time, from pending (Creating) on.
    steps = [(h["status"], h["reason"]) for h in details["history"]]
    assert steps[0] == ("pending", "Creating"), steps
    assert all(h["at"] for h in details["history"])
    by_uri = await fetch("GET", "apolo/jobs/" + quote(f"job:{jobs['alice']}", safe=""))
    assert by_uri.code == 200 and body(by_uri)["id"] == jobs["alice"]
    # The full URI as "Shared with me" lists it (the panel passes it on untouched).
    full = await fetch("GET", "apolo/jobs/" + quote(details["uri"], safe=""))
    assert full.code == 200 and body(full)["id"] == jobs["bob_shared"], full.body
    missing = await fetch("GET", "apolo/jobs/job-00000000-0000-0000-0000-000000000000")
    assert missing.code == 404 and "no such job" in body(missing)["error"]
    hidden = await fetch("GET", f"apolo/jobs/{jobs['bob_private']}")
    assert hidden.code == 403 and body(hidden)["error"]


async def test_kill_needs_write(fetch, cli, jobs):
    refused = await fetch("DELETE", f"apolo/jobs/{jobs['bob_shared']}")
    assert refused.code == 403, refused.body
    assert cli("bob")("status", jobs["bob_shared"]).stdout.count("cancelled") == 0
    target = run_job(cli, "alice", "ubuntu", "--", "sleep", "600")
    killed = await fetch("DELETE", f"apolo/jobs/{target}")
    assert killed.code == 200 and body(killed) == {"id": target}
    for _ in range(100):
        if "cancelled" in cli("alice")("status", target).stdout:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the killed job never showed as cancelled")


async def test_log_follows_to_the_end(fetch, jobs):
    resp = await fetch("GET", f"apolo/jobs/{jobs['printer']}/log")
    assert resp.code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    printed = [line for line in resp.body.decode().splitlines() if line.startswith("line")]
    assert printed == ["line 1", "line 2", "line 3"]
    missing = await fetch("GET", "apolo/jobs/no-such-job-name/log")
    assert missing.code in (400, 404) and body(missing)["error"]


async def test_share_list_and_revoke_a_job(fetch, cli, jobs):
    uri = f"job:{jobs['alice']}"
    resp = await fetch("POST", "apolo/shares", body=json.dumps({"uri": uri, "user": "bob", "action": "read"}),
                       headers=JSON)
    assert resp.code == 201, resp.body
    shared = body(resp)
    assert shared["action"] == "read" and not shared["higher"] and shared["uri"].startswith("job://")
    assert "bob can see this job" in shared["message"]
    assert jobs["alice"] in cli("bob")("status", jobs["alice"]).stdout  # the other client sees it
    access = body(await fetch("GET", "apolo/shares?uri=" + quote(uri)))
    assert access["kind"] == "job" and set(access["levels"]) == {"read", "write", "manage"}
    assert "open your notebook" in access["levels"]["read"]
    assert access["adds"]["write"].startswith("also kill it") and "open your notebook" not in access["adds"]["write"]
    assert {(g["user"], g["action"], g["inherited"]) for g in access["grants"]} == {("bob", "read", False)}
    by_me = body(await fetch("GET", "apolo/shares?shared_by_me=1"))["permissions"]
    assert any(p["uri"] == shared["uri"] and p["user"] == "bob" for p in by_me)
    gone = await fetch("DELETE", "apolo/shares", body=json.dumps({"uri": uri, "user": "bob"}), headers=JSON)
    assert gone.code == 204, gone.body
    assert cli("bob")("status", jobs["alice"], check=False).returncode != 0
    again = await fetch("DELETE", f"apolo/shares?uri={quote(uri)}&user=bob")
    assert again.code == 400 and "no effect" in body(again)["error"].lower()


async def test_shared_with_me(fetch, jobs):
    seen = body(await fetch("GET", "apolo/shares?shared_with_me=1"))["permissions"]
    assert any(p["uri"].endswith(jobs["bob_shared"]) and p["action"] == "read" for p in seen)
    assert not any(p["uri"].split("://", 1)[1].startswith("default/local/alice/") for p in seen)
    # Not the grants every account has (apolo acl ls lists them): only what teammates shared.
    assert not [p["uri"] for p in seen if p["uri"] in ("user://alice", "role://alice", "cluster://default/access")]


async def test_storage_share_inherited_from_a_folder(fetch, cli):
    resp = await fetch("POST", "apolo/shares", body=json.dumps({"uri": "storage:datasets", "user": "bob",
                                                                 "action": "write"}), headers=JSON)
    assert resp.code == 201, resp.body
    access = body(await fetch("GET", "apolo/shares?uri=" + quote("storage:datasets/train/x.csv")))
    assert [(g["user"], g["action"], g["inherited"]) for g in access["grants"]] == [("bob", "write", True)]
    assert "upload" in access["levels"]["write"]


@pytest.mark.parametrize("request_body, status, words", [
    ({"uri": "job:whatever", "user": "nobody-here", "action": "read"}, 404, 'user "nobody-here" was not found'),
    ({"uri": "storage:x", "user": "bob", "action": "admin"}, 400, "Invalid action"),
    ({"uri": "storage:x#y", "user": "bob", "action": "read"}, 400, "Fragment part is not allowed"),
    ({"uri": "storage:x", "action": "read"}, 400, "Missing user"),
    ("not json", 400, "must be JSON"),
])
async def test_bad_share_requests_name_the_problem(fetch, request_body, status, words):
    raw = request_body if isinstance(request_body, str) else json.dumps(request_body)
    resp = await fetch("POST", "apolo/shares", body=raw, headers=JSON)
    assert resp.code == status and words in body(resp)["error"], resp.body


async def test_no_manage_no_share(fetch, cli, jobs):
    # job:/bob/ID: a bare job:ID would name alice's own project (the CLI's rule), where she may share
    resp = await fetch("POST", "apolo/shares", body=json.dumps({"uri": f"job:/bob/{jobs['bob_shared']}",
                                                                 "user": "carol",
                                                                 "action": "read"}), headers=JSON)
    assert resp.code == 403 and body(resp)["error"], resp.body
    assert cli("carol")("status", jobs["bob_shared"], check=False).returncode != 0  # nothing half-applied


async def test_mutations_need_xsrf_with_a_cookie_session(fetch, cookie_session, cli, jobs):
    cookie, xsrf = await cookie_session()
    share = json.dumps({"uri": f"job:{jobs['alice']}", "user": "carol", "action": "read"})
    refused = await fetch("POST", "apolo/shares", auth=False, body=share, headers={"Cookie": cookie, **JSON})
    assert refused.code == 403
    assert cli("carol")("status", jobs["alice"], check=False).returncode != 0
    kill = await fetch("DELETE", f"apolo/jobs/{jobs['alice']}", auth=False, headers={"Cookie": cookie})
    assert kill.code == 403
    allowed = await fetch("POST", "apolo/shares", auth=False, body=share,
                          headers={"Cookie": cookie, "X-XSRFToken": xsrf, **JSON})
    assert allowed.code == 201
    await fetch("DELETE", f"apolo/shares?uri=job:{jobs['alice']}&user=carol")
