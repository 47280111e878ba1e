"""``%apolo run``: the same job as ``apolo run --detach`` with the same options (the official CLI is
the referee), it really runs, ``--share`` gives write, and bad input is one clear line."""

from __future__ import annotations

import shlex
import time

import pytest
from IPython.core.error import UsageError

OPTIONS = ["-s", "cpu-small", "--tag", "exp1", "--tag", "exp2", "-v", "storage:run-data:/mnt/data:ro",
           "-e", "GREETING=hi there", "--life-span", "2h30m", "--http-port", "8888", "--description", "a run"]
COMMAND = ["python", "-c", "import os; print(os.environ['GREETING'], 'from run', flush=True)"]
# what the job JSON says about how it was asked to run (not who, when or where)
COMPARED = ("preset_name", "tags", "max_run_time_minutes", "pass_config", "description", "project_name", "org_name")
CONTAINER = ("image", "command", "volumes", "http", "entrypoint", "working_dir", "resources")


def job_json(platform, job_id: str) -> dict:
    with platform.http("alice") as http:
        return http.get(f"/jobs/{job_id}").json()


def wait_finished(platform, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_json(platform, job_id)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"{job_id} still {job['status']}")


def test_run_makes_the_job_the_cli_makes(shell, platform, cli, capsys):
    shell("mkdir storage:run-data")
    ours = shell(shlex.join(["run", *OPTIONS, "--name", "magic-run", "--share", "bob", "ubuntu", "--", *COMMAND]))
    theirs = cli("alice")("run", "--detach", *OPTIONS, "--name", "cli-run", "ubuntu", "--", *COMMAND).stdout
    cli_id = next(word for word in theirs.split() if word.startswith("job-"))

    assert ours.id.startswith("job-") and ours.name == "magic-run" and "%apolo logs" in repr(ours)
    a, b = job_json(platform, ours.id), job_json(platform, cli_id)
    assert {k: a.get(k) for k in COMPARED} == {k: b.get(k) for k in COMPARED}
    assert {k: a["container"].get(k) for k in CONTAINER} == {k: b["container"].get(k) for k in CONTAINER}
    assert a["container"]["env"]["GREETING"] == b["container"]["env"]["GREETING"] == "hi there"
    assert a["container"]["image"] == "ubuntu:latest" and a["max_run_time_minutes"] == 150
    assert a["container"]["volumes"][0]["read_only"] is True

    # it really runs, and bob got write on it (he can see it and kill it)
    assert wait_finished(platform, ours.id)["status"] == "succeeded"
    shell(f"logs {ours.id}")
    assert "hi there from run" in capsys.readouterr().out
    assert "succeeded" in cli("bob")("status", ours.id).stdout
    assert cli("bob")("kill", ours.id).returncode == 0


@pytest.mark.parametrize("line, problem", [
    ("run -n Bad_Name ubuntu", "Invalid job name 'Bad_Name'"),
    ("run -v secret:k:/x ubuntu", "only storage: volumes"),
    ("run -v storage:data:relative ubuntu", "mount path must be absolute"),
    ("run --life-span 3x ubuntu", "Invalid life span '3x'"),
    ("run -e NOEQUALS ubuntu", "use VAR=VALUE"),
    ("run", "the following arguments are required: IMAGE"),
])
def test_bad_input_is_one_clear_line_and_starts_nothing(shell, platform, line, problem):
    before = len(shell("ps -a"))
    with pytest.raises(UsageError, match=problem):
        shell(line)
    assert len(shell("ps -a")) == before


def test_platform_refusals_name_the_problem(shell, capsys):
    assert shell("run -s no-such-preset ubuntu -- true") is None
    assert "Preset was not found" in capsys.readouterr().err
