"""The notebooks endpoints of the server extension, in a real ``jupyter server`` subprocess (no pytest-jupyter here:
its loop fixtures would leak into the rest of this folder), talking to the embedded platform as alice."""

from __future__ import annotations

import json
import time

import httpx
import nbformat
import pytest

from tests.notebooks.conftest import (
    NOTEBOOKS_URI,
    RUNNING_CODE,
    clear_notebooks,
    git,
    jupyter_server,
    make_checkout,
    shared_origin,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def lab(platform, team, tmp_path_factory):
    """A jupyter server with the extension, root_dir = a temp folder; yields (httpx client, root_dir)."""
    settings = {"ApoloNotebooks": {"clear_outputs": True}}
    with jupyter_server(platform, tmp_path_factory.mktemp("jupyter"), settings) as lab:
        yield lab


@pytest.fixture
def project(lab, session, shared_fixtures, tmp_path):
    client, root = lab
    api = session("alice").api
    clear_notebooks(api)
    api.storage.mkdir(NOTEBOOKS_URI, parents=True)
    api.transfer.upload_file(shared_fixtures / "notebooks/jupyter-docs/Running Code.ipynb",
                             f"{NOTEBOOKS_URI}/Running Code.ipynb")
    time.sleep(1.1)
    name = f"project-{tmp_path.name}"
    return make_checkout(root / name, shared_fixtures / "flow-project"), name


def test_plan_apply_diff_commit_push(lab, project, tmp_path):
    client, root = lab
    checkout, name = project
    plan = client.get("apolo/notebooks/plan", params={"path": f"{name}/notebooks"})
    assert plan.status_code == 200, plan.text
    assert [(c["path"], c["action"]) for c in plan.json()["changes"]] == [("Running Code.ipynb", "download")]
    assert [(c["path"], c["reason"]) for c in plan.json()["elsewhere"]] == [("demo.ipynb", "new on disk")]

    with client.stream("POST", "apolo/notebooks/apply", json={"path": name}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in resp.iter_lines() if line]
    assert [e["event"] for e in events] == ["progress", "result"]
    assert events[0] == {"event": "progress", "done": 1, "total": 1, "path": "Running Code.ipynb",
                         "action": "download", "bytes": events[-1]["bytes"]}
    assert events[-1]["downloaded"] == ["Running Code.ipynb"] and events[-1]["transferred"] == 1

    status = client.get("apolo/notebooks/status", params={"path": f"{name}/notebooks"}).json()
    assert status["files"] == [{"path": "notebooks/Running Code.ipynb", "index": "?", "worktree": "?"}]
    nb_path = checkout / "notebooks/demo.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source = "# Changed title"
    nbformat.write(nb, nb_path)
    diff = client.get("apolo/notebooks/diff", params={"path": f"{name}/notebooks/demo.ipynb"}).json()
    assert diff["kind"] == "notebook" and diff["diff"] and "Changed title" in diff["text"]
    assert diff["base"]["cells"][0]["source"] != "# Changed title"
    text = client.get("apolo/notebooks/diff", params={"path": f"{name}/.neuroignore"}).json()
    assert text == {"kind": "text", "path": ".neuroignore", "text": ""}

    had_outputs = any(c.get("outputs") for c in nbformat.read(checkout / "notebooks/Running Code.ipynb", 4).cells)
    commit = client.post("apolo/notebooks/commit", json={
        "message": "Team notebooks", "paths": [f"{name}/notebooks/Running Code.ipynb", f"{name}/notebooks/demo.ipynb"]})
    assert commit.status_code == 200, commit.text
    assert commit.json()["files"] == ["notebooks/Running Code.ipynb", "notebooks/demo.ipynb"]
    committed = json.loads(git(checkout, "show", "HEAD:notebooks/Running Code.ipynb"))
    # c.ApoloNotebooks.clear_outputs: outputs cleared in the commit, kept in the working tree
    assert had_outputs and not any(c.get("outputs") for c in committed["cells"])
    assert any(c.get("outputs") for c in nbformat.read(checkout / "notebooks/Running Code.ipynb", 4).cells)

    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(checkout, "remote", "add", "origin", str(bare))
    pushed = client.post("apolo/notebooks/push", json={"path": name})
    assert pushed.status_code == 200, pushed.text
    assert git(bare, "rev-parse", "main").strip() == commit.json()["sha"]


def test_errors_are_json_with_the_fix(lab, project):
    client, root = lab
    checkout, name = project
    outside = client.get("apolo/notebooks/plan", params={"path": "../.."})
    assert outside.status_code == 400 and "give a path inside the workspace" in outside.json()["error"]
    (root / "plain").mkdir(exist_ok=True)
    no_project = client.get("apolo/notebooks/plan", params={"path": "plain"})
    assert no_project.status_code == 400
    # named as the file browser names it, not by the server's absolute path
    assert no_project.json()["error"].startswith("plain is not inside an apolo-flow project")
    assert str(root) not in no_project.text
    nothing = client.post("apolo/notebooks/commit", json={"message": "x", "paths": [f"{name}/notebooks"]})
    assert nothing.status_code == 409 and "nothing to commit" in nothing.json()["error"]
    no_remote = client.post("apolo/notebooks/push", json={"path": name})
    assert no_remote.status_code == 409 and "git remote add origin" in no_remote.json()["error"]
    anonymous = httpx.get(str(client.base_url) + "apolo/notebooks/plan", params={"path": name})
    assert anonymous.status_code == 403 or anonymous.status_code == 401


def cookie_client(client: httpx.Client) -> tuple[httpx.Client, str]:
    """A browser-like session: logged in through the login form with the server token; ``(client without the
    Authorization header, _xsrf token)``."""
    browser = httpx.Client(base_url=client.base_url, timeout=60)
    browser.get("login")
    xsrf = browser.cookies["_xsrf"]
    token = client.headers["Authorization"].split(" ", 1)[1]
    resp = browser.post("login", data={"password": token, "_xsrf": xsrf}, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    return browser, xsrf


def test_pull_after_a_rejected_push_merges_then_push_works(lab, project, tmp_path, shared_fixtures):
    client, root = lab
    checkout, name = project
    nb = RUNNING_CODE
    bob, bare = shared_origin(checkout, tmp_path, shared_fixtures)

    def edit(repo, cell: int, text: str) -> None:  # type: ignore[no-untyped-def]
        book = nbformat.read(repo / nb, as_version=nbformat.NO_CONVERT)
        book.cells[cell].source = "".join(book.cells[cell].source) + f"\n{text}"
        nbformat.write(book, repo / nb, version=nbformat.NO_CONVERT)

    edit(bob, 3, "# bob")
    git(bob, "commit", "-q", "-am", "Bob's cell")
    git(bob, "push", "-q", "origin", "main")
    edit(checkout, 7, "# alice")
    git(checkout, "commit", "-q", "-am", "Alice's cell")

    rejected = client.post("apolo/notebooks/push", json={"path": name})
    assert rejected.status_code == 409 and "pull and merge them" in rejected.json()["error"]
    assert "rejected" in rejected.json()["output"]
    browser, xsrf = cookie_client(client)
    try:
        refused = browser.post("apolo/notebooks/pull", json={"path": name})  # a cookie without the XSRF token
        assert refused.status_code == 403 and git(checkout, "log", "-1", "--format=%s").strip() == "Alice's cell"
        pulled = browser.post("apolo/notebooks/pull", json={"path": name}, headers={"X-XSRFToken": xsrf})
    finally:
        browser.close()
    assert pulled.status_code == 200, pulled.text
    answer = pulled.json()
    assert (answer["outcome"], answer["upstream"], answer["files"]) == ("merged", "origin/main", [nb])
    assert answer["head"] == git(checkout, "rev-parse", "HEAD").strip() and "# bob" in (checkout / nb).read_text()
    again = client.post("apolo/notebooks/pull", json={"path": f"{name}/notebooks"})
    assert again.status_code == 200 and again.json()["outcome"] == "up-to-date"
    assert client.post("apolo/notebooks/push", json={"path": name}).status_code == 200
    assert {"Alice's cell", "Bob's cell"} <= set(git(bare, "log", "--format=%s", "main").splitlines())

    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    edit(bob, 5, "# bob again")  # the same cell on both sides: 409 naming the file and the fix, nothing changed
    git(bob, "-c", "user.name=Bob", "-c", "user.email=bob@example.com", "commit", "-q", "-am", "Bob's cell 6")
    git(bob, "push", "-q", "origin", "main")
    edit(checkout, 5, "# alice again")
    git(checkout, "commit", "-q", "-am", "Alice's cell 6")
    head = git(checkout, "rev-parse", "HEAD").strip()
    conflict = client.post("apolo/notebooks/pull", json={"path": name})
    assert conflict.status_code == 409, conflict.text
    body = conflict.json()
    assert body["error"].startswith(f"pull from origin/main stopped: {nb} changed in the same place")
    assert "nbdime mergetool" in body["fix"] and "CONFLICT" in body["output"]
    assert git(checkout, "rev-parse", "HEAD").strip() == head and git(checkout, "status", "--porcelain") == ""


def test_pull_errors_name_the_fix(lab, project):
    client, root = lab
    checkout, name = project
    no_upstream = client.post("apolo/notebooks/pull", json={"path": name})
    assert no_upstream.status_code == 409
    assert no_upstream.json()["error"] == "branch 'main' has no upstream to pull from"
    assert "git remote add origin URL" in no_upstream.json()["fix"]
    bad = client.post("apolo/notebooks/pull", json={"path": name, "remote": 3})
    assert bad.status_code == 400 and "remote must be the name of a git remote" in bad.json()["error"]
    anonymous = httpx.post(str(client.base_url) + "apolo/notebooks/pull", json={"path": name})
    assert anonymous.status_code in (401, 403)
    (root / "not-a-repo").mkdir(exist_ok=True)
    outside_git = client.post("apolo/notebooks/pull", json={"path": "not-a-repo"})
    assert outside_git.status_code == 409, outside_git.text
    assert outside_git.json()["error"].startswith("not-a-repo is not inside a git repository")
