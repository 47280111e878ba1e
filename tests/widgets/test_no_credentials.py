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


def test_opening_the_default_client_never_blocks_the_kernel(nowhere, monkeypatch, platform):
    # credentials for a platform that is down: opening the client takes the client's retries (seconds)
    import base64
    import json
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    # no project in the passed config: opening asks the platform which ones there are (GET config)
    blob = {"token": platform.token("alice"), "cluster": "default", "url": f"http://127.0.0.1:{dead}/api/v1"}
    monkeypatch.setenv("NEURO_PASSED_CONFIG", base64.b64encode(json.dumps(blob).encode()).decode())
    started = time.perf_counter()
    widgets = [ShareDialog("storage:x"), StorageBrowser("storage:"), JobsTable(refresh_interval=0)]
    assert time.perf_counter() - started < 1.0  # the cell that made them is already done
    assert all(w.busy for w in widgets)
    for widget in widgets:
        widget.wait(60)
        assert widget.error.startswith("Cannot reach the platform"), (type(widget).__name__, widget.error)
        widget.close()
