"""Fixtures for the notebooks workflow: the fixture flow project checked out in a temp git repository, the
project ``awesome-team`` (alice admin, bob writer) on the embedded platform, and clients per user."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from jupyter_apolo.client import Apolo, NotFoundError, resolve_config
from jupyter_apolo.notebooks import workflow
from jupyter_apolo.notebooks.sync import PULL

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


def make_checkout(dest: Path, flow_project: Path) -> Path:
    """A git repository holding the fixture flow project, one initial commit, identity configured locally."""
    shutil.copytree(flow_project, dest)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "config", "user.name", "Alice Example")
    git(dest, "config", "user.email", "alice@example.com")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "Project from the template")
    return dest


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
