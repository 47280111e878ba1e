"""Benchmark: the job web proxy (``localplatform/job_proxy.py``) against direct access to the
job's own loopback port, in the same run.

Run: ``.venv/bin/python tests/bench/bench_job_proxy.py``. Starts an embedded platform and a
Jupyter server job in it (token-less, behind the platform's auth), then prints, proxied
(``<job-id>.jobs.localhost:<port>`` with a bearer token) against direct (``127.0.0.1:<job port>``):

1. a kernel ``execute_request`` round trip over the kernel websocket (send to ``idle`` status),
   ``BENCH_EXECUTES`` times each way (default 300, interleaved): p50/p99 and the added latency;
2. a ``BENCH_DOWNLOAD_MIB`` download (default 50) of a file the kernel wrote, from Jupyter's
   ``/files/``, ``BENCH_ROUNDS`` times each way (default 5, alternating): median seconds,
   throughput ratio (proxied / direct) and the added time.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.platform import LocalPlatform, wait_for  # noqa: E402

EXECUTES = int(os.environ.get("BENCH_EXECUTES", "300"))
DOWNLOAD_MIB = int(os.environ.get("BENCH_DOWNLOAD_MIB", "50"))
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "5")))
SERVER = (f"sh -c 'echo PORT=$NEURO_JOB_HTTP_PORT; exec {sys.executable} -m jupyter_server --no-browser "
          "--ip=127.0.0.1 --port=$NEURO_JOB_HTTP_PORT --IdentityProvider.token= "
          "--ServerApp.disable_check_xsrf=True --allow-root'")


class Way:
    """One way to reach the job: a base URL and the headers that go with it."""

    def __init__(self, name: str, base: str, headers: dict[str, str]):
        self.name, self.base, self.headers = name, base, headers
        self.http = httpx.Client(base_url=base, headers=headers, timeout=120)

    def ws_request(self, path: str) -> HTTPRequest:
        headers = dict(self.headers)
        if "Host" in headers:
            headers["Origin"] = f"http://{headers['Host']}"
        return HTTPRequest("ws" + self.base[4:] + path, headers=headers)


def execute_message(code: str) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    return msg_id, json.dumps({
        "header": {"msg_id": msg_id, "username": "bench", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}})


async def round_trip(ws, code: str) -> float:
    """Seconds from sending ``code`` to the kernel's ``execute_reply`` (what a notebook waits for)."""
    msg_id, message = execute_message(code)
    start = time.perf_counter()
    await ws.write_message(message)
    while True:
        msg = json.loads(await ws.read_message())
        if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "execute_reply":
            return time.perf_counter() - start


async def kernel_bench(ways: list[Way], kernel: str) -> dict[str, list[float]]:
    sockets = {w.name: await websocket_connect(w.ws_request(f"/api/kernels/{kernel}/channels")) for w in ways}
    for ws in sockets.values():  # as browsers do: no Nagle delay on the client's small frames
        ws.protocol.stream.set_nodelay(True)
    for ws in sockets.values():  # warm up
        for _ in range(5):
            await round_trip(ws, "1")
    times: dict[str, list[float]] = {w.name: [] for w in ways}
    for _ in range(EXECUTES):
        for w in ways:
            times[w.name].append(await round_trip(sockets[w.name], "1 + 1"))
    for ws in sockets.values():
        ws.close()
    return times


def download(way: Way, path: str) -> float:
    start = time.perf_counter()
    size = 0
    with way.http.stream("GET", path) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes(1 << 20):
            size += len(chunk)
    assert size == DOWNLOAD_MIB << 20, size
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        platform = LocalPlatform(Path(tmp) / "root").start()
        try:
            alice = platform.http("alice")
            job = alice.post("/jobs", params={"from_preset": ""}, json={
                "image": "python:3", "preset_name": "cpu-small", "command": SERVER,
                "http": {"port": 8888, "requires_auth": True}}).json()
            port = wait_for(lambda: _port_of(alice, platform, job["id"]), timeout=60, what="the job's port")
            host = job["http_url"].removeprefix("http://")
            proxied = Way("proxied", platform.base,
                          {"Host": host, "Authorization": f"Bearer {platform.token('alice')}"})
            direct = Way("direct", f"http://127.0.0.1:{port}", {})
            wait_for(lambda: _up(proxied), timeout=90, interval=0.5, what="the Jupyter server job")
            isolation = alice.get("/config").json()["job_isolation"]["mode"]
            print(f"job web proxy benchmark (job isolation: {isolation})")

            kernel = direct.http.post("/api/kernels", json={"name": "python3"}).json()["id"]
            times = asyncio.run(kernel_bench([direct, proxied], kernel))
            d50, d99 = pct(times["direct"], 0.5) * 1e3, pct(times["direct"], 0.99) * 1e3
            p50, p99 = pct(times["proxied"], 0.5) * 1e3, pct(times["proxied"], 0.99) * 1e3
            print(f"kernel execute round trip, {EXECUTES} each: direct p50 {d50:.2f} ms p99 {d99:.2f} ms; "
                  f"proxied p50 {p50:.2f} ms p99 {p99:.2f} ms; added p50 {p50 - d50:+.2f} ms "
                  f"(ratio {p50 / d50:.2f})")

            code = f"open('bench.bin', 'wb').write(bytes(range(256)) * ({DOWNLOAD_MIB << 20} // 256))"
            asyncio.run(_run_once(direct, kernel, code))
            spans: dict[str, list[float]] = {"direct": [], "proxied": []}
            for _ in range(ROUNDS):
                for way in (direct, proxied):
                    if os.environ.get("BENCH_DEBUG"):
                        print("download", way.name, flush=True)
                    spans[way.name].append(download(way, "/files/bench.bin"))
            dt, pt = statistics.median(spans["direct"]), statistics.median(spans["proxied"])
            print(f"{DOWNLOAD_MIB} MiB download, median of {ROUNDS}: "
                  f"direct {dt:.3f} s ({DOWNLOAD_MIB / dt:.0f} MiB/s), "
                  f"proxied {pt:.3f} s ({DOWNLOAD_MIB / pt:.0f} MiB/s); added {pt - dt:+.3f} s, "
                  f"throughput ratio {dt / pt:.2f}")
            alice.delete(f"/jobs/{job['id']}")
        finally:
            platform.stop()


async def _run_once(way: Way, kernel: str, code: str) -> None:
    ws = await websocket_connect(way.ws_request(f"/api/kernels/{kernel}/channels"))
    await round_trip(ws, code)
    ws.close()


def _port_of(api: httpx.Client, platform: LocalPlatform, job_id: str) -> int | None:
    """The job's loopback port, from the first line of its log (the log API follows a running job)."""
    try:
        log = (platform.root / "jobs" / job_id / "output.log").read_text()
    except FileNotFoundError:
        return None
    for line in log.splitlines():
        if line.startswith("PORT="):
            return int(line[5:])
    return None


def _up(way: Way) -> bool:
    try:
        return way.http.get("/api/status").status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
