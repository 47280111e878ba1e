"""``JobsTable`` driven from Python against the embedded platform: alice sees her jobs and those
shared with her, running first; filters; details and log lines; kill only with write (the apolo
CLI, as the owner, sees what happened); closing stops the log stream."""

from __future__ import annotations

import pytest

from jupyter_apolo.widgets import JobsTable
from tests.magics.conftest import create_job, job_status
from tests.support.platform import wait_for

TALKER = ("python -c \"import time\n"
          "for i in range(400): print('line', i, flush=True); time.sleep(0.05 if i < 30 else 5)\"")


@pytest.fixture(scope="module")
def jobs(platform, cli):
    """bob's running talker shared with alice at read; alice's own running and finished jobs."""
    bobs = create_job(platform, "bob", TALKER, name="bob-talker", tags=["team"])
    mine = create_job(platform, "alice", "python -c \"import time; time.sleep(600)\"", name="alice-sleeper")
    done = create_job(platform, "alice", "python -c \"print('bye')\"", name="alice-done")
    for user, job, status in (("bob", bobs, "running"), ("alice", mine, "running"), ("alice", done, "succeeded")):
        wait_for(lambda user=user, job=job, status=status: job_status(platform, user, job["id"]) == status, 60,
                 what=f"{job['name']} {status}")
    cli("bob")("share", f"job:{bobs['id']}", "alice", "read")
    return {"bob": bobs["id"], "mine": mine["id"], "done": done["id"]}


def test_lists_own_and_shared_jobs_running_first(apolo, jobs):
    table = JobsTable(api=apolo("alice"), refresh_interval=0).wait()
    ids = [j.id for j in table.jobs]
    assert jobs["bob"] in ids and jobs["mine"] in ids and jobs["done"] not in ids  # active only
    assert table.loaded and table.error == ""
    table.all = True  # finished too (like the "finished too" box)
    table.wait()
    ids = [j.id for j in table.jobs]
    assert jobs["done"] in ids and ids.index(jobs["done"]) > max(ids.index(jobs["bob"]), ids.index(jobs["mine"]))
    shown = [r for r in table.rows if r.job is not None]
    assert [r.job.id for r in shown] == [j.id for j in table.shown]
    name_cell = shown[0].cells[0].value
    assert "<span title=" in name_cell  # long values ellipsised with the full value as tooltip

    table.owner = "bob"
    assert [j.id for j in table.shown] == [jobs["bob"]] and table.owner_field.value == "bob"
    table.owner = "carol"  # nobody's jobs loaded: offered anyway, and the table is empty
    assert table.shown == [] and "carol" in table.owner_field.options
    table.owner, table.search = "anyone", "TEAM"  # a tag matches too
    assert [j.id for j in table.shown] == [jobs["bob"]]
    table.search, table.status = "", "succeeded"
    assert jobs["done"] in [j.id for j in table.shown] and all(j.status == "succeeded" for j in table.shown)


def test_details_and_last_log_lines(apolo, jobs):
    table = JobsTable(api=apolo("alice"), refresh_interval=0).wait()
    table.details(jobs["bob"])
    table.wait()
    assert "bob-talker" in table.panel.children[0].value and "running" in table.panel.children[1].value
    table.logs(jobs["bob"], lines=5)
    table.wait(60)
    last = int(table.log_lines[-1].split()[1])
    assert last >= 29 and table.log_lines == [f"line {i}" for i in range(last - 4, last + 1)]  # the last 5
    assert "line 0" not in table.panel.children[1].value and f"line {last}" in table.panel.children[1].value


def test_kill_only_with_write(apolo, cli, platform, jobs):
    table = JobsTable(api=apolo("alice"), refresh_interval=0).wait()
    row = next(r for r in table.rows if r.job is not None and r.job.id == jobs["bob"])
    assert row.kill.layout.visibility == "hidden"  # not offered: alice has read only
    assert table.kill(jobs["bob"]) is None
    assert table.error.startswith("You cannot kill bob-talker: that needs write on it") and "Ask bob" in table.error
    assert job_status(platform, "bob", jobs["bob"]) == "running"  # nothing was sent

    cli("bob")("share", f"job:{jobs['bob']}", "alice", "write")
    table.refresh()
    table.wait()
    row = next(r for r in table.rows if r.job is not None and r.job.id == jobs["bob"])
    assert row.kill.layout.visibility == "visible"
    row.kill.click()  # asks first
    text, yes, _no = table.panel.children[0].children
    assert "Kill bob-talker" in text.value and job_status(platform, "bob", jobs["bob"]) == "running"
    yes.click()
    table.wait()
    assert table.message.startswith("Killed bob-talker") and table.error == ""
    wait_for(lambda: "cancelled" in cli("bob")("status", jobs["bob"]).stdout.lower(), 30, what="bob's job killed")


def test_closing_cancels_a_followed_log(apolo, jobs):
    table = JobsTable(api=apolo("alice"), refresh_interval=0.2).wait()
    future = table.logs(jobs["mine"], follow=True)
    table.close()
    table.wait(10)
    assert future.cancelled() or future.done()
    assert table._ticker.cancelled()
