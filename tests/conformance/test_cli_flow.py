"""The official apolo-flow (26.7) against the embedded platform's flow API, on the launcher's
sample project and on a copy of ../shared/fixtures/flow-project: ps, run jupyter (detached, with
the project's volumes, web UI answering), status, logs, kill, mkvolumes, upload/download, bakes,
inspect, a live job shared between two users, and bad input."""

from __future__ import annotations

import filecmp
import json

import httpx
import pytest

from jupyter_apolo.localplatform import seed
from tests.support.flow import JOB_ID, ApoloFlow, fixture_project, make_bake, offline_actions, sample_project
from tests.support.platform import FIXTURES, JobSite, wait_for

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def git_env(tmp_path_factory):
    return offline_actions(tmp_path_factory.mktemp("github"))


@pytest.fixture(scope="module")
def flow(cli, git_env):
    """``flow("alice")`` -> ``ApoloFlow`` as alice (cached per module)."""
    cache: dict[str, ApoloFlow] = {}

    def get(user: str) -> ApoloFlow:
        if user not in cache:
            cache[user] = ApoloFlow(cli(user), git_env)
        return cache[user]

    return get


@pytest.fixture(scope="module")
def team(platform):
    """alice admin of the sample's team project ``awesome-team``; bob has no role in it."""
    platform.add_project_user(seed.TEAM_PROJECT, "alice", "admin")
    return seed.TEAM_PROJECT


@pytest.fixture(scope="module")
def sample(team, tmp_path_factory):
    return sample_project(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def fixture(team, tmp_path_factory):
    return fixture_project(tmp_path_factory.mktemp("fixture") / "flow-project")


def running_row(flow, cwd, job="jupyter"):
    rows = [r for r in flow.ps(cwd) if r[0].startswith(job + " ") and r[1] == "running"]
    assert len(rows) == 1, rows
    name, _, raw_id = rows[0]
    return name.split()[1], raw_id


def job_json(platform, user, job_id):
    return platform.http(user).get(f"/jobs/{job_id}").json()


def test_ps_creates_the_flow_project_and_lists_live_jobs(platform, flow, sample):
    assert flow("alice").ps(sample) == [("jupyter", "unknown", "N/A")]
    projects = platform.http("alice").get("/flow/projects").json()
    assert [(p["name"], p["project_name"], p["owner"]) for p in projects] == [
        (seed.FLOW_ID, seed.TEAM_PROJECT, "alice")]


def test_sample_run_jupyter_is_the_seeds_job(platform, flow, sample):
    alice = flow("alice")
    (sample / "notebooks" / "hello.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                                  "nbformat_minor": 5}))
    alice("mkvolumes", cwd=sample)
    assert (platform.root / "storage" / "local" / seed.NOTEBOOKS_REMOTE).is_dir()
    alice("upload", "notebooks", cwd=sample)
    out = alice("run", "jupyter", cwd=sample).stdout
    job_id = JOB_ID.search(out).group(0)
    try:
        suffix, raw_id = running_row(alice, sample)
        assert raw_id == job_id
        job = job_json(platform, "alice", job_id)
        expected = seed.notebook_job_body(platform.cluster, platform.org, suffix)
        assert job["name"] == expected["name"] and sorted(job["tags"]) == sorted(expected["tags"])
        assert job["container"]["volumes"] == expected["volumes"]
        assert job["container"]["command"] == expected["command"]
        assert job["container"]["http"]["requires_auth"] is True and job["container"]["http"]["port"] == 8888
        assert (job["preset_name"], job["description"], job["max_run_time_minutes"]) == (
            "cpu-small", "live.jupyter", 1440)
        # the job serves the notebooks volume: what `upload notebooks` put there
        contents = wait_for(lambda: _contents(platform, job), 60, what="the job's Jupyter")
        assert "hello.ipynb" in contents
        assert job_id in alice("status", "jupyter", suffix, cwd=sample).stdout
        alice("kill", "jupyter", suffix, cwd=sample)
        assert ("jupyter " + suffix, "cancelled", job_id) in alice.ps(sample)
        logs = alice("logs", "jupyter", suffix, cwd=sample).stdout
        assert "ServerApp" in logs or "LabApp" in logs, logs
    finally:
        platform.http("alice").delete(f"/jobs/{job_id}")  # never leave a second jupyter for the next test


def _contents(platform, job: dict, user: str = "alice") -> list[str] | None:
    """The names Jupyter's contents API lists at the root of ``job``'s web UI, opened as ``user``
    through the platform's job host (which needs a token of a user with read on the job)."""
    try:
        resp = JobSite(platform, job, user).get("/api/contents", timeout=5)
    except httpx.HTTPError:
        return None
    return [item["name"] for item in resp.json()["content"]] if resp.status_code == 200 else None


def test_seeded_job_is_seen_by_apolo_flow(platform, flow, sample):
    job_id = seed.ensure_notebook_job(platform.url, platform.token("alice"), platform.cluster, platform.org)
    try:
        suffix, raw_id = running_row(flow("alice"), sample)
        assert raw_id == job_id and job_json(platform, "alice", job_id)["name"] == f"awesome-project-jupyter-{suffix}"
        assert seed.ensure_notebook_job(platform.url, platform.token("alice"), platform.cluster, platform.org) == job_id
    finally:
        platform.http("alice").delete(f"/jobs/{job_id}")


def test_fixture_upload_then_download_is_byte_identical(flow, fixture):
    alice = flow("alice")
    alice("upload", "notebooks", cwd=fixture)
    (fixture / "notebooks" / "demo.ipynb").unlink()
    alice("download", "notebooks", cwd=fixture)
    assert filecmp.cmp(fixture / "notebooks" / "demo.ipynb", FIXTURES / "flow-project" / "notebooks" / "demo.ipynb",
                       shallow=False)


def test_fixture_run_jupyter_action(platform, flow, fixture):
    alice = flow("alice")
    alice("upload", "notebooks", cwd=fixture)
    job_id = JOB_ID.search(alice("run", "jupyter", cwd=fixture).stdout).group(0)
    try:
        suffix, raw_id = running_row(alice, fixture)
        assert raw_id == job_id
        job = job_json(platform, "alice", job_id)
        mounts = {v["dst_path"] for v in job["container"]["volumes"]}
        assert mounts == {"/project/data", "/project/modules", "/project/config", "/project/notebooks",
                          "/project/results"}
        assert "project:awesome-project" in job["tags"] and "job:jupyter" in job["tags"]
        assert "demo.ipynb" in wait_for(lambda: _contents(platform, job), 60, what="the action's Jupyter")
        assert ("filebrowser", "unknown", "N/A") in alice.ps(fixture)  # every live.yml job has a row
    finally:
        platform.http("alice").delete(f"/jobs/{job_id}")


def test_bakes_and_inspect_a_bake_made_through_the_api(platform, flow, fixture):
    alice = flow("alice")
    alice.ps(fixture)  # makes sure the flow project exists
    project = platform.http("alice").get("/flow/projects/by_name", params={
        "name": seed.FLOW_ID, "cluster": platform.cluster, "org_name": platform.org,
        "project_name": seed.TEAM_PROJECT}).json()
    bake = make_bake(platform, "alice", project["id"])
    listing = alice("bakes", cwd=fixture).stdout
    assert bake["id"] in listing and "nightly" in listing and "train" in listing and "failed" in listing
    inspected = alice("inspect", bake["id"], cwd=fixture).stdout
    assert f"Bake id: {bake['id']}" in inspected and "Attempt #1" in inspected
    assert "prepare" in inspected and "succeeded" in inspected and "fit" in inspected
    assert "image:model-x:v1" in inspected and "built" in inspected


def test_bobs_live_job_is_seen_by_alice_after_a_share(platform, cli, flow, tmp_path):
    bob_dir = sample_project(tmp_path / "bob", project_name="bob")
    alice_dir = sample_project(tmp_path / "alice", project_name="bob")
    bob, alice = flow("bob"), flow("alice")
    job_id = JOB_ID.search(bob("run", "jupyter", cwd=bob_dir).stdout).group(0)
    try:
        suffix, _ = running_row(bob, bob_dir)
        denied = alice("ps", cwd=alice_dir, check=False)
        assert denied.returncode == 1, denied.stderr
        assert ("Not enough permissions: read on flow://default/local/bob/awesome_project"
                in denied.stderr), denied.stderr
        cli("bob")("share", f"flow:{seed.FLOW_ID}", "alice", "read")
        assert alice.ps(alice_dir) == [("jupyter", "unknown", "N/A")]  # the flow, not yet its job
        cli("bob")("share", f"job:{job_id}", "alice", "read")
        assert alice.ps(alice_dir) == [(f"jupyter {suffix}", "running", job_id)]
        refused = alice("kill", "jupyter", suffix, cwd=alice_dir, check=False)  # read does not allow kill
        assert "Not enough permissions" in refused.stdout + refused.stderr
        assert job_json(platform, "bob", job_id)["status"] == "running"
    finally:
        platform.http("bob").delete(f"/jobs/{job_id}")


def test_bad_input_gets_the_platforms_errors(flow, sample, tmp_path):
    alice = flow("alice")
    unknown = sample_project(tmp_path / "unknown", project_name="no-such-project")
    failed = alice("ps", cwd=unknown, check=False)
    assert failed.returncode != 0 and "no-such-project" in failed.stderr, failed.stderr
    not_in_live_yml = alice("status", "notebook", cwd=sample, check=False)
    assert not_in_live_yml.returncode == 1 and "Unknown job notebook" in not_in_live_yml.stdout
    assert "Existing jobs: jupyter" in not_in_live_yml.stdout
