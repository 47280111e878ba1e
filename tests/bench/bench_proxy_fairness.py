"""Benchmark: one client cannot starve the others through the proxy (issue 10, finding 7).

Run: ``.venv/bin/python tests/bench/bench_proxy_fairness.py``. Loopback only; stops by itself
(every phase has a deadline; about 2-3 minutes on a quiet 2-core machine). Starts an embedded
platform and a ``jupyter server`` with the extension at its default limits
(``c.ApoloServer.max_connections=64``, ``max_connections_per_user=16``, ``queue_timeout=30``)
and two Jupyter users, each with its own token (as JupyterHub gives them): mallory and carol.

1. Reference: carol's ``BENCH_CALLS`` (default 200) proxied calls (``GET jobs/{id}`` and a storage
   listing, alternating) on a quiet server: p50/p99/max.
2. Attack: mallory opens ``BENCH_STALLED`` (70) downloads of a 50 MiB file and never reads them,
   plus ``BENCH_TRICKLING`` (70) uploads sending one byte every 2 s; meanwhile carol repeats
   her calls. Target: all succeed, p99 within 3x the reference p99 (+5 ms for timer noise).
   The old proxy failed every one after 10 s with a 504 "Connection timeout to host".
   Mallory's calls beyond her limit get an honest 429 naming it (counted).
3. ``BENCH_DOWNLOADS`` (250) concurrent 50 MiB downloads by one user through the proxy, against
   the same downloads made directly to the platform (wall-time ratio, for scale). Target: 0
   misleading 504s (the old proxy: 122 of 250 failed with "Connection timeout to host", 184 on
   this machine); every other answer is counted by status.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.platform import BIN, LocalPlatform  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "200"))
STALLED = int(os.environ.get("BENCH_STALLED", "70"))
TRICKLING = int(os.environ.get("BENCH_TRICKLING", "70"))
DOWNLOADS = int(os.environ.get("BENCH_DOWNLOADS", "250"))
FILE_MIB = int(os.environ.get("BENCH_FILE_MIB", "50"))
MiB = 1 << 20

#: A JupyterHub-like identity provider: one Jupyter user per token (loaded by the server subprocess).
IDENTITY_MODULE = '''
import json, os
from jupyter_server.auth.identity import IdentityProvider, User

USERS = json.loads(os.environ["BENCH_USER_TOKENS"])

class TokenPerUser(IdentityProvider):
    async def get_user(self, handler):
        name = USERS.get(self.get_token(handler) or "")
        if name is None:
            return None
        handler._token_authenticated = True
        return User(username=name)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def start_jupyter(tmp: Path, platform: LocalPlatform, token_file: Path,
                  users: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """A ``jupyter server`` with the extension and ``TokenPerUser`` on a free port -> (process, base url)."""
    port = free_port()
    (tmp / "idp").mkdir()
    (tmp / "idp" / "bench_users.py").write_text(IDENTITY_MODULE)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "jcfg"), "JUPYTER_RUNTIME_DIR": str(tmp / "jrt"),
           "JUPYTER_DATA_DIR": str(tmp / "jdata"), "PYTHONPATH": str(tmp / "idp"),
           "BENCH_USER_TOKENS": __import__("json").dumps(users)}
    (tmp / "root").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [str(BIN / "jupyter-server"), "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={secrets.token_hex(16)}",
         "--ServerApp.identity_provider_class=bench_users.TokenPerUser",
         f"--ServerApp.root_dir={tmp / 'root'}",
         "--ServerApp.jpserver_extensions={'jupyter_apolo': True, 'jupyterlab': False, 'nbdime': False, "
         "'jupyter_lsp': False, 'jupyter_server_terminals': False, 'notebook': False, 'notebook_shim': False}",
         f"--ApoloServer.url={platform.url}", f"--ApoloServer.token_file={token_file}", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "jupyter.log", "wb"),
    )
    base = f"http://127.0.0.1:{port}"
    any_token = next(iter(users))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/apolo/version", headers={"Authorization": f"token {any_token}"}).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"jupyter server did not start:\n{(tmp / 'jupyter.log').read_text()[-3000:]}")


async def calls(client: httpx.AsyncClient, job_id: str, n: int) -> tuple[list[float], Counter]:
    """``n`` sequential proxied calls -> (latencies in seconds, statuses)."""
    latencies, statuses = [], Counter()
    for i in range(n):
        path = f"apolo/api/v1/jobs/{job_id}" if i % 2 else "apolo/storage/local/alice?op=LISTSTATUS"
        t = time.perf_counter()
        try:
            statuses[(await client.get(path)).status_code] += 1
        except httpx.HTTPError as exc:
            statuses[type(exc).__name__] += 1
        latencies.append(time.perf_counter() - t)
    return latencies, statuses


def summary(latencies: list[float]) -> str:
    return (f"p50 {pct(latencies, 50) * 1000:.1f} ms, p99 {pct(latencies, 99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms")


async def stalled_reader(port: int, path: str, token: str, stop: asyncio.Event) -> str:
    """Ask for ``path``, never read the body; -> the status line once seen (or "no answer")."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {token}\r\n\r\n".encode())
    try:
        line = await asyncio.wait_for(reader.readline(), 60)
        await stop.wait()
        return line.decode().split(" ", 2)[1] if line else "closed"
    except asyncio.TimeoutError:
        return "no answer"
    finally:
        writer.close()


async def trickling_upload(port: int, path: str, token: str, stop: asyncio.Event) -> None:
    """Announce a 1 MiB body and send one byte every 2 s until ``stop``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"PUT {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: token {token}\r\n"
                 f"Content-Length: {MiB}\r\n\r\n".encode())
    try:
        while not stop.is_set():
            writer.write(b"x")
            await writer.drain()
            try:
                await asyncio.wait_for(stop.wait(), 2)
            except asyncio.TimeoutError:
                pass
    except ConnectionError:
        pass
    finally:
        writer.close()


async def one_download(session: aiohttp.ClientSession, url: str, expect: int) -> str:
    """Read ``url`` whole -> "200", or the status (a 504 is marked "misleading": the platform is up
    and answering on loopback, so "timed out" can only mean the proxy's own queue), or the error."""
    try:
        async with session.get(url) as resp:
            n, head = 0, b""
            async for chunk in resp.content.iter_any():
                n += len(chunk)
                head = (head + chunk)[:4096]
            if resp.status == 504:
                return f"504 misleading: {head.decode(errors='replace')[:80]}"
            if resp.status != 200:
                return str(resp.status)
            return "200" if n == expect else f"200 short ({n} bytes)"
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return type(exc).__name__


async def downloads(url: str, headers: dict[str, str], expect: int) -> tuple[float, Counter]:
    timeout = aiohttp.ClientTimeout(total=300)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector,
                                     auto_decompress=False) as session:
        t = time.perf_counter()
        results = await asyncio.gather(*(one_download(session, url, expect) for _ in range(DOWNLOADS)))
        return time.perf_counter() - t, Counter(results)


async def main_async(platform: LocalPlatform, token: str, base: str, users: dict[str, str], port: int) -> bool:
    mallory, carol = (t for t, n in users.items() if n == "mallory"), (t for t, n in users.items() if n == "carol")
    mallory, carol = next(mallory), next(carol)
    size = FILE_MIB * MiB
    ok = True
    with httpx.Client(base_url=platform.url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=120) as api:
        block = os.urandom(MiB)
        assert api.put("storage/local/alice/fair-big.bin", params={"op": "CREATE"},
                       content=(block for _ in range(FILE_MIB))).status_code == 201
        job = api.post("jobs", params={"from_preset": ""}, json={
            "preset_name": "cpu-small", "image": "ubuntu:latest", "command": "sleep 3600", "name": "fairness",
            "cluster_name": "default", "org_name": "local", "project_name": "alice"}).json()
    try:
        async with httpx.AsyncClient(base_url=f"{base}/", headers={"Authorization": f"token {carol}"},
                                     timeout=60) as client:
            await calls(client, job["id"], 20)  # warm up
            quiet, quiet_status = await calls(client, job["id"], CALLS)
            print(f"\n1. reference: carol's {CALLS} proxied calls on a quiet server: {summary(quiet)}; "
                  f"{dict(quiet_status)}")

            stop = asyncio.Event()
            big = "/apolo/storage/local/alice/fair-big.bin"
            readers = [asyncio.ensure_future(stalled_reader(port, big, mallory, stop)) for _ in range(STALLED)]
            uploads = [asyncio.ensure_future(trickling_upload(port, f"/apolo/storage/local/alice/trickle-{i}.bin",
                                                              mallory, stop)) for i in range(TRICKLING)]
            await asyncio.sleep(2)  # every stalled call has reached the proxy
            busy, busy_status = await calls(client, job["id"], CALLS)
            target = 3 * pct(quiet, 99) + 0.005
            good = busy_status == Counter({200: CALLS}) and pct(busy, 99) <= target
            ok &= good
            print(f"2. with mallory's {STALLED} stalled downloads + {TRICKLING} trickling uploads: "
                  f"carol's {CALLS} calls: {summary(busy)}; {dict(busy_status)}")
            print(f"   target: all 200, p99 <= 3 x reference p99 + 5 ms = {target * 1000:.1f} ms: "
                  f"{'OK' if good else 'MISSED'}")
            # mallory's excess calls were queued; after queue_timeout (30 s) they are answered 429
            await asyncio.sleep(31)
            stop.set()
            heads = Counter(await asyncio.wait_for(asyncio.gather(*readers), 90))
            await asyncio.wait_for(asyncio.gather(*uploads), 30)
            print(f"   mallory's stalled downloads answered: {dict(heads)} (429: her limit, 16 per user)")

        print(f"\n3. {DOWNLOADS} concurrent {FILE_MIB} MiB downloads, one user")
        direct_s, direct = await downloads(f"{platform.url}/storage/local/alice/fair-big.bin",
                                           {"Authorization": f"Bearer {token}"}, size)
        proxied_s, proxied = await downloads(f"{base}/apolo/storage/local/alice/fair-big.bin",
                                             {"Authorization": f"token {carol}"}, size)
        misleading = sum(n for k, n in proxied.items() if "misleading" in k)
        print(f"   direct:  {direct_s:.1f} s, {dict(direct)}")
        print(f"   proxied: {proxied_s:.1f} s, {dict(proxied)}")
        print(f"   wall-time ratio direct/proxied {direct_s / proxied_s:.2f} (for scale)")
        print(f"   misleading 504s: {misleading} (target 0): {'OK' if misleading == 0 else 'MISSED'}")
        ok &= misleading == 0
    finally:
        with httpx.Client(base_url=platform.url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            api.delete(f"jobs/{job['id']}")
    return ok


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-fairness-") as tmp_name:
        tmp = Path(tmp_name)
        platform = LocalPlatform(tmp / "platform")
        platform.root.mkdir()
        platform.start()
        server = None
        try:
            token = platform.token("alice")
            token_file = tmp / "token"
            token_file.write_text(token)
            users = {secrets.token_hex(16): "mallory", secrets.token_hex(16): "carol"}
            server, base = start_jupyter(tmp, platform, token_file, users)
            port = int(base.rsplit(":", 1)[1])
            print(f"bench_proxy_fairness: platform {platform.url}, jupyter server {base} (pid {server.pid}); "
                  f"calls={CALLS} stalled={STALLED} trickling={TRICKLING} downloads={DOWNLOADS}x{FILE_MIB} MiB")
            ok = asyncio.run(asyncio.wait_for(main_async(platform, token, base, users, port), 900))
            print(f"\nbench_proxy_fairness: {'all targets met' if ok else 'a target was MISSED'}")
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            platform.stop()


if __name__ == "__main__":
    main()
