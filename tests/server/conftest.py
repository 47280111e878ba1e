"""pytest-jupyter for the server-extension tests only (never from a root conftest: it breaks
sync Playwright in the browser tests). The extension talks to the module's embedded platform
as alice, with explicit url/token config.

Every response a test sees goes through ``responses`` (``fetch``/``raw_http`` record them); at
the end of each module the recorded bodies and headers are scanned for every platform token
the module configured: the browser must never see one.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlencode

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]


class ResponseLog:
    """Bytes of every response (status line, headers, body) seen in one test module."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.count = 0
        self._tail = b""
        self.leaks: list[str] = []

    def watch(self, secret: str) -> str:
        self.secrets.add(secret)
        return secret

    def record(self, data: bytes, where: str) -> None:
        """Scan ``data`` (a header block or a body chunk); chunks are joined across boundaries."""
        self.count += 1
        window = self._tail + data
        for secret in self.secrets:
            if secret.encode() in window:
                self.leaks.append(where)
        keep = max((len(s) for s in self.secrets), default=0)
        self._tail = window[-keep:] if keep else b""

    def record_response(self, resp, where: str) -> None:  # tornado HTTPResponse
        headers = "".join(f"{k}: {v}\r\n" for k, v in resp.headers.get_all()).encode()
        self._tail = b""
        self.record(headers, f"{where} headers")
        self._tail = b""
        self.record(resp.body or b"", f"{where} body")
        self._tail = b""


@pytest.fixture(scope="module")
def responses():
    log = ResponseLog()
    yield log
    assert log.count > 0, "no response was recorded: the token scan would prove nothing"
    assert not log.leaks, f"a platform token appeared in: {log.leaks}"


@pytest.fixture
def apolo_config(platform, responses, tmp_path):
    """``c.ApoloServer`` for the tests (alice on the module's platform); override in a module to
    point elsewhere. The token goes through ``token_file``: jupyter_server logs config values."""
    token_file = tmp_path / "apolo-token"
    token_file.write_text(responses.watch(platform.token("alice")))
    return {"url": platform.url, "token_file": str(token_file)}


@pytest.fixture
def jp_server_config(apolo_config):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_apolo": True}, "allow_unauthenticated_access": False},
        "ApoloServer": apolo_config,
    }


@pytest.fixture
def fetch(http_server_client, jp_base_url, jp_auth_header, responses):
    """``await fetch(method, path, body=..., headers=..., auth=True)`` -> tornado response of
    any status. ``path`` is sent as written (no escaping) after the base url ``/a%40b/``."""

    async def go(method: str, path: str, *, body=None, headers=None, auth: bool = True, **kw):
        all_headers = {**(jp_auth_header if auth else {}), **(headers or {})}
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        resp = await http_server_client.fetch(
            jp_base_url + path, method=method, body=body, headers=all_headers, raise_error=False,
            allow_nonstandard_methods=True, follow_redirects=False, request_timeout=120, **kw,
        )
        responses.record_response(resp, f"{method} {path}")
        return resp

    return go


@pytest.fixture
def raw_http(http_server_client, jp_http_port, responses):
    """``await raw_http(b"GET ... HTTP/1.1\\r\\n...")`` -> the full raw answer (connection: close)."""

    async def go(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        responses.record(data, request.split(b"\r\n", 1)[0].decode())
        return data

    return go


@pytest.fixture
def no_ambient_credentials(monkeypatch, tmp_path):
    """An environment where only explicit config can provide credentials."""
    for name in ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG", "NEURO_JOB_ID", "NEURO_JOB_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APOLO_CONFIG", str(tmp_path / "no-apolo-config"))
    monkeypatch.setenv("JUPYTER_APOLO_EMBEDDED", str(tmp_path / "no-embedded.json"))
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def cookie_session(http_server_client, jp_base_url, jp_serverapp, responses):
    """``await cookie_session()``: log in through the login form as a browser does ->
    ``(cookie header, xsrf token)``."""
    return lambda: _login(http_server_client, jp_base_url, jp_serverapp, responses)


async def _login(http_server_client, jp_base_url, jp_serverapp, responses):
    resp = await http_server_client.fetch(f"{jp_base_url}login", raise_error=False)
    xsrf = re.search(r"_xsrf=([^;]+)", " ".join(resp.headers.get_list("Set-Cookie"))).group(1)
    resp = await http_server_client.fetch(
        f"{jp_base_url}login", method="POST", follow_redirects=False, raise_error=False,
        body=urlencode({"password": jp_serverapp.identity_provider.token, "_xsrf": xsrf}),
        headers={"Cookie": f"_xsrf={xsrf}"},
    )
    responses.record_response(resp, "POST login")
    assert resp.code == 302, resp.code
    cookies = [c.split(";", 1)[0] for c in resp.headers.get_list("Set-Cookie")]
    return "; ".join([f"_xsrf={xsrf}", *cookies]), xsrf
