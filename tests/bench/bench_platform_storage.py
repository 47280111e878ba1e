"""Benchmark: the embedded platform's storage service under a huge listing and a big transfer,
with the platform's peak RSS (VmHWM of its process, restarted before each phase).

Run: ``.venv/bin/python tests/bench/bench_platform_storage.py``. Sizes by env var:
``BENCH_LIST_N`` (default 20000 entries in one folder; the target is 100000),
``BENCH_BYTES`` (default 256 MiB; the target is 1073741824 = 1 GiB),
``BENCH_DIR`` (default: a temp dir; needs about 4x BENCH_BYTES free).
References measured in the same run: ``os.scandir`` + ``lstat`` of the same folder in this
process (listing) and a plain local file copy of the same file (transfer); figures print as
ratios against them. Target: platform peak RSS < 200 MB in every phase.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.platform import ApoloCLI, LocalPlatform  # noqa: E402

LIST_N = int(os.environ.get("BENCH_LIST_N", "20000"))
BYTES = int(os.environ.get("BENCH_BYTES", str(256 * 1024 * 1024)))
RSS_LIMIT_MB = 200
MiB = 1024 * 1024


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of process ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def fresh(lp: LocalPlatform) -> float:
    """Restart the platform so VmHWM starts from idle; returns the idle peak in MiB."""
    lp.restart()
    httpx.get(lp.url + "/config", timeout=30)
    return peak_rss_mb(lp.proc.pid)


def write_random(path: Path, size: int) -> None:
    block = os.urandom(16 * MiB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
            block = block[1:] + block[:1]  # not one repeated block


def same_bytes(a: Path, b: Path) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(8 * MiB), fb.read(8 * MiB)
            if x != y:
                return False
            if not x:
                return True


def bench_listing(lp: LocalPlatform, cli: ApoloCLI) -> list[tuple[str, str]]:
    folder = lp.root / "storage" / "local" / "alice" / "many"
    folder.mkdir()
    for i in range(LIST_N):
        (folder / f"entry-{i:07d}.txt").touch()
    reference, count = timed(lambda: sum(1 for e in os.scandir(folder) if e.stat(follow_symlinks=False)))
    assert count == LIST_N

    idle = fresh(lp)
    headers = {"Authorization": f"Bearer {lp.token('alice')}", "Accept": "application/x-ndjson"}

    def raw_list() -> int:
        n = 0
        with httpx.stream("GET", lp.storage_url + "/local/alice/many?op=LISTSTATUS", headers=headers, timeout=600) as r:
            for line in r.iter_lines():
                if line:
                    json.loads(line)["FileStatus"]
                    n += 1
        return n

    raw_s, raw_n = timed(raw_list)
    assert raw_n == LIST_N, raw_n
    raw_peak = peak_rss_mb(lp.proc.pid)
    (folder.parent / "empty").mkdir()
    startup_s, _ = timed(lambda: cli("ls", "storage:empty"))
    cli_s, out = timed(lambda: cli("ls", "storage:many", timeout=1800))
    cli_n = len(out.stdout.split())
    assert cli_n == LIST_N, cli_n
    cli_peak = peak_rss_mb(lp.proc.pid)
    shutil.rmtree(folder)
    return [
        (f"LISTSTATUS {LIST_N} entries, reference scandir+lstat", f"{reference:.2f} s"),
        ("  raw HTTP NDJSON (httpx stream)", f"{raw_s:.2f} s  ({raw_s / reference:.1f}x reference)"),
        ("  apolo ls of an empty folder (CLI start-up)", f"{startup_s:.2f} s"),
        ("  apolo ls", f"{cli_s:.2f} s  ({cli_s / reference:.1f}x reference; "
                       f"{max(cli_s - startup_s, 0):.2f} s over start-up)"),
        ("  platform peak RSS: idle / after raw / after CLI", f"{idle:.0f} / {raw_peak:.0f} / {cli_peak:.0f} MiB"),
    ]


def bench_transfer(lp: LocalPlatform, cli: ApoloCLI, work: Path) -> list[tuple[str, str]]:
    src, copy, back = work / "big.bin", work / "big-copy.bin", work / "big-back.bin"
    write_random(src, BYTES)
    ref_s, _ = timed(lambda: shutil.copyfile(src, copy))
    copy.unlink()
    mb = BYTES / MiB

    idle = fresh(lp)
    up_s, _ = timed(lambda: cli("cp", str(src), "storage:big.bin", timeout=3600))
    up_peak = peak_rss_mb(lp.proc.pid)
    stored = lp.root / "storage" / "local" / "alice" / "big.bin"
    assert stored.stat().st_size == BYTES

    auth = {"Authorization": f"Bearer {lp.token('alice')}"}
    url = lp.storage_url + "/local/alice/raw.bin"

    def raw_up() -> None:
        def chunks():
            with open(src, "rb") as f:
                while block := f.read(MiB):
                    yield block
        r = httpx.put(url + "?op=CREATE", content=chunks(), headers=auth, timeout=3600)
        assert r.status_code == 201, r.text

    def raw_down() -> int:
        n = 0
        with httpx.stream("GET", url + "?op=OPEN", headers=auth, timeout=3600) as r:
            for block in r.iter_raw(MiB):
                n += len(block)
        return n

    raw_up_s, _ = timed(raw_up)
    raw_down_s, n = timed(raw_down)
    assert n == BYTES
    raw_peak = peak_rss_mb(lp.proc.pid)

    idle2 = fresh(lp)
    down_s, _ = timed(lambda: cli("cp", "storage:big.bin", str(back), timeout=3600))
    down_peak = peak_rss_mb(lp.proc.pid)
    assert same_bytes(src, back), "download differs from the upload"
    for p in (src, back, stored):
        p.unlink()
    return [
        (f"{mb:.0f} MiB, reference local file copy", f"{ref_s:.2f} s  ({mb / ref_s:.0f} MiB/s)"),
        ("  apolo cp up (CREATE + 1 MiB WRITEs)",
         f"{up_s:.2f} s  ({mb / up_s:.0f} MiB/s, {up_s / ref_s:.1f}x reference)"),
        ("  apolo cp down (OPEN, streamed)",
         f"{down_s:.2f} s  ({mb / down_s:.0f} MiB/s, {down_s / ref_s:.1f}x reference)"),
        ("  raw HTTP CREATE, one streamed body",
         f"{raw_up_s:.2f} s  ({mb / raw_up_s:.0f} MiB/s, {raw_up_s / ref_s:.1f}x reference)"),
        ("  raw HTTP OPEN, streamed",
         f"{raw_down_s:.2f} s  ({mb / raw_down_s:.0f} MiB/s, {raw_down_s / ref_s:.1f}x reference)"),
        ("  platform peak RSS: upload idle/CLI/raw", f"{idle:.0f} / {up_peak:.0f} / {raw_peak:.0f} MiB"),
        ("  platform peak RSS: download idle/peak", f"{idle2:.0f} / {down_peak:.0f} MiB"),
    ]


def main() -> int:
    base = os.environ.get("BENCH_DIR")
    work = Path(tempfile.mkdtemp(prefix="bench-storage-", dir=base))
    lp = LocalPlatform(work / "root")
    try:
        lp.start()
        cli = ApoloCLI(lp, "alice", work)
        rows = bench_listing(lp, cli) + bench_transfer(lp, cli, work)
    finally:
        lp.stop()
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    peaks = [float(v.split("/")[-1].split()[0]) for k, v in rows if "peak RSS" in k]
    verdict = "OK" if max(peaks) < RSS_LIMIT_MB else "OVER"
    print(f"platform peak RSS max {max(peaks):.0f} MiB (limit {RSS_LIMIT_MB} MB): {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
