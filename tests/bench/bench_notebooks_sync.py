"""Benchmark: pulling a notebooks volume with ``%apolo notebooks pull`` vs what ``apolo-flow download`` runs
(``apolo cp -r -u -T``), same embedded platform, same run.

    .venv/bin/python tests/bench/bench_notebooks_sync.py        # BENCH_NOTEBOOKS=1000 BENCH_CHANGED=10

Scenarios: first pull of N notebooks into an empty folder; a no-op re-pull (target < 1 s, 0 files transferred);
a pull after changing BENCH_CHANGED of them on storage (target: exactly that many transferred). "files written" is
measured on disk (local files whose mtime changed), so it counts the CLI and us the same way.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from jupyter_apolo.client import Apolo, resolve_config  # noqa: E402
from jupyter_apolo.client.sync import run  # noqa: E402
from jupyter_apolo.notebooks import workflow  # noqa: E402
from tests.notebooks.conftest import NOTEBOOKS_URI, make_checkout  # noqa: E402
from tests.support.platform import FIXTURES, ApoloCLI, LocalPlatform  # noqa: E402

N = int(os.environ.get("BENCH_NOTEBOOKS", "1000"))
CHANGED = int(os.environ.get("BENCH_CHANGED", "10"))


def mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*.ipynb")}


def written(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(1 for k, v in after.items() if before.get(k) != v)


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-notebooks-"))
    platform = LocalPlatform(work / "root")
    (work / "root").mkdir()
    platform.start()
    try:
        platform.add_project_user("awesome-team", "alice", "admin")
        api = Apolo(resolve_config(url=platform.url, token=platform.token("alice"), project="alice"))
        cli = ApoloCLI(platform, "alice", work / "home")

        sources = sorted((FIXTURES / "notebooks/jupyter-docs").glob("*.ipynb"))
        src = work / "seed"
        for i in range(N):
            base = sources[i % len(sources)].read_bytes()
            dest = src / f"group-{i // 100:02d}" / f"nb-{i:04d}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(base.replace(b'"cells"', f'"bench_copy": {i}, "cells"'.encode(), 1))
        total_bytes = sum(p.stat().st_size for p in src.rglob("*.ipynb"))
        api.storage.mkdir("storage:/awesome-team/awesome_project", parents=True, exist_ok=True)
        api.transfer.upload_tree(src, NOTEBOOKS_URI)
        time.sleep(1.1)  # storage mtimes strictly before the first listing (1 s resolution)

        ours = make_checkout(work / "ours", FIXTURES / "flow-project")
        (ours / "notebooks/demo.ipynb").unlink()
        ours_nb = ours / "notebooks"
        theirs = work / "cli-notebooks"

        def pull():  # type: ignore[no-untyped-def]
            return run(workflow.sync(api.aio, ours, settings=workflow.SyncSettings()))[1]

        def cli_pull() -> None:
            cli("cp", "--recursive", "--update", "--no-target-directory", NOTEBOOKS_URI, str(theirs), timeout=3600)

        rows = []
        t_ours, result = timed(pull)
        t_cli, _ = timed(cli_pull)
        assert len(mtimes(ours_nb)) == len(mtimes(theirs)) == N, (len(mtimes(ours_nb)), len(mtimes(theirs)))
        rows.append(("first pull", t_ours, len(result.transferred), t_cli, N))

        before_ours, before_cli = mtimes(ours_nb), mtimes(theirs)
        t_ours, result = timed(pull)
        t_cli, _ = timed(cli_pull)
        rows.append(("no-op re-pull", t_ours, written(before_ours, mtimes(ours_nb)), t_cli,
                     written(before_cli, mtimes(theirs))))
        noop_transferred = len(result.transferred)

        edit = work / "edit"
        edit.mkdir()
        for i in range(CHANGED):
            idx = i * (N // max(CHANGED, 1))
            rel = f"group-{idx // 100:02d}/nb-{idx:04d}.ipynb"
            changed = edit / f"{i}.ipynb"
            changed.write_bytes((src / rel).read_bytes().replace(b'"cells"', b'"edited": true, "cells"', 1))
            api.transfer.upload_file(changed, f"{NOTEBOOKS_URI}/{rel}")
        before_ours, before_cli = mtimes(ours_nb), mtimes(theirs)
        t_ours, result = timed(pull)
        t_cli, _ = timed(cli_pull)
        rows.append((f"after {CHANGED} changed", t_ours, written(before_ours, mtimes(ours_nb)), t_cli,
                     written(before_cli, mtimes(theirs))))
        changed_transferred = len(result.transferred)
        api.close()
    finally:
        platform.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{N} notebooks, {total_bytes / 1e6:.1f} MB, embedded platform at {platform.url} (load avg "
          f"{os.getloadavg()[0]:.1f})")
    print(f"{'scenario':<20} {'ours s':>8} {'files':>6} {'apolo cp -r -u -T s':>20} {'files':>6} {'time ratio':>11}")
    for name, t1, f1, t2, f2 in rows:
        print(f"{name:<20} {t1:>8.2f} {f1:>6} {t2:>20.2f} {f2:>6} {t1 / t2:>10.2f}x")
    print(f"targets: no-op re-pull < 1 s with 0 transferred -> {rows[1][1]:.2f} s, {noop_transferred} transferred; "
          f"after {CHANGED} changed -> {changed_transferred} transferred")


if __name__ == "__main__":
    main()
