"""``notebooks.git`` on real repositories in temp dirs, with the fixture project's real notebooks."""

from __future__ import annotations

import json
import os
import stat

import nbformat
import pytest

from jupyter_apolo.notebooks.git import GitError, GitRepo
from tests.notebooks.conftest import git


@pytest.fixture
def repo(checkout, shared_fixtures):
    """The checkout with two real notebooks (with outputs) added untracked under notebooks/."""
    for name in ("Running Code.ipynb", "Notebook Basics.ipynb"):
        (checkout / "notebooks" / name).write_bytes((shared_fixtures / "notebooks/jupyter-docs" / name).read_bytes())
    return GitRepo(checkout / "notebooks")


def test_status_and_diffs(repo, checkout):
    assert repo.root == checkout
    assert {(s.path, s.index, s.worktree) for s in repo.status(["notebooks"])} == {
        ("notebooks/Running Code.ipynb", "?", "?"), ("notebooks/Notebook Basics.ipynb", "?", "?")}
    nb = nbformat.read(checkout / "notebooks/demo.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("print('hello')"))
    nbformat.write(nb, checkout / "notebooks/demo.ipynb")
    assert ("notebooks/demo.ipynb", " ", "M") in {(s.path, s.index, s.worktree) for s in repo.status()}

    diff = repo.diff(checkout / "notebooks/demo.ipynb")
    assert diff["kind"] == "notebook" and diff["path"] == "notebooks/demo.ipynb"
    assert any(d["key"] == "cells" for d in diff["diff"]) and "print('hello')" in diff["text"]
    new = repo.diff("notebooks/Running Code.ipynb")  # untracked: against an empty notebook
    assert new["base"]["cells"] == [] and new["diff"]

    (checkout / ".neuroignore").write_text("results/\n")
    text = repo.diff(checkout / ".neuroignore")
    assert text["kind"] == "text" and "-data/" in text["text"]


def test_commit_with_cleared_outputs_keeps_the_working_tree(repo, checkout):
    before = (checkout / "notebooks/Running Code.ipynb").read_bytes()
    assert any(c.get("outputs") for c in json.loads(before)["cells"])
    done = repo.commit("Add notebooks", ["notebooks/Running Code.ipynb", "notebooks/Notebook Basics.ipynb"],
                       clear_outputs=True)
    assert done.files == ["notebooks/Notebook Basics.ipynb", "notebooks/Running Code.ipynb"]
    assert git(checkout, "log", "-1", "--format=%H %an %s").strip() == f"{done.sha} Alice Example Add notebooks"
    committed = json.loads(git(checkout, "show", "HEAD:notebooks/Running Code.ipynb"))
    code = [c for c in committed["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert (checkout / "notebooks/Running Code.ipynb").read_bytes() == before  # outputs stay on disk
    # the working tree differs from the commit only by outputs: git shows it modified, nothing lost
    assert [s.path for s in repo.status()] == ["notebooks/Running Code.ipynb"]


def test_commit_errors_say_the_fix(repo, checkout, monkeypatch, tmp_path):
    with pytest.raises(GitError, match="commit message is required"):
        repo.commit("  ", ["notebooks"])
    with pytest.raises(GitError, match="nothing to commit"):
        repo.commit("nothing", [])
    git(checkout, "config", "--unset", "user.name")
    git(checkout, "config", "--unset", "user.email")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "empty-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(GitError, match=r'user.name and user.email not set\). Run:\n  git config --global user.name'):
        repo.commit("Add notebooks", ["notebooks"])
    assert git(checkout, "diff", "--cached", "--name-only") == ""  # nothing half-done


def test_hook_failure_is_shown_with_its_output(repo, checkout):
    hook = checkout / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho 'nbstripout: notebook has outputs' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(GitError) as err:
        repo.commit("Add notebooks", ["notebooks"])
    assert "a hook may have rejected it" in str(err.value) and "nbstripout: notebook has outputs" in err.value.output
    assert len(git(checkout, "log", "--format=%H").split()) == 1


def test_push_sets_upstream_and_never_forces(repo, checkout, tmp_path):
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(GitError, match="no git remote 'origin': add one with `git remote add origin URL`"):
        repo.push()
    git(checkout, "remote", "add", "origin", str(bare))
    first = repo.commit("Add notebooks", ["notebooks"])
    repo.push()
    assert git(bare, "rev-parse", "main").strip() == first.sha
    assert git(checkout, "rev-parse", "--abbrev-ref", "main@{u}").strip() == "origin/main"

    other = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", "-b", "main", str(bare), str(other))
    git(other, "-c", "user.name=Bob", "-c", "user.email=bob@example.com", "commit", "-q", "--allow-empty", "-m", "bob")
    git(other, "push", "-q", "origin", "main")
    bobs = git(bare, "rev-parse", "main").strip()

    (checkout / "notebooks/demo.ipynb").write_text((checkout / "notebooks/demo.ipynb").read_text() + "\n")
    repo.commit("Local change", ["notebooks/demo.ipynb"])
    with pytest.raises(GitError, match="pull and merge them, then push again") as err:
        repo.push()
    assert "rejected" in err.value.output
    assert git(bare, "rev-parse", "main").strip() == bobs  # the teammate's commit is not overwritten


def test_not_a_repository(tmp_path):
    with pytest.raises(GitError, match="not inside a git repository: run `git init`"):
        GitRepo(tmp_path)
    assert os.listdir(tmp_path) == []
