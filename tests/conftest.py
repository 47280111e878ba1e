"""Fixtures shared by every test folder: a real embedded platform over HTTP and the official
apolo CLI as independent users. (pytest-jupyter lives in tests/server/conftest.py only.)"""

from __future__ import annotations

import itertools

import pytest

from jupyter_apolo.client import Apolo, resolve_config
from tests.support.platform import FIXTURES, ApoloCLI, running_platform


@pytest.fixture(scope="session")
def shared_fixtures():
    """Path of ../shared/fixtures (real notebooks and a real flow project)."""
    assert FIXTURES.is_dir(), f"{FIXTURES} is missing: tests need ../shared beside the checkout"
    return FIXTURES


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A platform subprocess per test module, with users alice and bob (personal projects)."""
    with running_platform(tmp_path_factory.mktemp("platform") / "root") as lp:
        yield lp


@pytest.fixture(scope="module")
def cli(platform, tmp_path_factory):
    """``cli("alice")`` -> an ``ApoloCLI`` logged in as alice (cached per module)."""
    home = tmp_path_factory.mktemp("home")
    cache: dict[str, ApoloCLI] = {}

    def get(user: str) -> ApoloCLI:
        if user not in cache:
            cache[user] = ApoloCLI(platform, user, home)
        return cache[user]

    return get

_names = itertools.count()


@pytest.fixture(scope="module")
def apolo(platform):
    """``apolo("alice")`` -> an open ``Apolo`` for that user (closed at module end)."""
    clients: dict[str, Apolo] = {}

    def get(user: str) -> Apolo:
        if user not in clients:
            clients[user] = Apolo(resolve_config(url=platform.url, token=platform.token(user), environ={}))
        return clients[user]

    yield get
    for c in clients.values():
        c.close()


@pytest.fixture
def unique():
    """``unique("dir")`` -> a name not used before in this session."""
    return lambda prefix="t": f"{prefix}{next(_names)}"
