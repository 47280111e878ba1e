"""A shared notebook job in the browser: bob's JupyterLab job at its ``http_url``
(``<job-id>.jobs.localhost:<port>``, which Chromium resolves to loopback) sends a browser to the
platform's login form; alice, with read on the job, signs in with her token and gets bob's
JupyterLab with his notebook (screenshot); carol, without a share, gets 403."""

from __future__ import annotations

import sys

import httpx
from playwright.sync_api import expect

from tests.support.platform import wait_for

LAB = (f"{sys.executable} -m jupyterlab --no-browser --ip=127.0.0.1 --port=8888 --IdentityProvider.token= "
       "--ServerApp.root_dir=/project/notebooks --LabApp.news_url=None --allow-root")


def test_alice_opens_bobs_shared_lab(ui_platform, page, screenshots):
    bob = ui_platform.http("bob")
    ui_platform.token("carol")
    nb = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    created = bob.put("/storage/local/bob/shared-nb/analysis.ipynb", params={"op": "CREATE"}, content=nb)
    assert created.status_code == 201
    job = bob.post("/jobs", params={"from_preset": ""}, json={
        "image": "python:3", "preset_name": "cpu-small", "command": LAB, "http": {"port": 8888, "requires_auth": True},
        "volumes": [{"src_storage_uri": "storage://default/local/bob/shared-nb", "dst_path": "/project/notebooks",
                     "read_only": False}]}).json()
    try:
        host = job["http_url"].removeprefix("http://")
        bearer = f"Bearer {ui_platform.token('bob')}"
        site = httpx.Client(base_url=ui_platform.base, headers={"Host": host, "Authorization": bearer})
        wait_for(lambda: site.get("/api/status").status_code == 200, timeout=120, interval=0.5, what="bob's Lab job")
        granted = bob.post("/users/alice/permissions", json=[{"uri": job["uri"], "action": "read"}])
        assert granted.status_code == 201, granted.text

        page.goto(f"{job['http_url']}/lab")
        expect(page).to_have_url(f"{job['http_url']}/.apolo/login?next=%2Flab")
        page.fill("input[name=token]", ui_platform.token("alice"))
        page.click("button")
        expect(page.locator(".jp-DirListing-item", has_text="analysis.ipynb")).to_be_visible(timeout=120_000)
        page.screenshot(path=screenshots / "shared-job-lab-alice.png")
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["dat"]["httpOnly"] and cookies["dat"]["domain"] == host.split(":")[0]

        page.context.clear_cookies()
        page.goto(f"{job['http_url']}/.apolo/login?next=/lab")
        page.fill("input[name=token]", ui_platform.token("carol"))
        page.click("button")
        expect(page.locator("body")).to_contain_text("Not enough permissions")
    finally:
        bob.delete(f"/jobs/{job['id']}")
