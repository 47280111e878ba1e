"""The proxy under a hostile or careless client (issue 10, findings 5, 7 and the 1 MiB log line):
the real server extension against the real embedded platform.

- a raw ``#`` made aiohttp cut the path and query there, so the allow-list checked one call and
  the platform ran another (a role deleted, a folder deleted recursively);
- the platform reads the storage ``op`` differently from the old proxy (``?OP=``, bare ``?LISTSTATUS``);
  ``client.storage_ops`` is checked here against the embedded platform's own reading;
- a DELETE with a body was forwarded with its Content-Length and no body: 60 s, 504, nothing deleted;
- one client that stops reading (or trickles an upload) starved every other user of upstream
  connections, and the wait was reported as a 504 "Connection timeout";
- a 1 MiB platform error was logged as one line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.utils import ensure_async

from jupyter_apolo.client.storage_ops import AmbiguousOperation, storage_operation
from jupyter_apolo.server.proxy import loggable
from jupyter_apolo.server.settings import DEFAULT_STORAGE_ALLOW

STORE = "apolo/storage/local/alice"
#: Jupyter users of the fairness tests, each with its own token (as JupyterHub would give them).
USER_TOKENS = {"mallory-token-0123456789": "mallory", "carol-token-0123456789": "carol"}


class TokenPerUser(IdentityProvider):
    """One Jupyter user per token in ``USER_TOKENS``; any other request as the default provider."""

    async def get_user(self, handler):  # type: ignore[no-untyped-def]
        name = USER_TOKENS.get(self.get_token(handler) or "")
        if name is None:
            return await ensure_async(super().get_user(handler))
        handler._token_authenticated = True  # as the default provider marks token requests
        return User(username=name)


def as_user(name: str) -> dict[str, str]:
    token = next(t for t, n in USER_TOKENS.items() if n == name)
    return {"Authorization": f"token {token}"}


@pytest.fixture
def limits(request):
    """``c.ApoloServer`` settings a test sets: ``@pytest.mark.parametrize("limits", [{...}], indirect=True)``."""
    return getattr(request, "param", {})


@pytest.fixture
def apolo_config(platform, responses, tmp_path, limits):
    token_file = tmp_path / "apolo-token"
    token_file.write_text(responses.watch(platform.token("alice")))
    return {"url": platform.url, "token_file": str(token_file), "request_timeout": 5.0, **limits}


@pytest.fixture
def jp_server_config(apolo_config):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_apolo": True}, "allow_unauthenticated_access": False,
                      "identity_provider_class": TokenPerUser},
        "ApoloServer": apolo_config,
    }


@pytest.fixture
def server_log(jp_serverapp):
    """Every line the Jupyter server logs during the test (its own logger and tornado's)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    keep = Keep(level=logging.DEBUG)
    loggers = [jp_serverapp.log, logging.getLogger("tornado.access"), logging.getLogger("tornado.application")]
    for logger in loggers:
        logger.addHandler(keep)
    yield lines
    for logger in loggers:
        logger.removeHandler(keep)


def body(resp):
    return json.loads(resp.body)


def alice_storage(path: str) -> str:
    """The platform API path of alice's storage ``<path>`` (for ``platform.http("alice")``)."""
    return f"storage/local/alice/{path}"


# -- finding 5: the exact URL -------------------------------------------------------------------


@pytest.fixture
def send_raw(raw_http, jp_base_url, jp_auth_header):
    """``await send_raw("DELETE", "apolo/...#x")`` -> the raw answer; the target goes on the
    request line exactly as written (an HTTP client library would cut it at ``#``)."""

    async def go(method: str, target: str) -> bytes:
        return await raw_http((f"{method} {jp_base_url}{target} HTTP/1.1\r\nHost: localhost\r\n"
                               f"Authorization: {jp_auth_header['Authorization']}\r\nConnection: close\r\n\r\n"
                               ).encode())

    return go


async def test_raw_hash_cannot_turn_a_permissions_call_into_a_role_delete(send_raw, platform):
    """``DELETE users/alice:roles:team#/permissions`` matched the allow-list's
    ``users/[^/]+/permissions`` and aiohttp sent ``DELETE users/alice:roles:team``: the role was deleted."""
    api = platform.http("alice")
    assert api.post("users", json={"name": "alice/roles/hashteam"}).status_code == 201
    answer = await send_raw("DELETE", "apolo/api/v1/users/alice:roles:hashteam#/permissions")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"#" in answer and b"Percent-encode" in answer
    assert api.get("users/alice:roles:hashteam").status_code == 200, "the role was deleted"


async def test_raw_hash_cannot_turn_a_file_delete_into_a_recursive_folder_delete(send_raw, platform):
    """``DELETE dir#/file.txt?op=DELETE&recursive=false``: aiohttp sent ``DELETE dir`` (recursive by default)."""
    api = platform.http("alice")
    for name in ("file.txt", "keep.txt"):
        assert api.put(alice_storage(f"hashdir/{name}?op=CREATE"), content=b"x").status_code == 201
    answer = await send_raw("DELETE", f"{STORE}/hashdir#/file.txt?op=DELETE&recursive=false")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    listing = api.get(alice_storage("hashdir?op=LISTSTATUS"))
    assert listing.status_code == 200, "the folder was deleted"
    assert sorted(s["path"] for s in listing.json()["FileStatuses"]["FileStatus"]) == ["file.txt", "keep.txt"]


@pytest.mark.parametrize("target", [
    f"{STORE}/a%zz.txt",                 # a % that starts no escape (would be re-encoded %25zz)
    f"{STORE}/a.txt?op=OPEN#x",          # a fragment in the query
    f"{STORE}/caf\xe9.txt",               # raw non-ASCII (UTF-8 bytes, read as latin-1 by tornado)
])
async def test_url_parts_the_client_would_rewrite_are_refused(send_raw, target):
    answer = await send_raw("GET", target)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]


# -- finding 5: the storage op as the platform reads it -----------------------------------------


@pytest.mark.parametrize(("limits", "query"), [
    ({"storage_allow": ["GET LISTSTATUS"]}, "OP=LISTSTATUS"),  # the platform ignores 'OP', runs OPEN (the bytes)
    ({"storage_allow": ["GET OPEN"]}, "LISTSTATUS"),           # a bare key names the op: the platform lists
    ({"storage_allow": ["GET OPEN"]}, "op=OPEN&liststatus"),   # two ops: the platform refuses, the old proxy saw OPEN
], indirect=["limits"])
async def test_a_narrowed_storage_allow_cannot_be_bypassed(fetch, platform, limits, query):
    allow = limits["storage_allow"]
    api = platform.http("alice")
    assert api.put(alice_storage("opdir/secret.txt?op=CREATE"), content=b"top secret").status_code == 201
    target = "opdir/secret.txt" if allow == ["GET LISTSTATUS"] else "opdir"
    resp = await fetch("GET", f"{STORE}/{target}?{query}")
    assert resp.code in (400, 403), (resp.code, resp.body[:200])
    assert b"top secret" not in resp.body and b"secret.txt" not in resp.body
    # what the list allows still goes through
    allowed = "opdir?op=LISTSTATUS" if allow == ["GET LISTSTATUS"] else "opdir/secret.txt?op=open"
    assert (await fetch("GET", f"{STORE}/{allowed}")).code == 200


KEYS = ["op", "OP", "Op", "o%70", "liststatus", "LISTSTATUS", "open", "getfilestatus", "GetDiskUsage",
        "delete", "websocket", "x", "recursive"]
VALUES = ["open", "LISTSTATUS", "GetFileStatus", "getdiskusage", "%4FPEN", "delete", "x", "", "open+"]
QUERIES = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES) | st.none()), max_size=3).map(
    lambda pairs: "&".join(k if v is None else f"{k}={v}" for k, v in pairs))
LOCAL_GET_OPS = {"OPEN", "LISTSTATUS", "GETFILESTATUS", "GETDISKUSAGE"}
#: Operations only the real platform has (the embedded one reads ?websocket as a plain key): the
#: rule still names them, so the allow-list (which lists none) refuses them.
REAL_ONLY_OPS = {"WEBSOCKET", "WEBSOCKET_READ", "WEBSOCKET_WRITE"}


def op_the_platform_ran(resp) -> str:
    """What the embedded platform did for a GET on the file ``opfile.txt``, from its answer."""
    if resp.status_code == 200:
        if resp.content == b"opfile":
            return "OPEN"
        doc = resp.json()
        return "GETFILESTATUS" if "FileStatus" in doc else "GETDISKUSAGE" if "total" in doc else f"? {doc}"
    text = resp.text
    if resp.status_code == 400 and "Ambiguous" in text:
        return "AMBIGUOUS"
    if resp.status_code == 400 and ("Unknown operation" in text or "needs HTTP" in text):
        return "REFUSED"
    if resp.status_code == 400 and "ENOTDIR" in text:
        return "LISTSTATUS"
    return f"? {resp.status_code} {text[:100]}"


@pytest.fixture(scope="module")
def opfile(platform):
    api = platform.http("alice")
    assert api.put(alice_storage("opfile.txt?op=CREATE"), content=b"opfile").status_code == 201
    return api


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES)
def test_the_shared_op_rule_is_the_embedded_platforms(opfile, query):
    """``client.storage_ops.storage_operation`` (the rule the proxy checks the allow-list with)
    against the embedded platform's own reading of the same query (localplatform/storage_api.py):
    whenever the rule names an op, the platform runs exactly that one (or refuses an op it does not
    run on GET); whenever the platform finds the query ambiguous, so does the rule."""
    ran = op_the_platform_ran(opfile.get(f"storage/local/alice/opfile.txt?{query}"))
    try:
        op = storage_operation("GET", query)
    except AmbiguousOperation:
        return  # stricter than the platform: refused before it is asked
    assert ran != "AMBIGUOUS", f"{query!r}: the platform refused it as ambiguous, the rule read {op}"
    if op in REAL_ONLY_OPS:
        assert not any(entry.endswith(op) for entry in DEFAULT_STORAGE_ALLOW)
        return
    expected = op if op in LOCAL_GET_OPS else "REFUSED"
    assert ran == expected, f"{query!r}: rule {op}, platform {ran}"


def test_the_op_rule_on_the_findings_queries():
    with pytest.raises(AmbiguousOperation):
        storage_operation("GET", "OP=LISTSTATUS")
    assert storage_operation("GET", "LISTSTATUS") == "LISTSTATUS"
    assert storage_operation("GET", "o%70=liststatus") == "LISTSTATUS"
    assert storage_operation("DELETE", "recursive=false") == "DELETE"
    for query in ("op=OPEN&op=DELETE", "op=OPEN&LISTSTATUS", "li%C5%BFtstatus"):  # the last: a long s
        with pytest.raises(AmbiguousOperation):
            storage_operation("GET", query)


# -- finding 7: bodies on GET/HEAD/DELETE -------------------------------------------------------


async def test_a_delete_with_a_body_is_answered_at_once_not_hung(fetch, platform):
    """Was: forwarded with ``Content-Length: 2`` and no body; the platform waited for it, 504 after
    60 s (5 s here), nothing deleted. Now: a 400 that says what to do, and the connection stays usable."""
    api = platform.http("alice")
    assert api.put(alice_storage("bodydel.txt?op=CREATE"), content=b"x").status_code == 201
    start = time.monotonic()
    resp = await fetch("DELETE", f"{STORE}/bodydel.txt", body=b"{}", headers={"Content-Type": "application/json"})
    assert resp.code == 400, (resp.code, resp.body[:300])
    assert "without one" in body(resp)["error"]
    assert time.monotonic() - start < 3
    assert api.get(alice_storage("bodydel.txt?op=GETFILESTATUS")).status_code == 200
    resp = await fetch("DELETE", f"{STORE}/bodydel.txt")
    assert resp.code in (200, 204)
    assert api.get(alice_storage("bodydel.txt?op=GETFILESTATUS")).status_code == 404
    resp = await fetch("GET", "apolo/api/v1/config", body=b"x" * 1000)
    assert resp.code == 400


# -- finding 7: one client cannot starve the others ---------------------------------------------


class StalledReader:
    """A raw client that asks for a large download, reads the head and stops reading."""

    def __init__(self, port: int, path: str, headers: dict[str, str]):
        self.port, self.path, self.headers = port, path, headers

    async def send(self) -> "StalledReader":
        """Send the request (the answer may still be queued)."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the stall is felt at once
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock)
        head = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        self.writer.write(f"GET {self.path} HTTP/1.1\r\nHost: localhost\r\n{head}\r\n".encode())
        await self.writer.drain()
        return self

    async def status(self, timeout: float = 30) -> bytes:
        """The answer's status line."""
        self.head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        return self.head.split(b"\r\n", 1)[0]

    def close(self) -> None:
        self.writer.close()

    async def __aenter__(self) -> "StalledReader":
        await self.send()
        await self.status()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class TricklingUpload:
    """A raw client that announces a body and sends one byte of it."""

    def __init__(self, port: int, path: str, headers: dict[str, str]):
        self.port, self.path, self.headers = port, path, headers

    async def __aenter__(self) -> "TricklingUpload":
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        self.writer.write(f"PUT {self.path} HTTP/1.1\r\nHost: localhost\r\n{head}Content-Length: 1000\r\n\r\nx"
                          .encode())
        await self.writer.drain()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()


@pytest.fixture(scope="module")
def big_file(platform):
    """``bigfile.bin``: 32 MiB, more than every socket buffer between platform and client holds."""
    api = platform.http("alice")
    assert api.put(alice_storage("bigfile.bin?op=CREATE"), content=b"b" * (32 << 20)).status_code == 201
    return f"{STORE}/bigfile.bin"


@pytest.mark.parametrize("limits", [{"max_connections": 3, "max_connections_per_user": 2, "queue_timeout": 1.0,
                                     "connect_timeout": 2.0}], indirect=True)
async def test_a_stalled_user_gets_429_and_never_starves_another(fetch, limits, big_file, jp_http_port, jp_base_url):
    """Was (2 connections here, 64 by default): another user's calls waited for the pool and failed after
    ``connect_timeout`` with a 504 "Connection timeout to host". Now the stalled user holds at most
    ``max_connections_per_user``; its next call is a 429 naming that limit, the other user's call is at once."""
    mallory = as_user("mallory")
    async with StalledReader(jp_http_port, jp_base_url + big_file, mallory) as stalled, \
            TricklingUpload(jp_http_port, f"{jp_base_url}{STORE}/trickle.bin", mallory):
        assert stalled.head.startswith(b"HTTP/1.1 200"), stalled.head
        await asyncio.sleep(0.3)  # the upload's exchange has started
        start = time.monotonic()
        resp = await fetch("GET", "apolo/api/v1/config", headers=as_user("carol"), auth=False)
        assert resp.code == 200, (resp.code, resp.body[:300])
        assert time.monotonic() - start < 0.9, "the other user waited for a connection"
        resp = await fetch("GET", "apolo/api/v1/config", headers=mallory, auth=False)
        assert resp.code == 429, (resp.code, resp.body[:300])
        assert body(resp)["limit"] == 2 and body(resp)["setting"] == "c.ApoloServer.max_connections_per_user"
        assert "max_connections_per_user" in body(resp)["error"]
    # the slots come back once the clients hang up
    for _ in range(50):
        resp = await fetch("GET", "apolo/api/v1/config", headers=mallory, auth=False)
        if resp.code == 200:
            break
        await asyncio.sleep(0.1)
    assert resp.code == 200


@pytest.mark.parametrize("limits", [{"max_connections": 2, "max_connections_per_user": 0, "queue_timeout": 1.0,
                                     "connect_timeout": 2.0}], indirect=True)
async def test_a_full_pool_is_a_503_naming_the_limit_not_a_timeout(fetch, limits, big_file, jp_http_port, jp_base_url):
    """Waiting for a free upstream connection is not "the platform did not answer": 503 naming
    ``c.ApoloServer.max_connections`` after ``queue_timeout``, where the old proxy gave 504."""
    mallory = as_user("mallory")
    async with StalledReader(jp_http_port, jp_base_url + big_file, mallory), \
            StalledReader(jp_http_port, jp_base_url + big_file, mallory):
        resp = await fetch("GET", "apolo/api/v1/config", headers=as_user("carol"), auth=False)
    assert resp.code == 503, (resp.code, resp.body[:300])
    assert body(resp)["limit"] == 2 and body(resp)["setting"] == "c.ApoloServer.max_connections"
    assert "timed out" not in body(resp)["error"] and "timeout" not in body(resp)["error"].lower()


@pytest.mark.parametrize("limits", [{"max_connections_per_user": 2, "queue_timeout": 1.0}], indirect=True)
async def test_a_user_whose_calls_end_is_served_in_turn_however_long_the_queue(http_server_client, limits, big_file,
                                                                               jp_http_port, jp_base_url):
    """``queue_timeout`` counts time without progress, not time in the queue: with 2 slots, 5 calls
    whose holders hang up one every 0.6 s are all served (the last after ~1.8 s > 1 s)."""
    carol = as_user("carol")
    readers = [await StalledReader(jp_http_port, jp_base_url + big_file, carol).send() for _ in range(5)]
    try:
        for first in readers[:2]:
            assert await first.status(5) == b"HTTP/1.1 200 OK"
        for done, waiting in zip(readers, readers[2:]):
            await asyncio.sleep(0.6)
            done.close()  # the proxy cancels its upstream call: a slot comes free
            assert await waiting.status(5) == b"HTTP/1.1 200 OK"
    finally:
        for reader in readers:
            reader.close()


# -- finding 8: log lines -------------------------------------------------------------------------


async def test_a_long_platform_error_is_one_short_log_line_without_tokens(fetch, server_log, platform, responses):
    huge = "bad://" + "x" * 900_000  # the platform takes request bodies up to 1 MiB
    grant = json.dumps([{"uri": huge, "action": "read"}])
    resp = await fetch("POST", "apolo/api/v1/users/alice/permissions", body=grant,
                       headers={"Content-Type": "application/json"})
    assert resp.code in (400, 403) and len(resp.body) > 900_000  # the browser gets the platform's message
    assert any("apolo: POST" in line and "more characters" in line for line in server_log), server_log[-5:]
    assert max(len(line) for line in server_log) < 1000, max(server_log, key=len)[:300]
    for line in server_log:
        for secret in responses.secrets:
            assert secret not in line


def test_loggable_clips_and_redacts():
    token = "eyJhbGciOiJIUzI1NiJ9.secret-part.signature"
    line = loggable(f"denied for Bearer {token}\nand token={token[::-1]} and {token}" + "x" * 5000, (token,))
    assert token not in line and token[::-1] not in line and "\n" not in line
    assert line.count("<redacted>") == 3
    assert len(line) < 400 and line.endswith("more characters)")
