"""Widgets made without ``api=`` use the process's default client; with no credentials anywhere
each widget shows the one-line "log in" error instead of raising (no traceback in a notebook)."""

from __future__ import annotations

import pytest

from jupyter_apolo.client.config import HOW_TO_LOGIN
from jupyter_apolo.widgets import JobsTable, ShareDialog, StorageBrowser, base


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    for var in ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG", "JUPYTER_APOLO_EMBEDDED"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("APOLO_CONFIG", str(tmp_path / "no-login"))
    monkeypatch.setattr(base, "_default", None)


def test_no_credentials_is_an_inline_error(nowhere):
    first_line = " ".join(HOW_TO_LOGIN.split())[:40]
    for widget in (ShareDialog("storage:x"), StorageBrowser("storage:"), JobsTable(refresh_interval=0)):
        widget.wait(10)
        assert widget.error.startswith(first_line), (type(widget).__name__, widget.error)
        assert "\n" not in widget.error
        widget.close()
    dlg = ShareDialog()
    dlg.uri, dlg.user = "storage:x", "bob"
    assert dlg.share() is None and dlg.error.startswith(first_line)
