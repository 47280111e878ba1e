"""``jupyter apolo lab`` on a fresh data dir: starts and seeds the embedded platform, opens a
JupyterLab whose Apolo extension is connected to it; a second run reuses the same data."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from jupyter_apolo.launcher import local_username
from tests.support.net import free_port as _free_port
from tests.support.platform import BIN, wait_for


class Launch:
    def __init__(self, data: Path, home: Path, *, allow_root: bool = True, lab_port: int | None = None,
                 wait: bool = True):
        self.lab_port, self.platform_port, self.token = lab_port or _free_port(), _free_port(), secrets.token_hex(8)
        env = {k: v for k, v in os.environ.items() if k not in ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG")}
        env.update(HOME=str(home), APOLO_CONFIG=str(home / "no-apolo"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "ws"))
        self.proc = subprocess.Popen(
            [str(BIN / "jupyter-apolo"), "lab", "--data-dir", str(data), "--port", str(self.platform_port), "--",
             "--no-browser", "--ip=127.0.0.1", f"--port={self.lab_port}", f"--IdentityProvider.token={self.token}",
             *(["--allow-root"] if allow_root else []), "--LabApp.news_url=None", "--ServerApp.port_retries=0"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(data.parent / f"{data.name}-launch.log", "ab"),
            start_new_session=True,
        )
        self.lab = httpx.Client(base_url=f"http://127.0.0.1:{self.lab_port}",
                                headers={"Authorization": f"token {self.token}"}, timeout=30)
        if wait:
            wait_for(self._up, timeout=90, interval=0.5, what="JupyterLab from jupyter apolo lab")

    def _up(self) -> bool:
        assert self.proc.poll() is None, "jupyter apolo lab exited early"
        try:
            return self.lab.get("/api/status").status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.mark.timeout(300)
def test_launch_seeds_connects_and_reuses(tmp_path):
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    launch = Launch(data, home)
    try:
        context = launch.lab.get("/apolo/context").json()
        assert context["user"] == local_username()
        assert context["project"] == "awesome-team" and context["platform"]["embedded"] is True
        creds = json.loads((data / "embedded.json").read_text())
        assert oct((data / "embedded.json").stat().st_mode & 0o777) == "0o600"
        assert creds["token"] not in launch.lab.get("/apolo/context").text
        api = httpx.Client(base_url=creds["url"], headers={"Authorization": f"Bearer {creds['token']}"})
        listing = api.get("/storage/local/awesome-team/awesome_project/notebooks", params={"op": "LISTSTATUS"}).json()
        names = sorted(s["path"] for s in listing["FileStatuses"]["FileStatus"])
        assert names == ["01-explore-data.ipynb", "02-train-model.ipynb", "03-share-results.ipynb"]
        jobs = wait_for(lambda: api.get("/jobs", params={"status": "running",
                                                         "project_name": "awesome-team"}).json()["jobs"],
                        timeout=30, what="the sample notebook job")
        assert jobs[0]["name"].startswith("awesome-project-jupyter-")
        assert (data / "workspace" / "awesome-project" / ".apolo" / "live.yml").exists()
        # a user's change survives the next launch (no re-seed)
        api.delete("/storage/local/awesome-team/awesome_project/notebooks/03-share-results.ipynb",
                   params={"op": "DELETE"})
    finally:
        launch.stop()

    launch = Launch(data, home)
    try:
        creds = json.loads((data / "embedded.json").read_text())
        api = httpx.Client(base_url=creds["url"], headers={"Authorization": f"Bearer {creds['token']}"})
        listing = api.get("/storage/local/awesome-team/awesome_project/notebooks", params={"op": "LISTSTATUS"}).json()
        assert len(listing["FileStatuses"]["FileStatus"]) == 2
        assert launch.lab.get("/apolo/context").json()["user"] == local_username()
    finally:
        launch.stop()


def _api(data: Path) -> httpx.Client:
    creds = json.loads((data / "embedded.json").read_text())
    return httpx.Client(base_url=creds["url"], headers={"Authorization": f"Bearer {creds['token']}"}, timeout=30)


def _team_jobs(api: httpx.Client, *statuses: str) -> list[dict]:
    params = [("project_name", "awesome-team"), *(("status", s) for s in statuses)]
    return api.get("/jobs", params=params).json()["jobs"]


@pytest.mark.timeout(300)
def test_second_launch_on_the_same_data_dir_leaves_the_first_lab_working(tmp_path):
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    first = Launch(data, home)
    try:
        creds = json.loads((data / "embedded.json").read_text())
        job = wait_for(lambda: _team_jobs(_api(data), "running"), timeout=30, what="the notebook job")[0]
        second = Launch(data, home)  # reuses the running platform instead of starting another
        try:
            assert second.lab.get("/apolo/context").json()["user"] == local_username()
            assert json.loads((data / "embedded.json").read_text()) == creds
            assert first.lab.get("/apolo/context").json()["platform"]["embedded"] is True
            assert [j["id"] for j in _team_jobs(_api(data), "running")] == [job["id"]]
            assert _api(data).get("/config").status_code == 200
        finally:
            second.stop()
        # the second Lab quitting leaves the first one's platform and job running
        assert [j["id"] for j in _team_jobs(_api(data), "running")] == [job["id"]]
        assert first.lab.get("/apolo/context").status_code == 200
    finally:
        first.stop()


def test_platform_up_refuses_a_data_dir_in_use(tmp_path):
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    first = Launch(data, home)
    try:
        out = subprocess.run([str(BIN / "jupyter-apolo"), "platform", "up", "--data-dir", str(data),
                              "--port", str(_free_port())], capture_output=True, text=True, timeout=60)
        assert out.returncode == 1
        assert f"export JUPYTER_APOLO_EMBEDDED={data / 'embedded.json'}" in out.stderr
    finally:
        first.stop()


@pytest.mark.timeout(300)
def test_aborted_first_launch_removes_its_notebook_job(tmp_path):
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    with socket.socket() as busy:  # JupyterLab cannot bind its port: the launch aborts
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        launch = Launch(data, home, lab_port=busy.getsockname()[1], wait=False)
        try:
            assert launch.proc.wait(120) != 0
        finally:
            if launch.proc.poll() is None:  # it did not abort: leave nothing running behind the test
                launch.stop()
    from jupyter_apolo.localplatform import Platform

    platform = Platform(data / "platform")
    try:
        assert list(platform.iter_jobs()) == []
    finally:
        platform.close()
    launch = Launch(data, home)  # the next launch starts clean
    try:
        jobs = wait_for(lambda: _team_jobs(_api(data), "running"), timeout=30, what="the notebook job")
        assert len(jobs) == 1 and _team_jobs(_api(data), "failed", "cancelled") == []
    finally:
        launch.stop()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs to run as root")
@pytest.mark.timeout(300)
def test_launch_as_root_without_allow_root(tmp_path):
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    launch = Launch(data, home, allow_root=False)  # the README's command, as root
    try:
        assert launch.lab.get("/apolo/context").json()["user"] == local_username()
    finally:
        launch.stop()
    log = (tmp_path / "data-launch.log").read_text()
    assert "passing --allow-root to JupyterLab" in log
    assert re.search(r"Notebook job job-\S+ is running in project awesome-team "
                     r"at http://\S+\.jobs\.localhost:\d+\.", log)
