"""The Jobs panel and the Share dialog in a real JupyterLab in headless Chromium, against the embedded
platform, with the official ``apolo`` CLI as the other side: bob's running job is listed; bob shares
it with alice at read through the dialog and alice's ``apolo status`` then works; revoke from the
dialog's list refuses her again; kill asks first; logs follow a running job; alice's own Lab lists
the job under "Shared with me" and opens its web UI. Screenshots in light and dark themes.

The commands are driven by their ids (``app.commands.execute``) where scripting them is the point,
by clicks elsewhere."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.platform import ApoloCLI, wait_for
from tests.ui.conftest import passed_config
from tests.ui.lab import free_port
from tests.ui.test_sidebar import open_lab

PANEL = '[id="jupyter-apolo:jobs"]'
TAB = '.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="jupyter-apolo:jobs"]'
DIALOG = ".jp-Apolo-shareDialog"
JOB_ID = re.compile(r"job-[0-9a-f-]{36}")
EXPOSE = ["--LabApp.expose_app_in_browser=True"]

#: A job that prints a numbered tick twice a second and serves HTTP on --port (its web UI).
TICKER = ("import argparse, http.server, itertools, threading, time; a = argparse.ArgumentParser(); "
          "a.add_argument('--port', type=int); s = http.server.ThreadingHTTPServer(('127.0.0.1', "
          "a.parse_args().port), http.server.SimpleHTTPRequestHandler); "
          "threading.Thread(target=s.serve_forever, daemon=True).start(); "
          "[(print('tick', i, flush=True), time.sleep(0.5)) for i in itertools.count()]")

#: A name as long as the platform allows (40 characters), to see truncation.
LONG_NAME = "bob-very-long-experiment-name-for-resnet"


def run_job(cli: ApoloCLI, *args: str) -> str:
    out = cli("run", "--detach", "-s", "cpu-small", *args).stdout
    return JOB_ID.search(out).group(0)


def status_of(cli: ApoloCLI, job: str) -> str:
    return cli("status", job).stdout


@pytest.fixture(scope="module")
def clis(ui_platform, tmp_path_factory):
    home = tmp_path_factory.mktemp("clis")
    return {user: ApoloCLI(ui_platform, user, home) for user in ("alice", "bob")}


@pytest.fixture(scope="module")
def bob_jobs(clis):
    """bob's web-UI ticker (his notebook job), a long-named sleeper to kill, and a finished job."""
    bob = clis["bob"]
    ids = {
        "notebook": run_job(bob, "--name", "bob-notebook", "--tag", "kind:notebook", "--http-port", "80",
                            "--no-http-auth", "ubuntu", "--", "python", "-c", TICKER, "--port", "80"),
        "victim": run_job(bob, "--name", LONG_NAME, "ubuntu", "--", "sleep", "600"),
        "done": run_job(bob, "ubuntu", "--", "true"),
    }
    for job in ("notebook", "victim"):
        wait_for(lambda job=job: "running" in status_of(bob, ids[job]).lower(), 60, what=f"bob's {job} job running")
    yield ids
    for job in ids.values():
        bob("kill", job, check=False)


@pytest.fixture(scope="module")
def bob_lab(start_lab, ui_platform, bob_jobs):
    """bob's JupyterLab, running inside his notebook job (NEURO_JOB_ID as the platform sets it)."""
    return start_lab(env={"NEURO_PASSED_CONFIG": passed_config(ui_platform, "bob"),
                          "NEURO_JOB_ID": bob_jobs["notebook"], "NEURO_JOB_NAME": "bob-notebook"},
                     args=EXPOSE)


@pytest.fixture(scope="module")
def alice_lab(start_lab, ui_platform):
    return start_lab(env={"NEURO_PASSED_CONFIG": passed_config(ui_platform, "alice")}, args=EXPOSE)


def execute(page: Page, command: str, args: dict | None = None):
    """Run a JupyterLab command by id, as a user's script would (not awaited: dialogs stay open)."""
    page.evaluate("([c, a]) => { window.__apolo = window.jupyterapp.commands.execute(c, a); }", [command, args or {}])


def open_jobs(page: Page, lab, loaded: bool = False):
    if not loaded:
        open_lab(page, lab)
    page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('apolo:open-jobs')")
    execute(page, "apolo:open-jobs")
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    return panel


def row(panel, job_id: str):
    return panel.locator(f'.jp-Apolo-jobRow[data-job-id="{job_id}"]')


def set_theme(page: Page, dark: bool) -> None:
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.evaluate("t => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false" if dark else "true")


def shoot_panel(page: Page, folder: Path, name: str) -> None:
    """The left area (tab bar + panel), as a user sees the panel."""
    box = page.locator(PANEL).bounding_box()
    page.screenshot(path=folder / f"{name}.png",
                    clip={"x": 0, "y": 0, "width": box["x"] + box["width"] + 1, "height": box["y"] + box["height"]})


def shoot_both(page: Page, folder: Path, name: str, shoot) -> None:
    for dark in (False, True):
        set_theme(page, dark)
        page.wait_for_timeout(300)  # the theme's CSS variables apply on the next frame
        shoot(page, folder, f"{name}-{'dark' if dark else 'light'}")
    set_theme(page, False)


def test_running_jobs_listed_first_with_details_and_pinned_notebook_job(page, bob_lab, bob_jobs, screenshots):
    panel = open_jobs(page, bob_lab)
    notebook = row(panel, bob_jobs["notebook"])
    expect(notebook).to_be_visible()
    expect(notebook.locator(".jp-Apolo-jobName")).to_have_text("bob-notebook")
    expect(notebook.locator(".jp-Apolo-status")).to_have_attribute("data-status", "running")
    expect(notebook.locator(".jp-Apolo-jobOwner")).to_have_text("bob")
    expect(notebook.locator(".jp-Apolo-jobPreset")).to_have_text("cpu-small")
    # Live jobs only by default (as apolo ps); the finished one appears with "All, with finished", after them.
    expect(row(panel, bob_jobs["done"])).to_have_count(0)
    panel.locator(".jp-Apolo-statusFilter select").select_option("all")
    expect(row(panel, bob_jobs["done"])).to_be_visible()
    statuses = panel.locator(".jp-Apolo-jobRow").evaluate_all("rows => rows.map(r => r.dataset.status)")
    live = [s in ("running", "pending") for s in statuses]
    assert live == sorted(live, reverse=True), statuses
    # "This notebook job": Lab runs inside bob-notebook.
    pinned = panel.locator(".jp-Apolo-pinned")
    expect(pinned).to_have_attribute("data-job-id", bob_jobs["notebook"])
    assert page.evaluate("window.jupyterapp.commands.isEnabled('apolo:share-this-job')")
    expect(page.locator(".jp-Apolo-shareCount")).to_have_text(re.compile(r"^Shared with \d+$"))
    panel.locator(".jp-Apolo-statusFilter select").select_option("active")
    expect(row(panel, bob_jobs["done"])).to_have_count(0)
    shoot_both(page, screenshots, "jobs-panel", shoot_panel)

    notebook.click()
    details = panel.locator(".jp-Apolo-jobDetails")
    expect(details).to_have_attribute("data-job-id", bob_jobs["notebook"])
    expect(details.locator('[data-field="image"]')).to_have_text("ubuntu:latest")
    expect(details.locator('[data-field="preset"]')).to_have_text("cpu-small")
    expect(details.locator('[data-field="tags"]')).to_have_text("kind:notebook")
    expect(details.locator('[data-field="http_url"]')).to_contain_text(".jobs.localhost:")
    expect(details.locator('[data-field="command"]')).to_contain_text("python -c")
    expect(details.locator(".jp-Apolo-historyStep").first).to_contain_text("pending")
    expect(details.locator(".jp-Apolo-historyStep").nth(1)).to_contain_text("running")
    # bob owns it: share and kill are offered.
    expect(details.locator(".jp-Apolo-share")).to_be_visible()
    expect(details.locator(".jp-Apolo-kill")).to_be_visible()
    shoot_both(page, screenshots, "jobs-details", shoot_panel)
    assert not [e for e in page.errors if "apolo" in e.lower()], page.errors


def test_share_with_alice_through_the_dialog_then_revoke(page, bob_lab, bob_jobs, clis, screenshots):
    alice, job = clis["alice"], bob_jobs["notebook"]
    assert alice("status", job, check=False).returncode != 0  # not shared yet

    panel = open_jobs(page, bob_lab)
    row(panel, job).click()
    panel.locator(".jp-Apolo-jobDetails .jp-Apolo-share").click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    # The sentences of what each level lets alice do come from the server's `levels`.
    expect(dialog.locator('.jp-Apolo-level[data-level="read"] .jp-Apolo-levelText')).not_to_be_empty()
    expect(dialog.locator(".jp-Apolo-empty")).to_be_visible()

    # An unknown user: one inline line naming the fix, nothing shared, the dialog stays open.
    dialog.locator(".jp-Apolo-shareUser").fill("nobody-such")
    dialog.locator(".jp-Apolo-shareUser").press("Enter")
    error = dialog.locator(".jp-Apolo-inlineError")
    expect(error).to_contain_text("nobody-such")
    expect(dialog).to_be_visible()

    dialog.locator(".jp-Apolo-shareUser").fill("alice")
    dialog.locator('.jp-Apolo-level[data-level="read"] input').check()
    dialog.locator(".jp-Apolo-shareButton").click()
    expect(dialog.locator(".jp-Apolo-shareDone")).to_contain_text("alice")
    expect(error).to_have_count(0)
    grant = dialog.locator('.jp-Apolo-grant[data-user="alice"]')
    expect(grant.locator(".jp-Apolo-grantAction")).to_have_text("read")
    expect(grant.locator(".jp-Apolo-grantFrom")).to_have_text("direct share")
    assert job in alice("status", job).stdout  # the official CLI, as alice, now sees it
    shoot_both(page, screenshots, "share-dialog",
               lambda p, f, n: dialog.locator(".jp-Dialog-content").screenshot(path=f / f"{n}.png"))

    # Revoke from the list: asks first (inline), then alice's CLI is refused again.
    grant.locator(".jp-Apolo-revoke").click()
    grant.locator(".jp-Apolo-confirmRevoke").click()
    expect(grant).to_have_count(0)
    refused = alice("status", job, check=False)
    assert refused.returncode != 0, refused.stdout
    dialog.locator(".jp-Dialog-footer .jp-mod-accept").click()
    expect(dialog).to_have_count(0)


def test_share_command_with_arguments_and_revoke_command(page, bob_lab, bob_jobs, clis):
    """`apolo:share {uri, user, action}` opens the dialog pre-filled; `apolo:revoke {uri, user}` confirms."""
    alice, job = clis["alice"], bob_jobs["victim"]
    open_jobs(page, bob_lab)
    execute(page, "apolo:share", {"uri": f"job:{job}", "user": "alice", "action": "write"})
    dialog = page.locator(DIALOG)
    expect(dialog.locator(".jp-Apolo-shareUser")).to_have_value("alice")
    expect(dialog.locator('.jp-Apolo-level[data-level="write"] input')).to_be_checked()
    dialog.locator(".jp-Apolo-shareButton").click()
    expect(dialog.locator('.jp-Apolo-grant[data-user="alice"] .jp-Apolo-grantAction')).to_have_text("write")
    dialog.locator(".jp-Dialog-footer .jp-mod-accept").click()
    assert job in alice("status", job).stdout

    execute(page, "apolo:revoke", {"uri": f"job:{job}", "user": "alice"})
    confirm = page.locator(".jp-Dialog", has_text="Revoke access?")
    confirm.locator(".jp-mod-warn").click()
    expect(page.locator(".jp-Notification-Toast-success", has_text="Revoked alice")).to_be_visible()
    assert alice("status", job, check=False).returncode != 0


def test_logs_follow_a_running_job(page, bob_lab, bob_jobs, screenshots):
    panel = open_jobs(page, bob_lab)
    row(panel, bob_jobs["notebook"]).click()
    panel.locator(".jp-Apolo-jobDetails .jp-Apolo-openLogs").click()
    log = page.locator(".jp-Apolo-logViewer .jp-Apolo-log")
    expect(log).to_have_attribute("data-state", "following")
    expect(log.locator(".jp-Apolo-logText")).to_contain_text("tick 1")
    last = int(re.findall(r"tick (\d+)", log.locator(".jp-Apolo-logText").inner_text())[-1])
    # New lines arrive while the tab is open (the job prints one every 0.5 s).
    expect(log.locator(".jp-Apolo-logText")).to_contain_text(f"tick {last + 3}\n")
    assert log.get_attribute("data-state") == "following"
    with page.expect_download() as download:
        page.locator(".jp-Apolo-logViewer .jp-Toolbar-item", has_text="Download").click()
    assert "tick 0\ntick 1\n" in Path(download.value.path()).read_text()
    shoot_both(page, screenshots, "job-log",
               lambda p, f, n: p.locator(".jp-Apolo-logViewer").screenshot(path=f / f"{n}.png"))


def test_kill_asks_first(page, bob_lab, bob_jobs, clis):
    bob, job = clis["bob"], bob_jobs["victim"]
    panel = open_jobs(page, bob_lab)
    victim = row(panel, job)
    # A 40-character name ends in an ellipsis inside the row, the whole name in its tooltip.
    name = victim.locator(".jp-Apolo-jobName")
    expect(name).to_have_text(LONG_NAME)
    assert LONG_NAME in victim.get_attribute("title")
    # Right-click on the row offers the job's commands; saying no to the confirm keeps it running.
    victim.click(button="right")
    page.locator('.lm-Menu-item[data-command="apolo:kill-job"]').click()
    confirm = page.locator(".jp-Dialog", has_text="Kill job?")
    expect(confirm).to_contain_text(LONG_NAME)
    confirm.locator(".jp-mod-reject").click()  # "Keep running"
    expect(confirm).to_have_count(0)
    assert "running" in status_of(bob, job).lower()
    victim.click()
    panel.locator(".jp-Apolo-jobDetails .jp-Apolo-kill").click()
    confirm.locator(".jp-mod-warn").click()
    expect(page.locator(".jp-Notification-Toast-success", has_text="Killed")).to_be_visible()
    wait_for(lambda: "cancelled" in status_of(bob, job).lower(), 30, what="the job cancelled")
    expect(panel.locator(".jp-Apolo-jobDetails")).to_have_attribute("data-status", "cancelled")
    expect(panel.locator(".jp-Apolo-jobDetails .jp-Apolo-kill")).to_have_count(0)


def test_alice_sees_the_job_shared_with_her_and_opens_its_web_UI(page, alice_lab, bob_jobs, clis, screenshots):
    job = bob_jobs["notebook"]
    clis["bob"]("share", f"job:{job}", "alice", "read")
    # Reached from the Apolo sidebar: its header has a button that opens the Jobs panel.
    open_lab(page, alice_lab)
    page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="jupyter-apolo:sidebar"]').click()
    page.locator('[id="jupyter-apolo:sidebar"] [data-command="apolo:open-jobs"]').click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    # Listed among her jobs too, with her access: read, so no kill and no share.
    row(panel, job).click()
    expect(panel.locator(".jp-Apolo-jobDetails .jp-Apolo-kill")).to_have_count(0)
    expect(panel.locator(".jp-Apolo-jobDetails .jp-Apolo-share")).to_have_count(0)
    expect(panel.locator('.jp-Apolo-jobDetails [data-field="access"]')).to_have_text("read")
    panel.locator(".jp-Apolo-back").click()

    panel.locator('.jp-Apolo-tab[data-view="with"]').click()
    shared = panel.locator(".jp-Apolo-sharedRow", has_text=job)
    expect(shared.locator(".jp-Apolo-grantAction")).to_have_text("read")
    shoot_both(page, screenshots, "jobs-shared-with-me", shoot_panel)
    with page.context.expect_page() as popup:
        shared.locator(".jp-Apolo-openUI").click()
    tab = popup.value
    # The tab opens blank in the click's task, then goes to the job's URL once the server said it: the
    # job's own host on the platform (<name>--<hash>.jobs.localhost:<port>, a public --no-http-auth job here).
    tab.wait_for_url(re.compile(r"^http://[a-z0-9-]+\.jobs\.localhost:\d+/$"))
    expect(tab.locator("body")).to_contain_text("Directory listing")
    tab.close()


def test_empty_and_error_states(page, start_lab, ui_platform, screenshots):
    # carol has no jobs at all; her settings list every status by default.
    ui_platform.token("carol")
    lab = start_lab(env={"NEURO_PASSED_CONFIG": passed_config(ui_platform, "carol")}, args=EXPOSE)
    lab.write_settings("jupyter-apolo", "jobs", {"defaultFilter": {"status": "all", "owner": ""}})
    listed: list[str] = []
    page.on("request", lambda r: "/apolo/jobs" in r.url and listed.append(r.url))
    open_lab(page, lab)
    page.wait_for_timeout(2000)
    assert listed == []  # the panel is hidden: no listing, even after the settings applied
    panel = open_jobs(page, lab, loaded=True)
    expect(panel.locator(".jp-Apolo-statusFilter select")).to_have_value("all")
    empty = panel.locator('.jp-Apolo-empty[data-empty="jobs"]')
    expect(empty).to_contain_text("apolo run")
    page.wait_for_timeout(1000)
    assert len(listed) == 1 and "status=all" in listed[0], listed  # one listing on opening
    shoot_both(page, screenshots, "jobs-empty", shoot_panel)

    # A platform that does not answer: one line naming the fix.
    dead = f"http://127.0.0.1:{free_port()}/api/v1"
    blob = {"token": ui_platform.token("carol"), "cluster": "default", "url": dead, "org_name": "local",
            "project_name": "carol"}
    down = start_lab(env={"NEURO_PASSED_CONFIG": base64.b64encode(json.dumps(blob).encode()).decode()}, args=EXPOSE)
    panel = open_jobs(page, down)
    error = panel.locator(".jp-Apolo-listError")
    expect(error).to_contain_text("Check that the Apolo platform is up")
    expect(panel.locator(".jp-Apolo-count")).to_have_count(0)  # no "0 jobs" under the error
    shoot_both(page, screenshots, "jobs-error", shoot_panel)


def test_jobs_of_a_flow_project_are_grouped_with_their_live_job_names(page, alice_lab, clis, screenshots):
    alice = clis["alice"]
    flow = ["--tag", "project:demo-project", "--tag", "flow:live"]  # the tags apolo-flow puts on live jobs
    ids = {
        "jupyter": run_job(alice, "--name", "demo-project-jupyter", *flow, "--tag", "job:jupyter",
                           "ubuntu", "--", "sleep", "600"),
        "train": run_job(alice, *flow, "--tag", "job:train", "--tag", "multi:run-1", "ubuntu", "--", "sleep", "600"),
        "plain": run_job(alice, "--name", "alice-scratch", "ubuntu", "--", "sleep", "600"),
    }
    try:
        panel = open_jobs(page, alice_lab)
        header = panel.locator('.jp-Apolo-flowHeader[data-flow-project="demo-project"]')
        expect(header).to_contain_text("demo-project")
        expect(header.locator(".jp-Apolo-jobAge")).to_have_text("2")
        expect(row(panel, ids["jupyter"]).locator(".jp-Apolo-flowJob")).to_have_text("jupyter")
        expect(row(panel, ids["train"]).locator(".jp-Apolo-flowJob")).to_have_text("train run-1")
        expect(row(panel, ids["plain"]).locator(".jp-Apolo-flowJob")).to_have_count(0)
        expect(panel.locator('.jp-Apolo-flowHeader[data-flow-project=""]')).to_contain_text("Not run by a flow")
        # Each group's jobs follow its header.
        order = panel.locator(".jp-Apolo-flowHeader, .jp-Apolo-jobRow").evaluate_all(
            "rows => rows.map(r => r.dataset.flowProject ?? r.dataset.jobId)")
        flow_at = order.index("demo-project")
        assert set(order[flow_at + 1:flow_at + 3]) == {ids["jupyter"], ids["train"]}, order
        shoot_both(page, screenshots, "jobs-flow-groups", shoot_panel)
    finally:
        for job in ids.values():
            alice("kill", job, check=False)
