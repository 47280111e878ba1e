"""Jobs across platform restarts: a job running when the platform stops (cleanly or killed)
comes back as ``failed`` with reason ``PlatformStopped``, and its processes are gone."""

from __future__ import annotations

import signal

from tests.support.platform import process_group_alive, wait_for


def _start_sleeper(platform, name: str) -> tuple[str, int]:
    alice = platform.http("alice")
    resp = alice.post("/jobs?from_preset", json={"preset_name": "cpu-small", "image": "python:3", "name": name,
                                                 "command": "sh -c 'sleep 300 & sleep 300'"})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    wait_for(lambda: alice.get(f"/jobs/{job_id}").json()["status"] == "running", what="the job to run")
    pid_file = platform.root / "jobs" / job_id / "pid"
    return job_id, int(pid_file.read_text())


def _assert_stopped(platform, job_id: str, pgid: int) -> None:
    job = platform.http("alice").get(f"/jobs/{job_id}").json()
    assert job["status"] == "failed", job
    assert job["history"]["reason"] == "PlatformStopped"
    assert "platform stopped" in job["history"]["description"]
    assert {"started_at", "finished_at"} <= set(job["history"])
    assert [s["status"] for s in job["statuses"]] == ["pending", "running", "failed"]
    wait_for(lambda: not process_group_alive(pgid), 10, what="the job's process group to die")


def test_clean_restart_fails_running_jobs(platform, cli):
    job_id, pgid = _start_sleeper(platform, "survivor")
    platform.restart()
    _assert_stopped(platform, job_id, pgid)
    out = cli("alice")("status", job_id).stdout
    assert "failed" in out and "PlatformStopped" in out
    # the name is free again and new jobs run after the restart
    again, _ = _start_sleeper(platform, "survivor")
    platform.http("alice").delete(f"/jobs/{again}")


def test_killed_platform_recovers_and_kills_leftover_processes(platform):
    job_id, pgid = _start_sleeper(platform, "orphan")
    port = platform.port
    isolated = platform.http("alice").get("/config").json()["job_isolation"]["mode"] == "bubblewrap"
    platform.proc.send_signal(signal.SIGKILL)  # no shutdown hook runs: the job's group lives on
    platform.proc.wait()
    platform.proc = None
    if not isolated:  # under bwrap (--die-with-parent) the job may already be dying with the platform
        assert process_group_alive(pgid)
    platform.start(port)
    _assert_stopped(platform, job_id, pgid)
