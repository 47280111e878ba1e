"""``%apolo notebooks status|pull|push``, ``%apolo commit`` and ``%apolo push`` in a real IPython shell against
the embedded platform, from the kernel's working directory inside the checkout."""

from __future__ import annotations

import os
import time

import nbformat
import pytest
from IPython.core.error import UsageError

from tests.notebooks.conftest import NOTEBOOKS_URI, clear_notebooks, git
from tests.support.flow import sample_project

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def on_storage(session, shared_fixtures):
    api = session("alice").api
    clear_notebooks(api)
    api.storage.mkdir(NOTEBOOKS_URI + "/jupyter-docs", parents=True)
    for name in ("Running Code.ipynb", "Notebook Basics.ipynb"):
        api.transfer.upload_file(shared_fixtures / "notebooks/jupyter-docs" / name,
                                 f"{NOTEBOOKS_URI}/jupyter-docs/{name}")
    time.sleep(1.1)


def test_status_pull_commit_push_from_the_kernel_directory(shell, on_storage, checkout, tmp_path, monkeypatch):
    monkeypatch.chdir(checkout / "notebooks")  # the kernel's working directory
    status = shell("notebooks status")
    assert {(c.path, c.action) for c in status.plan.changes} == {
        ("jupyter-docs/Running Code.ipynb", "download"), ("jupyter-docs/Notebook Basics.ipynb", "download")}
    assert status.result is None and "download" in repr(status) and "<li>" in status._repr_html_()
    assert status.git == [] and "git: clean" in repr(status)

    dry = shell("notebooks pull --dry-run")
    assert dry.result is None and not (checkout / "notebooks/jupyter-docs").exists()

    pulled = shell(f"notebooks pull {checkout}")
    assert pulled.result.downloaded == ["jupyter-docs/Notebook Basics.ipynb", "jupyter-docs/Running Code.ipynb"]
    assert "downloaded" in repr(pulled)
    assert shell("notebooks pull").result.transferred == []

    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(checkout, "remote", "add", "origin", str(bare))
    commit = shell('commit -m "Notebooks from the team" jupyter-docs')
    assert commit.data.files == ["notebooks/jupyter-docs/Notebook Basics.ipynb",
                                 "notebooks/jupyter-docs/Running Code.ipynb"]
    assert git(checkout, "log", "-1", "--format=%s").strip() == "Notebooks from the team"
    shell("push")
    assert git(bare, "log", "-1", "--format=%s", "main").strip() == "Notebooks from the team"

    nb = nbformat.read("jupyter-docs/Running Code.ipynb", as_version=4)
    nb.cells[0].source += "\nedited in the lab"
    nbformat.write(nb, "jupyter-docs/Running Code.ipynb")
    pushed = shell("notebooks push")
    # demo.ipynb (from the template, never on storage) goes up too
    assert pushed.result.uploaded == ["demo.ipynb", "jupyter-docs/Running Code.ipynb"]


def test_usage_errors_name_the_fix(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="not inside an apolo-flow project"):
        shell("notebooks status")
    with pytest.raises(UsageError, match="choose one of pull, push, status"):
        shell("notebooks sync")
    with pytest.raises(UsageError, match="-m"):
        shell("commit notebooks")
    with pytest.raises(UsageError, match="not inside an apolo-flow project.*name the files to commit"):
        shell('commit -m "x"')
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(UsageError, match="not inside a git repository"):
        shell('commit -m "x" a.ipynb')
    assert os.getcwd() == str(tmp_path)


def test_the_demo_project_loop_as_its_readme_says(shell, on_storage, tmp_path, monkeypatch):
    """The launcher's sample project: `.gitkeep` is no change, `%apolo commit -m` alone commits the notebooks
    folder, `%apolo push` reaches the demo's own bare origin."""
    for var, value in (("GIT_AUTHOR_NAME", "Alice"), ("GIT_COMMITTER_NAME", "Alice"),
                       ("GIT_AUTHOR_EMAIL", "alice@example.com"), ("GIT_COMMITTER_EMAIL", "alice@example.com")):
        monkeypatch.setenv(var, value)
    project = sample_project(tmp_path / "workspace")
    bare = tmp_path / "workspace/.git-remotes/awesome-project.git"
    assert git(project, "rev-parse", "--abbrev-ref", "main@{u}").strip() == "origin/main"
    monkeypatch.chdir(project / "notebooks")
    status = shell("notebooks status")
    assert ".gitkeep" not in repr(status) and status.plan.elsewhere == []
    assert "git: clean" in repr(status)

    shell("notebooks pull")
    status = shell("notebooks status")
    assert "git: 2 uncommitted change(s) in notebooks/" in repr(status) and "git: clean" not in repr(status)
    monkeypatch.chdir(project)  # anywhere in the project
    commit = shell('commit -m "Notebooks from the team"')
    assert commit.data.files == ["notebooks/jupyter-docs/Notebook Basics.ipynb",
                                 "notebooks/jupyter-docs/Running Code.ipynb"]
    shell("push")
    assert git(bare, "log", "-1", "--format=%s", "main").strip() == "Notebooks from the team"
    assert "git: clean" in repr(shell("notebooks status notebooks"))
