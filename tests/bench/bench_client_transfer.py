"""Benchmark: the client's tree download against `apolo cp -r`, and peak memory of a big download.

Run: ``.venv/bin/python tests/bench/bench_client_transfer.py``. Sizes by env var:
``BENCH_FILES`` (default 1000: /work/shared/fixtures/notebooks replicated to that many files),
``BENCH_BIG_MB`` (default 1024: the single-file download whose peak RSS is measured),
``BENCH_CONCURRENCY`` (default 8), ``BENCH_ROUNDS`` (default 2 alternating download rounds).
Everything runs against one embedded platform started here; figures are printed side by side
with the official CLI doing the same on the same platform.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.platform import FIXTURES, ApoloCLI, LocalPlatform  # noqa: E402

FILES = int(os.environ.get("BENCH_FILES", "1000"))
BIG_MB = int(os.environ.get("BENCH_BIG_MB", "1024"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))

# Runs in a fresh interpreter: idle RSS after import + open, then peak RSS of the download.
RSS_PROBE = r"""
import resource, sys, time
from jupyter_apolo.client import Apolo, resolve_config
url, token, src, dst = sys.argv[1:5]
with Apolo(resolve_config(url=url, token=token, environ={})) as api:
    api.storage.stat(src)
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    api.transfer.download_file(src, dst)
    elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(idle, peak, elapsed)
"""


def replicate(dst: Path, count: int) -> int:
    """Copy the fixture notebooks round-robin into ``dst`` (20 files per folder) until ``count`` files."""
    sources = sorted(p for p in (FIXTURES / "notebooks").rglob("*") if p.is_file())
    total = 0
    for i in range(count):
        src = sources[i % len(sources)]
        target = dst / f"batch {i // 20:03}" / f"{i:04} {src.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        total += src.stat().st_size
    return total


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measured(fn, who: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall seconds, CPU seconds of ``who``: RUSAGE_SELF or RUSAGE_CHILDREN) of ``fn()``."""
    before = resource.getrusage(who)
    wall = timed(fn)
    after = resource.getrusage(who)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    from jupyter_apolo.client import Apolo, resolve_config

    work = Path(tempfile.mkdtemp(prefix="bench-client-"))
    platform = LocalPlatform(work / "root")
    platform.start()
    try:
        token = platform.token("alice")
        cli = ApoloCLI(platform, "alice", work)
        api = Apolo(resolve_config(url=platform.url, token=token, environ={}))

        # -- tree: FILES notebooks ---------------------------------------------------------------
        tree = work / "tree"
        size = replicate(tree, FILES)
        print(f"tree: {FILES} files, {size / 1e6:.1f} MB, concurrency {CONCURRENCY}")
        up_ours = timed(lambda: api.transfer.upload_tree(tree, "storage:bench/ours", concurrency=CONCURRENCY))
        up_cli = timed(lambda: cli("cp", "-r", "-T", str(tree), "storage:bench/cli", timeout=3600))
        print(f"  upload    ours {up_ours:6.2f} s   apolo cp -r {up_cli:6.2f} s   speed-up x{up_cli / up_ours:.2f}")
        # Download rounds alternate ours / CLI (the machine may be shared: best round of each counts);
        # CPU seconds are reported too, as they depend far less on other load.
        ours, theirs = [], []
        for r in range(ROUNDS):
            ours.append(measured(lambda: api.transfer.download_tree("storage:bench/ours", work / "down-ours",
                                                                   concurrency=CONCURRENCY), resource.RUSAGE_SELF))
            theirs.append(measured(lambda: cli("cp", "-r", "-T", "storage:bench/ours", str(work / "down-cli"),
                                               timeout=3600), resource.RUSAGE_CHILDREN))
            assert digest(work / "down-ours") == digest(tree) == digest(work / "down-cli"), "downloads differ"
            shutil.rmtree(work / "down-ours")
            shutil.rmtree(work / "down-cli")
            print(f"  download round {r + 1}: ours {ours[-1][0]:6.2f} s ({ours[-1][1]:5.2f} s CPU)   "
                  f"apolo cp -r {theirs[-1][0]:6.2f} s ({theirs[-1][1]:5.2f} s CPU)")
        startup = measured(lambda: cli("ls", "storage:bench"), resource.RUSAGE_CHILDREN)  # the CLI's fixed cost
        (ow, oc), (tw, tc) = min(ours), min(theirs)
        print(f"  download best: ours {ow:6.2f} s   apolo cp -r {tw:6.2f} s   speed-up x{tw / ow:.2f}; "
              f"CPU ours {oc:.2f} s vs CLI {tc:.2f} s (x{tc / oc:.2f}); "
              f"the CLI's start-up alone: {startup[0]:.2f} s, {startup[1]:.2f} s CPU")

        # -- one big file: peak RSS in a fresh process ----------------------------------------
        big = platform.root / "storage" / platform.org / "alice" / "big.bin"
        with open(big, "wb") as f:  # written straight into the platform's storage: setup, not measured
            block = os.urandom(1024 * 1024)
            for _ in range(BIG_MB):
                f.write(block)
        out = subprocess.run([sys.executable, "-c", RSS_PROBE, platform.url, token, "storage:big.bin",
                              str(work / "big.bin")],
                             check=True, capture_output=True, text=True, cwd=REPO).stdout.split()
        idle_kb, peak_kb, elapsed = int(out[0]), int(out[1]), float(out[2])
        assert (work / "big.bin").stat().st_size == BIG_MB * 1024 * 1024
        os.unlink(work / "big.bin")
        cli_rss = _cli_peak_rss(cli, work / "big-cli.bin")
        print(f"big file: {BIG_MB} MiB")
        print(f"  ours: peak RSS {peak_kb / 1024:.1f} MB, {(peak_kb - idle_kb) / 1024:.1f} MB above idle "
              f"({idle_kb / 1024:.1f} MB), {BIG_MB / elapsed:.0f} MiB/s")
        print(f"  apolo cp: peak RSS {cli_rss[0] / 1024:.1f} MB, {cli_rss[1]:.0f} MiB/s   "
              f"RSS ratio ours/cli x{peak_kb / cli_rss[0]:.2f}")
        api.close()
    finally:
        platform.stop()
        shutil.rmtree(work, ignore_errors=True)


def _cli_peak_rss(cli: ApoloCLI, dst: Path) -> tuple[int, float]:
    """Peak RSS (KiB) and speed (MiB/s) of `apolo cp storage:big.bin DST`, measured with wait4."""
    t = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "apolo"), "--disable-pypi-version-check", "--skip-stats",
                             "cp", "storage:big.bin", str(dst)], env=cli.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t
    assert proc.returncode == 0, "apolo cp of the big file failed"
    os.unlink(dst)
    return usage.ru_maxrss, BIG_MB / elapsed


if __name__ == "__main__":
    main()
