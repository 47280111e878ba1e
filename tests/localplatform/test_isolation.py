"""Job isolation with bubblewrap: a job cannot read the platform's root or signing key, cannot
see another project's storage, cannot write a read-only volume, finds its volumes at their
mount paths (the flow template's ``train`` command ``cd /project && ...`` works), and has its
own /tmp, home and hostname. Skipped, with the platform's own reason, where bwrap cannot run.

The platform root here lies outside /tmp and the home (under /var/tmp), so that hiding it
relies on the sandbox covering it, not on it being under a private folder."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.platform import LocalPlatform


@pytest.fixture(scope="module")
def iso_platform():
    base = Path(tempfile.mkdtemp(prefix="jupyter-apolo-isolation-", dir="/var/tmp"))
    lp = LocalPlatform(base / "root")
    lp.start()
    try:
        isolation = lp.http("alice").get("/config").json()["job_isolation"]
        if isolation["mode"] != "bubblewrap":
            pytest.skip(f"job isolation is off here: {isolation['detail']}")
        lp.token("bob")
        yield lp
    finally:
        lp.stop()
        shutil.rmtree(base, ignore_errors=True)


def run_job(platform, user: str, command: str, volumes=(), project: str | None = None) -> tuple[dict, str]:
    api = platform.http(user)
    body = {"image": "python:3", "preset_name": "cpu-small", "command": command, "volumes": list(volumes)}
    if project:
        body["project_name"] = project
    job = api.post("/jobs", params={"from_preset": ""}, json=body)
    assert job.status_code == 202, job.text
    job_id = job.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.2)
    log = api.get(f"{platform.monitoring_url}/{job_id}/log").text
    return job, log


def volume(uri: str, dst: str, read_only: bool = False) -> dict:
    return {"src_storage_uri": uri, "dst_path": dst, "read_only": read_only}


def test_job_cannot_read_the_platform_root_or_its_signing_key(iso_platform):
    root = iso_platform.root
    assert (root / "secret").is_file()
    job, log = run_job(iso_platform, "alice", f"sh -c 'cat {root}/secret; echo rc=$?; ls -A {root}; echo rc=$?; "
                                              f"ls {root.parent}'")
    assert job["status"] == "succeeded", log
    lines = log.splitlines()
    assert "rc=1" in lines  # cat: no such file
    assert "rc=0" in lines and lines[lines.index("rc=0") - 1].startswith("rc=1")  # root is an empty folder
    assert (root / "secret").read_bytes() not in log.encode()
    assert "platform.db" not in log and "storage" not in log


def test_job_cannot_see_another_projects_storage(iso_platform):
    bob = iso_platform.http("bob")
    assert bob.put("/storage/local/bob/private", params={"op": "MKDIRS"}).status_code in (200, 201)
    storage = iso_platform.root / "storage"
    job, log = run_job(iso_platform, "alice",
                       f"sh -c 'ls -A /data/..; ls {storage}/local/bob; echo rc=$?; ls /data'",
                       [volume("storage://default/local/alice/mine", "/data")])
    assert job["status"] == "succeeded", log
    assert "private" not in log and "rc=2" in log
    assert "bob" not in log.splitlines()[: log.splitlines().index("rc=2")]


def test_read_only_volume_is_read_only_and_rw_volume_writes_storage(iso_platform):
    alice = iso_platform.http("alice")
    r = alice.put("/storage/local/alice/in/data.txt", params={"op": "CREATE"}, content=b"42\n")
    assert r.status_code == 201, r.text
    job, log = run_job(iso_platform, "alice",
                       "sh -c 'cat /in/data.txt; touch /in/new 2>&1; echo rc=$?; echo written > /out/result.txt'",
                       [volume("storage://default/local/alice/in", "/in", read_only=True),
                        volume("storage://default/local/alice/out", "/out")])
    assert job["status"] == "succeeded", log
    assert log.startswith("42\n") and "Read-only file system" in log and "rc=1" in log
    assert not (iso_platform.root / "storage/local/alice/in/new").exists()
    assert (iso_platform.root / "storage/local/alice/out/result.txt").read_text() == "written\n"


def test_flow_train_job_finds_its_volumes_at_their_mount_paths(iso_platform):
    """The flow template's train job: data/code/config read-only, results read-write, and its
    ``bash: cd /project && python -u /project/modules/train.py --data /project/data``."""
    alice = iso_platform.http("alice")
    base = "storage://default/local/alice/flow"
    train = (b"import os, sys\nprint('cwd', os.getcwd())\nprint('data', sorted(os.listdir(sys.argv[2])))\n"
             b"open('/project/results/model.txt', 'w').write('trained')\n")
    create = {"op": "CREATE"}
    assert alice.put("/storage/local/alice/flow/modules/train.py", params=create, content=train).status_code == 201
    assert alice.put("/storage/local/alice/flow/data/a.csv", params=create, content=b"1,2\n").status_code == 201
    job, log = run_job(iso_platform, "alice",
                       "bash -euo pipefail -c 'cd /project\npython -u /project/modules/train.py --data /project/data'",
                       [volume(f"{base}/data", "/project/data", True),
                        volume(f"{base}/modules", "/project/modules", True),
                        volume(f"{base}/config", "/project/config", True),
                        volume(f"{base}/results", "/project/results")])
    assert job["status"] == "succeeded", log
    assert "cwd /project\n" in log and "data ['a.csv']" in log
    assert (iso_platform.root / "storage/local/alice/flow/results/model.txt").read_text() == "trained"


def test_private_tmp_home_and_hostname(iso_platform):
    marker = Path(tempfile.gettempdir()) / "jupyter-apolo-host-tmp-marker"
    marker.write_text("host")
    try:
        job, log = run_job(iso_platform, "alice", "sh -c 'ls /tmp; echo home=$HOME; ls -A $HOME; hostname; "
                                                  "cat /etc/hostname; echo x > /tmp/t; touch /usr/x 2>&1; echo rc=$?'")
    finally:
        marker.unlink()
    assert job["status"] == "succeeded", log
    assert "jupyter-apolo-host-tmp-marker" not in log
    assert log.count(job["id"]) == 2  # hostname and /etc/hostname
    assert "Read-only file system" in log and "rc=1" in log


def test_without_bwrap_the_platform_says_so_once_and_runs_jobs_as_before(tmp_path, monkeypatch):
    from tests.support.platform import BIN

    monkeypatch.setenv("PATH", str(BIN))  # no bwrap on PATH
    lp = LocalPlatform(tmp_path / "root")
    lp.start()
    try:
        isolation = lp.http("alice").get("/config").json()["job_isolation"]
        assert isolation == {"mode": "none", "detail": "bwrap is not installed (apt-get install bubblewrap)"}
        job, log = run_job(lp, "alice", "python -c 'print(42)'")
        assert job["status"] == "succeeded" and log == "42\n"
    finally:
        lp.stop()
    lines = [line for line in (tmp_path / "root.log").read_text().splitlines() if "job isolation" in line]
    assert len(lines) == 1 and "job isolation: off, bwrap is not installed" in lines[0]
