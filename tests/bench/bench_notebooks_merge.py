"""Benchmark: notebooks changed on both sides, merged cell by cell (nbdime, base from the manifest's store) vs the
two-whole-copies conflict path (``NotebookSync.merge = False``), same embedded platform, same run.

    .venv/bin/python tests/bench/bench_notebooks_merge.py        # BENCH_NOTEBOOKS=1000 BENCH_CHANGED=10

Two checkouts pull the same N notebooks (the first with the merge on, so it keeps each notebook's bytes as the next
merge base; the second with it off: the cost of keeping bases). Then BENCH_CHANGED notebooks are changed on storage
in cell 3 (as a teammate would) and in cell 7 in both checkouts; each checkout plans and pulls. Targets: the merge
path ends with BENCH_CHANGED merged notebooks and no copy, in a time of the same order as the copies path; a no-op
re-plan of N notebooks under 1 s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from jupyter_apolo.client import Apolo, resolve_config  # noqa: E402
from jupyter_apolo.notebooks import workflow  # noqa: E402
from tests.notebooks.conftest import NOTEBOOKS_URI, make_checkout  # noqa: E402
from tests.support.platform import FIXTURES, LocalPlatform  # noqa: E402

N = int(os.environ.get("BENCH_NOTEBOOKS", "1000"))
CHANGED = int(os.environ.get("BENCH_CHANGED", "10"))


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def edit_cell(data: bytes, index: int, text: str) -> bytes:
    nb = nbformat.reads(data.decode(), as_version=nbformat.NO_CONVERT)
    cell = nb.cells[index]
    cell.source = ("".join(cell.source) if isinstance(cell.source, list) else cell.source) + f"\n{text}"
    return nbformat.writes(nb, version=nbformat.NO_CONVERT).encode()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-merge-"))
    platform = LocalPlatform(work / "root")
    (work / "root").mkdir()
    platform.start()
    try:
        platform.add_project_user("awesome-team", "alice", "admin")
        api = Apolo(resolve_config(url=platform.url, token=platform.token("alice"), project="alice"))
        # notebooks with at least 8 cells, so cells 3 and 7 exist
        sources = [p for p in sorted((FIXTURES / "notebooks/jupyter-docs").glob("*.ipynb"))
                   if len(nbformat.read(p, as_version=4).cells) >= 8]
        src = work / "seed"
        names = []
        for i in range(N):
            base = sources[i % len(sources)].read_bytes()
            rel = f"group-{i // 100:02d}/nb-{i:04d}.ipynb"
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(base.replace(b'"cells"', f'"bench_copy": {i}, "cells"'.encode(), 1))
            names.append(rel)
        total_bytes = sum(p.stat().st_size for p in src.rglob("*.ipynb"))
        api.storage.mkdir("storage:/awesome-team/awesome_project", parents=True, exist_ok=True)
        api.transfer.upload_tree(src, NOTEBOOKS_URI)
        time.sleep(1.1)

        def run(checkout: Path, merge: bool, dry_run: bool = False):  # type: ignore[no-untyped-def]
            async def go(aio):  # type: ignore[no-untyped-def]
                _, syncer = workflow.open_sync(aio, checkout)
                syncer.merge = merge
                plan = await syncer.plan()
                return plan, None if dry_run else await syncer.apply(plan)
            return api.call(go)

        checkouts = {}
        first = {}
        for merge in (True, False):
            checkout = make_checkout(work / f"merge-{merge}", FIXTURES / "flow-project")
            (checkout / "notebooks/demo.ipynb").unlink()
            first[merge], (_, result) = timed(lambda c=checkout, m=merge: run(c, m))
            assert len(result.downloaded) == N, len(result.downloaded)
            checkouts[merge] = checkout
        store = checkouts[True] / ".neuro/sync/notebooks.store"
        kept = sum(p.stat().st_size for p in store.iterdir()) if store.is_dir() else 0

        changed = [names[i * (N // max(CHANGED, 1))] for i in range(CHANGED)]
        for rel in changed:  # the teammate's edit on storage: cell 3
            upload = work / "upload.ipynb"
            upload.write_bytes(edit_cell((src / rel).read_bytes(), 2, "# teammate's cell 3"))
            api.transfer.upload_file(upload, f"{NOTEBOOKS_URI}/{rel}")
        for checkout in checkouts.values():  # alice's edit here: cell 7
            for rel in changed:
                path = checkout / "notebooks" / rel
                path.write_bytes(edit_cell(path.read_bytes(), 6, "# alice's cell 7"))
        time.sleep(1.1)

        rows = []
        for merge in (True, False):
            t, (plan, result) = timed(lambda m=merge: run(checkouts[m], m))
            assert len(plan.conflicts) == CHANGED, [c.path for c in plan.changes]
            copies = sorted(p.name for p in (checkouts[merge] / "notebooks").rglob("*")
                            if ".from-storage" in p.name or ".merge-conflicts" in p.name)
            rows.append((merge, t, len(result.merged), len(result.conflicts), len(copies)))
        merged_row, copies_row = rows
        assert merged_row[2:] == (CHANGED, 0, 0), merged_row
        assert copies_row[2:] == (0, CHANGED, CHANGED), copies_row

        time.sleep(1.1)  # out of the racy second of the last listing
        noop = []
        for _ in range(3):
            t, (plan, _) = timed(lambda: run(checkouts[True], True, dry_run=True))
            noop.append(t)
        assert len(plan.changes) == 0 and plan.unchanged == N - CHANGED, (len(plan.changes), plan.unchanged)
        api.close()
    finally:
        platform.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{N} notebooks, {total_bytes / 1e6:.1f} MB, {CHANGED} changed on both sides in different cells "
          f"(load avg {os.getloadavg()[0]:.1f})")
    print(f"{'scenario':<44} {'s':>7} {'ratio':>7}")
    print(f"{'first pull, merge bases kept':<44} {first[True]:>7.2f} {first[True] / first[False]:>6.2f}x")
    print(f"{'first pull, merge off (reference)':<44} {first[False]:>7.2f} {1:>6.2f}x")
    print(f"{'plan + pull, merged cell by cell':<44} {merged_row[1]:>7.2f} {merged_row[1] / copies_row[1]:>6.2f}x"
          f"   merged {merged_row[2]}, conflicts {merged_row[3]}, copies {merged_row[4]}")
    print(f"{'plan + pull, two copies (reference)':<44} {copies_row[1]:>7.2f} {1:>6.2f}x"
          f"   merged {copies_row[2]}, conflicts {copies_row[3]}, copies {copies_row[4]}")
    print(f"merge bases kept: {kept / 1e6:.1f} MB in the store ({kept / total_bytes:.2f}x the notebooks)")
    print(f"target: no-op re-plan of {N} < 1 s -> median {statistics.median(noop):.2f} s "
          f"({', '.join(f'{t:.2f}' for t in noop)})")


if __name__ == "__main__":
    main()
