"""Client tests: the real client (sync facade over the async core) against the embedded
platform over HTTP, with the official apolo CLI as the second, independent client."""

from __future__ import annotations

import itertools

import pytest

from jupyter_apolo.client import Apolo, resolve_config

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
