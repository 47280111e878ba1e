"""Test support for flow projects: the official ``apolo-flow`` CLI as one user (offline: its
GitHub actions come from ../shared/fixtures/flow-actions), and flow projects to run it in (the
launcher's sample project, a copy of ../shared/fixtures/flow-project made valid for 26.7)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from jupyter_apolo.localplatform import seed
from tests.support.platform import BIN, FIXTURES, ApoloCLI, strip_ansi

JOB_ID = re.compile(r"job-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "-c", "init.defaultBranch=main"]


def offline_actions(root: Path) -> dict[str, str]:
    """Bare git repositories ``root/apolo-actions/<repo>.git`` tagged as in the flow-actions fixture,
    and the git environment that makes ``git@github.com:`` clones read them (fixture README)."""
    for folder in sorted((FIXTURES / "flow-actions").glob("*@*")):
        repo, _, tag = folder.name.partition("@")
        work = root / "work" / folder.name
        shutil.copytree(folder, work)
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", tag], ["tag", tag]):
            subprocess.run([*_GIT, "-C", str(work), *args], check=True, capture_output=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root / "apolo-actions" / f"{repo}.git")],
                       check=True, capture_output=True)
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.file://{root}/.insteadOf",
            "GIT_CONFIG_VALUE_0": "git@github.com:"}


class ApoloFlow:
    """``apolo-flow`` run as the user of ``cli`` (same ``APOLO_CONFIG``), never touching the network:
    actions from ``git_env``, ``--browse`` answered by ``true`` instead of a browser."""

    def __init__(self, cli: ApoloCLI, git_env: dict[str, str]):
        self.cli = cli
        self.env = {**cli.env, **git_env, "BROWSER": "true", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    def __call__(self, *args: str, cwd: Path, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(BIN / "apolo-flow"), *args], env=self.env, cwd=cwd, capture_output=True,
                              text=True, timeout=timeout)
        proc.stdout, proc.stderr = strip_ansi(proc.stdout), strip_ansi(proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"apolo-flow {' '.join(args)} exited {proc.returncode}\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def ps(self, cwd: Path) -> list[tuple[str, str, str]]:
        """``apolo-flow ps`` rows as ``(job, status, raw id)`` (the table's WHEN is left out)."""
        rows = []
        for line in self("ps", cwd=cwd).stdout.splitlines():
            cells = [c.strip() for c in line.split("│")]
            if len(cells) == 4 and cells[0] and cells[0] != "JOB":
                rows.append((cells[0], cells[1], cells[2]))
        return rows


def sample_project(workspace: Path, project_name: str | None = None) -> Path:
    """The launcher's sample flow project under ``workspace`` (``project_name`` overrides project.yml's)."""
    project = seed.seed_workspace(workspace)
    if project_name:
        (project / ".apolo" / "project.yml").write_text(f"id: {seed.FLOW_ID}\nproject_name: {project_name}\n")
    return project


def fixture_project(dest: Path) -> Path:
    """A copy of the flow-project fixture that apolo-flow 26.7 accepts: ``$[[ multi.args ]]`` (removed
    in 26.7.0) dropped, and the jupyter action asked for ``jupyter lab`` (the only Jupyter here)."""
    shutil.copytree(FIXTURES / "flow-project", dest)
    live = dest / ".neuro" / "live.yml"
    text = live.read_text()
    text = text.replace("      multi_args: $[[ multi.args ]]\n", "      jupyter_mode: lab\n")
    text = text.replace(" $[[ multi.args ]]", "")
    assert "multi.args" not in text and "jupyter_mode: lab" in text, "the fixture's live.yml changed"
    live.write_text(text)
    return dest


def make_bake(platform, user: str, project_id: str) -> dict:
    """A finished bake of batch ``train`` made through the API as apolo-flow's executor does:
    bake, attempt 1, tasks ``prepare`` (succeeded) and ``fit`` (failed), one image."""
    http = platform.http(user)
    graphs = {"": {"prepare": [], "fit": ["prepare"]}}
    bake = http.post("/flow/bakes", json={"project_id": project_id, "batch": "train", "graphs": graphs, "params": {},
                                          "name": "nightly", "tags": ["exp1"], "meta": {"git_info": None}}).json()
    meta = {"workspace": "/w", "flow_config_id": "cfg", "project_config_id": None, "action_config_ids": {}}
    attempt = http.post("/flow/attempts", json={"bake_id": bake["id"], "number": 1, "executor_id": None,
                                                "result": "running", "configs_meta": meta}).json()
    for task, status in (("prepare", "succeeded"), ("fit", "failed")):
        created = http.post("/flow/tasks", json={
            "attempt_id": attempt["id"], "yaml_id": task, "raw_id": "", "outputs": None, "state": None,
            "statuses": [{"created_at": "2026-01-01T00:00:00+00:00", "status": "pending"}]})
        assert created.status_code == 201, created.text
        replaced = http.put("/flow/tasks/replace", json={
            "attempt_id": attempt["id"], "yaml_id": task, "raw_id": "", "outputs": {}, "state": {},
            "statuses": [{"created_at": "2026-01-01T00:00:00+00:00", "status": "pending"},
                         {"created_at": "2026-01-01T00:01:00+00:00", "status": status}]})
        assert replaced.status_code == 200, replaced.text
    http.post("/flow/bake_images", json={"bake_id": bake["id"], "yaml_defs": ["train"], "ref": "image:model-x:v1",
                                         "status": "built", "context_on_storage": None, "dockerfile_rel": None,
                                         "builder_job_id": None}).raise_for_status()
    done = http.put("/flow/attempts/replace", json={"bake_id": bake["id"], "number": 1, "executor_id": None,
                                                    "result": "failed", "configs_meta": meta})
    assert done.status_code == 200 and done.json()["result"] == "failed", done.text
    return bake
