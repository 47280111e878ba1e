"""Benchmark: pulling a notebooks volume with ``%apolo notebooks pull`` vs what ``apolo-flow download`` runs
(``apolo cp -r -u -T``), same embedded platform, same run.

    .venv/bin/python tests/bench/bench_notebooks_sync.py        # BENCH_NOTEBOOKS=1000 BENCH_CHANGED=10

Scenarios: first pull of N notebooks into an empty folder; a no-op re-pull (target < 1 s, 0 files transferred);
a pull after changing BENCH_CHANGED of them on storage (target: exactly that many transferred). "files written" is
measured on disk (local files whose mtime changed), so it counts the CLI and us the same way.

The first pull is run BENCH_REPEAT times (default 3) into fresh folders, alternating which client goes first (the
second one finds the server warmed), and the median of each is compared: on a shared, loaded machine one sample
swings by +-30 %. Client CPU seconds (ours: this process; the CLI: its process, startup included) are printed too:
they vary far less with load than wall time.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from jupyter_apolo.client import Apolo, resolve_config  # noqa: E402
from jupyter_apolo.notebooks import workflow  # noqa: E402
from tests.notebooks.conftest import NOTEBOOKS_URI, make_checkout  # noqa: E402
from tests.support.platform import FIXTURES, ApoloCLI, LocalPlatform  # noqa: E402

N = int(os.environ.get("BENCH_NOTEBOOKS", "1000"))
CHANGED = int(os.environ.get("BENCH_CHANGED", "10"))
REPEAT = max(1, int(os.environ.get("BENCH_REPEAT", "3")))


def mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*.ipynb")}


def written(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(1 for k, v in after.items() if before.get(k) != v)


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished (waited-for) children: the CLI runs
    return usage.ru_utime + usage.ru_stime


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

        def pull():  # type: ignore[no-untyped-def]
            return api.call(lambda aio: workflow.sync(aio, ours, settings=workflow.SyncSettings()))[1]

        def cli_pull() -> None:
            cli("cp", "--recursive", "--update", "--no-target-directory", NOTEBOOKS_URI, str(theirs), timeout=3600)

        def first_pull_ours() -> tuple[float, float, int]:
            cpu = time.process_time()
            t, result = timed(pull)
            return t, time.process_time() - cpu, len(result.transferred)

        def first_pull_cli() -> tuple[float, float]:
            cpu = children_cpu()
            t, _ = timed(cli_pull)
            return t, children_cpu() - cpu

        samples_ours, samples_cli = [], []
        for rep in range(REPEAT):  # fresh folders each time; the last pair stays for the later scenarios
            ours = make_checkout(work / f"ours-{rep}", FIXTURES / "flow-project")
            (ours / "notebooks/demo.ipynb").unlink()
            ours_nb = ours / "notebooks"
            theirs = work / f"cli-notebooks-{rep}"
            if rep % 2 == 0:
                samples_ours.append(first_pull_ours())
                samples_cli.append(first_pull_cli())
            else:
                samples_cli.append(first_pull_cli())
                samples_ours.append(first_pull_ours())
            assert len(mtimes(ours_nb)) == len(mtimes(theirs)) == N, (len(mtimes(ours_nb)), len(mtimes(theirs)))
            assert samples_ours[-1][2] == N, samples_ours[-1]

        def median(samples: list, i: int) -> float:
            return statistics.median(s[i] for s in samples)

        rows = [("first pull", median(samples_ours, 0), N, median(samples_cli, 0), N)]
        cpu_row = (median(samples_ours, 1), median(samples_cli, 1))

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
    print(f"first pull, median of {REPEAT} alternating runs; client CPU s: ours {cpu_row[0]:.2f}, "
          f"apolo cp {cpu_row[1]:.2f} ({cpu_row[0] / cpu_row[1]:.2f}x); wall s ours "
          f"{[round(s[0], 2) for s in samples_ours]}, apolo cp {[round(s[0], 2) for s in samples_cli]}")
    print(f"targets: no-op re-pull < 1 s with 0 transferred -> {rows[1][1]:.2f} s, {noop_transferred} transferred; "
          f"after {CHANGED} changed -> {changed_transferred} transferred")


if __name__ == "__main__":
    main()
