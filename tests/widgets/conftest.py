"""Widget tests: each widget driven from Python (traits, ``.click()``, waiting on its futures)
against the embedded platform over real HTTP, the official apolo CLI checking the effect as a
second client. No front end is needed: ipywidgets work without one (messages go nowhere)."""

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


@pytest.fixture(autouse=True)
def outside_a_job(monkeypatch):
    """Tests run as if outside a platform job unless they set NEURO_JOB_ID themselves."""
    monkeypatch.delenv("NEURO_JOB_ID", raising=False)
    monkeypatch.delenv("NEURO_JOB_NAME", raising=False)
