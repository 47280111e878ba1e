"""The sample project a new user finds on first launch (``jupyter apolo lab``).

On the platform: the user, teammates ``alice`` and ``bob``, a team project ``awesome-team``
(the user admin, alice writer, bob reader), three notebooks on storage under the flow's
notebooks volume, and a running Jupyter notebook job that mounts it. In the workspace: a flow
project ``awesome-project/`` (``.apolo/live.yml`` volumes, ``.apolo/project.yml``) under git, whose ``origin`` is a
local bare repository (``.git-remotes/awesome-project.git`` in the workspace) so ``%apolo push`` works offline.

Everything here is of this project's own making; nothing is copied from ../shared fixtures.
"""

from __future__ import annotations

import secrets
import subprocess
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

PROJECT_TAG = "project:awesome-project"  # apolo-flow tags live jobs project:<id, "_" -> "-">
JUPYTER_COMMAND = ("jupyter lab --no-browser --ip=127.0.0.1 --port=8888 --IdentityProvider.token= "
                   "--ServerApp.root_dir=/project/notebooks --allow-root --LabApp.news_url=None "
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")

# Valid for apolo-flow 26.7 (no multi.args). The jupyter job mirrors apolo-actions/jupyter
# (multi, port 8888, http auth, browse, detach, the notebooks volume at /project/notebooks)
# without an action to fetch from GitHub; its image is recorded only, the command runs as is.
LIVE_YML = f"""\
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
    preset: cpu-small
    multi: true
    http_port: 8888
    http_auth: true
    browse: true
    detach: true
    volumes:
      - $[[ volumes.notebooks.ref_rw ]]
      - $[[ volumes.data.ref_ro ]]
    cmd: >-
      {JUPYTER_COMMAND}
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
            new_code_cell("import statistics\nvalues = [3.1, 2.7, 3.8, 4.0, 3.3]\n"
                          "statistics.mean(values), statistics.stdev(values)"),
        ),
        "02-train-model.ipynb": nb(
            new_markdown_cell("# Train a tiny model\nLeast squares by hand, no dependencies."),
            new_code_cell(textwrap.dedent("""\
                xs = [1, 2, 3, 4, 5]
                ys = [2.1, 3.9, 6.2, 7.8, 10.1]
                n = len(xs)
                covariance = n * sum(x * y for x, y in zip(xs, ys)) - sum(xs) * sum(ys)
                slope = covariance / (n * sum(x * x for x in xs) - sum(xs) ** 2)
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
        _ensure_origin(workspace, project)  # data dirs seeded before the origin existed get one too
        return project
    (project / ".apolo").mkdir(parents=True)
    (project / ".apolo" / "live.yml").write_text(LIVE_YML)
    (project / ".apolo" / "project.yml").write_text(f"id: {FLOW_ID}\nproject_name: {TEAM_PROJECT}\n")
    (project / ".apolo.toml").write_text(
        '[storage]\ncp-exclude = [".git", ".apolo"]\ncp-exclude-from-files = [".apoloignore"]\n')
    (project / ".apoloignore").write_text("results/\ndata/\n")
    (project / ".gitignore").write_text("/data/**/*\n.ipynb_checkpoints\n")
    (project / "notebooks").mkdir()
    (project / "notebooks" / ".gitkeep").write_text("")
    (project / "README.md").write_text(
        "# Awesome Project\n\nA sample flow project. Its notebooks live on storage at "
        f"`storage:/{NOTEBOOKS_REMOTE}`;\npull them here with `%apolo notebooks pull`, review, "
        "`%apolo commit -m \"...\"` and `%apolo push`\n(its `origin` is a local bare repository in "
        "`.git-remotes/`; point it at your own with `git remote set-url origin URL`).\n"
    )
    git = ["git", "-c", "user.name=jupyter-apolo", "-c", "user.email=jupyter-apolo@localhost"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)
    subprocess.run([*git, "-C", str(project), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(project), "commit", "-q", "-m", "Sample flow project"], check=True)
    _ensure_origin(workspace, project)
    return project


def _ensure_origin(workspace: Path, project: Path) -> None:
    """Give ``project`` a bare ``origin`` under ``workspace/.git-remotes`` (hidden in Lab's file browser) holding
    its ``main``, with ``main`` tracking it; nothing when an ``origin`` exists already."""
    if not (project / ".git").exists():
        return
    remotes = subprocess.run(["git", "-C", str(project), "remote"], capture_output=True, text=True, check=True)
    if "origin" in remotes.stdout.split():
        return
    bare = workspace / ".git-remotes" / f"{project.name}.git"
    if not bare.exists():
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "-C", str(project), "remote", "add", "origin", str(bare)], check=True)
    subprocess.run(["git", "-C", str(project), "push", "-q", "-u", "origin", "main"], check=True, capture_output=True)


def notebook_job_body(cluster: str, org: str, suffix: str) -> dict:
    """The create body ``apolo-flow run jupyter`` makes from ``LIVE_YML`` (it runs ``apolo run
    --description=live.jupyter --name=awesome-project-jupyter-<suffix> --project=awesome-team
    --preset=cpu-small --http-port=8888 --http-auth --volume=... --tag=... --browse --detach
    python:3.11 -- <cmd>``): same name, tags, volumes, preset and http auth."""
    storage = f"storage://{cluster}/{org}/{TEAM_PROJECT}/{FLOW_ID}"
    return {
        "pass_config": False, "project_name": TEAM_PROJECT, "org_name": org, "cluster_name": cluster,
        "name": f"awesome-project-jupyter-{suffix}", "description": "live.jupyter", "preset_name": "cpu-small",
        "tags": [f"multi:{suffix}", PROJECT_TAG, "flow:live", "job:jupyter"],
        "max_run_time_minutes": 1440, "image": "python:3.11", "resources": {"shm": True},
        "command": JUPYTER_COMMAND, "http": {"port": 8888, "requires_auth": True},
        "volumes": [
            {"src_storage_uri": f"{storage}/notebooks", "dst_path": "/project/notebooks", "read_only": False},
            {"src_storage_uri": f"{storage}/data", "dst_path": "/project/data", "read_only": True},
        ],
    }


def ensure_notebook_job(url: str, token: str, cluster: str, org: str) -> str:
    """Start the team's Jupyter notebook job the way ``apolo-flow run jupyter`` does, unless one
    is running; returns its id.

    Speaks the platform's own REST API as apolo-flow does: the flow project (``GET
    flow/projects/by_name``, else ``POST flow/projects``), its live job (``PUT
    flow/live_jobs/replace``), then ``POST {url}/jobs?from_preset`` with ``notebook_job_body``.
    Raises ``httpx.HTTPError`` when the platform refuses.
    """
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        where = {"name": FLOW_ID, "cluster": cluster, "org_name": org, "project_name": TEAM_PROJECT}
        found = http.get("/flow/projects/by_name", params=where)
        if found.status_code == 404:
            found = http.post("/flow/projects", json=where)
        flow_project = found.raise_for_status().json()
        http.put("/flow/live_jobs/replace", json={
            "project_id": flow_project["id"], "yaml_id": "jupyter", "multi": True,
            "tags": [PROJECT_TAG, "flow:live", "job:jupyter"],
        }).raise_for_status()
        params = [("status", "pending"), ("status", "running"), ("project_name", TEAM_PROJECT),
                  ("tag", PROJECT_TAG), ("tag", "job:jupyter"), ("cluster_name", cluster), ("org_name", org)]
        running = http.get("/jobs", params=params).raise_for_status().json()["jobs"]
        if running:
            return running[0]["id"]
        body = notebook_job_body(cluster, org, secrets.token_hex(5))
        r = http.post("/jobs", params={"from_preset": ""}, json=body)
        r.raise_for_status()
        return r.json()["id"]
