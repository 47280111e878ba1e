"""Benchmark: ``%apolo ps -a`` over many jobs vs the official ``apolo ps -a`` on the same platform.

Run: ``.venv/bin/python tests/bench/bench_magics_ps.py``. Sizes by env var:
``BENCH_JOBS`` (default 10000 finished jobs), ``BENCH_REPEAT`` (default 3 runs of the magic; best
shown), ``BENCH_CLI_REPEAT`` (default 1 run of the CLI).

Setup: one real job is run through the API (so the stored JSON has exactly the platform's shape),
the platform is stopped, and ``BENCH_JOBS`` finished copies of it are written straight into its
state with ``Platform.save_job``; then the platform is started again and both clients list them.

Printed: seconds per listing for the magic (list + build the result + render text and HTML, as
a notebook shows it) and for the CLI (a subprocess, its startup included, as a user runs it),
the magic's list-only time (the client's share), and the ratios CLI / magic.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from IPython.core.interactiveshell import InteractiveShell

from jupyter_apolo.localplatform.state import Platform
from tests.support.platform import ApoloCLI, LocalPlatform, wait_for

JOBS = int(os.environ.get("BENCH_JOBS", "10000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CLI_REPEAT = int(os.environ.get("BENCH_CLI_REPEAT", "1"))  # the CLI is slow on big listings


def seed(lp: LocalPlatform, count: int) -> None:
    """``count`` finished jobs of alice, cloned from one real job, written while the platform is down."""
    with lp.http("alice") as http:
        resp = http.post("/jobs", params={"from_preset": ""},
                         json={"preset_name": "cpu-small", "image": "python:3", "command": "python -c pass"})
        resp.raise_for_status()
        job_id = resp.json()["id"]
        wait_for(lambda: http.get(f"/jobs/{job_id}").json()["status"] == "succeeded", 60, what="template job")
    lp.stop()
    state = Platform(lp.root)
    template = state.load_job(job_id)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    state.db.execute("BEGIN")
    for i in range(count):
        job = copy.deepcopy(template)
        job["id"] = f"job-{uuid.uuid4()}"
        job["uri"] = template["uri"].rsplit("/", 1)[0] + "/" + job["id"]
        job["name"] = None
        job["tags"] = [f"batch-{i % 10}"]
        created = (start + dt.timedelta(seconds=i)).isoformat()
        job["history"]["created_at"] = created
        state.save_job(job)
    state.db.execute("COMMIT")
    state.close()
    lp.start()


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-magics-ps-"))
    lp = LocalPlatform(tmp / "root").start()
    try:
        lp.token("alice")
        t0 = time.perf_counter()
        seed(lp, JOBS)
        print(f"seeded {JOBS} finished jobs in {time.perf_counter() - t0:.1f} s")

        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "jupyter_apolo")
        ip.run_line_magic("config", f"ApoloMagics.url = {lp.url!r}")
        ip.run_line_magic("config", f"ApoloMagics.token = {lp.token('alice')!r}")
        ip.run_line_magic("apolo", "whoami")  # open the client once (a kernel keeps it open)
        magics = next(c for c in ip.configurables if type(c).__name__ == "ApoloMagics")

        def magic_ps():
            jobs = ip.run_line_magic("apolo", "ps -a")
            repr(jobs), jobs._repr_html_()  # what a notebook renders (capped at display_limit rows)
            return len(jobs)

        def client_list():
            return len(magics.api.jobs.list(statuses=()))

        cli = ApoloCLI(lp, "alice", tmp / "home")

        def cli_ps():
            out = cli("ps", "-a", timeout=600).stdout
            return sum(1 for line in out.splitlines() if "job-" in line)

        t_magic, n_magic = best(magic_ps, REPEAT)
        t_list, n_list = best(client_list, REPEAT)
        t_cli, n_cli = best(cli_ps, CLI_REPEAT)
        assert n_magic == n_list == JOBS + 1, (n_magic, n_list)
        print(f"jobs listed: magic {n_magic}, CLI rows with a job id {n_cli}")
        print(f"%apolo ps -a (list + result + text + HTML): {t_magic:8.3f} s")
        print(f"  of which client list only:              {t_list:8.3f} s")
        print(f"apolo ps -a (subprocess):                 {t_cli:8.3f} s")
        print(f"ratio CLI / magic: {t_cli / t_magic:6.2f}x  (above 1: the magic is faster)")
        print(f"ratio CLI / client list: {t_cli / t_list:6.2f}x")
    finally:
        lp.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
