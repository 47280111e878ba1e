"""The jobs service over real HTTP: creation and its validation, job JSON, listing filters and
visibility, get/kill/life span, and what a job's process sees (env, volumes, HTTP port,
passed config)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.support.platform import process_group_alive, wait_for

FINISHED = ("succeeded", "failed", "cancelled")
NDJSON = {"Accept": "application/x-ndjson"}


def run(client: httpx.Client, command: str, **fields) -> dict:
    body = {"preset_name": "cpu-small", "image": "python:3", "command": command, **fields}
    resp = client.post("/jobs?from_preset", json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()


def finished(client: httpx.Client, job_id: str, timeout: float = 30) -> dict:
    def done():
        job = client.get(f"/jobs/{job_id}").json()
        return job if job["status"] in FINISHED else None

    return wait_for(done, timeout, what=f"{job_id} to finish")


def running(client: httpx.Client, job_id: str) -> dict:
    return wait_for(lambda: (j := client.get(f"/jobs/{job_id}").json())["status"] == "running" and j,
                    what=f"{job_id} to run")


def log_of(client: httpx.Client, job_id: str) -> str:
    """The whole log (the endpoint follows a live job's log until it finishes)."""
    return client.get(f"/monitoring/{job_id}/log").text


def log_so_far(platform, job_id: str) -> str:
    """What a live job has logged so far, read from the platform's log file."""
    path = platform.root / "jobs" / job_id / "output.log"
    return path.read_text() if path.exists() else ""


def listing(client: httpx.Client, **params) -> list[dict]:
    resp = client.get("/jobs", params=params, headers=NDJSON)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in resp.text.splitlines()]


PY_ENV = ("python -c 'import os, json; "
          "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(\"NEURO_\")}))'")


def test_job_lifecycle_json_and_env(platform):
    alice = platform.http("alice")
    created = run(alice, PY_ENV, name="envjob", tags=["t1"], http={"port": 8080, "requires_auth": True})
    assert created["status"] == "pending"
    for key in ("id", "owner", "cluster_name", "status", "history", "container", "uri", "scheduler_enabled",
                "pass_config", "total_price_credits", "price_credits_per_hour"):
        assert key in created, key
    assert created["uri"] == f"job://default/local/alice/{created['id']}"
    assert created["container"]["resources"] == {"cpu": 1.0, "memory": 2 * 1024**3, "memory_mb": 2048, "shm": False}
    job = finished(alice, created["id"])
    assert job["status"] == "succeeded", job
    history = job["history"]
    assert history["exit_code"] == 0 and {"created_at", "started_at", "finished_at"} <= set(history)
    assert [s["status"] for s in job["statuses"]] == ["pending", "running", "succeeded"]
    env = json.loads(log_of(alice, job["id"]))
    assert job["http_url"] == f"http://{job['id']}.jobs.localhost:{platform.url.split(':')[2].split('/')[0]}"
    port = env["NEURO_JOB_HTTP_PORT"]  # the job's own loopback port, behind http_url
    assert port.isdigit() and port not in job["http_url"]
    assert env == {
        "NEURO_JOB_ID": job["id"], "NEURO_JOB_NAME": "envjob", "NEURO_JOB_OWNER": "alice",
        "NEURO_JOB_CLUSTER": "default", "NEURO_JOB_INTERNAL_HOSTNAME": job["internal_hostname"],
        "NEURO_JOB_INTERNAL_HOSTNAME_NAMED": job["internal_hostname_named"], "NEURO_JOB_HTTP_PORT": port,
        "NEURO_JOB_HTTP_AUTH": "True", "NEURO_JOB_PRESET": "cpu-small",
    }


def test_failed_job_keeps_exit_code_and_user_env(platform):
    alice = platform.http("alice")
    job = run(alice, "python -c 'import os, sys; print(os.environ[\"GREETING\"]); sys.exit(3)'",
              env={"GREETING": "hello there"})
    job = finished(alice, job["id"])
    assert (job["status"], job["history"]["exit_code"], job["history"]["reason"]) == ("failed", 3, "Error")
    assert log_of(alice, job["id"]) == "hello there\n"


def test_unknown_command_fails_the_job_with_a_reason(platform):
    alice = platform.http("alice")
    job = finished(alice, run(alice, "no-such-program-anywhere --x")["id"])
    assert job["status"] == "failed" and job["history"]["reason"] == "ContainerCannotRun"
    assert "no-such-program-anywhere" in log_of(alice, job["id"])


@pytest.mark.parametrize("body, message", [
    ({"preset_name": "gpu-huge"}, "Preset was not found"),
    ({"resources": {"cpu": 2, "memory": 1024, "shm": True}}, "Both preset and resources are not allowed"),
    ({"name": "Bad_Name"}, "Invalid job name"),
    ({"name": "ab"}, "Invalid job name"),
    ({"name": "a" * 41}, "Invalid job name"),
    ({"tags": ["has space"]}, "Invalid 'tags'"),
    ({"tags": [f"t{i}" for i in range(17)]}, "Invalid 'tags'"),
    ({"schedule_timeout": 0}, "schedule_timeout"),
    ({"schedule_timeout": 31 * 24 * 3600}, "schedule_timeout"),
    ({"max_run_time_minutes": 0}, "max_run_time_minutes"),
    ({"command": None}, "'command' is required"),
    ({"image": ""}, "'image' is required"),
    ({"env": {"A": 1}}, "'env'"),
    ({"pass_config": True, "env": {"NEURO_PASSED_CONFIG": "x"}}, "Cannot pass config"),
    ({"volumes": [{"src_storage_uri": "disk://default/local/alice/d", "dst_path": "/d"}]}, "not a storage URI"),
    ({"volumes": [{"src_storage_uri": "storage://default/local/alice/x", "dst_path": "rel"}]}, "dst_path"),
    ({"secret_env": {"K": "secret://default/local/alice/k"}}, "not supported"),
    ({"http": {"port": 0}}, "Invalid 'http'"),
])
def test_create_validation_is_400_json(platform, body, message):
    alice = platform.http("alice")
    full = {"preset_name": "cpu-small", "image": "python:3", "command": "true", **body}
    resp = alice.post("/jobs?from_preset", json=full)
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert message in resp.json()["error"]


def test_malformed_json_and_non_object_bodies(platform):
    alice = platform.http("alice")
    resp = alice.post("/jobs?from_preset", content=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "Malformed JSON" in resp.json()["error"]
    resp = alice.post("/jobs?from_preset", json=[1, 2])
    assert resp.status_code == 400 and "Expected a JSON object" in resp.json()["error"]
    resp = alice.get("/jobs", params={"status": "sleeping"})
    assert resp.status_code == 400 and "Invalid status" in resp.json()["error"]
    resp = alice.get("/jobs", params={"since": "yesterday"})
    assert resp.status_code == 400 and "since" in resp.json()["error"]


def test_duplicate_name_of_a_live_job_is_refused(platform):
    alice = platform.http("alice")
    first = run(alice, "sleep 600", name="dupe")
    resp = alice.post("/jobs?from_preset",
                      json={"preset_name": "cpu-small", "image": "x", "command": "true", "name": "dupe"})
    assert resp.status_code == 400
    assert resp.json()["error"] == (
        f"Failed to create job: job with name 'dupe' and project 'alice' already exists: '{first['id']}'")
    assert alice.delete(f"/jobs/{first['id']}").status_code == 204
    run(alice, "true", name="dupe")  # a finished job's name is free again


def test_create_needs_write_on_project_and_volumes(platform):
    bob = platform.http("bob")
    resp = bob.post("/jobs?from_preset", json={"preset_name": "cpu-small", "image": "x", "command": "true",
                                               "project_name": "alice"})
    assert resp.status_code == 403
    assert resp.json()["missing"] == [{"uri": "job://default/local/alice", "action": "write"}]
    resp = bob.post("/jobs?from_preset", json={
        "preset_name": "cpu-small", "image": "x", "command": "true",
        "volumes": [{"src_storage_uri": "storage://default/local/alice/data", "dst_path": "/data", "read_only": True}]})
    assert resp.status_code == 403
    assert resp.json()["missing"] == [{"uri": "storage://default/local/alice/data", "action": "read"}]
    assert resp.json()["error"]


def test_legacy_nested_body(platform):
    alice = platform.http("alice")
    resp = alice.post("/jobs", json={"container": {"image": "python:3", "command": "echo legacy",
                                                   "resources": {"cpu": 0.5, "memory_mb": 256}}})
    assert resp.status_code == 202, resp.text
    job = finished(alice, resp.json()["id"])
    assert job["container"]["resources"]["memory"] == 256 * 2**20 and "preset_name" not in job
    assert log_of(alice, job["id"]) == "legacy\n"


def test_get_by_id_by_name_missing_and_forbidden(platform):
    alice, bob = platform.http("alice"), platform.http("bob")
    job = run(alice, "true", name="byname")
    assert alice.get("/jobs/byname").json()["id"] == job["id"]
    resp = alice.get("/jobs/job-00000000-0000-0000-0000-000000000000")
    assert resp.status_code == 400
    assert resp.json() == {"error": "no such job job-00000000-0000-0000-0000-000000000000"}
    assert bob.get("/jobs/byname").status_code == 400  # names resolve among the caller's own jobs
    resp = bob.get(f"/jobs/{job['id']}")
    assert resp.status_code == 403
    assert resp.json()["missing"] == [{"uri": job["uri"], "action": "read"}]
    assert bob.delete(f"/jobs/{job['id']}").status_code == 403


def test_kill_cancels_with_user_requested_and_process_group_dies(platform):
    alice = platform.http("alice")
    # the child keeps running in the same process group: the kill must reach it too
    job = run(alice, "sh -c 'sleep 300 & echo started; wait'")
    running(alice, job["id"])
    wait_for(lambda: "started" in log_so_far(platform, job["id"]), what="the job's output")
    pid = int((platform.root / "jobs" / job["id"] / "pid").read_text())
    assert alice.delete(f"/jobs/{job['id']}").status_code == 204
    job = alice.get(f"/jobs/{job['id']}").json()
    assert job["status"] == "cancelled" and job["history"]["reason"] == "UserRequested"
    assert "finished_at" in job["history"]
    wait_for(lambda: not process_group_alive(pid), 10, what="the process group to die")
    assert alice.delete(f"/jobs/{job['id']}").status_code == 204  # no-op when finished


def test_bump_life_span(platform):
    alice = platform.http("alice")
    job = run(alice, "sleep 600", max_run_time_minutes=10)
    resp = alice.put(f"/jobs/{job['id']}/max_run_time_minutes", json={"additional_max_run_time_minutes": 5})
    assert resp.status_code == 204, resp.text
    assert alice.get(f"/jobs/{job['id']}").json()["max_run_time_minutes"] == 15
    resp = alice.put(f"/jobs/{job['id']}/max_run_time_minutes", json={"additional_max_run_time_minutes": "5"})
    assert resp.status_code == 400
    assert platform.http("bob").put(f"/jobs/{job['id']}/max_run_time_minutes",
                                    json={"additional_max_run_time_minutes": 5}).status_code == 403
    alice.delete(f"/jobs/{job['id']}")


def test_volume_and_working_dir_are_mapped_into_the_sandbox(platform):
    alice = platform.http("alice")
    data = platform.root / "storage" / "local" / "alice" / "inputs"
    data.mkdir(parents=True, exist_ok=True)
    (data / "numbers.txt").write_text("1 2 3\n")
    job = run(alice, "python -c 'import os, sys; print(open(sys.argv[1]).read().strip(), "
                     "open(\"numbers.txt\").read().strip(), os.environ[\"PWD\"].endswith(\"/var/in\"))' "
                     "/var/in/numbers.txt",
              working_dir="/var/in",
              volumes=[{"src_storage_uri": "storage://default/local/alice/inputs", "dst_path": "/var/in",
                        "read_only": True},
                       {"src_storage_uri": "storage://default/local/alice/outputs", "dst_path": "/var/out",
                        "read_only": False}])
    job = finished(alice, job["id"])
    assert job["status"] == "succeeded", log_of(alice, job["id"])
    assert log_of(alice, job["id"]) == "1 2 3 1 2 3 True\n"
    assert (platform.root / "storage" / "local" / "alice" / "outputs").is_dir()  # created for the mount


def test_http_port_is_mapped_to_a_loopback_port(platform):
    alice = platform.http("alice")
    serve = ("import argparse, http.server; a = argparse.ArgumentParser(); a.add_argument(\"--port\", type=int); "
             "http.server.ThreadingHTTPServer((\"127.0.0.1\", a.parse_args().port), "
             "http.server.SimpleHTTPRequestHandler).serve_forever()")
    job = run(alice, f"python -c '{serve}' --port 80", http={"port": 80, "requires_auth": False})
    try:
        running(alice, job["id"])
        host = job["http_url"].removeprefix("http://")
        assert host.startswith(f"{job['id']}.jobs.localhost:") and "http_url_named" not in job  # no name, no named URL

        def serves():  # a public job (no http auth) through the platform's job host
            try:
                return httpx.get(platform.base + "/", headers={"Host": host}, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(serves, 20, what="the job's HTTP server")
    finally:
        alice.delete(f"/jobs/{job['id']}")


def test_pass_config_token_lives_as_long_as_the_job(platform):
    alice = platform.http("alice")
    code = ("import base64, json, os, urllib.request; "
            "c = json.loads(base64.b64decode(os.environ['NEURO_PASSED_CONFIG'])); "
            "r = urllib.request.Request(c['url'] + '/jobs/' + os.environ['NEURO_JOB_ID'], "
            "headers={'Authorization': 'Bearer ' + c['token']}); "
            "print(json.load(urllib.request.urlopen(r))['status'], c['cluster'], c['org_name'], c['project_name'], "
            "flush=True); "
            "import time; time.sleep(600)")
    job = run(alice, f'python -c "{code}"', pass_config=True)
    wait_for(lambda: log_so_far(platform, job["id"]).endswith("\n"), 20, what="the job's output")
    assert log_so_far(platform, job["id"]) == "running default local alice\n"
    config = json.loads(base64.b64decode(job["container"]["env"]["NEURO_PASSED_CONFIG"]))
    assert config["url"] == platform.url
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {config['token']}"}) as passed:
        assert passed.get("/config").json()["authorized"] is True
        alice.delete(f"/jobs/{job['id']}")
        resp = passed.get(f"/jobs/{job['id']}")
        assert resp.status_code == 401 and "finished" in resp.json()["error"]


def test_list_filters_visibility_and_formats(platform):
    platform.token("carol")
    carol, bob = platform.http("carol"), platform.http("bob")
    a = finished(carol, run(carol, "true", name="lister", tags=["x", "y"])["id"])
    b = finished(carol, run(carol, "false", tags=["x"])["id"])
    c = run(carol, "sleep 600", tags=["y"])
    try:
        running(carol, c["id"])
        ids = lambda jobs: [j["id"] for j in jobs]
        base = {"cluster_name": "default", "org_name": "local", "project_name": "carol",
                "being_dropped": "False", "logs_removed": "False"}
        assert ids(listing(carol, **base)) == [a["id"], b["id"], c["id"]]
        assert ids(listing(carol, **base, status=["pending", "running", "suspended"])) == [c["id"]]
        assert ids(listing(carol, **base, status=["succeeded", "failed"])) == [a["id"], b["id"]]
        assert ids(listing(carol, **base, tag=["x", "y"])) == [a["id"]]
        assert ids(listing(carol, **base, name="lister")) == [a["id"]]
        assert ids(listing(carol, **base, reverse="1", limit="2")) == [c["id"], b["id"]]
        assert ids(listing(carol, **base, owner="bob")) == []
        assert listing(carol, **{**base, "being_dropped": "True"}) == []
        assert listing(carol, **{**base, "cluster_name": "other"}) == []
        created_b = b["history"]["created_at"]
        assert ids(listing(carol, **base, since=created_b)) == [b["id"], c["id"]]
        assert ids(listing(carol, **base, until=created_b)) == [a["id"], b["id"]]
        plain = carol.get("/jobs", params=base)
        assert plain.headers["content-type"] == "application/json"
        assert ids(plain.json()["jobs"]) == [a["id"], b["id"], c["id"]]
        # visibility: bob sees none of carol's jobs until one is shared with him
        assert listing(bob, project_name="carol") == []
        granted = carol.post("/users/bob/permissions", json=[{"uri": a["uri"], "action": "read"}])
        assert granted.status_code == 201, granted.text
        assert ids(listing(bob, project_name="carol")) == [a["id"]]
        carol.post("/users/bob/permissions", json=[{"uri": "job://default/local/carol/lister", "action": "read"}])
        assert ids(listing(bob)) == [a["id"]]
    finally:
        carol.delete(f"/jobs/{c['id']}")


def test_capacity_counts_live_jobs(platform):
    platform.token("dave")
    dave = platform.http("dave")
    before = dave.get("/monitoring/capacity").json()
    assert set(before) == {"cpu-small", "cpu-medium", "cpu-large"}
    job = run(dave, "sleep 600", preset_name="cpu-medium")
    try:
        after = dave.get("/monitoring/capacity").json()
        assert after["cpu-small"] == before["cpu-small"] - 2
    finally:
        dave.delete(f"/jobs/{job['id']}")


def test_log_stream_follows_a_running_job(platform):
    alice = platform.http("alice")
    job = run(alice, "python -u -c 'import time\nfor i in range(3): print(i); time.sleep(0.5)'")
    with alice.stream("GET", f"/monitoring/{job['id']}/log", params={"timestamps": "true"}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
        body = b"".join(resp.iter_bytes()).decode()
    lines = body.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["0", "1", "2"]
    assert all(line.split(" ", 1)[0].endswith("Z") for line in lines)
    assert alice.get(f"/jobs/{job['id']}").json()["status"] == "succeeded"  # closed only once finished
    assert platform.http("bob").get(f"/monitoring/{job['id']}/log").status_code == 403
