"""Benchmark: permission grants on the embedded platform (issue 10, finding 6).

Run: ``.venv/bin/python tests/bench/bench_platform_grants.py``. Sizes by env var:
``BENCH_GRANTS`` (default 4000 grants in one ``POST users/{name}/permissions``; the target is
under 1 s), ``BENCH_HELD`` (default 6500 grants held by one grantee) and ``BENCH_CALLS``
(default 200 storage calls per user).

References measured in the same run, against the same platform process:

- a one-grant request (the per-request cost every grant request pays): the big request
  prints as seconds and as a ratio to ``N x`` that reference (about 1 means linear);
- a ``GET /config`` probe sent while the big request runs (every other caller waits for it);
- storage calls (``GETFILESTATUS`` of the caller's home) of a user holding no grants, against
  the same calls of a user holding ``BENCH_HELD`` grants (target ratio < 1.5).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.platform import LocalPlatform  # noqa: E402

GRANTS = int(os.environ.get("BENCH_GRANTS", "4000"))
HELD = int(os.environ.get("BENCH_HELD", "6500"))
CALLS = int(os.environ.get("BENCH_CALLS", "200"))
GRANT_TARGET_S = 1.0
HELD_RATIO_TARGET = 1.5


def grants(owner: str, prefix: str, n: int) -> list[dict[str, str]]:
    """``n`` read grants on distinct folders of ``owner``'s storage."""
    return [{"uri": f"storage://default/local/{owner}/{prefix}/d{i}", "action": "read"} for i in range(n)]


def bench_big_request(lp: LocalPlatform) -> list[tuple[str, str]]:
    alice = lp.http("alice")
    one = []
    for i in range(20):
        start = time.perf_counter()
        r = alice.post("/users/bob/permissions", json=grants("alice", f"one{i}", 1))
        one.append(time.perf_counter() - start)
        assert r.status_code == 201, r.text
    ref = statistics.median(one)

    probe: list[float] = []
    done = threading.Event()

    def poke() -> None:  # another caller, while the big request runs
        with lp.http("bob") as bob:
            while not done.is_set():
                start = time.perf_counter()
                bob.get("/config", timeout=600)
                probe.append(time.perf_counter() - start)
                time.sleep(0.01)

    prober = threading.Thread(target=poke)
    prober.start()
    start = time.perf_counter()
    r = alice.post("/users/bob/permissions", json=grants("alice", "big", GRANTS), timeout=600)
    big = time.perf_counter() - start
    done.set()
    prober.join()
    assert r.status_code == 201 and len(r.json()) == GRANTS, r.text[:200]
    verdict = "OK" if big < GRANT_TARGET_S else "OVER"
    return [
        ("one-grant request (reference), median of 20", f"{ref * 1000:.1f} ms"),
        (f"{GRANTS} grants in one request", f"{big:.2f} s  ({big / (GRANTS * ref):.2f}x {GRANTS} x reference; "
                                             f"target < {GRANT_TARGET_S:.0f} s: {verdict})"),
        ("  GET /config sent while it ran: slowest", f"{max(probe, default=0) * 1000:.0f} ms of {len(probe)} probes"),
    ]


def storage_latencies(lp: LocalPlatform, users: tuple[str, ...]) -> list[float]:
    """Median seconds of a GETFILESTATUS of each user's home folder, calls interleaved so that
    machine load weighs on every user alike."""
    clients = [lp.http(user) for user in users]
    times: list[list[float]] = [[] for _ in users]
    for _ in range(CALLS):
        for user, client, sample in zip(users, clients, times):
            start = time.perf_counter()
            r = client.get(f"/storage/local/{user}", params={"op": "GETFILESTATUS"})
            sample.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text
    for client in clients:
        client.close()
    return [statistics.median(sample) for sample in times]


def bench_held(lp: LocalPlatform) -> list[tuple[str, str]]:
    lp.token("carol")
    lp.token("dave")
    alice = lp.http("alice")
    batch = 500
    for first in range(0, HELD, batch):  # in batches, so the old quadratic code finishes too
        part = grants("alice", "held", HELD)[first:first + batch]
        assert alice.post("/users/carol/permissions", json=part, timeout=600).status_code == 201
    ref, held = storage_latencies(lp, ("dave", "carol"))
    ratio = held / ref
    verdict = "OK" if ratio < HELD_RATIO_TARGET else "OVER"
    return [
        ("storage call, user with no grants (reference)", f"{ref * 1000:.2f} ms median of {CALLS}"),
        (f"storage call, user holding {HELD} grants", f"{held * 1000:.2f} ms  ({ratio:.2f}x reference; "
                                                       f"target < {HELD_RATIO_TARGET}x: {verdict})"),
    ]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-grants-"))
    lp = LocalPlatform(work / "root")
    try:
        lp.start()
        lp.token("alice")
        lp.token("bob")
        rows = bench_big_request(lp) + bench_held(lp)
    finally:
        lp.stop()
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0 if not any("OVER" in v for _, v in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
