"""Job web UIs behind the platform's auth (the real platform's ingress, reference §3.6, §6.6).

A job with ``http.port`` gets ``http_url`` ``http://<job-id>.jobs.localhost:<platform port>``
(and ``http_url_named`` ``http://<name>--<org_project_hash>.jobs.localhost:<port>`` when named),
the real ingress's host-name scheme on loopback: browsers resolve ``*.localhost`` to 127.0.0.1,
and a per-job host needs no base-URL rewriting inside the job (JupyterLab works as is). Python
clients, whose resolver may not know ``*.localhost``, connect to 127.0.0.1 with that ``Host``.

Requests to such a host are served here, before the API routes, and forwarded (HTTP, streamed
responses, and websockets) to the job's loopback port, only for:

- a job with ``requires_auth: false`` (public, as ``--no-http-auth`` on the real platform);
- otherwise a request carrying a platform token (``Authorization: Bearer`` or the ``dat`` cookie
  the real ingress accepts) of a user with ``read`` on the job. Without one: 401, or for a browser
  (``Accept: text/html``) a redirect to ``/.apolo/login`` on the job's host, a form that checks a
  token and sets ``dat`` (HttpOnly, SameSite=Lax, that host only) to a signed session for that user
  and that host (``session_value``, 12 h): the browser never keeps the platform token, and read
  on the job is checked again on every request. A user without read: 403.

The platform token never reaches the job: ``dat`` and a bearer ``Authorization`` are removed
from what is forwarded, and ``Host``/``Origin`` are those of the job's own port so that servers
checking them (Jupyter's host and origin checks) accept the request.

A Jupyter job started with an empty token (the seeded notebook job, the flow template's
``jupyter``) really gets a secret one in its private environment (``runner._jupyter_token``):
the proxy sends it (``Authorization: token ...``), removes it from HTML pages (JupyterLab puts
its token in the page) and keeps Jupyter's own login cookie from the browser, so the job's
loopback port answers nobody but the platform. Other jobs' ports stay reachable by local
processes that find them (jobs share the host's network).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDict
from tornado import httputil, web, websocket
from tornado.routing import HostMatches, Matcher, Rule

from . import jobs_api
from .base import BaseHandler, authenticate
from .runner import FINISHED
from .state import Platform, PlatformError

HOST_SUFFIX = ".jobs.localhost"
LOGIN_PATH = "/.apolo/login"
COOKIE = "dat"
SESSION_PREFIX = "s."
SESSION_SECONDS = 12 * 3600.0  # how long a login on a job's host lasts
CHUNK = 256 * 1024
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,80})"
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length"}
_WS_OWN = {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}

_sessions: dict[int, aiohttp.ClientSession] = {}


def public_urls(job: dict[str, Any], request_host: str) -> tuple[str, str | None]:
    """``(http_url, http_url_named or None)`` of ``job`` for a platform reached at
    ``request_host`` (``host[:port]`` of the create request; its port is kept)."""
    port = request_host.rsplit(":", 1)[1] if re.search(r":\d+$", request_host) else "80"
    suffix = f"{HOST_SUFFIX}:{port}"
    named = f"http://{job['name']}--{job['org_project_hash']}{suffix}" if job.get("name") else None
    return f"http://{job['id']}{suffix}", named


def _session() -> aiohttp.ClientSession:
    """One pooled client session per event loop (keep-alive to job ports; bodies as is)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(id(loop))
    if session is None or session.closed:
        session = _sessions[id(loop)] = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(), connector=aiohttp.TCPConnector(limit=0, force_close=False),
        )
    return session


async def shutdown(platform: Platform) -> None:
    """Close the upstream session of the current loop."""
    session = _sessions.pop(id(asyncio.get_running_loop()), None)
    if session:
        await session.close()


def find_job(platform: Platform, label: str) -> dict[str, Any] | None:
    """The live job a host label names: ``job-<uuid>`` or ``<name>--<org_project_hash>``."""
    if label.startswith("job-"):
        return platform.load_job(label)
    name, sep, digest = label.rpartition("--")
    if not sep:
        return None
    for job in platform.iter_jobs("name = ? AND status NOT IN (?, ?, ?)", (name, *FINISHED)):
        if job.get("org_project_hash") == digest:
            return job
    return None


class _Target:
    """Where an authorised request goes: the job, its loopback port, how the caller was
    authorised, and the secret Jupyter token only the proxy sends (``runner._jupyter_token``)."""

    def __init__(self, job: dict[str, Any], port: int, by_cookie: bool, by_bearer: bool, token: str | None):
        self.job, self.port, self.by_cookie, self.by_bearer, self.token = job, port, by_cookie, by_bearer, token


class _Unauthenticated(Exception):
    pass


def _authorize(handler: web.RequestHandler, platform: Platform) -> _Target:
    """Resolve and authorise the request's job. Raises ``PlatformError`` (403/404/502) or
    ``_Unauthenticated`` (no valid token for a job that requires one)."""
    label = handler.request.host_name.split(".", 1)[0]
    job = find_job(platform, label)
    header = handler.request.headers.get("Authorization", "")
    bearer = header if header[:7].lower() == "bearer " else ""
    cookie = handler.get_cookie(COOKIE)
    public = job is not None and not job["container"].get("http", {}).get("requires_auth", True)
    if not public:
        user = session_user(platform, cookie, label) if cookie and cookie.startswith(SESSION_PREFIX) else None
        for credential in (bearer, f"Bearer {cookie}" if cookie and not user else ""):
            if credential and not user:
                with contextlib.suppress(PlatformError):
                    user = authenticate(platform, credential)
        if user is None:
            raise _Unauthenticated()
        if job is not None and not jobs_api.can(platform.tree(user), job, "read"):
            raise PlatformError(403, f"Not enough permissions: read on {jobs_api.job_uri(job)} is required to open "
                                     "its web UI; ask its owner to `apolo share` it with you")
    if job is None or job["status"] in FINISHED:
        raise PlatformError(404, f"No running job at {handler.request.host_name}")
    runner = jobs_api.runner_for(platform)
    port = runner.local_ports.get(job["id"])
    if not port or job["status"] != "running":
        raise PlatformError(502, f"Job {job['id']} is {job['status']}: its web UI is not up yet")
    return _Target(job, port, by_cookie=bool(cookie) and not bearer, by_bearer=bool(bearer),
                   token=runner.upstream_tokens.get(job["id"]))


def session_value(platform: Platform, user: str, label: str, lifetime: float = SESSION_SECONDS) -> str:
    """The ``dat`` value the login form sets: ``s.<payload>.<hmac>`` naming ``user`` and the job
    host ``label`` until ``lifetime`` seconds from now, signed with the platform's secret. Not a
    platform token: the API refuses it, and it opens no other job's host."""
    payload = base64.urlsafe_b64encode(json.dumps({"u": user, "h": label, "exp": int(time.time() + lifetime)}).encode())
    signature = hmac.new(platform.secret, b"job-web\0" + payload, hashlib.sha256).hexdigest()
    return f"{SESSION_PREFIX}{payload.decode()}.{signature}"


def session_user(platform: Platform, value: str, label: str) -> str | None:
    """The user of a valid, unexpired ``session_value`` for host ``label``; else None."""
    try:
        payload, signature = value[len(SESSION_PREFIX):].rsplit(".", 1)
        expected = hmac.new(platform.secret, b"job-web\0" + payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return None
        claims = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, TypeError):
        return None
    if claims.get("h") != label or claims.get("exp", 0) < time.time():
        return None
    user = claims.get("u")
    return user if isinstance(user, str) and platform.principal_kind(user) == "user" else None


def _jupyter_login_cookie(name: str) -> bool:
    """Jupyter's own login cookie (``username-<host>``): with a proxy-held token it must not
    reach the browser, or it would open the job's port to its holder without the platform."""
    return name.strip().startswith("username-")


def _upstream_headers(handler: web.RequestHandler, target: _Target, drop: set[str]) -> dict[str, Any]:
    """The request's headers as the job should see them (no platform token; its own Host/Origin)."""
    request = handler.request
    own = f"127.0.0.1:{target.port}"
    out = httputil.HTTPHeaders()
    for key, value in request.headers.get_all():
        low = key.lower()
        if low in _HOP_BY_HOP or low in drop or (low == "authorization" and (target.by_bearer or target.token)):
            continue
        if low == "accept-encoding" and target.token:
            continue  # HTML is rewritten (the token removed): have it plain
        if low == "cookie":
            value = "; ".join(c for c in (p.strip() for p in value.split(";")) if c and not c.startswith(COOKIE + "=")
                              and not (target.token and _jupyter_login_cookie(c.split("=", 1)[0])))
            if not value:
                continue
        elif low == "origin" and value == _origin(request):
            value = f"http://{own}"
        elif low == "referer" and value.startswith(_origin(request)):
            value = f"http://{own}" + value[len(_origin(request)):]
        out.add(key, value)
    out["Host"] = own
    if target.token:
        out["Authorization"] = f"token {target.token}"
    out["X-Forwarded-Host"] = request.host
    out["X-Forwarded-Proto"] = request.protocol
    out["X-Forwarded-For"] = request.remote_ip or ""
    return CIMultiDict(out.get_all())


def _origin(request: httputil.HTTPServerRequest) -> str:
    return f"{request.protocol}://{request.host}"


def _send_unauthenticated(handler: web.RequestHandler) -> None:
    """401 for API clients, a redirect to the login form for browsers."""
    if "text/html" in handler.request.headers.get("Accept", "") and handler.request.method in ("GET", "HEAD"):
        handler.redirect(f"{LOGIN_PATH}?{urlencode({'next': handler.request.uri})}")
        return
    handler.set_status(401)
    handler.set_header("WWW-Authenticate", 'Bearer realm="jupyter-apolo job"')
    handler.set_header("Content-Type", "application/json")
    handler.finish('{"error": "Not authorized: this job\'s web UI needs a platform token '
                   '(Authorization: Bearer <token>, or log in at ' + LOGIN_PATH + ')"}')


def _send_error(handler: web.RequestHandler, exc: PlatformError) -> None:
    handler.set_status(exc.status)
    handler.set_header("Content-Type", "application/json")
    handler.finish(web.escape.json_encode({"error": exc.message}))


class JobHTTPProxy(web.RequestHandler):
    """Forwards any HTTP request on a job's host to the job, streaming the response."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, platform: Platform) -> None:
        self.platform = platform
        self.target: _Target | None = None

    def compute_etag(self) -> None:  # the job's own ETag headers pass through untouched
        return None

    def prepare(self) -> None:
        try:
            self.target = _authorize(self, self.platform)
        except _Unauthenticated:
            _send_unauthenticated(self)
        except PlatformError as exc:
            _send_error(self, exc)

    async def _forward(self, *args: Any) -> None:
        assert self.target is not None
        request = self.request
        url = f"http://127.0.0.1:{self.target.port}{request.uri}"
        headers = _upstream_headers(self, self.target, set())
        try:
            async with _session().request(request.method, url, headers=headers, data=request.body or None,
                                          allow_redirects=False) as resp:
                token = self.target.token
                rewrite = bool(token) and resp.headers.get("Content-Type", "").startswith("text/html")
                self.set_status(resp.status, resp.reason or "Unknown")
                self.clear_header("Content-Type")
                seen: set[str] = set()
                for key, value in resp.headers.items():
                    low = key.lower()
                    if (low in _HOP_BY_HOP and low != "content-length") or (rewrite and low == "content-length"):
                        continue
                    if low == "set-cookie" and token and _jupyter_login_cookie(value.split("=", 1)[0]):
                        continue
                    if low == "location":
                        value = value.replace(f"http://127.0.0.1:{self.target.port}", _origin(request), 1)
                    (self.add_header if low in seen else self.set_header)(key, value)
                    seen.add(low)
                if request.method == "HEAD" or resp.status in (204, 304):
                    self.finish()
                    return
                if rewrite and token:  # JupyterLab puts its token in the page: the browser must not see it
                    self.finish((await resp.read()).replace(token.encode(), b""))
                    return
                async for chunk in resp.content.iter_chunked(CHUNK):
                    self.write(chunk)
                    await self.flush()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if not self._headers_written:
                self.clear()
                _send_error(self, PlatformError(502, f"The job's web server did not answer: {exc}"))
            else:  # cut off mid-body: drop the connection so the client cannot take it as complete
                self._auto_finish = False
                self.request.connection.close()
            return
        self.finish()

    get = head = post = put = patch = delete = options = _forward


class JobWebSocketProxy(websocket.WebSocketHandler):
    """Forwards a websocket on a job's host to the job (Jupyter kernels, terminals)."""

    def initialize(self, platform: Platform) -> None:
        self.platform = platform
        self.upstream: aiohttp.ClientWebSocketResponse | None = None
        self._pump: asyncio.Task | None = None

    @property
    def max_message_size(self) -> int:
        return 1 << 30

    async def get(self, *args: Any, **kwargs: Any) -> None:
        try:
            target = _authorize(self, self.platform)
        except _Unauthenticated:
            _send_unauthenticated(self)
            return
        except PlatformError as exc:
            _send_error(self, exc)
            return
        origin = self.request.headers.get("Origin")
        if target.by_cookie and origin and origin != _origin(self.request):
            _send_error(self, PlatformError(403, f"Cross-origin websocket from {origin} refused"))
            return
        protocols = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        url = f"ws://127.0.0.1:{target.port}{self.request.uri}"
        try:
            self.upstream = await _session().ws_connect(
                url, headers=_upstream_headers(self, target, _WS_OWN), protocols=protocols, max_msg_size=0,
                autoping=True, autoclose=False)
        except aiohttp.WSServerHandshakeError as exc:
            _send_error(self, PlatformError(exc.status if exc.status >= 400 else 502,
                                            f"The job refused the websocket: {exc.message}"))
            return
        except aiohttp.ClientError as exc:
            _send_error(self, PlatformError(502, f"The job's web server did not answer: {exc}"))
            return
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:  # checked in get() against how the caller authenticated
        return True

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return self.upstream.protocol if self.upstream else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.set_nodelay(True)  # interactive traffic (kernel messages): no Nagle delay on our hop
        self._pump = asyncio.get_running_loop().create_task(self._from_job())

    async def _from_job(self) -> None:
        assert self.upstream is not None
        try:
            async for msg in self.upstream:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self.write_message(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await self.write_message(msg.data, binary=True)
                elif msg.type == aiohttp.WSMsgType.CLOSE:
                    break
        except websocket.WebSocketClosedError:
            pass
        finally:
            code = self.upstream.close_code
            self.close(code if code and code != 1006 else None)

    async def on_message(self, message: str | bytes) -> None:
        if self.upstream is None or self.upstream.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            if isinstance(message, bytes):
                await self.upstream.send_bytes(message)
            else:
                await self.upstream.send_str(message)

    def on_close(self) -> None:
        if self.upstream is not None and not self.upstream.closed:
            asyncio.get_running_loop().create_task(self.upstream.close())


class LoginHandler(web.RequestHandler):
    """``/.apolo/login`` on a job's host: a form taking a platform token; for a valid one the
    ``dat`` cookie of that host gets a session (``session_value``, not the token) and the browser
    goes on to ``next`` (a local path)."""

    def initialize(self, platform: Platform) -> None:
        self.platform = platform

    def _next(self) -> str:
        target = self.get_argument("next", "/")
        return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"

    def _form(self, status: int = 200, error: str = "") -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        self.finish(
            "<!doctype html><title>Sign in to open this job</title>"
            f"<h1>Sign in to open {html.escape(self.request.host_name.split('.')[0])}</h1>{message}"
            f'<form method="post" action="{LOGIN_PATH}"><input type="hidden" name="next" '
            f'value="{html.escape(self._next())}"><label>Platform token (<code>apolo config show-token</code>) '
            '<input name="token" type="password" autocomplete="off" required></label> '
            "<button>Open</button></form>"
        )

    def get(self) -> None:
        code = self.get_query_argument("code", "")
        if not code:
            self._form()
            return
        label = self.request.host_name.split(".", 1)[0]
        grant = _login_codes.pop(code, None)
        if grant is None or grant[1] != label or grant[2] < time.monotonic():
            self._form(401, "That login link has expired or was used already: open the job again")
            return
        self._sign_in(grant[0], 302)

    def post(self) -> None:
        token = self.get_body_argument("token", "").strip()
        try:
            user = authenticate(self.platform, f"Bearer {token}")
        except PlatformError as exc:
            self._form(401, f"That token was not accepted: {exc.message}")
            return
        assert user is not None
        self._sign_in(user, 303)

    def _sign_in(self, user: str, status: int) -> None:
        label = self.request.host_name.split(".", 1)[0]  # the browser keeps a session, never the token
        self.set_cookie(COOKIE, session_value(self.platform, user, label), httponly=True, samesite="Lax", path="/",
                        expires_days=SESSION_SECONDS / 86400)
        self.redirect(self._next(), status=status)

    def check_xsrf_cookie(self) -> None:
        return None


LOGIN_CODE_SECONDS = 60.0
_login_codes: dict[str, tuple[str, str, float]] = {}  # code -> (user, host label, monotonic expiry)


class WebLoginHandler(BaseHandler):
    """``POST {api}/jobs/{id}/web_login`` (embedded platform only; read on the job): a one-time
    link, valid ``LOGIN_CODE_SECONDS``, that signs the caller's browser in to the job's web UI
    without the browser ever holding a token: ``{"url": "<http_url>/.apolo/login?code=...&next=/"}``.
    For a server (e.g. a Jupyter server extension) that holds the user's token. 400 for a job
    without an HTTP port."""

    def post(self, job_id: str) -> None:
        job = jobs_api.resolve(self, job_id, "read")
        url = job.get("http_url")
        if not url or "jobs.localhost" not in url:
            raise PlatformError(400, f"Job {job['id']} has no web UI behind the platform (no http port)")
        now = time.monotonic()
        for stale in [c for c, (_, _, expiry) in _login_codes.items() if expiry < now]:
            del _login_codes[stale]
        code = secrets.token_urlsafe(24)
        assert self.user is not None
        _login_codes[code] = (self.user, job["id"], now + LOGIN_CODE_SECONDS)
        nxt = self.get_query_argument("next", "/")
        self.write_json({"url": f"{url}{LOGIN_PATH}?{urlencode({'code': code, 'next': nxt})}"})


class _IsWebSocket(Matcher):
    """Matches websocket upgrade requests."""

    def match(self, request: httputil.HTTPServerRequest) -> dict[str, Any] | None:
        return {} if request.headers.get("Upgrade", "").lower() == "websocket" else None


def routes(platform: Platform) -> list:
    """One host rule (``*.jobs.localhost``) in front of every API route, and ``web_login``."""
    kw = {"platform": platform}
    return [Rule(HostMatches(rf"{_LABEL}{re.escape(HOST_SUFFIX)}"), [
        (LOGIN_PATH, LoginHandler, kw),
        Rule(_IsWebSocket(), JobWebSocketProxy, kw),
        (r".*", JobHTTPProxy, kw),
    ]), (r"/api/v1/jobs/([^/]+)/web_login", WebLoginHandler, kw)]
