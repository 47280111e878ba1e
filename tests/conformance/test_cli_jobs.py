"""The official apolo CLI (26.9.0) as two users against the embedded platform: config show,
run/ps/status/logs/kill, sharing a job, what a job's process sees, pass-config."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.support.platform import BIN, wait_for

JOB_ID = re.compile(r"job-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def job_id_of(output: str) -> str:
    match = JOB_ID.search(output)
    assert match, f"no job id in {output!r}"
    return match.group(0)


def run_detached(apolo, *args: str) -> str:
    return job_id_of(apolo("run", "--detach", "-s", "cpu-small", *args).stdout)


def status_of(platform, user: str, job_id: str) -> str:
    return platform.http(user).get(f"/jobs/{job_id}").json()["status"]


def wait_status(platform, job_id: str, *statuses: str, timeout: float = 30) -> None:
    wait_for(lambda: status_of(platform, "alice", job_id) in statuses, timeout, what=f"{job_id} in {statuses}")


def ids(apolo, *args: str) -> list[str]:
    return apolo("-q", "ps", *args).stdout.split()


def test_config_show_for_two_users(cli):
    for user in ("alice", "bob"):
        out = cli(user)("config", "show").stdout
        assert re.search(rf"User Name\s+{user}\b", out), out
        assert re.search(rf"Current Project\s+{user}\b", out), out
        assert "Jobs Avail" in out and "cpu-small" in out


@pytest.fixture(scope="module")
def sleeper(platform, cli):
    """alice's running job ``sleeper`` (tag exp1, shared with bob); the last test kills it."""
    job = run_detached(cli("alice"), "--name", "sleeper", "--tag", "exp1", "--share", "bob", "python:3", "--",
                       "python", "-u", "-c", "import time; print('tick'); time.sleep(900)")
    wait_status(platform, job, "running")
    yield job
    platform.http("alice").delete(f"/jobs/{job}")


def test_ps_filters(cli, sleeper):
    alice = cli("alice")
    assert ids(alice, "-t", "exp1") == [sleeper]
    assert ids(alice, "-t", "exp1", "-t", "other") == []  # a job must have every tag
    assert ids(alice, "-o", "bob") == []
    table = alice("ps").stdout  # default: pending/running/suspended of the current project
    assert sleeper in table and "sleeper" in table and "running" in table and "python:3" in table


def test_status_by_name_and_by_id(cli, sleeper):
    alice = cli("alice")
    by_name = alice("status", "sleeper").stdout
    assert sleeper in by_name and re.search(r"Status\s+running", by_name) and "exp1" in by_name
    assert re.search(rf"Job\s+{sleeper}", alice("status", sleeper).stdout)


def test_share_on_run_lets_bob_see_the_job(cli, sleeper):
    bob = cli("bob")  # --share gave bob write on the job
    assert sleeper in ids(bob, "--all-projects")
    assert re.search(r"Owner\s+alice", bob("status", sleeper).stdout)


def test_kill_then_status_ps_and_logs(platform, cli, sleeper):
    alice = cli("alice")
    wait_for(lambda: (platform.root / "jobs" / sleeper / "output.log").read_bytes() == b"tick\n", 30, what="tick")
    assert sleeper in alice("kill", "sleeper").stdout
    out = alice("status", sleeper).stdout
    assert re.search(r"Status\s+cancelled", out) and "UserRequested" in out
    assert sleeper in ids(alice, "-a", "-o", "ME", "-n", "sleeper")
    assert alice("logs", sleeper).stdout.startswith("tick\n")


def test_bob_sees_alices_job_only_after_it_is_shared(platform, cli):
    alice, bob = cli("alice"), cli("bob")
    job = run_detached(alice, "--name", "private", "python:3", "--", "sleep", "900")
    try:
        assert job not in ids(bob, "-a", "--all-projects")
        denied = bob("status", job, check=False)
        assert denied.returncode == 77, denied.stderr  # 403 -> AuthorizationError
        alice("share", f"job:{job}", "bob", "read")
        assert job in ids(bob, "-a", "--all-projects")
        refused = bob("kill", job, check=False)  # read is not enough to kill
        assert refused.returncode == 1 and "Not enough permissions" in refused.stderr, refused.stderr
        assert status_of(platform, "alice", job) in ("pending", "running")
    finally:
        platform.http("alice").delete(f"/jobs/{job}")


def test_env_vars_are_visible_inside_the_job(platform, cli):
    alice = cli("alice")
    job = run_detached(alice, "--name", "env-printer", "-e", "GREETING=hi there", "python:3", "--",
                       "sh", "-c", "env | grep -E '^(NEURO_JOB_|GREETING)' | sort")
    wait_status(platform, job, "succeeded", "failed")
    out = alice("logs", job).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    described = platform.http("alice").get(f"/jobs/{job}").json()
    assert env["NEURO_JOB_ID"] == job
    assert env["NEURO_JOB_NAME"] == "env-printer"
    assert env["NEURO_JOB_OWNER"] == "alice"
    assert env["NEURO_JOB_CLUSTER"] == "default"
    assert env["NEURO_JOB_PRESET"] == "cpu-small"
    assert env["NEURO_JOB_INTERNAL_HOSTNAME"] == described["internal_hostname"]
    assert env["NEURO_JOB_INTERNAL_HOSTNAME_NAMED"] == described["internal_hostname_named"]
    assert env["NEURO_JOB_HTTP_PORT"].isdigit()  # the CLI always sends http: the job's loopback port
    assert described["http_url"] == f"http://{job}.jobs.localhost:{platform.url.split(':')[2].split('/')[0]}"
    assert env["NEURO_JOB_HTTP_AUTH"] == "True"
    assert env["GREETING"] == "hi there"
    assert "NEURO_PASSED_CONFIG" not in out


def test_logs_follow_a_running_job_until_it_finishes(platform, cli):
    alice = cli("alice")
    job = run_detached(alice, "python:3", "--", "python", "-u", "-c",
                       "import time\nfor i in range(3): print('line', i); time.sleep(1)")
    out = alice("logs", job, timeout=60).stdout  # returns only once the stream closes
    assert out.startswith("line 0\nline 1\nline 2\n")
    assert status_of(platform, "alice", job) == "succeeded"


def test_job_reads_a_storage_volume(platform, cli):
    alice = cli("alice")
    folder = platform.root / "storage" / "local" / "alice" / "cli-inputs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hello.txt").write_text("from storage\n")
    job = run_detached(alice, "-v", "storage:cli-inputs:/var/inputs:ro", "python:3", "--",
                       "cat", "/var/inputs/hello.txt")
    wait_status(platform, job, "succeeded", "failed")
    assert alice("logs", job).stdout.startswith("from storage\n")
    volume = platform.http("alice").get(f"/jobs/{job}").json()["container"]["volumes"][0]
    assert volume == {"src_storage_uri": "storage://default/local/alice/cli-inputs", "dst_path": "/var/inputs",
                      "read_only": True}


def test_volume_of_another_project_needs_permission(cli):
    denied = cli("bob")("run", "--detach", "-s", "cpu-small", "-v", "storage:/alice/cli-inputs:/in:ro", "python:3",
                        "--", "true", check=False)
    assert denied.returncode == 77, denied.stderr


def test_pass_config_works_while_the_job_runs_and_is_rejected_after(platform, cli, tmp_path):
    alice = cli("alice")
    job = run_detached(alice, "--pass-config", "-e", "NEURO_CLI_DISABLE_PYPI_VERSION_CHECK=1", "python:3", "--",
                       "sh", "-c", "apolo --skip-stats --color=no config show; sleep 900")
    log = platform.root / "jobs" / job / "output.log"
    wait_for(lambda: log.exists() and "User Name" in log.read_text(), 60, what="apolo config show inside the job")
    assert re.search(r"User Name\s+alice", log.read_text())

    passed = platform.http("alice").get(f"/jobs/{job}").json()["container"]["env"]["NEURO_PASSED_CONFIG"]

    def apolo_with_passed_config(name: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "APOLO_CONFIG": str(tmp_path / name), "NEURO_PASSED_CONFIG": passed,
               "NEURO_CLI_DISABLE_PYPI_VERSION_CHECK": "1", "HOME": str(tmp_path)}
        return subprocess.run([str(BIN / "apolo"), "--skip-stats", "--color=no", "status", job],
                              env=env, capture_output=True, text=True, timeout=120)

    ok = apolo_with_passed_config("while-running")
    assert ok.returncode == 0 and job in ok.stdout, ok.stderr
    alice("kill", job)
    rejected = apolo_with_passed_config("after-finish")
    assert rejected.returncode != 0
    # the token died with its job: /config answers "authorized": false, as the real platform does
    assert "Cannot authorize user" in rejected.stderr or "401" in rejected.stderr, rejected.stderr


@pytest.mark.parametrize("name", ["x", "Bad_Name"])
def test_bad_names_are_refused(cli, name):
    out = cli("alice")("run", "--detach", "-s", "cpu-small", "--name", name, "python:3", "--", "true", check=False)
    assert out.returncode == 127 and f"Invalid job name '{name}'" in out.stderr, out.stderr


def test_duplicate_live_name_is_a_clear_cli_error(platform, cli):
    alice = cli("alice")
    job = run_detached(alice, "--name", "only-one", "python:3", "--", "sleep", "900")
    try:
        second = alice("run", "--detach", "-s", "cpu-small", "--name", "only-one", "python:3", "--", "true",
                       check=False)
        assert second.returncode == 65, second.stderr
        assert f"job with name 'only-one' and project 'alice' already exists: '{job}'" in second.stderr
    finally:
        alice("kill", job)
