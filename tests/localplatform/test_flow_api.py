"""The flow API over real HTTP: permissions on flow:// URIs, the shapes apolo-flow 26.7 parses,
bad input, and persistence (the CLI-level checks are in tests/conformance/test_cli_flow.py)."""

from __future__ import annotations

import pytest
from apolo_flow.storage import api as flow_client  # the contract: apolo-flow's own parsers

META = {"workspace": "/w", "flow_config_id": "cfg", "project_config_id": None, "action_config_ids": {}}


def create(http, name="demo", project_name="alice"):
    return http.post("/flow/projects", json={"name": name, "project_name": project_name, "cluster": "default",
                                             "org_name": "local"})


def by_name(http, name="demo", project_name="alice"):
    return http.get("/flow/projects/by_name", params={"name": name, "cluster": "default", "org_name": "local",
                                                      "project_name": project_name, "owner": "whoever"})


@pytest.fixture(scope="module")
def project(platform):
    resp = create(platform.http("alice"))
    assert resp.status_code == 201, resp.text
    flow_client._parse_project_payload(resp.json())
    return resp.json()


def test_create_get_and_list_in_apolo_flows_shapes(platform, project):
    alice = platform.http("alice")
    assert by_name(alice).json() == project
    assert alice.get(f"/flow/projects/{project['id']}").json() == project
    ndjson = alice.get("/flow/projects", headers={"Accept": "application/x-ndjson"}, params={"project_name": "alice"})
    assert ndjson.headers["content-type"].startswith("application/x-ndjson") and ndjson.text.count("\n") == 1
    again = create(alice)
    assert again.status_code == 409 and again.json()["code"] == "unique"


def test_live_job_replace_keeps_one_record_per_yaml_id(platform, project):
    alice = platform.http("alice")
    body = {"project_id": project["id"], "yaml_id": "jupyter", "multi": True, "tags": ["job:jupyter"]}
    first = alice.put("/flow/live_jobs/replace", json=body)
    second = alice.put("/flow/live_jobs/replace", json={**body, "tags": ["job:jupyter", "project:demo"]})
    assert first.status_code == second.status_code == 201
    job = flow_client._parse_live_job_payload(second.json())
    assert job.id == first.json()["id"] and job.tags == ["job:jupyter", "project:demo"]
    listed = alice.get("/flow/live_jobs", params={"project_id": project["id"]}).json()
    assert [j["id"] for j in listed] == [job.id]
    found = alice.get("/flow/live_jobs/by_yaml_id", params={"project_id": project["id"], "yaml_id": "jupyter"})
    assert found.json()["id"] == job.id
    bad = alice.put("/flow/live_jobs/replace", json={**body, "multi": "yes"})
    assert bad.status_code == 400 and "'multi'" in bad.json()["error"]


def test_bob_needs_a_share_to_read_and_write_to_change(platform, project):
    alice, bob = platform.http("alice"), platform.http("bob")
    uri = "flow://default/local/alice/demo"
    denied = by_name(bob)
    assert denied.status_code == 403 and denied.json()["missing"] == [{"uri": uri, "action": "read"}]
    assert bob.get("/flow/live_jobs", params={"project_id": project["id"]}).status_code == 403
    assert bob.get("/flow/projects").json() == []
    refused = create(bob, "mine", "alice")
    assert refused.status_code == 403 and refused.json()["missing"][0]["uri"] == "flow://default/local/alice"
    assert alice.post("/users/bob/permissions", json=[{"uri": uri, "action": "read"}]).status_code == 201
    try:
        assert by_name(bob).json()["id"] == project["id"]
        assert [p["id"] for p in bob.get("/flow/projects").json()] == [project["id"]]
        body = {"project_id": project["id"], "yaml_id": "x", "multi": False, "tags": []}
        assert bob.put("/flow/live_jobs/replace", json=body).status_code == 403  # read is not write
    finally:
        alice.delete("/users/bob/permissions", params={"uri": uri})
    # a share by the flow project's id works the same way
    by_id = f"flow://default/local/alice/{project['id']}"
    assert alice.post("/users/bob/permissions", json=[{"uri": by_id, "action": "read"}]).status_code == 201
    assert by_name(bob).status_code == 200
    alice.delete("/users/bob/permissions", params={"uri": by_id})


def test_bake_attempts_tasks_parse_with_apolo_flow(platform, project):
    alice = platform.http("alice")
    bake = alice.post("/flow/bakes", json={"project_id": project["id"], "batch": "b", "graphs": {"": {"t": []}},
                                           "params": None, "name": None, "tags": [], "meta": {"git_info": None}})
    assert bake.status_code == 201, bake.text
    bake_id = bake.json()["id"]
    for number in (1, 2):
        made = alice.post("/flow/attempts", json={"bake_id": bake_id, "number": number, "executor_id": None,
                                                  "result": "pending", "configs_meta": META})
        assert made.status_code == 201, made.text
    dup = alice.post("/flow/attempts", json={"bake_id": bake_id, "number": 2, "executor_id": None, "result": "pending",
                                             "configs_meta": META})
    assert dup.status_code == 409
    last = alice.get("/flow/attempts/by_number", params={"bake_id": bake_id, "number": "-1"}).json()
    assert flow_client._parse_attempt_payload(last).number == 2
    last_bake = alice.get(f"/flow/bakes/{bake_id}", params={"fetch_last_attempt": "1"}).json()
    parsed = flow_client._parse_bake_payload(last_bake)
    assert parsed.last_attempt.number == 2 and parsed.graphs == {(): {("t",): set()}}
    task = alice.post("/flow/tasks", json={"attempt_id": last["id"], "yaml_id": "t", "raw_id": "", "outputs": None,
                                           "state": None, "statuses": [{"created_at": "2026-01-01T00:00:00+00:00",
                                                                        "status": "running"}]})
    assert task.status_code == 201, task.text
    assert flow_client._parse_task_payload(task.json()).status.value == "running"
    assert alice.get("/flow/tasks", params={"attempt_id": "attempt-missing"}).json() == []
    assert alice.get("/flow/attempts/by_number", params={"bake_id": bake_id, "number": "x"}).status_code == 400
    assert alice.delete(f"/flow/bakes/{bake_id}").status_code == 405
    bad = alice.post("/flow/tasks", json={"attempt_id": last["id"], "yaml_id": "u", "raw_id": "", "statuses": []})
    assert bad.status_code == 400 and "'statuses'" in bad.json()["error"]


def test_bad_names_and_unknown_projects(platform):
    alice = platform.http("alice")
    for name in ("a/b", "..", "", "x" * 101):
        assert create(alice, name).status_code == 400, name
    assert create(alice, "demo", "no-such-project").status_code == 403  # nobody holds write there
    assert by_name(alice, "demo", "no-such-project").status_code == 404
    assert alice.post("/flow/bakes", content=b"[1]").status_code == 400


def test_deleting_a_project_deletes_what_it_holds_and_state_survives_restart(platform):
    alice = platform.http("alice")
    kept = create(alice, "kept").json()
    gone = create(alice, "gone").json()
    bake = alice.post("/flow/bakes", json={"project_id": gone["id"], "batch": "b", "graphs": {}, "params": {},
                                           "name": "n", "tags": [], "meta": {}}).json()
    assert alice.delete(f"/flow/projects/{gone['id']}").status_code == 204
    assert alice.get(f"/flow/bakes/{bake['id']}").status_code == 404
    platform.restart()
    assert platform.http("alice").get(f"/flow/projects/{kept['id']}").json() == kept
