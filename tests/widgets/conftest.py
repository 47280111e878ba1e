"""Widget tests: each widget driven from Python (traits, ``.click()``, waiting on its futures)
against the embedded platform over real HTTP, the official apolo CLI checking the effect as a
second client. No front end is needed: ipywidgets work without one (messages go nowhere)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def outside_a_job(monkeypatch):
    """Tests run as if outside a platform job unless they set NEURO_JOB_ID themselves."""
    monkeypatch.delenv("NEURO_JOB_ID", raising=False)
    monkeypatch.delenv("NEURO_JOB_NAME", raising=False)
