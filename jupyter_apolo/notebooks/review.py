"""What a pull would bring or a push would send for one file, as a diff the Notebooks panel renders: notebooks
through nbdime (``base`` notebook + nbdime diff, what nbdime's diff widget takes, plus its readable text), other
files as a unified text diff. The storage version is read into memory through the sync's remote, the local one
through its confined folder (never through a symlink)."""

from __future__ import annotations

import difflib
import io
import json

import nbformat

from ..client.errors import InvalidInput
from .merge import NotANotebook, read_notebook
from .sync import PULL, NotebookSync

#: Largest file shown as a diff (bytes): a diff of anything bigger is not readable anyway.
DIFF_LIMIT = 64 * 1024 * 1024


async def storage_diff(syncer: NotebookSync, rel: str, direction: str) -> dict:
    """The diff of ``rel`` (relative to the synced folder) between storage and the local folder.

    ``direction``: ``pull`` -> from the local file to the storage version (what a pull brings); ``push`` -> from
    the storage version to the local file (what a push sends). A side that does not exist counts as empty.
    Returns ``{"kind": "notebook", "path", "base", "diff", "text"}`` or ``{"kind": "text", "path", "text"}``.
    Raises ``InvalidInput`` when a side is not a valid notebook or is over ``DIFF_LIMIT`` bytes.
    """
    status = await syncer.remote.status(rel)
    remote: bytes | None = None
    if status is not None:
        if status.size > DIFF_LIMIT:
            raise InvalidInput(f"{rel} is {status.size} bytes on storage: too big to show as a diff")
        buffer = io.BytesIO()
        await syncer.remote.download(rel, buffer, status.size)
        remote = buffer.getvalue()
    local: bytes | None = None
    try:
        with syncer.tree.open_read(rel) as f:
            local = f.read(DIFF_LIMIT + 1)
    except FileNotFoundError:
        pass
    if local is not None and len(local) > DIFF_LIMIT:
        raise InvalidInput(f"{rel} is over {DIFF_LIMIT} bytes here: too big to show as a diff")
    before, after = (local, remote) if direction == PULL else (remote, local)
    names = ("local", "storage") if direction == PULL else ("storage", "local")
    return diff_bytes(rel, before, after, names)


def diff_bytes(rel: str, before: bytes | None, after: bytes | None, names: tuple[str, str] = ("a", "b")) -> dict:
    """Diff two versions of ``rel`` (None: absent). Notebooks (``.ipynb``) through nbdime, else unified text."""
    if not rel.endswith(".ipynb"):
        a = (before or b"").decode("utf-8", "replace").splitlines(keepends=True)
        b = (after or b"").decode("utf-8", "replace").splitlines(keepends=True)
        text = "".join(difflib.unified_diff(a, b, f"{names[0]}/{rel}", f"{names[1]}/{rel}"))
        return {"kind": "text", "path": rel, "text": text}
    from nbdime import diff_notebooks
    from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

    try:
        base = read_notebook(before, names[0]) if before else nbformat.v4.new_notebook()
        current = read_notebook(after, names[1]) if after else nbformat.v4.new_notebook()
    except NotANotebook as exc:
        raise InvalidInput(f"{rel}: {exc}") from None
    diff = diff_notebooks(base, current)
    parts: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            parts.append(text)

    pretty_print_diff(base, diff, rel, PrettyPrintConfig(out=Sink()))
    # The base as nbdime's diff saw it (sources as one string each: the diff's offsets count characters in them);
    # nbformat.writes would split sources into lines, which nbdime's diff widget then rejects.
    return {"kind": "notebook", "path": rel, "base": json.loads(json.dumps(base)),
            "diff": json.loads(json.dumps(diff, default=dict)), "text": "".join(parts)}
