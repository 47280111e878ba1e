"""Cell-level 3-way merge (notebooks/merge.py) on real notebooks from ../shared/fixtures/notebooks, and a
property: for random cell edits, inserts, deletions and output changes on both sides, the merge never loses a
cell either side added or changed unless it reports a conflict."""

from __future__ import annotations

import copy
import json

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_apolo.notebooks.merge import NotANotebook, merge_notebook_bytes, merge_notebooks


def real(shared_fixtures, name: str = "jupyter-docs/Running Code.ipynb") -> nbformat.NotebookNode:
    return nbformat.read(shared_fixtures / "notebooks" / name, as_version=4)


def code_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def test_edits_to_different_cells_merge_into_one_notebook(shared_fixtures):
    base = real(shared_fixtures)
    local, remote = copy.deepcopy(base), copy.deepcopy(base)
    local.cells[6].source += "\n# alice's change to cell 7"
    remote.cells[2].source += "\n# bob's change to cell 3"
    merged, conflicts = merge_notebooks(base, local, remote)
    assert conflicts == []
    assert merged.cells[6].source == local.cells[6].source
    assert merged.cells[2].source == remote.cells[2].source
    assert len(merged.cells) == len(base.cells)
    nbformat.validate(merged)


def test_same_cell_edited_on_both_sides_is_a_conflict_with_markers(shared_fixtures, tmp_path):
    base = real(shared_fixtures)
    local, remote = copy.deepcopy(base), copy.deepcopy(base)
    local.cells[2].source += "\n# alice"
    remote.cells[2].source += "\n# bob"
    outcome = merge_notebook_bytes(*(nbformat.writes(nb).encode() for nb in (base, local, remote)))
    assert outcome.conflicts == ["cell 3: source"] and not outcome.clean
    merged = nbformat.reads(outcome.merged.decode(), as_version=4)
    nbformat.validate(merged)
    source = merged.cells[2].source
    assert "<<<<<<< local" in source and "# alice" in source and "# bob" in source and ">>>>>>> remote" in source
    # nbdime itself reads the file and shows both sides against the base
    path = tmp_path / "merged.ipynb"
    path.write_bytes(outcome.merged)
    from nbdime import diff_notebooks
    from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

    shown = Collect()
    pretty_print_diff(base, diff_notebooks(base, nbformat.read(path, as_version=4)), "merged.ipynb",
                      PrettyPrintConfig(out=shown))
    assert "# alice" in shown.text and "# bob" in shown.text


class Collect:
    text = ""

    def write(self, part: str) -> None:
        self.text += part


def test_outputs_only_change_on_one_side_merges(shared_fixtures):
    base = real(shared_fixtures)
    local, remote = copy.deepcopy(base), copy.deepcopy(base)
    i = code_cells(base)[1]
    remote.cells[i].outputs = [nbformat.v4.new_output("stream", text="re-run on the job\n")]
    remote.cells[i].execution_count = 42
    local.cells[code_cells(base)[3]].source += "\n# alice"
    merged, conflicts = merge_notebooks(base, local, remote)
    assert conflicts == []
    assert merged.cells[i].outputs == remote.cells[i].outputs
    assert "# alice" in merged.cells[code_cells(base)[3]].source


def test_big_real_notebook_with_image_outputs(shared_fixtures):
    base = real(shared_fixtures, "handson-ml2/tools_matplotlib.ipynb")
    local, remote = copy.deepcopy(base), copy.deepcopy(base)
    codes = code_cells(base)
    local.cells[codes[0]].source += "\n# alice"
    remote.cells[codes[-1]].outputs = []  # bob cleared the last cell's plot
    merged, conflicts = merge_notebooks(base, local, remote)
    assert conflicts == []
    assert merged.cells[codes[-1]].outputs == [] and "# alice" in merged.cells[codes[0]].source


def test_edit_against_deletion_is_a_conflict(shared_fixtures):
    base = real(shared_fixtures)
    local, remote = copy.deepcopy(base), copy.deepcopy(base)
    del local.cells[2]
    remote.cells[2].source += "\n# bob"
    _, conflicts = merge_notebooks(base, local, remote)
    assert conflicts == ["cell 3: edited on one side, deleted on the other"]


def test_not_a_notebook_names_the_side(shared_fixtures):
    good = nbformat.writes(real(shared_fixtures)).encode()
    with pytest.raises(NotANotebook, match="the storage version is not a valid notebook"):
        merge_notebook_bytes(good, good, b'{"cells": "nope"}')
    with pytest.raises(NotANotebook, match="the local version"):
        merge_notebook_bytes(good, b"\xff\xfe", good)


# -- property ---------------------------------------------------------------------------------------

OP = st.one_of(
    st.tuples(st.just("edit"), st.integers(0, 30)),
    st.tuples(st.just("insert"), st.integers(0, 30)),
    st.tuples(st.just("delete"), st.integers(0, 30)),
    st.tuples(st.just("output"), st.integers(0, 30)),
)


def apply_ops(base, ops, side: str):
    """Apply ``ops`` to a copy of ``base``; returns (notebook, {unique text a kept cell must show}, deleted base
    cell ids). Every added or changed cell carries a text no other cell has."""
    nb = copy.deepcopy(base)
    wanted, deleted = {}, set()
    for n, (op, at) in enumerate(ops):
        if op == "insert":
            cell = nbformat.v4.new_code_cell(f"# {side} new {n}\nx = {n}")
            nb.cells.insert(at % (len(nb.cells) + 1), cell)
            wanted[cell.id] = cell.source
            continue
        if not nb.cells:
            continue
        cell = nb.cells[at % len(nb.cells)]
        if op == "edit":
            cell.source += f"\n# {side} edit {n}"
            wanted[cell.id] = cell.source
        elif op == "output":
            text = f"{side} output {n}\n"
            cell.outputs = [nbformat.v4.new_output("stream", text=text)]
            wanted[cell.id + ":out"] = text
        else:
            nb.cells.remove(cell)
            deleted.add(cell.id)
            wanted.pop(cell.id, None)
            wanted.pop(cell.id + ":out", None)
    return nb, wanted, deleted


@settings(max_examples=150, deadline=None)
@given(n_cells=st.integers(1, 8), local_ops=st.lists(OP, max_size=5), remote_ops=st.lists(OP, max_size=5))
def test_property_no_cell_lost_without_a_conflict(n_cells, local_ops, remote_ops):
    base = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# base cell {i}\ny = {i}")
                                           for i in range(n_cells)])
    local, local_wanted, local_deleted = apply_ops(base, local_ops, "local")
    remote, remote_wanted, remote_deleted = apply_ops(base, remote_ops, "remote")
    merged, conflicts = merge_notebooks(base, local, remote)
    nbformat.validate(merged)
    assert json.loads(nbformat.writes(merged))  # serialisable as written to disk
    if conflicts:
        return
    sources = [c.source for c in merged.cells]
    outputs = {o.get("text") for c in merged.cells for o in c.get("outputs", [])}
    for key, text in {**local_wanted, **remote_wanted}.items():
        if key.endswith(":out"):
            assert text in outputs, (text, conflicts)
        else:
            assert any(text in s for s in sources), (text, sources)
    # a base cell neither side touched nor deleted is still there
    touched = set(local_wanted) | set(remote_wanted) | local_deleted | remote_deleted
    for cell in base.cells:
        if cell.id not in touched:
            assert cell.source in sources
