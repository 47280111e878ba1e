"""``apolo/version`` and ``apolo/context``: the handshake the sidebar starts with."""

from __future__ import annotations

import json

import pytest

import jupyter_apolo


async def test_version(fetch):
    resp = await fetch("GET", "apolo/version")
    assert resp.code == 200
    assert json.loads(resp.body) == {"version": jupyter_apolo.__version__, "api": 1}


async def test_context_explicit_config(fetch, platform, no_ambient_credentials):
    resp = await fetch("GET", "apolo/context")
    assert resp.code == 200, resp.body
    assert json.loads(resp.body) == {
        "user": "alice", "cluster": "default", "org": "local", "project": "alice",
        "platform": {"url": platform.url, "embedded": False}, "job": None,
    }


async def test_context_inside_a_job(fetch, monkeypatch, no_ambient_credentials):
    monkeypatch.setenv("NEURO_JOB_ID", "job-0b7c8a9e-1111-2222-3333-444455556666")
    monkeypatch.setenv("NEURO_JOB_NAME", "notebook")
    body = json.loads((await fetch("GET", "apolo/context")).body)
    assert body["job"] == {"id": "job-0b7c8a9e-1111-2222-3333-444455556666", "name": "notebook"}
    monkeypatch.setenv("NEURO_JOB_NAME", "")
    body = json.loads((await fetch("GET", "apolo/context")).body)
    assert body["job"] == {"id": "job-0b7c8a9e-1111-2222-3333-444455556666", "name": None}


@pytest.mark.parametrize("apolo_config", [{}])
async def test_context_from_the_embedded_platform_file(fetch, platform, responses, monkeypatch, tmp_path,
                                                        no_ambient_credentials):
    """No explicit config: the launcher's embedded.json is found and reported as embedded."""
    embedded = tmp_path / "embedded.json"
    embedded.write_text(json.dumps({"url": platform.url, "token": responses.watch(platform.token("bob")),
                                    "cluster": "default",
                                    "org": "local", "project": "bob"}))
    monkeypatch.setenv("JUPYTER_APOLO_EMBEDDED", str(embedded))
    body = json.loads((await fetch("GET", "apolo/context")).body)
    assert body["user"] == "bob" and body["platform"] == {"url": platform.url, "embedded": True}


@pytest.mark.parametrize("apolo_config", [{}])
async def test_context_without_credentials_is_503_with_a_fix(fetch, no_ambient_credentials):
    resp = await fetch("GET", "apolo/context")
    assert resp.code == 503
    body = json.loads(resp.body)
    assert "apolo login" in body["error"] and "apolo login" in body["fix"]
