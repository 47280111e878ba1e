"""Benchmark: the widgets in a real IPython kernel (jupyter_client) against the embedded platform.

Run: ``.venv/bin/python tests/bench/bench_widgets.py``. Sizes by env var: ``BENCH_ENTRIES``
(default 100000 files in one storage folder), ``BENCH_JOBS`` (default 10000 finished jobs).

1. ``StorageBrowser`` on a folder of ``BENCH_ENTRIES`` files: time until the first page is in the
   widget and the kernel's RSS growth (first page, then after paging to page 20), against
   ``os.scandir`` of the same folder on disk in the same kernel (all names, and the first 50), and
   against listing the whole folder into memory with the client (what a non-paging widget does).
   Targets: first page < 0.5 s, RSS growth < 20 MB.
2. Responsiveness: while the browser skips to page 1000 of that folder (its loop streams 50,000
   entries), a cell submitted at once must start within 50 ms (measured: the cell's first line
   reads the clock, against the moment the client sent it; same machine clock).
3. ``JobsTable(all=True)`` with ``BENCH_JOBS`` finished jobs: time to the first page drawn and to
   the whole listing, against ``%apolo ps -a``'s list + text render in the same kernel.
   Target: first render < 1 s.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_magics_ps import seed  # noqa: E402
from tests.support.platform import LocalPlatform  # noqa: E402

ENTRIES = int(os.environ.get("BENCH_ENTRIES", "100000"))
JOBS = int(os.environ.get("BENCH_JOBS", "10000"))

PRELUDE = """
import json, os, time, gc
from jupyter_apolo.client import Apolo, resolve_config
from jupyter_apolo.widgets import StorageBrowser, JobsTable
def rss_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
api = Apolo(resolve_config(url={url!r}, token={token!r}, environ={{}}))
api.storage.stat('storage:')  # the client is open, as in a kernel that used it once
"""

STORAGE = """
gc.collect(); before = rss_mb()
t0 = time.perf_counter()
b = StorageBrowser('storage:big', api=api, page_size=50)
while not b.entries:
    time.sleep(0.001)
first_page = time.perf_counter() - t0
b.wait(); after_first = rss_mb()
for _ in range(19):
    b.next_page(); b.wait()
page20 = b.page; after_pages = rss_mb()
t0 = time.perf_counter(); names = [e.name for e in os.scandir({folder!r})]; scandir_all = time.perf_counter() - t0
gc.collect(); before_scan = rss_mb()
t0 = time.perf_counter()
with os.scandir({folder!r}) as it:
    first50 = [next(it).name for _ in range(50)]
scandir_50 = time.perf_counter() - t0
scan_entries = list(os.scandir({folder!r})); after_scan = rss_mb(); del scan_entries
gc.collect(); before_list = rss_mb()
t0 = time.perf_counter(); everything = api.storage.ls('storage:big'); client_all = time.perf_counter() - t0
after_list = rss_mb(); n_all = len(everything); del everything
print(json.dumps(dict(first_page=first_page, rss_first=after_first - before, rss_pages=after_pages - before,
                      page20=page20, scandir_all=scandir_all, scandir_50=scandir_50, n=len(names), n_all=n_all,
                      rss_scandir=after_scan - before_scan, client_all=client_all,
                      rss_client_all=after_list - before_list)))
"""

START_LOADING = """
b2 = StorageBrowser('storage:big', api=api, page_size=50); b2.wait()
b2._show_page(1000)  # the loop now streams 50,000 entries to reach it; this cell returns at once
"""

PROBE = "probe_started = time.time(); probe_busy = b2.busy"

JOBS_CELL = """
t0 = time.perf_counter()
t = JobsTable(all=True, api=api, refresh_interval=0)
while not t.shown:
    time.sleep(0.001)
first_render = time.perf_counter() - t0
t.wait(120)
complete = time.perf_counter() - t0
n = len(t.jobs)
ip = get_ipython(); ip.run_line_magic('load_ext', 'jupyter_apolo')
ip.run_line_magic('config', "ApoloMagics.url = {url!r}"); ip.run_line_magic('config', "ApoloMagics.token = {token!r}")
ip.run_line_magic('apolo', 'whoami')
t0 = time.perf_counter(); jobs = ip.run_line_magic('apolo', 'ps -a'); repr(jobs); jobs._repr_html_()
magic = time.perf_counter() - t0
print(json.dumps(dict(first_render=first_render, complete=complete, n=n, magic=magic, magic_n=len(jobs))))
"""


def run(kc, code: str, timeout: float = 600) -> str:
    """Execute ``code`` in the kernel; return its stdout (raise on an error)."""
    out: list[str] = []
    errors: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            errors.append("\n".join(msg["content"]["traceback"]))

    kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    if errors:
        raise RuntimeError(errors[0])
    return "".join(out)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-widgets-"))
    lp = LocalPlatform(tmp / "root").start()
    km = kc = None
    try:
        token = lp.token("alice")
        folder = lp.root / "storage" / lp.org / "alice" / "big"
        folder.mkdir(parents=True)
        t0 = time.perf_counter()
        for i in range(ENTRIES):
            (folder / f"sample-{i:06d}.npy").touch()
        print(f"created {ENTRIES} files on disk in {time.perf_counter() - t0:.1f} s")

        km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp))
        run(kc, PRELUDE.format(url=lp.url, token=token))

        s = json.loads(run(kc, STORAGE.format(folder=str(folder))).strip().splitlines()[-1])
        assert s["n"] == s["n_all"] == ENTRIES and s["page20"] == 19, s
        print(f"\nStorageBrowser, folder of {ENTRIES} entries (kernel RSS in MB)")
        print(f"  first page in the widget:     {s['first_page']:7.3f} s   (target < 0.5 s)")
        print(f"  os.scandir, first 50 names:   {s['scandir_50']:7.3f} s   ratio widget/scandir50 "
              f"{s['first_page'] / max(s['scandir_50'], 1e-6):8.1f}x")
        print(f"  os.scandir, all names:        {s['scandir_all']:7.3f} s   ratio widget/scandir-all "
              f"{s['first_page'] / s['scandir_all']:6.2f}x")
        print(f"  client ls of everything:      {s['client_all']:7.3f} s   (what a non-paging widget waits)")
        print(f"  RSS growth, first page:       {s['rss_first']:7.1f} MB  (target < 20 MB)")
        print(f"  RSS growth, after 20 pages:   {s['rss_pages']:7.1f} MB")
        print(f"  RSS growth, list(os.scandir): {s['rss_scandir']:7.1f} MB")
        print(f"  RSS growth, client ls all:    {s['rss_client_all']:7.1f} MB")

        run(kc, START_LOADING)
        sent = time.time()
        run(kc, PROBE)
        started, busy = json.loads(run(kc, "print(json.dumps([probe_started, probe_busy]))"))
        print("\nResponsiveness while the browser streams 50,000 entries to reach page 1000")
        print(f"  next cell started after:      {(started - sent) * 1000:7.1f} ms  "
              f"(target < 50 ms; widget busy then: {busy})")
        run(kc, "b2.wait(120); b2.close(); b.close()")

        kc.stop_channels()
        km.shutdown_kernel(now=True)
        km = None
        t0 = time.perf_counter()
        seed(lp, JOBS)
        print(f"\nseeded {JOBS} finished jobs in {time.perf_counter() - t0:.1f} s")
        km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp))
        run(kc, PRELUDE.format(url=lp.url, token=token))
        j = json.loads(run(kc, JOBS_CELL.format(url=lp.url, token=token)).strip().splitlines()[-1])
        assert j["n"] == j["magic_n"] == JOBS + 1, j
        print(f"JobsTable(all=True), {j['n']} jobs")
        print(f"  first page drawn:             {j['first_render']:7.3f} s   (target < 1 s)")
        print(f"  whole listing loaded:         {j['complete']:7.3f} s")
        print(f"  %apolo ps -a (list + render): {j['magic']:7.3f} s   ratio table-first-page/magic "
              f"{j['first_render'] / j['magic']:6.2f}x")
    finally:
        if km is not None:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        lp.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
