"""``GitRepo.pull`` against a real bare remote with two clones: alice's checkout of the fixture project (holding a
real notebook from ``../shared/fixtures``) and bob's clone, each committing as in a team."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from IPython.core.error import UsageError

from jupyter_apolo.notebooks.git import GitError, GitRepo
from jupyter_apolo.notebooks.git_pull import FAST_FORWARD, MERGED, UP_TO_DATE
from tests.notebooks.conftest import RUNNING_CODE, git, shared_origin

NB = RUNNING_CODE


@pytest.fixture
def clones(checkout, tmp_path, shared_fixtures):
    """``(alice's GitRepo, bob's clone, bare origin)``: the notebook committed and pushed, main tracking origin."""
    bob, bare = shared_origin(checkout, tmp_path, shared_fixtures)
    return GitRepo(checkout / "notebooks"), bob, bare


def edit(repo: Path, cell: int, text: str, count: int | None = None, code_cell: int = 4) -> None:
    """Append ``text`` to cell ``cell`` (0-based) of the notebook; optionally give ``code_cell`` the execution
    count ``count`` (as re-running it does)."""
    nb = nbformat.read(repo / NB, as_version=nbformat.NO_CONVERT)
    nb.cells[cell].source = "".join(nb.cells[cell].source) + f"\n{text}"
    if count is not None:
        nb.cells[code_cell].execution_count = count
    nbformat.write(nb, repo / NB, version=nbformat.NO_CONVERT)


def commit(repo: Path, message: str, push: bool = False) -> str:
    git(repo, "commit", "-q", "-am", message)
    if push:
        git(repo, "push", "-q", "origin", "main")
    return git(repo, "rev-parse", "HEAD").strip()


def test_fast_forward_then_up_to_date(clones, checkout):
    repo, bob, _ = clones
    edit(bob, 3, "# bob's note")
    bobs = commit(bob, "Bob's note", push=True)
    before = git(checkout, "rev-parse", "HEAD").strip()

    done = repo.pull()
    assert (done.outcome, done.upstream, done.previous, done.head) == (FAST_FORWARD, "origin/main", before, bobs)
    assert done.files == [NB] and "# bob's note" in (checkout / NB).read_text()
    again = repo.pull()
    assert (again.outcome, again.head, again.files) == (UP_TO_DATE, bobs, [])


def test_different_cells_of_one_notebook_merge_cell_by_cell(clones, checkout, tmp_path):
    repo, bob, bare = clones
    # both re-ran the first code cell (different execution counts: a text merge of the JSON conflicts there)
    edit(bob, 3, "# bob edits cell 4", count=7)
    bobs = commit(bob, "Bob edits cell 4", push=True)
    edit(checkout, 7, "# alice edits cell 8", count=12)
    alices = repo.commit("Alice edits cell 8", [NB]).sha
    with pytest.raises(GitError, match="pull and merge them"):
        repo.push()

    done = repo.pull()
    assert done.outcome == MERGED and done.files == [NB]
    assert git(checkout, "log", "-1", "--format=%P %s").strip() == f"{alices} {bobs} Merge origin/main"
    merged = nbformat.read(checkout / NB, as_version=4)
    assert "# bob edits cell 4" in merged.cells[3].source and "# alice edits cell 8" in merged.cells[7].source
    assert merged.cells[4].execution_count is None  # nbdime clears a transient both sides changed
    assert "<<<<<<<" not in (checkout / NB).read_text() and repo.status() == []
    # git's own text merge of the same commits conflicts: the cell-wise merge came from nbdime's driver
    text_merge = subprocess.run(["git", "merge-tree", "--write-tree", alices, bobs], cwd=checkout,
                                capture_output=True, text=True)
    assert text_merge.returncode == 1 and f"CONFLICT (content): Merge conflict in {NB}" in text_merge.stdout
    # ... given on the command line only: nothing written to the repository's config or attributes
    assert "jupyternotebook" not in (repo.git_dir / "config").read_text()
    assert not (checkout / ".gitattributes").exists() and not (repo.git_dir / "info/attributes").exists()

    repo.push()
    log = git(bare, "log", "--format=%s", "main").splitlines()
    assert log[0] == "Merge origin/main" and {"Alice edits cell 8", "Bob edits cell 4"} <= set(log)


def test_same_cell_conflict_aborts_the_merge(clones, checkout):
    repo, bob, _ = clones
    edit(bob, 3, "# bob's take on cell 4")
    commit(bob, "Bob's take", push=True)
    edit(checkout, 3, "# alice's take on cell 4")
    alices = repo.commit("Alice's take", [NB]).sha
    mine = (checkout / NB).read_bytes()
    demo = checkout / "notebooks/demo.ipynb"
    demo.write_text(demo.read_text() + "\n")  # an uncommitted change elsewhere survives the abort
    (checkout / "notebooks/scratch.txt").write_text("untracked")
    status = repo.status()

    with pytest.raises(GitError, match=r"Running Code.ipynb changed in the same place on both sides") as err:
        repo.pull()
    assert "The merge was undone; nothing changed here." in str(err.value)
    assert "nbdime mergetool" in err.value.fix and "CONFLICT" in err.value.output
    assert git(checkout, "rev-parse", "HEAD").strip() == alices and not (repo.git_dir / "MERGE_HEAD").exists()
    assert (checkout / NB).read_bytes() == mine and repo.status() == status
    assert demo.read_text().endswith("}\n\n") and (checkout / "notebooks/scratch.txt").read_text() == "untracked"


def test_uncommitted_changes_in_the_way_are_never_overwritten(clones, checkout):
    repo, bob, _ = clones
    edit(bob, 3, "# bob")
    commit(bob, "Bob", push=True)
    edit(checkout, 9, "# alice, not committed")
    mine, head = (checkout / NB).read_bytes(), git(checkout, "rev-parse", "HEAD").strip()
    with pytest.raises(GitError, match="your uncommitted changes would be overwritten") as err:
        repo.pull()
    assert "Commit them" in err.value.fix and NB in err.value.output
    assert (checkout / NB).read_bytes() == mine and git(checkout, "rev-parse", "HEAD").strip() == head


def test_no_remote_or_no_upstream_is_a_clear_error(checkout, tmp_path):
    repo = GitRepo(checkout)
    with pytest.raises(GitError, match="branch 'main' has no upstream to pull from") as err:
        repo.pull()
    assert "git remote add origin URL" in err.value.fix
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(checkout, "remote", "add", "origin", str(bare))
    with pytest.raises(GitError, match="no upstream") as err:
        repo.pull()
    assert "`git branch --set-upstream-to=origin/main`" in err.value.fix
    with pytest.raises(GitError, match="no git remote 'upstream'"):
        repo.pull("upstream")
    with pytest.raises(GitError, match="origin has no branch 'main' to pull"):
        repo.pull("origin")
    assert git(checkout, "status", "--porcelain") == ""


def test_a_planted_notebooks_git_never_runs(clones, checkout, tmp_path):
    # a teammate's .git in the synced notebooks folder: its fsmonitor and merge driver must never run
    repo, bob, _ = clones
    marker = tmp_path / "planted-ran"
    planted = checkout / "notebooks/.git"
    for sub in ("objects/info", "refs/heads"):
        (planted / sub).mkdir(parents=True)
    (planted / "HEAD").write_text("ref: refs/heads/main\n")
    (planted / "config").write_text(f'[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch {marker}; false"\n'
                                    f'[merge "jupyternotebook"]\n\tdriver = touch {marker}\n')
    (checkout / "notebooks/.gitattributes").write_text("*.ipynb merge=jupyternotebook\n")
    edit(bob, 3, "# bob edits cell 4", count=3)
    commit(bob, "Bob", push=True)
    edit(checkout, 7, "# alice edits cell 8", count=5)
    git(checkout, "commit", "-q", "-m", "Alice", "--", NB)

    done = GitRepo(checkout / "notebooks").pull()
    assert done.outcome == MERGED and "# bob edits cell 4" in (checkout / NB).read_text()
    assert not marker.exists()


def test_a_hook_refusing_the_merge_commit_undoes_the_merge(clones, checkout):
    repo, bob, _ = clones
    edit(bob, 3, "# bob")
    commit(bob, "Bob", push=True)
    edit(checkout, 9, "# alice")
    alices = repo.commit("Alice", [NB]).sha
    hook = repo.git_dir / "hooks/pre-merge-commit"
    hook.write_text("#!/bin/sh\necho 'merges need a ticket number' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(GitError, match="git could not finish the merge commit. The merge was undone") as err:
        repo.pull()
    assert "merges need a ticket number" in err.value.output
    assert git(checkout, "rev-parse", "HEAD").strip() == alices and not (repo.git_dir / "MERGE_HEAD").exists()
    assert repo.status() == [] and "# bob" not in (checkout / NB).read_text()



def test_a_remote_that_never_answers_times_out(clones, checkout, monkeypatch):
    repo, _, _ = clones
    git(checkout, "config", "protocol.ext.allow", "always")
    git(checkout, "remote", "set-url", "origin", "ext::sh -c sleep% 3")
    head = git(checkout, "rev-parse", "HEAD").strip()
    monkeypatch.setattr("jupyter_apolo.notebooks.git.GIT_TIMEOUT", 1)
    with pytest.raises(GitError, match="git fetch origin failed") as err:
        repo.pull()
    assert "did not finish in 1 s" in err.value.output
    assert git(checkout, "rev-parse", "HEAD").strip() == head and repo.status() == []


def test_the_users_own_attributes_still_apply_to_the_merge(clones, checkout, tmp_path):
    # the -c core.attributesFile replaces the user's global attributes file for the merge: its rules are kept
    repo, bob, _ = clones
    mine = tmp_path / "my-attributes"
    mine.write_text("*.csv merge=binary\n")  # "never merge my data files line by line"
    git(checkout, "config", "core.attributesFile", str(mine))
    (checkout / "notebooks/data.csv").write_text("a,b\n1,2\n3,4\n5,6\n7,8\n")
    git(checkout, "add", "notebooks/data.csv")
    git(checkout, "commit", "-q", "-m", "data")
    git(checkout, "push", "-q")
    git(bob, "pull", "-q")
    (bob / "notebooks/data.csv").write_text("a,b\n1,2\n3,4\n5,6\n7,9\n")
    commit(bob, "Bob's data", push=True)
    (checkout / "notebooks/data.csv").write_text("a,b\n0,2\n3,4\n5,6\n7,8\n")  # far apart: a text merge is clean
    alices = commit(checkout, "Alice's data")
    with pytest.raises(GitError, match="notebooks/data.csv changed in the same place"):
        repo.pull()
    assert git(checkout, "rev-parse", "HEAD").strip() == alices


def test_percent_apolo_pull_merges_then_says_up_to_date_and_names_conflicts(clones, checkout, shell, monkeypatch):
    _, bob, _ = clones
    monkeypatch.chdir(checkout / "notebooks")  # the kernel's working directory
    edit(bob, 3, "# bob edits cell 4")
    commit(bob, "Bob", push=True)
    edit(checkout, 7, "# alice edits cell 8")
    commit(checkout, "Alice")
    merged = repr(shell("pull"))
    assert merged.startswith("Merged origin/main") and "%apolo push" in merged
    assert repr(shell("pull")) == "Already up to date with origin/main."
    edit(bob, 3, "# bob again")
    commit(bob, "Bob again", push=True)
    edit(checkout, 3, "# alice too")
    commit(checkout, "Alice too")
    with pytest.raises(UsageError, match=r"%apolo pull: .*undone"):
        shell("pull")
