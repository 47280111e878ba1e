"""pytest-jupyter for the server-extension tests only (never from a root conftest: it breaks
sync Playwright in the browser tests). The extension talks to the module's embedded platform
as alice, with explicit url/token config."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def apolo_config(platform):
    """``c.ApoloServer`` for the tests: override in a module to point elsewhere."""
    return {"url": platform.url, "token": platform.token("alice")}


@pytest.fixture
def jp_server_config(apolo_config):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_apolo": True}, "allow_unauthenticated_access": False},
        "ApoloServer": apolo_config,
    }


@pytest.fixture
def no_ambient_credentials(monkeypatch, tmp_path):
    """An environment where only explicit config can provide credentials."""
    for name in ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG", "NEURO_JOB_ID", "NEURO_JOB_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APOLO_CONFIG", str(tmp_path / "no-apolo-config"))
    monkeypatch.setenv("JUPYTER_APOLO_EMBEDDED", str(tmp_path / "no-embedded.json"))
    monkeypatch.setenv("HOME", str(tmp_path))
