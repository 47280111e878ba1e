"""Fixtures shared by every test folder: a real embedded platform over HTTP and the official
apolo CLI as independent users. (pytest-jupyter lives in tests/server/conftest.py only.)"""

from __future__ import annotations

import pytest

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
