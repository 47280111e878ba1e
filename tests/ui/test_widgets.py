"""The ipywidgets in a real JupyterLab notebook (headless Chromium): each widget is shown by its
magic in a real kernel, clicked through one real flow (share, browse + download, kill), checked
through the official apolo CLI as the other user, and photographed in light and dark themes
(test-artifacts/screenshots/widget-*.png).

Not here: ``%apolo share`` inside the seeded notebook job's own Jupyter, which needs the platform
to serve job web UIs behind its auth (another helper's work)."""

from __future__ import annotations

import json

import nbformat
import pytest
from playwright.sync_api import Page, expect

from jupyter_apolo.client import Apolo, resolve_config
from tests.support.platform import ApoloCLI, wait_for
from tests.ui.lab import run_first_cell


@pytest.fixture(scope="module")
def alice(ui_platform):
    with Apolo(resolve_config(url=ui_platform.url, token=ui_platform.token("alice"), environ={})) as api:
        yield api


@pytest.fixture(scope="module")
def bob_cli(ui_platform, tmp_path_factory):
    return ApoloCLI(ui_platform, "bob", tmp_path_factory.mktemp("bob-home"))


@pytest.fixture(scope="module")
def alices_job(ui_platform):
    """A running job of alice's with a long name (to see truncation)."""
    with ui_platform.http("alice") as http:
        resp = http.post("/jobs", params={"from_preset": ""}, json={
            "preset_name": "cpu-small", "image": "python:3", "name": "a-rather-long-training-job-name-42",
            "command": "python -c \"import time; time.sleep(900)\"", "http": {"port": 80, "requires_auth": True}})
        job = resp.json()
        wait_for(lambda: http.get(f"/jobs/{job['id']}").json()["status"] == "running", 60, what="alice's job")
    return job


def notebook(lab, name: str, source: str) -> str:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, lab.root / "work" / name)
    return name


def run_in_lab(page: Page, lab, name: str):
    """Open notebook ``name``, run its cell, and return the widget's root element."""
    page.goto(lab.page_url(f"lab/tree/{name}"))
    page.locator("#jupyterlab-splash").wait_for(state="detached")
    return run_first_cell(page)


def set_theme(page: Page, theme: str) -> None:
    """Switch the theme live through the Settings menu (no reload: widget views stay)."""
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    page.get_by_role("menuitem", name=theme, exact=True).click()
    light = "true" if "Light" in theme else "false"
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", light)
    page.wait_for_timeout(500)  # let the theme's CSS variables settle before a screenshot


def shoot_both(page: Page, widget, screenshots, name: str) -> None:
    widget.screenshot(path=screenshots / f"widget-{name}-light.png")
    set_theme(page, "JupyterLab Dark")
    try:
        widget.screenshot(path=screenshots / f"widget-{name}-dark.png")
    finally:
        set_theme(page, "JupyterLab Light")


def test_share_dialog_shares_a_job_with_bob(page, lab, alices_job, bob_cli, screenshots):
    job_id = alices_job["id"]
    assert bob_cli("status", job_id, check=False).returncode != 0
    widget = run_in_lab(page, lab, notebook(lab, "share.ipynb", f"%apolo share --dialog job:{job_id}"))
    expect(widget.locator(".jp-ApoloW-title")).to_contain_text("a-rather-long-training-job-name-42")
    user = widget.locator(".jp-ApoloW-user input")
    user.fill("bob")
    user.press("Enter")
    expect(widget.locator(".jp-ApoloW-status").first).to_contain_text("bob is a platform user")
    widget.locator(".jp-ApoloW-level button", has_text="write").click()
    expect(widget).to_contain_text("change your notebooks on storage")
    widget.locator("button.jp-ApoloW-share").click()
    expect(widget).to_contain_text(f"Shared job:{job_id} with bob: write.")
    expect(widget.locator(".jp-ApoloW-access")).to_contain_text("bob: write")
    assert bob_cli("status", job_id, check=False).returncode == 0  # bob's CLI sees it now
    shoot_both(page, widget, screenshots, "share")
    assert lab.root.joinpath("work", "share.ipynb").exists()
    assert not [e for e in page.errors if "apolo" in e.lower() or "widget" in e.lower()], page.errors


def test_storage_browser_browse_and_download(page, lab, alice, screenshots):
    alice.storage.mkdir("storage:ui-data/raw images", parents=True)
    for i in range(3):
        alice.storage.mkdir(f"storage:ui-data/folder-{i}", parents=True)
    src = lab.root / "src.csv"
    src.write_text("a,b\n1,2\n")
    alice.transfer.upload_file(src, "storage:ui-data/results.csv")
    (lab.root / "long.txt").write_text("x" * 5000)
    alice.transfer.upload_file(lab.root / "long.txt",
                               "storage:ui-data/a-very-long-file-name-that-a-data-scientist-would-write-"
                               "for-experiment-2026-12-01-run-17-final-v2.txt")
    widget = run_in_lab(page, lab, notebook(lab, "browse.ipynb", "%apolo browse storage:"))
    widget.locator(".jp-ApoloW-row button", has_text="ui-data/").click()  # open the folder
    expect(widget.locator(".jp-ApoloW-row", has_text="results.csv")).to_be_visible()
    rows = widget.locator(".jp-ApoloW-row:visible")
    expect(rows.first).to_contain_text("folder-0/")  # folders first
    widget.locator(".jp-ApoloW-row", has_text="results.csv").locator("input[type=checkbox]").check()
    widget.locator("button.jp-ApoloW-download").click()
    widget.locator(".jp-ApoloW-prompt button", has_text="Download").click()
    expect(widget).to_contain_text("Downloaded 1 file(s)")
    assert (lab.root / "work" / "results.csv").read_text() == "a,b\n1,2\n"
    shoot_both(page, widget, screenshots, "storage-downloaded")
    # again: refused, and the widget asks before replacing
    widget.locator("button.jp-ApoloW-download").click()
    widget.locator(".jp-ApoloW-prompt button", has_text="Download").click()
    expect(widget.locator(".jp-ApoloW-prompt")).to_contain_text("Replace it?")
    shoot_both(page, widget, screenshots, "storage")


def test_jobs_table_kill(page, lab, ui_platform, screenshots):
    with ui_platform.http("alice") as http:
        job = http.post("/jobs", params={"from_preset": ""}, json={
            "preset_name": "cpu-small", "image": "python:3", "name": "to-be-killed",
            "command": "python -c \"import time; time.sleep(900)\""}).json()
        wait_for(lambda: http.get(f"/jobs/{job['id']}").json()["status"] == "running", 60, what="job to kill")
    widget = run_in_lab(page, lab, notebook(lab, "jobs.ipynb", "%apolo ps --widget"))
    row = widget.locator(".jp-ApoloW-row", has_text="to-be-killed")
    expect(row).to_be_visible()
    # displayed, the table refreshes itself (every 10 s) without a click or a cell
    with ui_platform.http("alice") as http:
        http.post("/jobs", params={"from_preset": ""}, json={
            "preset_name": "cpu-small", "image": "python:3", "name": "started-later",
            "command": "python -c \"import time; time.sleep(900)\""}).raise_for_status()
    expect(widget.locator(".jp-ApoloW-row", has_text="started-later")).to_be_visible(timeout=30_000)
    shoot_both(page, widget, screenshots, "jobs")
    row.locator("button.jp-ApoloW-details").click()
    expect(widget.locator(".jp-ApoloW-panel")).to_contain_text("Preset")
    shoot_both(page, widget, screenshots, "jobs-details")
    row.locator("button.jp-ApoloW-kill").click()
    panel = widget.locator(".jp-ApoloW-panel")
    expect(panel).to_contain_text("Kill to-be-killed")
    panel.locator("button", has_text="Kill").click()
    expect(widget).to_contain_text("Killed to-be-killed")
    with ui_platform.http("alice") as http:
        wait_for(lambda: http.get(f"/jobs/{job['id']}").json()["status"] == "cancelled", 30, what="killed")
    row_of_killed = widget.locator(".jp-ApoloW-row:visible", has_text="to-be-killed")
    expect(row_of_killed).to_have_count(0)  # refreshed: active jobs only
    json.dumps(page.errors)


def test_share_dialog_picker_outside_a_job(page, lab, alices_job, screenshots):
    widget = run_in_lab(page, lab, notebook(lab, "share-empty.ipynb", "%apolo share"))
    picker = widget.locator(".jp-ApoloW-picker select")
    expect(picker.locator("option", has_text=alices_job["id"])).to_be_attached()
    picker.select_option(label=f"a-rather-long-training-job-name-42 · running · {alices_job['id']}")
    expect(widget.locator(".jp-ApoloW-uri input")).to_have_value(f"job:{alices_job['id']}")
    expect(widget.locator(".jp-ApoloW-title")).to_contain_text("a-rather-long-training-job-name-42")
    shoot_both(page, widget, screenshots, "share-picker")
