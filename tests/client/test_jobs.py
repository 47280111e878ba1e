"""Jobs over real HTTP: list with every filter, get/resolve by id, name and URI, kill, logs over
the log websocket, "this job" from NEURO_JOB_ID; jobs started both raw and with `apolo run`."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from jupyter_apolo.client import AuthorizationError, Job, NotFoundError
from tests.support.platform import wait_for


def submit(api, command: str, *, name: str | None = None, tags=(), project: str | None = None) -> str:
    """Create a job through the client's raw call (the client has no `run`): its id."""
    cfg = api.config
    body = {"image": "ubuntu:latest", "command": command, "preset_name": "cpu-small", "tags": list(tags),
            "cluster_name": cfg.cluster, "org_name": cfg.org, "project_name": project or cfg.project}
    if name:
        body["name"] = name
    resp = api.call(lambda aio: aio.request("POST", "jobs", json=body))
    assert resp.status_code == 202
    return resp.json()["id"]


def status(api, job: str) -> str:
    return api.jobs.get(job).status


def test_list_get_resolve_filters(apolo, cli, unique):
    api = apolo("alice")
    name = unique("lister")
    tag = unique("tag")
    old_id = submit(api, "true", name=name, tags=[tag])
    wait_for(lambda: status(api, old_id) == "succeeded", 30, what="first run to finish")
    new_id = submit(api, "sleep 60", name=name, tags=[tag, "second"])
    wait_for(lambda: status(api, new_id) == "running", 30, what="second run to start")

    job = api.jobs.get(new_id)
    assert isinstance(job, Job)
    assert (job.id, job.name, job.owner, job.project, job.image, job.command, job.preset_name) == (
        new_id, name, "alice", "alice", "ubuntu:latest", "sleep 60", "cpu-small")
    assert job.uri == f"job://default/local/alice/{new_id}" and job.tags == (tag, "second")
    assert job.created_at.tzinfo is not None and job.raw["id"] == new_id

    # by name, job:name, job:/project/name and full URI: the newest run, as the CLI resolves
    for ref in (name, f"job:{name}", f"job:/alice/{name}", f"job://default/local/alice/{name}", f"job:{new_id}"):
        assert api.jobs.resolve(ref) == new_id, ref
    assert api.jobs.get(f"job:{name}").id == new_id

    ids = lambda **kw: [j.id for j in api.jobs.list(**kw)]
    assert new_id in ids() and old_id not in ids()  # default: active only
    assert {old_id, new_id} <= set(ids(statuses=()))
    assert ids(statuses=["succeeded"], tags=[tag]) == [old_id]
    assert ids(statuses=(), tags=[tag, "second"]) == [new_id]
    assert ids(statuses=(), name=name, reverse=True) == [new_id, old_id]
    assert ids(statuses=(), name=name, reverse=True, limit=1) == [new_id]
    assert ids(statuses=(), name=name, owners=["ME"]) == [old_id, new_id]
    assert ids(statuses=(), name=name, owners=["bob"]) == []
    created = api.jobs.get(new_id).created_at
    assert ids(statuses=(), name=name, since=created) == [new_id]
    assert ids(statuses=(), name=name, until=created - timedelta(microseconds=1)) == [old_id]
    assert ids(statuses=(), name=name, projects=["bob"]) == []
    assert new_id in ids(all_projects=True)
    # the CLI lists the same active job
    assert new_id in cli("alice")("ps").stdout

    assert api.jobs.kill(f"job:{name}") == new_id
    wait_for(lambda: status(api, new_id) == "cancelled", 30, what="kill")


def test_cli_started_job_logs_and_current(apolo, cli, unique):
    api = apolo("alice")
    name = unique("talker")
    out = cli("alice")("run", "--detach", "--name", name, "-s", "cpu-small", "ubuntu", "--",
                       "sh", "-c", "echo hello from $NEURO_JOB_ID; echo second line").stdout
    job_id = re.search(r"job-[0-9a-f-]{36}", out).group(0)
    logs = b"".join(api.jobs.logs(f"job:{name}"))
    assert f"hello from {job_id}\nsecond line\n".encode() in logs
    assert api.jobs.get(job_id).finished
    # "this job" inside a platform job
    assert api.jobs.current(environ={"NEURO_JOB_ID": job_id}).id == job_id
    assert api.jobs.current(environ={}) is None


def test_logs_stream_while_running(apolo, unique):
    api = apolo("alice")
    job_id = submit(api, "sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.3; done'", name=unique("ticker"))
    chunks = list(api.jobs.logs(job_id))
    assert b"".join(chunks).count(b"tick") == 3
    # the same log over the chunked HTTP endpoint (used when `websockets` is not installed)
    assert b"".join(api.jobs.logs(job_id, via="http")).count(b"tick") == 3


def test_missing_job_and_permissions(apolo, unique):
    alice, bob = apolo("alice"), apolo("bob")
    with pytest.raises(NotFoundError) as info:
        alice.jobs.get("job-00000000-0000-0000-0000-000000000000")
    assert info.value.message == "no such job job-00000000-0000-0000-0000-000000000000"
    job_id = submit(alice, "sleep 30", name=unique("private"))
    with pytest.raises((AuthorizationError, NotFoundError)):
        bob.jobs.get(job_id)
    with pytest.raises((AuthorizationError, NotFoundError)):
        list(bob.jobs.logs(job_id))
    with pytest.raises((AuthorizationError, NotFoundError)):
        list(bob.jobs.logs(job_id, via="http"))
    alice.permissions.share(f"job:{job_id}", "bob", "read")
    assert bob.jobs.get(job_id).owner == "alice"
    with pytest.raises(AuthorizationError):
        bob.jobs.kill(job_id)
    alice.jobs.kill(job_id)
    assert alice.jobs.kill(job_id) == job_id  # finished: a no-op, as the platform does
