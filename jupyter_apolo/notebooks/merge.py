"""Cell-level 3-way merge of notebooks with nbdime (``nbdime.merging.merge_notebooks``).

Sync calls this for a notebook changed on both sides, with the last-synced version (kept in the manifest's
store) as the base: edits to different cells, an outputs-only change on one side and metadata changes merge into
one notebook; only true conflicts (the same cell's source, outputs or metadata changed differently on both sides,
or a cell edited on one side and deleted on the other) remain. For those, nbdime's ``inline`` strategy (what
``nbmerge`` / ``git merge`` with nbdime's driver writes) gives a notebook with the conflicting parts marked
(``<<<<<<< local`` / ``=======`` / ``>>>>>>> remote`` in sources, marker cells or outputs, ``nbdime-conflicts`` in
metadata), so it opens in JupyterLab and nbdime's tools like any notebook.

Transient fields never conflict (nbdime's defaults): differing execution counts are cleared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import nbformat

#: Labels written into conflict markers: which side is which, in the user's words.
LOCAL_LABEL, REMOTE_LABEL = "local", "storage"


class NotANotebook(ValueError):
    """``which`` (``base``, ``local`` or ``storage``) is not a notebook nbdime can merge; ``str()`` says why."""

    def __init__(self, which: str, problem: str):
        self.which = which
        super().__init__(f"the {which} version is not a valid notebook ({problem}): it is kept as a whole file")


@dataclass
class MergeOutcome:
    """The result of :func:`merge_notebook_bytes`.

    ``merged``: the merged notebook (nbformat v4 JSON, UTF-8 bytes, newline-terminated); when ``conflicts`` is
    not empty it carries nbdime's inline conflict markers. ``conflicts``: one readable line per conflict,
    e.g. ``"cell 3: source"`` (cells numbered from 1 as in the base notebook), empty for a clean merge.
    """

    merged: bytes
    conflicts: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.conflicts


def read_notebook(data: bytes, which: str) -> nbformat.NotebookNode:
    """``data`` as an nbformat v4 notebook. Raises :class:`NotANotebook` naming ``which`` side when it is not
    JSON shaped like a notebook (merging would silently drop what it cannot read)."""
    try:
        raw = json.loads(data.decode("utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
            raise ValueError('no "cells" list')
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise NotANotebook(which, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__) from None
    return nb


def merge_notebooks(base: nbformat.NotebookNode, local: nbformat.NotebookNode,
                    remote: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """3-way merge of parsed notebooks: ``(merged, conflicts)`` as in :class:`MergeOutcome` (merged unserialised).
    The inputs are not modified."""
    from nbdime.merging import merge_notebooks as nbdime_merge

    merged, decisions = nbdime_merge(base, local, remote)
    conflicts = [_describe(d.common_path, d.get("local_diff"), d.get("remote_diff"))
                 for d in decisions if d.conflict]
    # nbdime records metadata conflicts for external inspection (strategy "record-conflict") without marking
    # the decision as a conflict in every version: treat a recorded one as a conflict too.
    recorded = "nbdime-conflicts" in merged.get("metadata", {})
    if recorded and not any(c.startswith("notebook metadata") for c in conflicts):
        conflicts.append("notebook metadata")
    for i, cell in enumerate(merged.get("cells", []), 1):
        if "nbdime-conflicts" in cell.get("metadata", {}) and f"cell {i}: metadata" not in conflicts:
            conflicts.append(f"cell {i}: metadata")
    merged = nbformat.from_dict(merged)
    _restore_cell_ids(merged)
    return merged, sorted(set(conflicts), key=_conflict_order)


def merge_notebook_bytes(base: bytes, local: bytes, remote: bytes) -> MergeOutcome:
    """3-way merge of three notebook files' bytes (``base``: the last-synced version; ``local``: the checkout's;
    ``remote``: storage's). Raises :class:`NotANotebook` when one of them cannot be read as a notebook."""
    nbs = [read_notebook(data, which) for data, which in ((base, "base"), (local, "local"), (remote, REMOTE_LABEL))]
    merged, conflicts = merge_notebooks(*nbs)
    return MergeOutcome((nbformat.writes(merged) + "\n").encode("utf-8"), conflicts)


def _describe(path: tuple, local_diff: object, remote_diff: object) -> str:
    """A conflicted decision in words, e.g. ``cell 3: source`` (cells numbered from 1 as in the base).
    ``path``: the decision's document path (``('cells', 2)`` or deeper); the diffs say which fields clash."""
    parts = list(path or ())
    if not parts:
        return "notebook"
    if parts[0] == "metadata":
        return "notebook metadata"
    if parts[0] != "cells":
        return "/".join(str(p) for p in parts)
    if len(parts) == 1:
        return "cells: different cells inserted at the same place"
    diffs: list[dict] = [op for d in (local_diff, remote_diff) for op in (d or []) if isinstance(op, dict)]  # type: ignore[attr-defined]
    if "CELL DELETED" in json.dumps(diffs, default=str):  # nbdime's marker for an edit against a deletion
        what = "edited on one side, deleted on the other"
    elif len(parts) > 2:
        what = str(parts[2])
    else:
        keys = {op["key"] for op in diffs if op.get("op") == "patch" and isinstance(op.get("key"), str)}
        what = ", ".join(sorted(keys))
    return f"cell {int(parts[1]) + 1}: {what or 'edited on both sides'}"


def _conflict_order(text: str) -> tuple:
    if text.startswith("cell ") and text[5:].split(":")[0].isdigit():
        return (1, int(text[5:].split(":")[0]), text)
    return (0, 0, text)


def _restore_cell_ids(nb: nbformat.NotebookNode) -> None:
    """nbdime's merge may leave cells without ids (or with duplicates) in a 4.5+ notebook: give those a fresh id
    so the file validates; 4.4 and older never had ids."""
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        for cell in nb.get("cells", []):
            cell.pop("id", None)
        return
    seen: set[str] = set()
    for cell in nb.get("cells", []):
        cid = cell.get("id")
        if not isinstance(cid, str) or not cid or cid in seen:
            cell["id"] = nbformat.v4.new_code_cell().id
        seen.add(cell["id"])
