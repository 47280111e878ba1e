"""Job web UIs behind the platform's auth: bob's JupyterLab job at its ``http_url``
(``<job-id>.jobs.localhost:<platform port>``) opens only for users with read on the job; the
platform token never reaches the job. Python's resolver may not know ``*.localhost``, so the
tests connect to 127.0.0.1 with the job's ``Host`` (what a browser does after resolving it)."""

from __future__ import annotations

import ast
import asyncio
import json
import sys
import uuid

import httpx
import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from tests.support.platform import JobSite, wait_for

LAB = (f"{sys.executable} -m jupyterlab --no-browser --ip=127.0.0.1 --port=8888 --IdentityProvider.token= "
       "--ServerApp.root_dir=/project/notebooks --LabApp.news_url=None --allow-root")
ECHO = ("import argparse, http.server, json; a = argparse.ArgumentParser(); a.add_argument(\"--port\", type=int)\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = json.dumps(dict(self.headers.items())).encode()\n"
        "        self.send_response(200); self.send_header(\"Content-Length\", str(len(body))); self.end_headers()\n"
        "        self.wfile.write(body)\n"
        "http.server.ThreadingHTTPServer((\"127.0.0.1\", a.parse_args().port), H).serve_forever()")


def start_job(platform, user: str, command: str, *, auth: bool = True, volumes=(), name: str | None = None) -> dict:
    body = {"image": "python:3", "preset_name": "cpu-small", "command": command, "volumes": list(volumes),
            "http": {"port": 8888, "requires_auth": auth}}
    if name:
        body["name"] = name
    r = platform.http(user).post("/jobs", params={"from_preset": ""}, json=body)
    assert r.status_code == 202, r.text
    return r.json()


@pytest.fixture(scope="module")
def lab_job(platform):
    """bob's running JupyterLab job (token-less Lab; the platform's auth stands in front)."""
    platform.token("carol")
    volume = {"src_storage_uri": "storage://default/local/bob/notebooks", "dst_path": "/project/notebooks",
              "read_only": False}
    job = start_job(platform, "bob", LAB, volumes=[volume])
    site = JobSite(platform, job, "bob")
    wait_for(lambda: site.get("/api/status").status_code == 200, timeout=90, interval=0.5, what="bob's JupyterLab")
    yield job
    platform.http("bob").delete(f"/jobs/{job['id']}")


def test_unauthenticated_gets_401_or_the_login_redirect(platform, lab_job):
    site = JobSite(platform, lab_job)
    r = site.get("/lab")
    assert r.status_code == 401 and "Bearer" in r.headers["WWW-Authenticate"]
    r = site.get("/lab?reset", headers={"Accept": "text/html"})
    assert r.status_code == 302 and r.headers["Location"] == "/.apolo/login?next=%2Flab%3Freset"
    form = site.get("/.apolo/login?next=/lab")
    assert form.status_code == 200 and 'name="token"' in form.text
    forged = site.get("/lab", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401


def test_carol_without_a_share_gets_403(platform, lab_job):
    r = JobSite(platform, lab_job, "carol").get("/lab")
    assert r.status_code == 403 and "read on job://" in r.json()["error"]


def _kernel_roundtrip(platform, site: JobSite, cookies: dict[str, str], code: str) -> str:
    """Start a kernel through the job's host, run ``code`` over the kernel websocket; its stdout."""
    xsrf = site.http.cookies.get("_xsrf") or cookies.get("_xsrf", "")
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    headers = {"Cookie": cookie_header, "X-XSRFToken": xsrf}
    kernel = site.http.post("/api/kernels", json={"name": "python3"}, headers=headers)
    assert kernel.status_code == 201, kernel.text
    kid = kernel.json()["id"]

    async def run() -> str:
        request = HTTPRequest(f"ws://{platform.base.removeprefix('http://')}/api/kernels/{kid}/channels",
                              headers={"Host": site.host, "Cookie": cookie_header, "Origin": f"http://{site.host}"})
        ws = await websocket_connect(request)
        msg_id = uuid.uuid4().hex
        ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": "t", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out = ""
        while True:
            raw = await asyncio.wait_for(ws.read_message(), 60)
            assert raw is not None, "the kernel websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                ws.close()
                return out

    try:
        return asyncio.run(run())
    finally:
        site.http.delete(f"/api/kernels/{kid}", headers=headers)


def test_share_read_opens_lab_and_runs_a_cell_then_revoke_closes_it(platform, cli, lab_job):
    job_id = lab_job["id"]
    alice_bearer = JobSite(platform, lab_job, "alice")
    assert alice_bearer.get("/lab").status_code == 403
    cli("bob")("share", f"job:{job_id}", "alice", "read")
    try:
        lab = alice_bearer.get("/lab")
        assert lab.status_code == 200 and "JupyterLab" in lab.text
        # a browser: log in through the form, then only the dat cookie authenticates
        browser = JobSite(platform, lab_job)
        login = browser.http.post("/.apolo/login", data={"token": platform.token("alice"), "next": "/lab"})
        assert login.status_code == 303 and login.headers["Location"] == "/lab"
        cookie_header = login.headers["Set-Cookie"].lower()
        assert "httponly" in cookie_header and "samesite=lax" in cookie_header
        lab = browser.get("/lab")  # the client keeps dat (and now Jupyter's _xsrf) as cookies
        assert lab.status_code == 200 and "JupyterLab" in lab.text
        cookies = dict(browser.http.cookies.items())
        # the browser keeps a session for this host, never the platform token
        assert platform.token("alice") not in login.headers["Set-Cookie"] and cookies["dat"] != platform.token("alice")
        as_api_token = httpx.get(f"{platform.url}/jobs", headers={"Authorization": f"Bearer {cookies['dat']}"})
        assert as_api_token.status_code == 401
        other_host = job_id.replace(job_id[-4:], "0000") + ".jobs.localhost"
        other = browser.http.get("/lab", headers={"Host": other_host, "Cookie": f"dat={cookies['dat']}"})
        assert other.status_code == 401
        assert _kernel_roundtrip(platform, browser, cookies, "print(6 * 7)") == "42\n"
        # a websocket with the cookie from a foreign page is refused
        async def foreign_page() -> None:
            await websocket_connect(HTTPRequest(
                f"ws://{platform.base.removeprefix('http://')}/api/events/subscribe",
                headers={"Host": browser.host, "Cookie": f"dat={cookies['dat']}", "Origin": "http://evil.example"}))

        with pytest.raises(HTTPClientError) as refused:
            asyncio.run(foreign_page())
        assert refused.value.code == 403
    finally:
        cli("bob")("acl", "revoke", f"job:{job_id}", "alice")
    assert alice_bearer.get("/lab").status_code == 403
    assert browser.get("/lab").status_code == 403


def test_the_platform_token_never_reaches_the_job(platform, cli):
    job = start_job(platform, "alice", f"python -c '{ECHO}' --port 8888")
    try:
        site = JobSite(platform, job, "alice")
        wait_for(lambda: site.get("/").status_code == 200, timeout=30, what="the echo job")
        seen = site.get("/", headers={"Cookie": f"dat={platform.token('alice')}; keep=1"}).json()
        assert "Authorization" not in seen and seen["Cookie"] == "keep=1"
        assert seen["Host"].startswith("127.0.0.1:") and seen["X-Forwarded-Host"] == site.host
        assert platform.token("alice") not in json.dumps(seen)
    finally:
        platform.http("alice").delete(f"/jobs/{job['id']}")


def test_public_job_needs_no_token_and_a_finished_job_is_gone(platform):
    job = start_job(platform, "alice", f"python -c '{ECHO}' --port 8888", auth=False, name="public-echo")
    site = JobSite(platform, job)
    wait_for(lambda: site.get("/").status_code == 200, timeout=30, what="the public echo job")
    named = job["http_url_named"].removeprefix("http://")
    assert named.startswith(f"public-echo--{job['org_project_hash']}.jobs.localhost:")
    assert JobSite(platform, {"http_url": job["http_url_named"]}).get("/").status_code == 200
    platform.http("alice").delete(f"/jobs/{job['id']}")
    assert site.get("/", headers={"Authorization": f"Bearer {platform.token('alice')}"}).status_code == 404


def test_large_download_streams_through(platform):
    script = ("import argparse, http.server; a = argparse.ArgumentParser(); a.add_argument(\"--port\", type=int)\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              "        self.send_response(200); self.send_header(\"Content-Length\", str(8 << 20)); "
              "self.end_headers()\n"
              "        for _ in range(8): self.wfile.write(bytes(range(256)) * 4096)\n"
              "http.server.ThreadingHTTPServer((\"127.0.0.1\", a.parse_args().port), H).serve_forever()")
    job = start_job(platform, "alice", f"python -c '{script}' --port 8888")
    try:
        site = JobSite(platform, job, "alice")
        wait_for(lambda: site.get("/").status_code == 200, timeout=30, what="the download job")
        body = site.get("/").content
        assert len(body) == 8 << 20 and body[:512] == bytes(range(256)) * 2
    finally:
        platform.http("alice").delete(f"/jobs/{job['id']}")


def test_a_server_asked_to_listen_on_all_interfaces_listens_on_loopback(platform):
    """The flow template's Jupyter passes --ip=0.0.0.0: the job's port must not face the network."""
    alice = platform.http("alice")
    job = start_job(platform, "alice", "python -c 'import sys; print(sys.argv[1:])' --ip=0.0.0.0 --port=8888 --host ::")
    wait_for(lambda: alice.get(f"/jobs/{job['id']}").json()["status"] == "succeeded", timeout=30, what="the job")
    log = alice.get(f"{platform.monitoring_url}/{job['id']}/log").text
    args = ast.literal_eval(log)  # the job printed its argv as a Python list
    assert args[0] == "--ip=127.0.0.1" and args[1].startswith("--port=") and args[1] != "--port=8888"
    assert args[2:] == ["--host", "127.0.0.1"]


def test_the_token_less_lab_answers_only_the_platform(platform, lab_job):
    """bob's Lab was started with an empty token; its loopback port must still refuse anyone
    who does not come through the platform's proxy, and no page may carry what opens it."""
    runtime = platform.root / "jobs" / lab_job["id"] / "root" / ".local" / "share" / "jupyter" / "runtime"
    runtime_files = wait_for(lambda: sorted(runtime.glob("jpserver-*.json")), timeout=30, what="Lab's runtime file")
    server = json.loads(runtime_files[0].read_text())
    direct = httpx.Client(base_url=f"http://127.0.0.1:{server['port']}", timeout=30)
    assert direct.get("/api/contents").status_code == 403
    assert direct.get("/lab").status_code == 302  # to Jupyter's own login form
    assert server["token"]  # a secret the platform gave it, not the empty one in its command
    via_platform = JobSite(platform, lab_job, "bob").get("/lab")
    assert via_platform.status_code == 200 and "JupyterLab" in via_platform.text
    assert server["token"] not in via_platform.text
    assert not any(c.startswith("username-") for c in via_platform.headers.get_list("set-cookie"))


def test_a_response_cut_off_by_the_job_is_cut_off_for_the_client(platform):
    script = ("import argparse, http.server; a = argparse.ArgumentParser(); a.add_argument(\"--port\", type=int)\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    protocol_version = \"HTTP/1.1\"\n"
              "    def do_GET(self):\n"
              "        self.send_response(200); self.send_header(\"Transfer-Encoding\", \"chunked\"); "
              "self.end_headers()\n"
              "        self.wfile.write(b\"5\\r\\nhello\\r\\n\"); self.wfile.flush()\n"
              "        if self.path == \"/cut\": self.connection.shutdown(2); self.close_connection = True; return\n"
              "        self.wfile.write(b\"0\\r\\n\\r\\n\")\n"
              "http.server.ThreadingHTTPServer((\"127.0.0.1\", a.parse_args().port), H).serve_forever()")
    job = start_job(platform, "alice", f"python -c '{script}' --port 8888")
    try:
        site = JobSite(platform, job, "alice")
        wait_for(lambda: site.get("/").status_code == 200, timeout=30, what="the chunked job")
        assert site.get("/").text == "hello"
        with pytest.raises(httpx.RemoteProtocolError):
            site.get("/cut")
    finally:
        platform.http("alice").delete(f"/jobs/{job['id']}")


def test_one_time_login_link_for_a_server_that_holds_the_token(platform, cli, lab_job):
    """POST {api}/jobs/{id}/web_login: a server holding alice's token gets a one-time link that
    signs her browser in to the job's host; the browser never sees a token."""
    assert platform.http("carol").post(f"/jobs/{lab_job['id']}/web_login").status_code == 403
    cli("bob")("share", f"job:{lab_job['id']}", "alice", "read")
    try:
        link = platform.http("alice").post(f"/jobs/{lab_job['id']}/web_login", params={"next": "/lab"})
        assert link.status_code == 200, link.text
        url = httpx.URL(link.json()["url"])
        assert url.host == f"{lab_job['id']}.jobs.localhost" and url.path == "/.apolo/login"
        browser = JobSite(platform, lab_job)
        signed_in = browser.get(f"{url.path}?{url.query.decode()}")
        assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/lab"
        assert platform.token("alice") not in signed_in.headers["Set-Cookie"]
        assert browser.get("/lab").status_code == 200
        again = JobSite(platform, lab_job).get(f"{url.path}?{url.query.decode()}")
        assert again.status_code == 401 and "used already" in again.text  # one use only
    finally:
        cli("bob")("acl", "revoke", f"job:{lab_job['id']}", "alice")
