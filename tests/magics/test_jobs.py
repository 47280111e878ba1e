"""%apolo ps / status / logs / kill / share / revoke / acl on real jobs of the embedded platform;
bob's view checked with the official apolo CLI."""

from __future__ import annotations

import pytest

from jupyter_apolo.magics.jobs import JobList
from tests.magics.conftest import SLEEPER_CMD as SLEEPER
from tests.magics.conftest import create_job, job_status
from tests.support.platform import wait_for
from tests.support.signals import fallback_after, sigint_after


@pytest.fixture(scope="module")
def jobs(platform):
    """Alice's jobs: a running sleeper (name, tags) and a finished one that printed a line."""
    sleeper = create_job(platform, "alice", SLEEPER, name="sleeper", tags=["exp1", "team"])
    done = create_job(platform, "alice", "python -c \"print('hello from the job')\"", tags=["exp2"])
    wait_for(lambda: job_status(platform, "alice", done["id"]) == "succeeded", 60, what="finished job")
    wait_for(lambda: job_status(platform, "alice", sleeper["id"]) == "running", 60, what="running job")
    return {"sleeper": sleeper["id"], "done": done["id"]}


def test_ps_lists_active_jobs_as_a_table(shell, jobs):
    listing = shell("ps")
    assert isinstance(listing, JobList)
    assert listing.ids == [jobs["sleeper"]]
    assert len(listing) == 1 and listing[0].status == "running"
    assert listing["sleeper"].id == jobs["sleeper"] and listing[jobs["sleeper"]].name == "sleeper"
    assert jobs["sleeper"] in repr(listing) and "STATUS" in repr(listing)
    html = listing._repr_html_()
    assert html.startswith("<table") and f"<td style='text-align:left'>{jobs['sleeper']}</td>" in html
    with pytest.raises(KeyError):
        listing["job-does-not-exist"]


@pytest.mark.cli
def test_ps_filters_like_the_cli(shell, jobs, cli):
    assert set(shell("ps -a").ids) >= {jobs["sleeper"], jobs["done"]}
    assert shell("ps -a -t exp2").ids == [jobs["done"]]
    assert shell("ps -a -t exp1 -t team").ids == [jobs["sleeper"]]
    assert shell("ps -a -n sleeper").ids == [jobs["sleeper"]]
    assert shell("ps -s succeeded").ids == [jobs["done"]]
    assert set(shell("ps -a -o ME").ids) == set(shell("ps -a -o alice").ids)
    assert shell("ps -a -o bob").ids == []
    assert shell("ps -a -p bob").ids == []
    assert shell("ps -a --recent-first").ids[0] == jobs["done"]
    # the official CLI lists the same active jobs
    out = cli("alice")("ps", "--format", "{id}").stdout.split()
    assert [line for line in out if line.startswith("job-")] == shell("ps").ids


def test_status_by_id_and_by_name(shell, jobs):
    st = shell(f"status {jobs['done']}")
    assert st.status == "succeeded" and st.id == jobs["done"]
    assert "Exit code" in repr(st) and "<table" in st._repr_html_()
    assert shell("status sleeper").id == jobs["sleeper"]
    assert shell(f"status job:/alice/{jobs['done']}").id == jobs["done"]


def test_status_of_a_missing_job_prints_one_line(shell, capsys):
    assert shell("status job-00000000-0000-0000-0000-000000000000") is None
    err = capsys.readouterr().err.strip()
    assert err == "%apolo status: no such job job-00000000-0000-0000-0000-000000000000"


def test_logs_print_the_job_output(shell, jobs, capsys):
    assert shell(f"logs {jobs['done']}") is None
    assert "hello from the job" in capsys.readouterr().out


@pytest.mark.cli
def test_share_job_lets_bob_see_it_then_revoke(shell, platform, jobs, cli, capsys):
    bob = cli("bob")
    assert bob("status", jobs["sleeper"], check=False).returncode != 0  # not shared yet
    shell.login("bob")
    assert shell(f"status {jobs['sleeper']}") is None
    assert capsys.readouterr().err.startswith("%apolo status: ")  # a permission error, one line

    shell.login("alice")
    msg = shell(f"share job:{jobs['sleeper']} bob read")
    assert (msg.user, msg.action, msg.higher) == ("bob", "read", False)
    assert f"Shared job:{jobs['sleeper']} with bob: read." in repr(msg)
    assert "open its web UI: for a notebook job, open your notebook" in repr(msg)
    assert "running" in bob("status", jobs["sleeper"]).stdout

    shared = shell("acl --shared")
    assert [(p.uri.rsplit("/", 1)[1], p.action, p.user) for p in shared] == [(jobs["sleeper"], "read", "bob")]
    assert f"job:{jobs['sleeper']}" in repr(shared)

    shell.login("bob")  # read is not write: bob cannot kill it
    assert shell(f"kill {jobs['sleeper']}") is None
    assert "cannot kill" in capsys.readouterr().err
    assert job_status(platform, "alice", jobs["sleeper"]) == "running"
    assert shell(f"status {jobs['sleeper']}").status == "running"
    assert any(p.uri.endswith(jobs["sleeper"]) for p in shell("acl job:/alice"))

    shell.login("alice")
    assert "Revoked bob's permission" in repr(shell(f"revoke job:{jobs['sleeper']} bob"))
    assert bob("status", jobs["sleeper"], check=False).returncode != 0
    assert shell(f"revoke job:{jobs['sleeper']} bob") is None
    assert capsys.readouterr().err.strip() == "%apolo revoke: Operation has no effect"


def test_share_by_name_warns_about_future_runs(shell, jobs):
    msg = shell("share job:sleeper bob write")
    assert "every run with that name" in repr(msg)
    assert "change your notebooks on storage" in repr(msg)
    shell("revoke job:sleeper bob")


def test_share_again_lower_reports_the_higher_effective_action(shell, jobs):
    shell(f"share job:{jobs['done']} bob manage")
    msg = shell(f"share job:{jobs['done']} bob read")
    assert msg.higher and msg.action == "manage"
    assert "already has manage" in repr(msg)
    assert f"through your share of job:{jobs['done']}" in repr(msg)  # says why, not just "already has"
    assert "re-share it with others" in repr(msg)


def test_share_this_job_inside_a_job(shell, jobs, monkeypatch):
    monkeypatch.setenv("NEURO_JOB_ID", jobs["sleeper"])
    msg = shell("share bob write")
    assert msg.uri.endswith(f"/alice/{jobs['sleeper']}") and msg.action == "write"
    assert "change your notebooks on storage" in repr(msg)
    assert "Revoked" in repr(shell("revoke bob"))
    assert shell("status").id == jobs["sleeper"]


@pytest.mark.cli
def test_a_real_job_shares_itself_with_the_magic(platform, jobs, cli):
    """Inside a platform job (pass_config: NEURO_PASSED_CONFIG + NEURO_JOB_ID), `%apolo share bob read`
    with no URI shares that very job; bob (official CLI) then sees it."""
    code = ("from IPython.core.interactiveshell import InteractiveShell as S; ip = S.instance(); "
            "ip.run_line_magic('load_ext', 'jupyter_apolo'); print(ip.run_line_magic('apolo', 'share bob read'))")
    job = create_job(platform, "alice", f"python -c \"{code}\"", pass_config=True, name="self-sharer")
    wait_for(lambda: job_status(platform, "alice", job["id"]) in ("succeeded", "failed"), 90, what="self-sharing job")
    log = cli("alice")("logs", job["id"]).stdout
    assert f"Shared job:{job['id']} with bob: read." in log, log
    assert job["id"] in cli("bob")("status", job["id"]).stdout


def test_kill(shell, platform, jobs):
    victim = create_job(platform, "alice", SLEEPER)
    wait_for(lambda: job_status(platform, "alice", victim["id"]) == "running", 60, what="victim running")
    killed = shell(f"kill {victim['id']}")
    assert killed.ids == [victim["id"]] and repr(killed) == victim["id"]
    wait_for(lambda: job_status(platform, "alice", victim["id"]) == "cancelled", 30, what="cancelled")
    assert shell(f"status {victim['id']}").status == "cancelled"


def test_logs_follow_a_running_job_until_interrupted(shell, platform, capsys):
    """As in a kernel: the interrupt is a real SIGINT while `%apolo logs` follows a running job."""
    job = create_job(platform, "alice", SLEEPER)
    wait_for(lambda: job_status(platform, "alice", job["id"]) == "running", 60, what="running job")

    def end_the_job() -> None:  # ends the log stream, so a lost SIGINT fails the test instead of hanging it
        with platform.http("alice") as http:
            http.delete(f"/jobs/{job['id']}")

    with fallback_after(30, end_the_job) as gave_up, sigint_after(3.0):
        assert shell(f"logs {job['id']}") is None
    assert not gave_up.is_set(), "the SIGINT never stopped `%apolo logs`: the job was killed after 30 s"
    captured = capsys.readouterr()
    assert "sleeping" in captured.out
    assert captured.err.strip() == "%apolo logs: interrupted"
    assert shell(f"status {job['id']}").status == "running"  # the client still works afterwards
    shell(f"kill {job['id']}")
