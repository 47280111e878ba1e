"""Notebooks changed on both sides merge cell by cell on pull (issue 14), with real notebooks from
../shared/fixtures/notebooks on the embedded platform and bob editing the same storage folder through his own
apolo CLI: different cells -> one merged notebook and no conflict copy; the same cell -> a reported conflict,
both versions kept plus a conflict-marked merge nbdime reads; an outputs-only change merges."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from jupyter_apolo.magics.notebooks import SyncReport
from jupyter_apolo.notebooks.sync import PUSH
from tests.notebooks.conftest import NOTEBOOKS_URI
from tests.notebooks.test_sync_platform import RACY_WAIT, pulled  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(300)
NAME = "jupyter-docs/Running Code.ipynb"  # 28 cells, nbformat 4.x


def edit_cell(path: Path, index: int, text: str | None = None, output: str | None = None) -> None:
    """Append ``text`` to cell ``index`` (0-based) and/or give it one stream ``output``; keeps the file's format."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    cell = nb.cells[index]
    if text is not None:
        cell.source = ("".join(cell.source) if isinstance(cell.source, list) else cell.source) + f"\n{text}"
    if output is not None:
        cell.outputs = [nbformat.v4.new_output("stream", text=output)]
    nbformat.write(nb, path, version=nbformat.NO_CONVERT)


def bob_edits_cell(cli, tmp_path: Path, index: int, **edit) -> bytes:
    """bob downloads ``NAME`` with his apolo CLI, edits cell ``index``, uploads it back; returns his bytes."""
    local = tmp_path / f"bob-{time.monotonic_ns()}.ipynb"
    cli("bob")("cp", f"{NOTEBOOKS_URI}/{NAME}", str(local))
    edit_cell(local, index, **edit)
    cli("bob")("cp", str(local), f"{NOTEBOOKS_URI}/{NAME}")
    time.sleep(RACY_WAIT)  # alice lists after bob's second (storage mtimes have 1 s resolution)
    return local.read_bytes()


def sources(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells]


def copies(local: Path) -> list[str]:
    return sorted(p.name for p in local.rglob("*") if ".from-storage" in p.name or ".merge-conflicts" in p.name)


def test_edits_to_different_cells_merge_into_one_notebook(session, cli, tmp_path, pulled):  # noqa: F811
    checkout, local, _ = pulled
    nb = local / NAME
    bob_edits_cell(cli, tmp_path, 2, text="# bob changed cell 3")
    edit_cell(nb, 6, text="# alice changed cell 7")

    plan = session("alice").plan(checkout)
    assert [(c.path, c.action) for c in plan.changes] == [(NAME, "conflict")]
    plan, result = session("alice").sync(checkout)
    assert result.merged == [NAME] and result.conflicts == []
    assert copies(local) == []  # no conflict copy
    assert f"  merged        {NAME}" in repr(SyncReport(plan, result, "notebooks pull"))  # %apolo notebooks pull
    merged = sources(nb)
    assert merged[2].endswith("# bob changed cell 3") and merged[6].endswith("# alice changed cell 7")
    nbformat.validate(nbformat.read(nb, as_version=4))

    # the merge is alice's local edit on top of bob's version: a push sends it, bob gets both edits
    time.sleep(RACY_WAIT)
    assert [(c.path, c.action) for c in session("alice").plan(checkout, PUSH).changes] == [(NAME, "upload")]
    session("alice").sync(checkout, PUSH)
    cli("bob")("cp", f"{NOTEBOOKS_URI}/{NAME}", str(tmp_path / "bob-after.ipynb"))
    assert sources(tmp_path / "bob-after.ipynb") == merged


def test_same_cell_edited_on_both_sides_is_a_conflict_keeping_both(session, cli, tmp_path, pulled):  # noqa: F811
    checkout, local, _ = pulled
    nb = local / NAME
    bob_bytes = bob_edits_cell(cli, tmp_path, 2, text="# bob's version of cell 3")
    edit_cell(nb, 2, text="# alice's version of cell 3")
    alice_bytes = nb.read_bytes()

    plan, result = session("alice").sync(checkout)
    assert result.merged == []
    [conflict] = result.conflicts
    shown = repr(SyncReport(plan, result, "notebooks pull"))
    assert f"CONFLICT      {NAME}" in shown and "merge with conflict markers in" in shown
    assert conflict.path == NAME and "cell 3" in conflict.reason
    assert nb.read_bytes() == alice_bytes  # alice's version untouched
    assert (local / conflict.kept_as).read_bytes() == bob_bytes  # bob's beside it
    assert conflict.merge_as == "jupyter-docs/Running Code.merge-conflicts.ipynb"
    marked = nbformat.read(local / conflict.merge_as, as_version=4)
    nbformat.validate(marked)
    assert "<<<<<<< local" in marked.cells[2].source and ">>>>>>> remote" in marked.cells[2].source
    assert "# alice's version" in marked.cells[2].source and "# bob's version" in marked.cells[2].source

    from nbdime import diff_notebooks  # nbdime opens it as any notebook

    assert diff_notebooks(nbformat.read(nb, as_version=4), marked)
    # neither copy is ever synced
    time.sleep(RACY_WAIT)
    assert {c.path for c in session("alice").plan(checkout, PUSH).changes} == {NAME}


def test_outputs_only_change_on_storage_merges(session, cli, tmp_path, pulled):  # noqa: F811
    checkout, local, _ = pulled
    nb = local / NAME
    code = [i for i, c in enumerate(nbformat.read(nb, as_version=4).cells) if c.cell_type == "code"]
    bob_edits_cell(cli, tmp_path, code[1], output="re-run by bob on the job\n")
    edit_cell(nb, code[3], text="# alice")

    _, result = session("alice").sync(checkout)
    assert result.merged == [NAME] and result.conflicts == [] and copies(local) == []
    cells = nbformat.read(nb, as_version=4).cells
    assert cells[code[1]].outputs[0].text == "re-run by bob on the job\n"
    assert cells[code[3]].source.endswith("# alice")
