"""Security of every jupyter-apolo route: authentication, XSRF for cookie sessions, and the
proxy refusing anything that could reach another host or path (SSRF)."""

from __future__ import annotations

import json

import pytest

ROUTES = [
    ("GET", "apolo/version"),
    ("GET", "apolo/context"),
    ("GET", "apolo/api/v1/config"),
    ("GET", "apolo/api/v1/jobs"),
    ("POST", "apolo/api/v1/users/bob/permissions"),
    ("DELETE", "apolo/api/v1/users/bob/permissions?uri=storage://default/local/alice"),
    ("GET", "apolo/storage/local/alice?op=LISTSTATUS"),
    ("PUT", "apolo/storage/local/alice/unauth.txt?op=CREATE"),
    ("POST", "apolo/transfers"),
    ("GET", "apolo/transfers/some-id"),
    ("GET", "apolo/jobs"),
    ("GET", "apolo/jobs/some-id"),
    ("DELETE", "apolo/jobs/some-id"),
    ("GET", "apolo/jobs/some-id/log"),
    ("GET", "apolo/shares?uri=storage:"),
    ("POST", "apolo/shares"),
    ("DELETE", "apolo/shares?uri=storage:&user=bob"),
]


@pytest.mark.parametrize("method, path", ROUTES)
async def test_unauthenticated_requests_are_refused(fetch, platform, method, path):
    resp = await fetch(method, path, auth=False, body=b"data" if method in ("POST", "PUT") else None)
    assert resp.code == 403, (resp.code, resp.body)
    status = platform.http("alice").get("storage/local/alice/unauth.txt", params={"op": "GETFILESTATUS"})
    assert status.status_code == 404


async def test_cookie_session_post_needs_the_xsrf_header(fetch, cookie_session, platform):
    cookie, xsrf = await cookie_session()
    grant = json.dumps([{"uri": "storage://default/local/alice/xsrf-test", "action": "read"}])
    # a cookie-authenticated GET works: the session is real
    resp = await fetch("GET", "apolo/context", auth=False, headers={"Cookie": cookie})
    assert resp.code == 200

    resp = await fetch("POST", "apolo/api/v1/users/bob/permissions", auth=False, body=grant,
                       headers={"Cookie": cookie, "Content-Type": "application/json"})
    assert resp.code == 403
    bob_sees = platform.http("bob").get("users/bob/permissions").json()
    assert not any(p["uri"].endswith("xsrf-test") for p in bob_sees)  # nothing was shared

    resp = await fetch("POST", "apolo/api/v1/users/bob/permissions", auth=False, body=grant,
                       headers={"Cookie": cookie, "Content-Type": "application/json", "X-XSRFToken": xsrf})
    assert resp.code == 201, resp.body
    resp = await fetch("DELETE", "apolo/api/v1/users/bob/permissions?uri=storage://default/local/alice/xsrf-test",
                       auth=False, headers={"Cookie": cookie, "X-XSRFToken": xsrf})
    assert resp.code == 204


async def test_cookie_session_upload_needs_the_xsrf_header(fetch, cookie_session, platform):
    cookie, _ = await cookie_session()
    resp = await fetch("PUT", "apolo/storage/local/alice/xsrf.txt?op=CREATE", auth=False, body=b"evil",
                       headers={"Cookie": cookie})
    assert resp.code == 403
    assert platform.http("alice").get("storage/local/alice/xsrf.txt", params={"op": "GETFILESTATUS"}).status_code == 404


SSRF_PATHS = [
    "apolo/api/v1/http://other-host/api/v1/config",
    "apolo/api/v1//other-host/config",
    "apolo/api/v1/jobs/../config",
    "apolo/api/v1/jobs/%2e%2e/config",
    "apolo/api/v1/jobs/.%2E/config",
    "apolo/api/v1/users%2falice/permissions",
    "apolo/api/v1/users%2Falice%2Fpermissions",
    "apolo/api/v1/jobs/x%5c..%5cconfig",
    "apolo/storage/local/alice/../bob/secret.txt?op=OPEN",
    "apolo/storage/local/alice/%2e%2e/%2e%2e/other-org/p/x?op=OPEN",
    "apolo/storage/local/alice/a%2f..%2f..%2fbob?op=LISTSTATUS",
    "apolo/storage//other-host/x?op=OPEN",
    "apolo/storage/local/alice/x%00y?op=OPEN",
]


@pytest.mark.parametrize("path", SSRF_PATHS)
async def test_ssrf_paths_are_refused(raw_http, jp_base_url, jp_auth_header, path):
    # raw HTTP: an HTTP client library could normalise '..' or '//' away before sending
    answer = await raw_http(f"GET {jp_base_url}{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Authorization: {jp_auth_header['Authorization']}\r\nConnection: close\r\n\r\n".encode())
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 404), answer[:300]
    if status == 400:
        assert b"Refused path" in answer


@pytest.mark.parametrize("target", ["http://other-host", "http://127.0.0.1:1"])
async def test_absolute_form_request_targets_are_not_proxied(raw_http, jp_base_url, jp_auth_header, target):
    answer = await raw_http(f"GET {target}{jp_base_url}apolo/api/v1/config HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Authorization: {jp_auth_header['Authorization']}\r\nConnection: close\r\n\r\n".encode())
    assert int(answer.split(b" ", 2)[1]) in (400, 404), answer[:300]
    assert b"clusters" not in answer


async def test_a_normal_path_still_works(raw_http, jp_base_url, jp_auth_header):
    """Positive control for the SSRF tests: the same raw request with a clean path succeeds."""
    answer = await raw_http(f"GET {jp_base_url}apolo/api/v1/config HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Authorization: {jp_auth_header['Authorization']}\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200") and b"clusters" in answer


async def test_no_platform_token_in_server_logs(fetch, responses, caplog):
    """Requests, errors and refusals log paths and statuses, never the platform token."""
    with caplog.at_level("DEBUG"):
        await fetch("GET", "apolo/api/v1/config")
        await fetch("GET", "apolo/api/v1/jobs/job-none")
        await fetch("GET", "apolo/api/v1/jobs/%2e%2e")
        await fetch("PATCH", "apolo/api/v1/jobs/x")
        await fetch("GET", "apolo/context")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/a%40b/apolo/api/v1/jobs/job-none" in text  # the records were captured
    assert responses.secrets and not any(secret in text for secret in responses.secrets)
