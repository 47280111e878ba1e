"""``jupyter apolo lab`` on a fresh data dir: starts and seeds the embedded platform, opens a
JupyterLab whose Apolo extension is connected to it; a second run reuses the same data."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from jupyter_apolo.launcher import local_username
from tests.support.net import free_port as _free_port
from tests.support.platform import BIN, wait_for


class Launch:
    def __init__(self, data: Path, home: Path):
        self.lab_port, self.platform_port, self.token = _free_port(), _free_port(), secrets.token_hex(8)
        env = {k: v for k, v in os.environ.items() if k not in ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG")}
        env.update(HOME=str(home), APOLO_CONFIG=str(home / "no-apolo"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "ws"))
        self.proc = subprocess.Popen(
            [str(BIN / "jupyter-apolo"), "lab", "--data-dir", str(data), "--port", str(self.platform_port), "--",
             "--no-browser", "--ip=127.0.0.1", f"--port={self.lab_port}", f"--IdentityProvider.token={self.token}",
             "--allow-root", "--LabApp.news_url=None"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(data.parent / f"{data.name}-launch.log", "ab"),
            start_new_session=True,
        )
        self.lab = httpx.Client(base_url=f"http://127.0.0.1:{self.lab_port}",
                                headers={"Authorization": f"token {self.token}"}, timeout=30)
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
        jobs = wait_for(lambda: api.get("/jobs", params={"status": "running", "project_name": "awesome-team"}).json()["jobs"],
                        timeout=30, what="the sample notebook job")
        assert jobs[0]["name"].startswith("awesome-project-jupyter-")
        assert (data / "workspace" / "awesome-project" / ".apolo" / "live.yml").exists()
        # a user's change survives the next launch (no re-seed)
        api.delete("/storage/local/awesome-team/awesome_project/notebooks/03-share-results.ipynb", params={"op": "DELETE"})
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
