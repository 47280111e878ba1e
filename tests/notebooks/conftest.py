"""Fixtures for the notebooks workflow: the fixture flow project checked out in a temp git repository, the
project ``awesome-team`` (alice admin, bob writer) on the embedded platform, and clients per user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from jupyter_apolo.client import Apolo, NotFoundError, resolve_config
from jupyter_apolo.notebooks import workflow
from jupyter_apolo.notebooks.sync import PULL
from tests.support.net import free_port
from tests.support.platform import wait_for

TEAM = "awesome-team"
NOTEBOOKS_URI = "storage:/awesome-team/awesome_project/notebooks"


def clear_notebooks(api: Apolo) -> None:
    """Remove the team project's notebooks folder (``NOTEBOOKS_URI``) from storage, if there is one."""
    try:
        api.storage.rm(NOTEBOOKS_URI, recursive=True)
    except NotFoundError:
        pass


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


RUNNING_CODE = "notebooks/Running Code.ipynb"


def shared_origin(checkout: Path, tmp_path: Path, shared_fixtures: Path) -> tuple[Path, Path]:
    """Commit the fixture notebook as ``RUNNING_CODE`` in ``checkout``, push it to a new bare ``origin`` (``main``
    tracking it) and clone that for bob (his git identity set). Returns ``(bob's clone, the bare origin)``."""
    (checkout / RUNNING_CODE).write_bytes((shared_fixtures / "notebooks/jupyter-docs/Running Code.ipynb").read_bytes())
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", "Add Running Code")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(checkout, "remote", "add", "origin", str(bare))
    git(checkout, "push", "-q", "-u", "origin", "main")
    bob = tmp_path / "bob"
    git(tmp_path, "clone", "-q", str(bare), str(bob))
    git(bob, "config", "user.name", "Bob Example")
    git(bob, "config", "user.email", "bob@example.com")
    return bob, bare


def make_checkout(dest: Path, flow_project: Path) -> Path:
    """A git repository holding the fixture flow project, one initial commit, identity configured locally."""
    shutil.copytree(flow_project, dest)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "config", "user.name", "Alice Example")
    git(dest, "config", "user.email", "alice@example.com")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "Project from the template")
    return dest


@contextmanager
def jupyter_server(platform, base: Path, config: dict | None = None,  # type: ignore[no-untyped-def]
                   preexec_fn: Callable[[], None] | None = None) -> Iterator[tuple[httpx.Client, Path]]:
    """A real ``jupyter server`` subprocess with the extension, signed in to ``platform`` as alice, root_dir =
    ``base/root``; yields (httpx client with the server token, root_dir). ``config``: more traitlets config;
    ``preexec_fn``: run in the child before exec (e.g. resource limits)."""
    token = "notebooks-test-token"
    root, config_dir = base / "root", base / "config"
    root.mkdir(), config_dir.mkdir()
    (base / "apolo-token").write_text(platform.token("alice"))
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_apolo": True}, "token": token, "root_dir": str(root),
                      "open_browser": False},
        "IdentityProvider": {"token": token},
        "ApoloServer": {"url": platform.url, "token_file": str(base / "apolo-token")},
        **(config or {}),
    }))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APOLO_", "NEURO_"))}
    env.update(JUPYTER_CONFIG_DIR=str(config_dir), JUPYTER_RUNTIME_DIR=str(base / "runtime"), HOME=str(base))
    log = open(base / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1",
                             "--no-browser", "--allow-root"], env=env, stdout=log, stderr=log, preexec_fn=preexec_fn)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}/", headers={"Authorization": f"token {token}"},
                          timeout=120)

    def up() -> bool:
        try:
            return client.get("apolo/version").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 60, interval=0.2, what=f"jupyter server (log: {base / 'server.log'})")
        yield client, root
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:  # a loaded machine: do not leave it running
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def checkout(tmp_path, shared_fixtures) -> Path:
    return make_checkout(tmp_path / "awesome-project", shared_fixtures / "flow-project")


@pytest.fixture(scope="module")
def team(platform):
    """``awesome-team`` with alice (admin) and bob (writer)."""
    platform.add_project_user(TEAM, "alice", "admin")
    platform.add_project_user(TEAM, "bob", "writer")
    return TEAM


class Session:
    """One user's sync client (the sync facade), running the async workflow on the facade's loop."""

    def __init__(self, platform, user: str):
        self.api = Apolo(resolve_config(url=platform.url, token=platform.token(user), project=user))

    def plan(self, path: Path, direction: str = PULL, **settings):
        return self.api.call(lambda aio: workflow.plan(aio, path, direction, workflow.SyncSettings(**settings)))

    def sync(self, path: Path, direction: str = PULL, settings: workflow.SyncSettings = workflow.SyncSettings(), **kw):
        return self.api.call(lambda aio: workflow.sync(aio, path, direction, settings, **kw))

    def close(self) -> None:
        self.api.close()


@pytest.fixture(scope="module")
def session(platform, team):
    """``session("alice")`` -> a cached :class:`Session`."""
    cache: dict[str, Session] = {}

    def get(user: str) -> Session:
        if user not in cache:
            cache[user] = Session(platform, user)
        return cache[user]

    yield get
    for s in cache.values():
        s.close()


@pytest.fixture
def shell(platform, team, monkeypatch):
    """``shell("notebooks status")`` -> what ``%apolo notebooks status`` returns in a real IPython shell signed in
    to the module's platform as alice."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_apolo")
    ip.run_line_magic("config", f"ApoloMagics.url = {platform.url!r}")
    ip.run_line_magic("config", f"ApoloMagics.token = {platform.token('alice')!r}")
    ip.run_line_magic("config", "ApoloMagics.progress = False")
    yield lambda line: ip.run_line_magic("apolo", line)
    ip.run_line_magic("config", "ApoloMagics.token = ''")
    ip.run_line_magic("config", "ApoloMagics.url = ''")
