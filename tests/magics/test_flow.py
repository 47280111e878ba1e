"""%apolo flow ps / bakes on the embedded platform's flow API, compared with the official
apolo-flow on the same flow project; bad input as one-line errors."""

from __future__ import annotations

import pytest

from jupyter_apolo.localplatform import seed
from jupyter_apolo.magics.flow import FlowPs
from tests.support.flow import JOB_ID, ApoloFlow, fixture_project, make_bake, offline_actions, sample_project

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def apolo_flow(cli, tmp_path_factory):
    """``apolo_flow("alice")`` -> the official apolo-flow as that user."""
    git_env = offline_actions(tmp_path_factory.mktemp("github"))
    return lambda user: ApoloFlow(cli(user), git_env)


@pytest.fixture(scope="module")
def sample(platform, tmp_path_factory):
    platform.add_project_user(seed.TEAM_PROJECT, "alice", "admin")
    return sample_project(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def live_jobs(platform, apolo_flow, sample):
    """A cancelled jupyter run (apolo-flow run + kill) and a running one (the launcher's seed)."""
    alice = apolo_flow("alice")
    first = JOB_ID.search(alice("run", "jupyter", cwd=sample).stdout).group(0)
    platform.http("alice").delete(f"/jobs/{first}")
    running = seed.ensure_notebook_job(platform.url, platform.token("alice"), platform.cluster, platform.org)
    yield {"cancelled": first, "running": running}
    platform.http("alice").delete(f"/jobs/{running}")


def test_flow_ps_lists_what_apolo_flow_ps_lists(shell, apolo_flow, sample, live_jobs):
    rows = shell(f"flow ps --path {sample}")
    assert isinstance(rows, FlowPs)
    expected = apolo_flow("alice").ps(sample)
    assert rows.rows_as_tuples() == expected
    assert {(status, raw) for _, status, raw in expected} == {("running", live_jobs["running"]),
                                                            ("cancelled", live_jobs["cancelled"])}
    assert all(r.when is not None and r.label.startswith("jupyter ") for r in rows)
    assert "RAW ID" in repr(rows) and live_jobs["running"] in rows._repr_html_()


def test_flow_ps_on_the_fixture_project_with_actions_matches_apolo_flow(shell, apolo_flow, live_jobs, tmp_path):
    project = fixture_project(tmp_path / "flow-project")  # .neuro/, jobs calling GitHub actions
    rows = shell(f"flow ps --path {project}").rows_as_tuples()
    assert rows == apolo_flow("alice").ps(project)
    assert ("train", "unknown", "N/A") in rows and sum(r[0].startswith("jupyter ") for r in rows) == 2


def test_flow_ps_of_one_live_job_from_inside_the_project(shell, sample, live_jobs, monkeypatch):
    monkeypatch.chdir(sample / "notebooks")
    assert {r.raw_id for r in shell("flow ps jupyter")} == set(live_jobs.values())


def test_flow_bakes_lists_a_bake(shell, platform, sample, live_jobs):
    project = platform.http("alice").get("/flow/projects/by_name", params={
        "name": seed.FLOW_ID, "cluster": platform.cluster, "project_name": seed.TEAM_PROJECT}).json()
    bake = make_bake(platform, "alice", project["id"])
    bakes = shell(f"flow bakes --path {sample}")
    assert [(b.id, b.name, b.batch, b.last_attempt.result) for b in bakes] == [
        (bake["id"], "nightly", "train", "failed")]
    assert shell(f"flow bakes --path {sample} --tag other").items == []


def test_bad_input_is_one_line(shell, sample, tmp_path, capsys):
    shell(f"flow ps notebook --path {sample}")
    err = capsys.readouterr().err
    assert err.startswith("%apolo flow: unknown live job 'notebook': ") and "declares jupyter" in err
    assert err.count("\n") == 1
    unknown = sample_project(tmp_path / "unknown", project_name="no-such-project")
    shell(f"flow ps --path {unknown}")
    err = capsys.readouterr().err
    assert err.startswith("%apolo flow: unknown project 'no-such-project'") and "awesome-team" in err
    assert err.count("\n") == 1
    (unknown / ".apolo" / "project.yml").unlink()
    shell(f"flow bakes --path {unknown}")
    err = capsys.readouterr().err
    assert err.startswith("%apolo flow: ") and "has no project.yml" in err and err.count("\n") == 1
    shell(f"flow ps --path {tmp_path}")
    assert "is not inside an apolo-flow project" in capsys.readouterr().err


def test_bobs_live_job_after_a_share_matches_apolo_flow(shell, platform, cli, apolo_flow, tmp_path, capsys):
    bob_dir = sample_project(tmp_path / "bob", project_name="bob")
    alice_dir = sample_project(tmp_path / "alice", project_name="bob")
    job_id = JOB_ID.search(apolo_flow("bob")("run", "jupyter", cwd=bob_dir).stdout).group(0)
    try:
        shell(f"flow ps --path {alice_dir}")
        err = capsys.readouterr().err
        assert err.startswith("%apolo flow: ") and "Not enough permissions" in err and err.count("\n") == 1
        cli("bob")("share", f"flow:{seed.FLOW_ID}", "alice", "read")
        cli("bob")("share", f"job:{job_id}", "alice", "read")
        rows = shell(f"flow ps --path {alice_dir}").rows_as_tuples()
        assert rows == apolo_flow("alice").ps(alice_dir) and [(r[1], r[2]) for r in rows] == [("running", job_id)]
    finally:
        platform.http("bob").delete(f"/jobs/{job_id}")
