"""Test support: the embedded platform as a real subprocess, and the official apolo CLI as
independent users of it. Used by every test folder (no pytest-jupyter here)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx

from jupyter_apolo.launcher import stop_process

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
BIN = Path(sys.executable).parent


@dataclass
class LocalPlatform:
    """A running ``jupyter apolo platform serve`` subprocess.

    ``url`` is the API base (``http://127.0.0.1:<port>/api/v1``); ``root`` its data dir.
    """

    root: Path
    proc: subprocess.Popen | None = None
    url: str = ""
    cluster: str = "default"
    org: str = "local"
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.url[: -len("/api/v1")]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    @property
    def storage_url(self) -> str:
        return f"{self.url}/storage"

    @property
    def monitoring_url(self) -> str:
        return f"{self.url}/monitoring"

    def start(self, port: int = 0) -> "LocalPlatform":
        self.proc = subprocess.Popen(
            [str(BIN / "jupyter-apolo"), "platform", "serve", "--root", str(self.root), "--port", str(port)],
            stdout=subprocess.PIPE, stderr=open(self.root.parent / f"{self.root.name}.log", "ab"), text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http"):
            raise RuntimeError(f"platform did not start: {line!r}; see {self.root.parent / (self.root.name + '.log')}")
        self.url = line
        return self

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc, 10)
        self.proc = None

    def restart(self) -> None:
        port = self.port
        self.stop()
        self.start(port)

    def _cli(self, *args: str) -> str:
        out = subprocess.run(
            [str(BIN / "jupyter-apolo"), "platform", *args, "--root", str(self.root)],
            check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def token(self, user: str, lifetime: float | None = None) -> str:
        """A bearer token for ``user`` (created with a personal project if missing)."""
        if lifetime is not None:
            return self._cli("token", user, "--lifetime", str(lifetime))
        if user not in self._tokens:
            self._tokens[user] = self._cli("token", user)
        return self._tokens[user]

    def add_project_user(self, project: str, user: str, role: str = "writer") -> None:
        """Add ``user`` to ``project`` (created, owned by ``user``, if it does not exist)."""
        self.token(user)
        self._cli("add-project-user", project, user, role)

    def http(self, user: str | None) -> httpx.Client:
        """An httpx client authenticated as ``user`` (None: anonymous)."""
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@contextmanager
def running_platform(root: Path, users: tuple[str, ...] = ("alice", "bob")) -> Iterator[LocalPlatform]:
    """A started ``LocalPlatform`` on ``root`` (a new dir) with ``users`` created, each with a
    personal project; stopped on exit."""
    lp = LocalPlatform(root).start()
    try:
        for user in users:
            lp.token(user)
        yield lp
    finally:
        lp.stop()


class ApoloCLI:
    """The official ``apolo`` CLI logged in as one user, with its own ``APOLO_CONFIG``."""

    def __init__(self, platform: LocalPlatform, user: str, home: Path):
        self.platform, self.user = platform, user
        self.config_dir = home / f"apolo-{user}"
        self.env = {
            **os.environ,
            "APOLO_CONFIG": str(self.config_dir),
            "NEURO_CLI_DISABLE_PYPI_VERSION_CHECK": "1",
            "HOME": str(home),
            "COLUMNS": "200",
        }
        self.env.pop("APOLO_PASSED_CONFIG", None)
        self.env.pop("NEURO_PASSED_CONFIG", None)
        self.login = self("config", "login-with-token", platform.token(user), platform.url)

    def __call__(self, *args: str, check: bool = True, timeout: float = 120,
                 cwd: str | None = None) -> subprocess.CompletedProcess:
        """Run ``apolo ARGS``; with ``check`` raise ``AssertionError`` showing the output on failure."""
        proc = subprocess.run(
            [str(BIN / "apolo"), "--disable-pypi-version-check", "--skip-stats", "--color=no", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, cwd=cwd,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"apolo {' '.join(args)} exited {proc.returncode}\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text)


def process_group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` (a platform job's processes) still exists."""
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _polls(timeout: float, what: str) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        yield
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (returned); ``AssertionError`` after ``timeout`` s."""
    for _ in _polls(timeout, what):
        if value := predicate():
            return value
        time.sleep(interval)


async def async_wait_for(predicate, timeout: float = 30, interval: float = 0.05, what: str = "condition"):
    """``wait_for`` for async tests: polls with ``asyncio.sleep``, so the loop (a Jupyter server
    under test, say) keeps running meanwhile."""
    for _ in _polls(timeout, what):
        if value := predicate():
            return value
        await asyncio.sleep(interval)


class JobSite:
    """An HTTP client for a job's web host (``<job-id>.jobs.localhost:<port>``), optionally as ``user``
    (bearer). It connects to the platform's address with that ``Host``, as a browser does after resolving
    ``*.localhost`` (Python's resolver may not know it)."""

    def __init__(self, platform, job: dict, user: str | None = None):
        self.host = job["http_url"].removeprefix("http://")
        headers = {"Host": self.host}
        if user:
            headers["Authorization"] = f"Bearer {platform.token(user)}"
        self.http = httpx.Client(base_url=platform.base, headers=headers, timeout=30, follow_redirects=False)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)
