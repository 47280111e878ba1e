"""The Notebooks panel's endpoints in a real ``jupyter server`` subprocess against the embedded platform as alice:
``projects`` finds the flow project, ``plan`` names the notebooks folder as a workspace path, ``diff`` with a
direction shows what a pull brings / a push sends (nbdime for notebooks), and ``apply`` reports a notebook changed
on both sides in different cells as ``merged``."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from jupyter_apolo.client.errors import NotFoundError
from tests.notebooks.conftest import NOTEBOOKS_URI, jupyter_server, make_checkout

pytestmark = pytest.mark.timeout(300)
NAME = "Running Code.ipynb"


@pytest.fixture(scope="module")
def lab(platform, team, tmp_path_factory):
    with jupyter_server(platform, tmp_path_factory.mktemp("jupyter"), {}) as lab:
        yield lab


def apply(client, path: str, plan: dict) -> dict:
    with client.stream("POST", "apolo/notebooks/apply", json={"path": path, "direction": plan["direction"],
                                                              "plan": plan["id"]}) as resp:
        assert resp.status_code == 200, resp.read()
        return [json.loads(line) for line in resp.iter_lines() if line][-1]


def edit(path, index: int, text: str) -> None:
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nb.cells[index].source = "".join(nb.cells[index].source) + f"\n{text}"
    nbformat.write(nb, path, version=nbformat.NO_CONVERT)


def test_projects_plan_storage_diff_and_merge(lab, session, cli, shared_fixtures, tmp_path):
    client, root = lab
    api = session("alice").api
    try:
        api.storage.rm(NOTEBOOKS_URI, recursive=True)
    except NotFoundError:
        pass
    api.storage.mkdir(NOTEBOOKS_URI, parents=True)
    api.transfer.upload_file(shared_fixtures / "notebooks/jupyter-docs" / NAME, f"{NOTEBOOKS_URI}/{NAME}")
    time.sleep(1.1)
    make_checkout(root / "team" / "awesome-project", shared_fixtures / "flow-project")

    found = client.get("apolo/notebooks/projects").json()
    assert found == {"projects": [{"path": "team/awesome-project", "notebooks": "team/awesome-project/notebooks"}]}
    assert client.get("apolo/notebooks/projects", params={"path": "team"}).json() == found

    plan = client.get("apolo/notebooks/plan", params={"path": "team/awesome-project"}).json()
    assert plan["local_path"] == "team/awesome-project/notebooks"
    assert apply(client, "team/awesome-project", plan)["downloaded"] == [NAME]

    # bob changes cell 3 on storage, alice cell 7 here
    bob = tmp_path / "bob.ipynb"
    cli("bob")("cp", f"{NOTEBOOKS_URI}/{NAME}", str(bob))
    edit(bob, 2, "# bob's cell 3")
    cli("bob")("cp", str(bob), f"{NOTEBOOKS_URI}/{NAME}")
    time.sleep(1.1)
    local = root / "team/awesome-project/notebooks" / NAME
    edit(local, 6, "# alice's cell 7")

    file = f"team/awesome-project/notebooks/{NAME}"
    brings = client.get("apolo/notebooks/diff", params={"path": file, "direction": "pull"}).json()
    assert brings["kind"] == "notebook" and "bob's cell 3" in brings["text"]
    assert "alice's cell 7" in json.dumps(brings["base"])  # the base is the local file
    sends = client.get("apolo/notebooks/diff", params={"path": file, "direction": "push"}).json()
    assert "bob's cell 3" in json.dumps(sends["base"]) and "alice's cell 7" in sends["text"]
    outside = client.get("apolo/notebooks/diff", params={"path": "team/awesome-project/.neuroignore",
                                                         "direction": "pull"})
    assert outside.status_code == 400 and "not in the notebooks folder" in outside.json()["error"]
    text = client.get("apolo/notebooks/diff", params={"path": "team/awesome-project/notebooks/x.txt",
                                                      "direction": "push"}).json()
    assert text == {"kind": "text", "path": "x.txt", "text": ""}

    plan = client.get("apolo/notebooks/plan", params={"path": "team/awesome-project"}).json()
    assert [(c["path"], c["action"]) for c in plan["changes"]] == [(NAME, "conflict")]
    result = apply(client, "team/awesome-project", plan)
    assert result["event"] == "result" and result["merged"] == [NAME] and result["conflicts"] == []
    merged = "".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                     for c in json.loads(local.read_text())["cells"])
    assert "bob's cell 3" in merged and "alice's cell 7" in merged
