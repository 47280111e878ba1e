"""The proxy against the embedded platform over real HTTP, with the official apolo CLI as the
second client: every call the UI makes (config, jobs, permissions, storage), the platform's
errors passed through as JSON, and the allow-list."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os

import httpx
import pytest

JOB_BODY = {"preset_name": "cpu-small", "image": "ubuntu:latest", "command": "sleep 300",
            "cluster_name": "default", "org_name": "local", "project_name": "alice"}


def body(resp):
    return json.loads(resp.body)


async def test_config(fetch):
    resp = await fetch("GET", "apolo/api/v1/config")
    assert resp.code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = body(resp)
    assert doc["authorized"] is True and doc["clusters"][0]["name"] == "default"


async def test_small_answers_are_relayed_whole_with_the_platforms_etag(fetch, platform):
    """A one-chunk answer leaves with finish() (no flush per chunk): same bytes and length as the
    platform's, and only the platform's ETag (tornado makes none up for the proxied call)."""
    resp = await fetch("GET", "apolo/api/v1/config")
    assert resp.code == 200 and int(resp.headers["Content-Length"]) == len(resp.body)
    direct = platform.http("alice").get("config")
    assert resp.headers.get("Etag") == direct.headers.get("etag")
    # If-None-Match is not forwarded, so the platform answers 200; the proxy must not turn it into a 304
    again = await fetch("GET", "apolo/api/v1/config", headers={"If-None-Match": resp.headers.get("Etag", '"x"')})
    assert again.code == 200 and body(again) == body(resp)


async def test_jobs_create_list_get_kill(fetch, cli):
    resp = await fetch("POST", "apolo/api/v1/jobs?from_preset", body=json.dumps({**JOB_BODY, "name": "proxied"}),
                       headers={"Content-Type": "application/json"})
    assert resp.code == 202, resp.body
    job = body(resp)
    try:
        # NDJSON passes through untouched: the content type, one job per line
        resp = await fetch("GET", "apolo/api/v1/jobs?project_name=alice", headers={"Accept": "application/x-ndjson"})
        assert resp.code == 200
        assert resp.headers["Content-Type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in resp.body.decode().splitlines() if line.strip()]
        assert job["id"] in [j["id"] for j in lines]
        # without the NDJSON Accept header the platform answers one document
        resp = await fetch("GET", "apolo/api/v1/jobs?project_name=alice")
        assert job["id"] in [j["id"] for j in body(resp)["jobs"]]

        resp = await fetch("GET", f"apolo/api/v1/jobs/{job['id']}")
        assert resp.code == 200 and body(resp)["name"] == "proxied"
        # the official CLI sees the job the proxy created
        assert job["id"] in cli("alice")("ps", "-a", "--format", "{id}").stdout
    finally:
        resp = await fetch("DELETE", f"apolo/api/v1/jobs/{job['id']}")
    assert resp.code == 204
    assert cli("alice")("status", job["id"]).stdout.count("cancelled") >= 1


async def test_platform_errors_keep_status_and_message(fetch, platform):
    resp = await fetch("GET", "apolo/api/v1/jobs/job-00000000-0000-0000-0000-000000000000")
    assert resp.code == 400
    assert body(resp)["error"] == "no such job job-00000000-0000-0000-0000-000000000000"

    bob_job = platform.http("bob").post("jobs?from_preset", json={**JOB_BODY, "project_name": "bob"}).json()
    try:
        resp = await fetch("GET", f"apolo/api/v1/jobs/{bob_job['id']}")
        assert resp.code == 403
        assert body(resp)["missing"][0]["uri"].endswith(bob_job["id"])
    finally:
        platform.http("bob").delete(f"jobs/{bob_job['id']}")

    resp = await fetch("POST", "apolo/api/v1/users/nobody/permissions",
                       body=json.dumps([{"uri": "storage://default/local/alice/x", "action": "read"}]))
    assert resp.code == 404 and body(resp) == {"error": 'user "nobody" was not found'}

    resp = await fetch("GET", "apolo/storage/local/alice/no-such-file?op=GETFILESTATUS")
    assert resp.code == 404 and body(resp)["error"]
    assert resp.headers["Content-Type"].startswith("application/json")


async def test_share_list_revoke(fetch, platform, cli):
    uri = "storage://default/local/alice/shared-dir"
    grant = json.dumps([{"uri": uri, "action": "read"}])
    resp = await fetch("POST", "apolo/api/v1/users/bob/permissions", body=grant,
                       headers={"Content-Type": "application/json"})
    assert resp.code == 201, resp.body
    assert body(resp) == [{"uri": uri, "action": "read"}]

    resp = await fetch("GET", "apolo/api/v1/users/alice/permissions/shared")
    assert {"uri": uri, "action": "read", "user": "bob"} in body(resp)
    # bob, through the official CLI, now holds read on it
    assert "shared-dir read" in cli("bob")("acl", "ls", "--full-uri", "storage:").stdout.replace("  ", " ")

    resp = await fetch("GET", "apolo/api/v1/users/alice/permissions?uri=storage:")
    assert resp.code == 200 and any(p["action"] == "manage" for p in body(resp))

    resp = await fetch("DELETE", f"apolo/api/v1/users/bob/permissions?uri={uri}")
    assert resp.code == 204
    resp = await fetch("DELETE", f"apolo/api/v1/users/bob/permissions?uri={uri}")
    assert resp.code == 400 and body(resp) == {"error": "Operation has no effect"}


async def test_storage_operations(fetch, cli, tmp_path):
    base = "apolo/storage/local/alice/proxy-test"
    assert (await fetch("PUT", f"{base}/sub?op=MKDIRS")).code == 201
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes
    resp = await fetch("PUT", f"{base}/sub/blob.bin?op=CREATE", body=data,
                       headers={"Content-Type": "application/octet-stream"})
    assert resp.code == 201, resp.body

    st = body(await fetch("GET", f"{base}/sub/blob.bin?op=GETFILESTATUS"))["FileStatus"]
    assert st["type"] == "FILE" and st["length"] == len(data)

    resp = await fetch("GET", f"{base}/sub?op=LISTSTATUS", headers={"Accept": "application/x-ndjson"})
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    assert [json.loads(line)["FileStatus"]["path"] for line in resp.body.splitlines() if line.strip()] == ["blob.bin"]
    listing = body(await fetch("GET", f"{base}/sub?op=LISTSTATUS"))
    assert listing["FileStatuses"]["FileStatus"][0]["length"] == len(data)

    resp = await fetch("GET", f"{base}/sub/blob.bin?op=OPEN")
    assert resp.code == 200 and resp.body == data
    assert resp.headers["Content-Length"] == str(len(data))
    resp = await fetch("GET", f"{base}/sub/blob.bin?op=OPEN", headers={"Range": "bytes=1048576-"})
    assert resp.code == 206 and resp.body == b"tail"
    assert resp.headers["Content-Range"] == f"bytes 1048576-{len(data) - 1}/{len(data)}"
    resp = await fetch("HEAD", f"{base}/sub/blob.bin?op=OPEN")  # the head only, at once
    assert (resp.code, resp.body, resp.headers["Content-Length"]) == (200, b"", str(len(data)))

    # the official CLI downloads what the proxy uploaded, byte for byte
    cli("alice")("cp", "storage:proxy-test/sub/blob.bin", str(tmp_path / "via-cli.bin"))
    assert (tmp_path / "via-cli.bin").read_bytes() == data
    # and the proxy reads what the CLI uploaded
    (tmp_path / "up.txt").write_text("from the CLI\n")
    cli("alice")("cp", str(tmp_path / "up.txt"), "storage:proxy-test/up.txt")
    assert (await fetch("GET", f"{base}/up.txt?op=OPEN")).body == b"from the CLI\n"

    resp = await fetch("DELETE", f"{base}?op=DELETE&recursive=true", headers={"Accept": "application/x-ndjson"})
    assert resp.code == 200
    deleted = {json.loads(line)["path"] for line in resp.body.splitlines() if line.strip()}
    assert "/local/alice/proxy-test/sub/blob.bin" in deleted
    assert (await fetch("GET", f"{base}?op=GETFILESTATUS")).code == 404


async def test_storage_mkdirs_on_a_file_keeps_errno(fetch):
    base = "apolo/storage/local/alice/errno-test"
    assert (await fetch("PUT", f"{base}/f?op=CREATE", body=b"x")).code == 201
    resp = await fetch("PUT", f"{base}/f?op=MKDIRS")
    assert resp.code == 400 and body(resp)["errno"] == "EEXIST"
    await fetch("DELETE", f"{base}?op=DELETE")


@pytest.mark.parametrize("method, path", [
    ("PATCH", "apolo/api/v1/jobs/job-x"),
    ("GET", "apolo/api/v1/users/alice"),
    ("POST", "apolo/api/v1/users"),
    ("GET", "apolo/api/v1/service_accounts"),
    ("GET", "apolo/storage/local/alice?op=WEBSOCKET"),
    ("POST", "apolo/storage/local/alice/x?op=MKDIRS"),
])
async def test_calls_outside_the_allow_list_are_refused(fetch, method, path):
    resp = await fetch(method, path)
    assert resp.code == 403
    assert "c.ApoloServer" in body(resp)["error"]


async def test_ambiguous_storage_op_is_refused(fetch):
    resp = await fetch("GET", "apolo/storage/local/alice?op=LISTSTATUS&OP=OPEN")
    assert resp.code == 400 and "Ambiguous" in body(resp)["error"]


async def test_response_headers_and_cookies_are_not_relayed(fetch):
    resp = await fetch("GET", "apolo/api/v1/config", headers={"Cookie": "session=browser-secret"})
    assert "Set-Cookie" not in resp.headers or "session" not in resp.headers.get("Set-Cookie", "")
    assert "X-Service-Version" in resp.headers  # an ordinary platform header does come back
    assert resp.headers.get("Connection", "").lower() != "x-service-version"


def rss() -> int:
    """Resident set size of this process (the Jupyter server runs in it), bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_streaming_in_constant_memory(http_server_client, jp_http_port, jp_base_url, jp_auth_header, responses):
    """Upload then download a file larger than the RSS budget through the proxy; the server's
    (this process's) resident memory grows by less than the budget."""
    size_mib = int(os.environ.get("APOLO_TEST_STREAM_MIB", "96"))
    budget = 32 * 1024 * 1024
    assert size_mib * 1024 * 1024 > budget
    block = os.urandom(1 << 20)
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}apolo/storage/local/alice/big-stream.bin"
    peak, baseline, sampling = [0], rss(), [True]

    async def sample():
        while sampling[0]:
            peak[0] = max(peak[0], rss())
            await asyncio.sleep(0.02)

    async def produce():
        for i in range(size_mib):
            yield i.to_bytes(4, "big") + block[4:]

    sent = hashlib.sha256()
    for i in range(size_mib):
        sent.update(i.to_bytes(4, "big") + block[4:])
    sampler = asyncio.ensure_future(sample())
    async with httpx.AsyncClient(headers=jp_auth_header, timeout=120) as client:
        resp = await client.put(url, params={"op": "CREATE"}, content=produce(),
                                headers={"Content-Type": "application/octet-stream"})
        assert resp.status_code == 201, resp.text
        got, n = hashlib.sha256(), 0
        async with client.stream("GET", url, params={"op": "OPEN"}) as resp:
            assert resp.status_code == 200
            assert int(resp.headers["Content-Length"]) == size_mib << 20
            async for chunk in resp.aiter_raw():
                got.update(chunk)
                n += len(chunk)
                responses.record(chunk, "GET big-stream.bin body")
        await client.delete(url, params={"op": "DELETE"})
    sampling[0] = False
    await sampler
    assert n == size_mib << 20 and got.hexdigest() == sent.hexdigest()
    growth = peak[0] - baseline
    print(f"streamed {size_mib} MiB up and down; RSS growth {growth / 2**20:.1f} MiB")
    assert growth < budget, f"RSS grew {growth / 2**20:.1f} MiB streaming {size_mib} MiB"
