"""The sample project a new user finds on first launch (``jupyter apolo lab``).

On the platform: the user, teammates ``alice`` and ``bob``, a team project ``awesome-team``
(the user admin, alice writer, bob reader), three notebooks on storage under the flow's
notebooks volume, and a running Jupyter notebook job that mounts it. In the workspace: a flow
project ``awesome-project/`` (``.apolo/live.yml`` volumes, ``.apolo/project.yml``) under git.

Everything here is of this project's own making; nothing is copied from ../shared fixtures.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .state import Platform

TEAM_PROJECT = "awesome-team"
FLOW_ID = "awesome_project"
TEAMMATES = {"alice": "writer", "bob": "reader"}
NOTEBOOKS_REMOTE = f"{TEAM_PROJECT}/{FLOW_ID}/notebooks"  # under storage://<cluster>/<org>/

LIVE_YML = """\
kind: live
title: Awesome Project

volumes:
  data:
    remote: storage:/$[[ project.project_name ]]/$[[ flow.project_id ]]/data
    mount: /project/data
    local: data
  code:
    remote: storage:/$[[ project.project_name ]]/$[[ flow.project_id ]]/modules
    mount: /project/modules
    local: modules
  notebooks:
    remote: storage:/$[[ project.project_name ]]/$[[ flow.project_id ]]/notebooks
    mount: /project/notebooks
    local: notebooks
  results:
    remote: storage:/$[[ project.project_name ]]/$[[ flow.project_id ]]/results
    mount: /project/results
    local: results
  project:
    remote: storage:/$[[ project.project_name ]]/$[[ flow.project_id ]]
    mount: /project
    local: .

jobs:
  jupyter:
    image: python:3.11
    http_port: 8888
    multi: true
    volumes:
      - $[[ volumes.notebooks.ref_rw ]]
      - $[[ volumes.data.ref_ro ]]
    cmd: >-
      jupyter lab --no-browser --ip=127.0.0.1 --port=8888
      --ServerApp.root_dir=/project/notebooks
"""


def _notebooks() -> dict[str, nbformat.NotebookNode]:
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}

    def nb(*cells):  # type: ignore[no-untyped-def]
        notebook = new_notebook(cells=list(cells))
        notebook.metadata["kernelspec"] = kernelspec
        return notebook

    return {
        "01-explore-data.ipynb": nb(
            new_markdown_cell("# Explore the data\nA first look at the measurements the team collected."),
            new_code_cell("import statistics\nvalues = [3.1, 2.7, 3.8, 4.0, 3.3]\nstatistics.mean(values), statistics.stdev(values)"),
        ),
        "02-train-model.ipynb": nb(
            new_markdown_cell("# Train a tiny model\nLeast squares by hand, no dependencies."),
            new_code_cell(textwrap.dedent("""\
                xs = [1, 2, 3, 4, 5]
                ys = [2.1, 3.9, 6.2, 7.8, 10.1]
                n = len(xs)
                slope = (n * sum(x * y for x, y in zip(xs, ys)) - sum(xs) * sum(ys)) / (n * sum(x * x for x in xs) - sum(xs) ** 2)
                intercept = (sum(ys) - slope * sum(xs)) / n
                slope, intercept""")),
        ),
        "03-share-results.ipynb": nb(
            new_markdown_cell("# Share the results\nUse `%apolo share` to let a teammate open this job."),
            new_code_cell("%load_ext jupyter_apolo\n%apolo whoami"),
            new_code_cell("%apolo ps"),
        ),
    }


def seed_platform(platform: Platform, user: str) -> None:
    """Create the users, the team project and the notebooks on storage (idempotent)."""
    platform.ensure_user(user)
    for mate in TEAMMATES:
        platform.ensure_user(mate)
    if platform.project_owner(TEAM_PROJECT) is None:
        platform.create_project(TEAM_PROJECT, owner=user)
    else:
        platform.add_project_user(TEAM_PROJECT, user, "admin")
    for mate, role in TEAMMATES.items():
        platform.add_project_user(TEAM_PROJECT, mate, role)
    folder = platform.storage_root / platform.org / NOTEBOOKS_REMOTE
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in _notebooks().items():
        target = folder / name
        if not target.exists():
            tmp = target.with_name(f".{name}.tmp")
            nbformat.write(notebook, tmp)
            tmp.replace(target)


def seed_workspace(workspace: Path) -> Path:
    """Create the flow project ``awesome-project`` under ``workspace`` as a git repository
    (idempotent); returns its path. Raises ``subprocess.CalledProcessError`` if git fails."""
    project = workspace / "awesome-project"
    if (project / ".apolo").exists():
        return project
    (project / ".apolo").mkdir(parents=True)
    (project / ".apolo" / "live.yml").write_text(LIVE_YML)
    (project / ".apolo" / "project.yml").write_text(f"id: {FLOW_ID}\nproject_name: {TEAM_PROJECT}\n")
    (project / ".apolo.toml").write_text('[storage]\ncp-exclude = [".git", ".apolo"]\ncp-exclude-from-files = [".apoloignore"]\n')
    (project / ".apoloignore").write_text("results/\ndata/\n")
    (project / ".gitignore").write_text("/data/**/*\n.ipynb_checkpoints\n")
    (project / "notebooks").mkdir()
    (project / "notebooks" / ".gitkeep").write_text("")
    (project / "README.md").write_text(
        "# Awesome Project\n\nA sample flow project. Its notebooks live on storage at "
        f"`storage:/{NOTEBOOKS_REMOTE}`;\npull them here with `%apolo notebooks pull`, review and "
        "`%apolo commit -m \"...\"`.\n"
    )
    git = ["git", "-c", "user.name=jupyter-apolo", "-c", "user.email=jupyter-apolo@localhost"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)
    subprocess.run([*git, "-C", str(project), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(project), "commit", "-q", "-m", "Sample flow project"], check=True)
    return project


def ensure_notebook_job(url: str, token: str, cluster: str, org: str) -> str:
    """Start the team's Jupyter notebook job unless one is running; returns its id.

    Speaks the platform's own REST API (POST ``{url}/jobs?from_preset``, as ``apolo run`` does).
    Raises ``httpx.HTTPError`` when the platform refuses.
    """
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        params = [("status", "pending"), ("status", "running"), ("project_name", TEAM_PROJECT),
                  ("tag", f"project:{FLOW_ID}"), ("cluster_name", cluster), ("org_name", org)]
        running = http.get("/jobs", params=params).raise_for_status().json()["jobs"]
        if running:
            return running[0]["id"]
        suffix = secrets.token_hex(5)
        notebooks = f"storage://{cluster}/{org}/{NOTEBOOKS_REMOTE}"
        body = {
            "preset_name": "cpu-small",
            "name": f"awesome-project-jupyter-{suffix}",
            "project_name": TEAM_PROJECT, "org_name": org, "cluster_name": cluster,
            "image": "python:3.11",
            "tags": [f"project:{FLOW_ID}", "flow:live", "job:jupyter", f"multi:{suffix}"],
            "command": f"{sys.executable} -m jupyterlab --no-browser --ip=127.0.0.1 --port=8888 "
                       "--IdentityProvider.token= --ServerApp.root_dir=/project/notebooks "
                       "--LabApp.news_url=None --allow-root",
            "http": {"port": 8888, "requires_auth": True},
            "volumes": [{"src_storage_uri": notebooks, "dst_path": "/project/notebooks", "read_only": False}],
            "max_run_time_minutes": 1440,
            "resources": {"shm": True},
        }
        r = http.post("/jobs", params={"from_preset": ""}, json=body)
        r.raise_for_status()
        return r.json()["id"]
