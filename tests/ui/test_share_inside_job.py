"""`%apolo share` inside a notebook job's own JupyterLab: bob runs JupyterLab as a platform job with his
config passed (`apolo run --pass-config`, or `pass_config: true` in live.yml), opens it through the
platform's job host, and `%apolo share` with no arguments shows the share dialog pre-filled with that job
(NEURO_JOB_ID); sharing it with alice from there lets alice's client see the job."""

from __future__ import annotations

import json
import sys

from playwright.sync_api import expect

from tests.support.platform import JobSite, wait_for
from tests.ui.lab import run_first_cell

LAB = (f"{sys.executable} -m jupyterlab --no-browser --ip=127.0.0.1 --port=8888 --IdentityProvider.token= "
       "--ServerApp.root_dir=/project/notebooks --LabApp.news_url=None --allow-root")
NOTEBOOK = {"cells": [{"cell_type": "code", "execution_count": None, "id": "share", "metadata": {}, "outputs": [],
                       "source": "%apolo share"}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def test_share_this_job_from_inside_its_own_lab(ui_platform, page, screenshots):
    bob, alice = ui_platform.http("bob"), ui_platform.http("alice")
    created = bob.put("/storage/local/bob/in-job/share.ipynb", params={"op": "CREATE"},
                      content=json.dumps(NOTEBOOK).encode())
    assert created.status_code == 201, created.text
    job = bob.post("/jobs", params={"from_preset": ""}, json={
        "image": "python:3", "preset_name": "cpu-small", "command": LAB, "pass_config": True,
        "http": {"port": 8888, "requires_auth": True},
        "volumes": [{"src_storage_uri": "storage://default/local/bob/in-job", "dst_path": "/project/notebooks",
                     "read_only": False}]}).json()
    try:
        site = JobSite(ui_platform, job, "bob")
        wait_for(lambda: site.get("/api/status").status_code == 200, timeout=120, interval=0.5, what="bob's Lab job")
        assert alice.get(f"/jobs/{job['id']}").status_code == 403  # not shared yet

        page.goto(f"{job['http_url']}/lab/tree/share.ipynb")
        page.fill("input[name=token]", ui_platform.token("bob"))  # the platform's login form for the job host
        page.click("button")
        widget = run_first_cell(page)
        expect(widget.locator("input").first).to_have_value(f"job:{job['id']}")  # pre-filled: this job
        user = widget.locator(".jp-ApoloW-user input")
        user.fill("alice")
        user.press("Enter")
        widget.locator("button.jp-ApoloW-share").click()
        expect(widget).to_contain_text(f"Shared job:{job['id']} with alice: read.")
        widget.screenshot(path=screenshots / "widget-share-inside-job-light.png")
        assert alice.get(f"/jobs/{job['id']}").status_code == 200  # alice's client now sees bob's job
    finally:
        bob.delete(f"/jobs/{job['id']}")
