"""Pull/push of the fixture project's notebooks volume on the embedded platform, with bob editing the same
storage folder through the official apolo CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from jupyter_apolo.notebooks import GitRepo
from jupyter_apolo.notebooks.sync import PUSH
from tests.notebooks.conftest import NOTEBOOKS_URI, clear_notebooks, git
from tests.support.platform import wait_for

pytestmark = pytest.mark.timeout(300)


def seed(session, shared_fixtures: Path, tmp_path: Path) -> Path:
    """A fresh notebooks folder on storage: the template's demo.ipynb, the jupyter-docs notebooks, plus a
    checkpoint and an ignored results/ file that must never come down. Returns the seeded local copy."""
    api = session("alice").api
    clear_notebooks(api)
    src = tmp_path / "seed"
    (src / "jupyter-docs").mkdir(parents=True)
    (src / ".ipynb_checkpoints").mkdir()
    (src / "results").mkdir()
    (src / "demo.ipynb").write_bytes((shared_fixtures / "flow-project/notebooks/demo.ipynb").read_bytes())
    for nb in sorted((shared_fixtures / "notebooks/jupyter-docs").glob("*.ipynb")):
        (src / "jupyter-docs" / nb.name).write_bytes(nb.read_bytes())
    (src / ".ipynb_checkpoints/demo-checkpoint.ipynb").write_text("{}")
    (src / "results/metrics.txt").write_text("ignored by .neuroignore\n")
    api.storage.mkdir("storage:/awesome-team/awesome_project", parents=True, exist_ok=True)
    api.transfer.upload_tree(src, NOTEBOOKS_URI)
    time.sleep(RACY_WAIT)  # let storage mtimes fall strictly before the first listing
    return src


RACY_WAIT = 1.1


def notebook_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def edit_notebook(path: Path, text: str) -> None:
    nb = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_markdown_cell(text)
    if nb.nbformat_minor < 5:  # cell ids came with nbformat 4.5
        del cell["id"]
    nb.cells.append(cell)
    nbformat.write(nb, path)


def bob_edits(cli, tmp_path: Path, shared_fixtures: Path, name: str, text: str) -> bytes:
    """bob downloads ``name`` with his apolo CLI, appends a cell, uploads it back; returns his bytes."""
    local = tmp_path / f"bob-{Path(name).name}"
    cli("bob")("cp", f"{NOTEBOOKS_URI}/{name}", str(local))
    edit_notebook(local, text)
    cli("bob")("cp", str(local), f"{NOTEBOOKS_URI}/{name}")
    return local.read_bytes()


@pytest.fixture
def pulled(session, shared_fixtures, tmp_path, checkout):
    """The checkout after a first pull of freshly seeded notebooks: (checkout, notebooks dir, seed dir)."""
    src = seed(session, shared_fixtures, tmp_path)
    plan, result = session("alice").sync(checkout)
    return checkout, checkout / "notebooks", src


def test_first_pull_brings_every_notebook_and_respects_ignore_rules(session, shared_fixtures, tmp_path, checkout):
    src = seed(session, shared_fixtures, tmp_path)
    local = checkout / "notebooks"
    plan = session("alice").plan(checkout)
    expected = {"demo.ipynb"} | {f"jupyter-docs/{p.name}" for p in (src / "jupyter-docs").iterdir()}
    # demo.ipynb exists in the checkout already with the same content: a "new on both" that verifies as identical
    assert {c.path for c in plan.transfers} == expected - {"demo.ipynb"}
    assert [(c.path, c.action) for c in plan.conflicts] == [("demo.ipynb", "conflict")]

    _, result = session("alice").sync(checkout)
    assert set(result.downloaded) == expected - {"demo.ipynb"}
    assert result.verified == ["demo.ipynb"] and result.conflicts == []
    assert notebook_files(local) == expected  # no .ipynb_checkpoints, no results/ (.neuroignore)
    for rel in expected:
        assert (local / rel).read_bytes() == (src / rel).read_bytes()
    manifest = json.loads((checkout / ".neuro/sync/notebooks.json").read_text())
    assert {f["path"] for f in manifest["files"]} == expected
    assert manifest["remote"] == "storage://default/local/awesome-team/awesome_project/notebooks"
    # the sync state is invisible to git; the pulled notebooks are ready to review
    status = GitRepo(checkout).status()
    assert {s.path for s in status} == {f"notebooks/{p}" for p in expected - {"demo.ipynb"}}

    replan = session("alice").plan(checkout)
    assert replan.changes == [] and replan.elsewhere == [] and replan.unchanged == len(expected)


def test_pull_brings_exactly_the_teammates_changes(session, cli, shared_fixtures, tmp_path, pulled):
    checkout, local, src = pulled
    edit_notebook(local / "demo.ipynb", "alice's local note")  # an unrelated local edit
    bob_bytes = bob_edits(cli, tmp_path, shared_fixtures, "jupyter-docs/Running Code.ipynb", "bob was here")
    new_nb = tmp_path / "Bob's analysis.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), new_nb)
    cli("bob")("cp", str(new_nb), f"{NOTEBOOKS_URI}/Bob's analysis.ipynb")
    cli("bob")("rm", f"{NOTEBOOKS_URI}/jupyter-docs/Importing Notebooks.ipynb")

    plan = session("alice").plan(checkout)
    assert {(c.path, c.action, c.reason) for c in plan.changes} == {
        ("jupyter-docs/Running Code.ipynb", "download", "changed on storage"),
        ("Bob's analysis.ipynb", "download", "new on storage"),
        ("jupyter-docs/Importing Notebooks.ipynb", "delete-local", "deleted on storage"),
    }
    assert [(c.path, c.reason) for c in plan.elsewhere] == [("demo.ipynb", "changed on disk")]

    _, result = session("alice").sync(checkout)
    assert result.downloaded == ["Bob's analysis.ipynb", "jupyter-docs/Running Code.ipynb"]
    assert (local / "jupyter-docs/Running Code.ipynb").read_bytes() == bob_bytes
    assert (local / "Bob's analysis.ipynb").read_bytes() == new_nb.read_bytes()
    # the deletion is proposed, not applied
    assert result.proposed_deletions == ["jupyter-docs/Importing Notebooks.ipynb"]
    assert (local / "jupyter-docs/Importing Notebooks.ipynb").is_file()
    assert "alice's local note" in (local / "demo.ipynb").read_text()

    # The next sync lists storage a second after bob's copies: files pulled in their second (maybe changed, as
    # storage mtimes have 1 s resolution) are verified by content then, and settled.
    time.sleep(RACY_WAIT)
    _, result = session("alice").sync(checkout, delete=["jupyter-docs/Importing Notebooks.ipynb"])
    assert result.deleted == ["jupyter-docs/Importing Notebooks.ipynb"] and result.transferred == []
    assert not (local / "jupyter-docs/Importing Notebooks.ipynb").exists()
    assert [c.path for c in session("alice").plan(checkout).changes] == []


def test_local_edit_and_teammate_edit_become_a_conflict_keeping_both(session, cli, shared_fixtures, tmp_path, pulled):
    checkout, local, _ = pulled
    nb = local / "jupyter-docs/Notebook Basics.ipynb"
    edit_notebook(nb, "alice's uncommitted edit")
    alice_bytes = nb.read_bytes()
    bob_bytes = bob_edits(cli, tmp_path, shared_fixtures, "jupyter-docs/Notebook Basics.ipynb", "bob's edit")

    plan = session("alice").plan(checkout)
    assert [(c.path, c.action, c.reason) for c in plan.changes] == [
        ("jupyter-docs/Notebook Basics.ipynb", "conflict", "changed on storage and changed on disk")]
    _, result = session("alice").sync(checkout)
    assert result.downloaded == []
    [conflict] = result.conflicts
    assert conflict.path == "jupyter-docs/Notebook Basics.ipynb"
    assert conflict.kept_as == "jupyter-docs/Notebook Basics.from-storage.ipynb"
    assert nb.read_bytes() == alice_bytes  # the local version untouched
    assert (local / conflict.kept_as).read_bytes() == bob_bytes  # the storage version beside it

    # Reported once: the storage version is now the base, alice's file reads as her edit on top of it.
    _, again = session("alice").sync(checkout)  # (within bob's second the content is re-checked: no new copy)
    assert again.conflicts == [] and again.downloaded == []
    assert not (local / "jupyter-docs/Notebook Basics.from-storage-2.ipynb").exists()
    time.sleep(RACY_WAIT)
    # A sync as fast as `again` may still list within bob's second (its base stays "maybe changed"): one more
    # pull after that second re-checks the content and settles it, still without a copy or a download.
    _, settled = session("alice").sync(checkout)
    assert settled.conflicts == [] and settled.downloaded == []
    assert not (local / "jupyter-docs/Notebook Basics.from-storage-2.ipynb").exists()
    plan = session("alice").plan(checkout)
    assert plan.changes == []
    assert [(c.path, c.reason) for c in plan.elsewhere] == [("jupyter-docs/Notebook Basics.ipynb", "changed on disk")]


def test_push_uploads_only_local_changes_and_bob_sees_them(session, cli, tmp_path, pulled):
    checkout, local, _ = pulled
    edit_notebook(local / "demo.ipynb", "pushed by alice")
    (local / "jupyter-docs/Typesetting Equations.ipynb").unlink()
    plan = session("alice").plan(checkout, PUSH)
    assert {(c.path, c.action) for c in plan.changes} == {
        ("demo.ipynb", "upload"), ("jupyter-docs/Typesetting Equations.ipynb", "delete-remote")}
    _, result = session("alice").sync(checkout, PUSH)
    assert result.uploaded == ["demo.ipynb"]
    assert result.proposed_deletions == ["jupyter-docs/Typesetting Equations.ipynb"]
    cli("bob")("cp", f"{NOTEBOOKS_URI}/demo.ipynb", str(tmp_path / "bob-demo.ipynb"))
    assert (tmp_path / "bob-demo.ipynb").read_bytes() == (local / "demo.ipynb").read_bytes()
    listing = cli("bob")("ls", f"{NOTEBOOKS_URI}/jupyter-docs").stdout
    assert "Typesetting Equations.ipynb" in listing  # still there: deletions only on request
    assert not [p for p in listing.split() if p.endswith(".apolo-partial")]

    _, result = session("alice").sync(checkout, PUSH, delete=True)
    assert result.deleted == ["jupyter-docs/Typesetting Equations.ipynb"]
    assert "Typesetting" not in cli("bob")("ls", f"{NOTEBOOKS_URI}/jupyter-docs").stdout
    time.sleep(RACY_WAIT)
    # after a push, a pull has nothing to bring back (no mtime ping-pong)
    _, result = session("alice").sync(checkout)
    assert result.transferred == [] and result.conflicts == []


def test_commit_and_push_to_a_bare_remote(session, tmp_path, pulled):
    checkout, local, _ = pulled
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(checkout, "remote", "add", "origin", str(bare))
    repo = GitRepo(local)
    commit = repo.commit("Pull notebooks from storage", ["notebooks"])
    assert commit.summary == "Pull notebooks from storage"
    committed = git(checkout, "show", "--name-only", "--format=%an <%ae>|%s", "HEAD").split("\n")
    assert committed[0] == "Alice Example <alice@example.com>|Pull notebooks from storage"
    assert {f for f in committed[1:] if f} == set(commit.files) == {
        f"notebooks/{p}" for p in notebook_files(local) if p != "demo.ipynb"}
    assert repo.status(["notebooks"]) == []

    repo.push()
    assert git(bare, "rev-parse", "main").strip() == commit.sha


def test_interrupted_pull_resumes_to_the_right_state(session, platform, tmp_path, checkout, shared_fixtures):
    api = session("alice").api
    clear_notebooks(api)
    src = tmp_path / "many"
    src.mkdir()
    small = (shared_fixtures / "notebooks/jupyter-docs/Running Code.ipynb").read_bytes()  # 52 kB
    large = (shared_fixtures / "notebooks/handson-ml2/tools_matplotlib.ipynb").read_bytes()  # 3.6 MB
    count = 120
    for i in range(count):
        base = large if i % 40 == 7 else small
        (src / f"nb-{i:03d}.ipynb").write_bytes(base.replace(b'"cells"', f'"x_copy": {i}, "cells"'.encode(), 1))
    api.transfer.upload_tree(src, NOTEBOOKS_URI)
    time.sleep(RACY_WAIT)
    local = checkout / "notebooks"
    script = (
        "import sys; from jupyter_apolo.client import AsyncApolo, resolve_config\n"
        "from jupyter_apolo.notebooks import workflow; import asyncio\n"
        "async def main():\n"
        "    async with AsyncApolo(resolve_config(url=sys.argv[1], token=sys.argv[2])) as api:\n"
        "        await workflow.sync(api, sys.argv[3], settings=workflow.SyncSettings(concurrency=2))\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, platform.url, platform.token("alice"), str(checkout)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(list(local.glob("nb-*.ipynb"))) >= 20 or proc.poll() is not None, 120,
                 interval=0.005, what="the pull to be under way")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    landed = sorted(local.glob("nb-*.ipynb"))
    assert 20 <= len(landed) < count, f"the pull was not interrupted mid-way ({len(landed)} files)"
    for path in landed:  # renamed into place only when complete: never a half-written notebook
        assert path.read_bytes() == (src / path.name).read_bytes()

    _, result = session("alice").sync(checkout)
    assert result.conflicts == []
    assert len(result.downloaded) + len(result.verified) <= count - len(landed) + 2  # journaled files not refetched
    assert sorted(p.name for p in local.glob("nb-*.ipynb")) == sorted(p.name for p in src.iterdir())
    for path in src.iterdir():
        assert (local / path.name).read_bytes() == path.read_bytes()
    assert not list(local.rglob("*.apolo-partial"))
    assert session("alice").plan(checkout).changes == []
