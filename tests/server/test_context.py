"""``apolo/version`` and ``apolo/context``: the handshake the sidebar starts with."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

import jupyter_apolo


async def test_version(jp_fetch):
    resp = await jp_fetch("apolo", "version")
    assert json.loads(resp.body) == {"version": jupyter_apolo.__version__, "api": 1}


async def test_context_explicit_config(jp_fetch, platform, no_ambient_credentials):
    resp = await jp_fetch("apolo", "context")
    assert json.loads(resp.body) == {
        "user": "alice", "cluster": "default", "org": "local", "project": "alice",
        "platform": {"url": platform.url, "embedded": False}, "job": None,
    }


async def test_context_inside_a_job(jp_fetch, monkeypatch, no_ambient_credentials):
    monkeypatch.setenv("NEURO_JOB_ID", "job-0b7c8a9e-1111-2222-3333-444455556666")
    monkeypatch.setenv("NEURO_JOB_NAME", "notebook")
    body = json.loads((await jp_fetch("apolo", "context")).body)
    assert body["job"] == {"id": "job-0b7c8a9e-1111-2222-3333-444455556666", "name": "notebook"}
    monkeypatch.setenv("NEURO_JOB_NAME", "")
    body = json.loads((await jp_fetch("apolo", "context")).body)
    assert body["job"] == {"id": "job-0b7c8a9e-1111-2222-3333-444455556666", "name": None}


@pytest.mark.parametrize("apolo_config", [{}])
async def test_context_without_credentials_is_503_with_a_fix(jp_fetch, no_ambient_credentials):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("apolo", "context")
    assert info.value.code == 503
    body = json.loads(info.value.response.body)
    assert body["error"] and "apolo login" in body["fix"]
