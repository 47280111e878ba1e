"""The Apolo Notebooks panel in a real JupyterLab in headless Chromium, on the launcher's sample project (with its
bare ``origin``) and the embedded platform, bob editing the team's notebooks on storage through his own apolo CLI:
the panel shows his change, opens nbdime's rendered diff, pulls, commits with a message and pushes to the demo's
origin; a proposed deletion is applied only once ticked; a conflict shows both versions. Screenshots in light and
dark theme, of the empty, loading and error states too."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect

from jupyter_apolo.client import Apolo, NotFoundError, resolve_config
from jupyter_apolo.localplatform import seed
from tests.support.platform import FIXTURES, ApoloCLI
from tests.ui.conftest import passed_config
from tests.ui.test_sidebar import open_lab

PANEL_ID = "jupyter-apolo:notebooks"
PANEL = f'[id="{PANEL_ID}"]'
TAB = f'.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="{PANEL_ID}"]'
NOTEBOOKS_URI = "storage:/awesome-team/awesome_project/notebooks"
DOCS = FIXTURES / "notebooks" / "jupyter-docs"
RACY_WAIT = 1.1  # storage mtimes have 1 s resolution


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


class Demo:
    """The sample project in a Lab's root, alice's client and bob's CLI on the same storage folder."""

    def __init__(self, lab, platform, home: Path):
        self.lab, self.platform = lab, platform
        self.project = lab.root / "work" / "awesome-project"
        self.origin = lab.root / "work" / ".git-remotes" / "awesome-project.git"
        self.local = self.project / "notebooks"
        self.api = Apolo(resolve_config(url=platform.url, token=platform.token("alice"), project="alice"))
        self.bob = ApoloCLI(platform, "bob", home)
        self.home = home

    def reset(self, *names: str) -> None:
        """A fresh sample project (new checkout and origin) and a notebooks folder on storage holding ``names``."""
        shutil.rmtree(self.project, ignore_errors=True)
        shutil.rmtree(self.origin.parent, ignore_errors=True)
        seed.seed_workspace(self.lab.root / "work")
        git(self.project, "config", "user.name", "Alice Example")
        git(self.project, "config", "user.email", "alice@example.com")
        try:
            self.api.storage.rm(NOTEBOOKS_URI, recursive=True)
        except NotFoundError:  # absent on the first run
            pass
        self.api.storage.mkdir(NOTEBOOKS_URI + "/jupyter-docs", parents=True, exist_ok=True)
        for name in names:
            self.api.transfer.upload_file(DOCS / name, f"{NOTEBOOKS_URI}/jupyter-docs/{name}")
        time.sleep(RACY_WAIT)

    def bob_edits(self, name: str, cell: int, text: str) -> None:
        """bob downloads jupyter-docs/NAME with his CLI, appends ``text`` to cell ``cell`` (0-based), uploads it."""
        mine = self.home / f"bob-{time.monotonic_ns()}.ipynb"
        self.bob("cp", f"{NOTEBOOKS_URI}/jupyter-docs/{name}", str(mine))
        nb = nbformat.read(mine, as_version=nbformat.NO_CONVERT)
        nb.cells[cell].source = "".join(nb.cells[cell].source) + f"\n{text}"
        nbformat.write(nb, mine, version=nbformat.NO_CONVERT)
        self.bob("cp", str(mine), f"{NOTEBOOKS_URI}/jupyter-docs/{name}")
        time.sleep(RACY_WAIT)

    def close(self) -> None:
        self.api.close()


@pytest.fixture(scope="module")
def demo(start_lab, ui_platform, tmp_path_factory):
    ui_platform.add_project_user("awesome-team", "alice", "admin")
    ui_platform.add_project_user("awesome-team", "bob", "writer")
    lab = start_lab(env={"NEURO_PASSED_CONFIG": passed_config(ui_platform, "alice")})
    d = Demo(lab, ui_platform, tmp_path_factory.mktemp("bob-home"))
    yield d
    d.close()


def open_panel(page: Page, lab, phase: str = "ready"):
    open_lab(page, lab)
    panel = page.locator(PANEL)
    if not panel.is_visible():
        page.locator(TAB).click()
    expect(panel).to_be_visible()
    expect(panel.locator(".jp-ApoloNotebooks-body")).to_have_attribute("data-phase", phase)
    return panel


def replan(panel) -> None:
    panel.locator('[data-action="refresh"]').click()
    expect(panel.locator(".jp-ApoloNotebooks-body")).to_have_attribute("data-phase", "ready")


def row(panel, group: str, path: str):
    return panel.locator(f'[data-group="{group}"] .jp-ApoloNotebooks-row[data-path="{path}"]')


def shoot(page: Page, folder: Path, name: str, main: bool = False) -> None:
    """The left edge (tab bar + panel), or the whole window with ``main``."""
    if main:
        page.screenshot(path=folder / f"{name}.png")
        return
    box = page.locator(PANEL).bounding_box()
    page.screenshot(path=folder / f"{name}.png",
                    clip={"x": 0, "y": 0, "width": box["x"] + box["width"] + 1, "height": box["y"] + box["height"]})


def brightness(css_color: str) -> float:
    """Mean of the RGB channels in 0..1 of a computed CSS colour (``rgb(...)`` or ``color(srgb r g b)``)."""
    inner = css_color[css_color.index("(") + 1: css_color.rindex(")")].replace(",", " ").split()
    if inner[0] == "srgb":
        return sum(float(c) for c in inner[1:4]) / 3
    return sum(float(c) for c in inner[:3]) / 3 / 255


def commit_and_push(panel, message: str) -> None:
    panel.locator(".jp-ApoloNotebooks-message").fill(message)
    panel.locator('[data-action="commit"]').click()
    expect(panel.locator(".jp-ApoloNotebooks-outcome")).to_contain_text(f": {message}")
    expect(panel.locator('[data-git="clean"]')).to_be_visible()
    panel.locator('[data-action="git-push"]').click()
    expect(panel.locator(".jp-ApoloNotebooks-outcome")).to_contain_text("Pushed your commits.")


def test_pull_review_commit_push_to_the_demo_origin(page, demo, screenshots):
    demo.reset("Running Code.ipynb", "Notebook Basics.ipynb")
    panel = open_panel(page, demo.lab)
    # one flow project in the workspace: the panel found it
    expect(panel.locator("#jp-apolo-nb-path")).to_have_value("awesome-project")
    expect(row(panel, "pull", "jupyter-docs/Running Code.ipynb")).to_contain_text("new on storage")
    expect(panel.locator('[data-action="pull"]')).to_have_text("Pull (2)")
    shoot(page, screenshots, "notebooks-first-plan-light")
    panel.locator('[data-action="pull"]').click()
    expect(panel.locator('[data-outcome="sync"]')).to_contain_text("Pulled: 2 downloaded")
    expect(panel.locator('[data-git="changes"] .jp-ApoloNotebooks-row')).to_have_count(2)
    commit_and_push(panel, "Notebooks from the team")
    assert git(demo.origin, "log", "-1", "--format=%s", "main").strip() == "Notebooks from the team"

    # bob changes a notebook on storage: the panel shows it and its rendered diff
    demo.bob_edits("Running Code.ipynb", 2, "# bob tuned the learning rate")
    replan(panel)
    changed = row(panel, "pull", "jupyter-docs/Running Code.ipynb")
    expect(changed).to_contain_text("changed on storage")
    shoot(page, screenshots, "notebooks-plan-light")
    changed.locator(".jp-ApoloNotebooks-open").click()
    diff = page.locator(".jp-ApoloNotebooks-diff:visible")
    expect(diff.locator(".jp-ApoloNotebooks-diffCaption")).to_contain_text("what a pull brings")
    expect(diff.locator(".jp-Notebook-diff")).to_be_visible()  # nbdime's notebook diff widget
    expect(diff).to_contain_text("bob tuned the learning rate")
    shoot(page, screenshots, "notebooks-diff-light", main=True)

    panel.locator('[data-action="pull"]').click()
    expect(panel.locator('[data-outcome="sync"]')).to_contain_text("Pulled: 1 downloaded")
    assert "bob tuned the learning rate" in (demo.local / "jupyter-docs/Running Code.ipynb").read_text()
    commit_and_push(panel, "Bob's learning rate")
    log = git(demo.origin, "log", "--format=%s", "main").splitlines()
    assert log[:2] == ["Bob's learning rate", "Notebooks from the team"]
    shoot(page, screenshots, "notebooks-pushed-light")
    assert demo.platform.token("alice") not in page.content()


def test_a_proposed_deletion_is_applied_only_when_ticked(page, demo, screenshots):
    demo.reset("Running Code.ipynb", "Notebook Basics.ipynb", "Typesetting Equations.ipynb")
    panel = open_panel(page, demo.lab)
    panel.locator('[data-action="pull"]').click()
    expect(panel.locator('[data-outcome="sync"]')).to_contain_text("Pulled:")
    gone = demo.local / "jupyter-docs/Typesetting Equations.ipynb"
    assert gone.is_file()

    demo.bob("rm", f"{NOTEBOOKS_URI}/jupyter-docs/Typesetting Equations.ipynb")
    demo.bob_edits("Notebook Basics.ipynb", 1, "# bob")
    replan(panel)
    deletion = row(panel, "delete-local", "jupyter-docs/Typesetting Equations.ipynb")
    expect(deletion).to_contain_text("deleted on storage")
    expect(panel.locator('[data-action="pull"]')).to_have_text("Pull (1)")  # the deletion is not counted
    panel.locator('[data-action="pull"]').click()
    expect(panel.locator('[data-outcome="sync"]')).to_contain_text("Pulled: 1 downloaded")
    assert gone.is_file()  # not ticked: kept
    expect(deletion).to_be_visible()  # still proposed

    deletion.locator(".jp-ApoloNotebooks-tick").check()
    expect(panel.locator('[data-action="pull"]')).to_have_text("Pull (1)")
    shoot(page, screenshots, "notebooks-deletion-ticked-light")
    panel.locator('[data-action="pull"]').click()
    expect(panel.locator('[data-outcome="sync"]')).to_contain_text("1 deleted")
    assert not gone.exists()


def test_a_conflict_shows_both_versions(page, demo, screenshots):
    demo.reset("Running Code.ipynb")
    panel = open_panel(page, demo.lab)
    panel.locator('[data-action="pull"]').click()
    expect(panel.locator('[data-outcome="sync"]')).to_contain_text("Pulled: 1 downloaded")
    mine = demo.local / "jupyter-docs/Running Code.ipynb"
    nb = nbformat.read(mine, as_version=nbformat.NO_CONVERT)
    nb.cells[2].source = "".join(nb.cells[2].source) + "\n# alice's take on cell 3"
    nbformat.write(nb, mine, version=nbformat.NO_CONVERT)
    demo.bob_edits("Running Code.ipynb", 2, "# bob's take on cell 3")

    replan(panel)
    both = row(panel, "conflict", "jupyter-docs/Running Code.ipynb")
    expect(both).to_be_visible()
    both.locator(".jp-ApoloNotebooks-open").click()
    diff = page.locator(".jp-ApoloNotebooks-diff:visible")
    expect(diff).to_contain_text("alice's take on cell 3")
    expect(diff).to_contain_text("bob's take on cell 3")
    shoot(page, screenshots, "notebooks-conflict-diff-light", main=True)

    panel.locator('[data-action="pull"]').click()
    conflict = panel.locator(".jp-ApoloNotebooks-conflicts li")
    expect(conflict).to_contain_text("cell 3")
    storage_copy = conflict.locator('[data-open="storage"]')
    expect(storage_copy).to_have_attribute("title", "jupyter-docs/Running Code.from-storage.ipynb")
    merge = conflict.locator('[data-open="merge"]')
    expect(merge).to_have_attribute("title", "jupyter-docs/Running Code.merge-conflicts.ipynb")
    # the copies are listed by git but never committed by the panel
    copy_row = panel.locator('.jp-ApoloNotebooks-row.jp-mod-copy')
    expect(copy_row).to_have_count(2)
    expect(copy_row.first).to_contain_text("not committed")
    shoot(page, screenshots, "notebooks-conflict-light")
    assert "alice's take" in mine.read_text()
    assert "bob's take" in (demo.local / "jupyter-docs/Running Code.from-storage.ipynb").read_text()

    merge.click()  # nbdime's conflict-marked merge opens as a notebook in Lab
    opened = page.locator(".jp-NotebookPanel:visible")
    expect(opened).to_contain_text("<<<<<<< local")
    expect(opened).to_contain_text(">>>>>>> remote")
    page.keyboard.press("Escape")
    shoot(page, screenshots, "notebooks-conflict-merge-open-light", main=True)


def teammate_pushes(demo: Demo, cell: int, text: str) -> None:
    """bob clones the demo's bare origin, appends ``text`` to cell ``cell`` (0-based) of Running Code, commits and
    pushes (as a teammate working in git, not on storage)."""
    clone = demo.home / f"bob-clone-{time.monotonic_ns()}"
    git(demo.home, "clone", "-q", str(demo.origin), str(clone))
    edit_cell(clone / "notebooks/jupyter-docs/Running Code.ipynb", cell, text)
    git(clone, "-c", "user.name=Bob Example", "-c", "user.email=bob@example.com", "commit", "-q", "-am",
        f"Bob: {text}")
    git(clone, "push", "-q", "origin", "main")


def edit_cell(path: Path, cell: int, text: str) -> None:
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nb.cells[cell].source = "".join(nb.cells[cell].source) + f"\n{text}"
    nbformat.write(nb, path, version=nbformat.NO_CONVERT)


def reject_then_pull(page: Page, panel, demo: Demo, screenshots: Path, theme: str, cell: int) -> None:
    """bob pushes an edit of cell ``cell``; alice commits an edit of cell ``cell + 4`` of the same notebook; her
    push is rejected; the dialog shows git's output and offers Pull; she pulls (a cell-wise merge) and pushes
    again: the bare origin has both commits."""
    teammate_pushes(demo, cell, f"# bob, cell {cell + 1}")
    mine = demo.local / "jupyter-docs/Running Code.ipynb"
    edit_cell(mine, cell + 4, f"# alice, cell {cell + 5}")
    replan(panel)
    panel.locator(".jp-ApoloNotebooks-message").fill(f"Alice: cell {cell + 5}")
    panel.locator('[data-action="commit"]').click()
    expect(panel.locator(".jp-ApoloNotebooks-outcome")).to_contain_text(f": Alice: cell {cell + 5}")

    panel.locator('[data-action="git-push"]').click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Push failed")
    expect(dialog).to_contain_text("The remote has commits you do not have")
    output = dialog.locator(".jp-ApoloNotebooks-output")
    expect(output).to_contain_text("[rejected]")
    assert "mono" in output.evaluate("e => getComputedStyle(e).fontFamily").lower()
    pull = dialog.locator(".jp-Dialog-button", has_text="Pull")
    expect(pull).to_be_visible()
    shoot(page, screenshots, f"notebooks-push-rejected-{theme}", main=True)
    pull.click()
    expect(dialog).to_have_count(0)
    summary = panel.locator('[data-outcome="git-pull"]')
    expect(summary).to_contain_text("Merged origin/main into your branch")
    expect(panel.locator(".jp-ApoloNotebooks-body")).to_have_attribute("data-phase", "ready")
    shoot(page, screenshots, f"notebooks-pulled-{theme}")
    text = mine.read_text()
    assert f"# bob, cell {cell + 1}" in text and f"# alice, cell {cell + 5}" in text and "<<<<<<<" not in text

    panel.locator('[data-action="git-push"]').click()
    expect(panel.locator(".jp-ApoloNotebooks-outcome")).to_contain_text("Pushed your commits.")
    log = git(demo.origin, "log", "--format=%s", "main").splitlines()
    assert log[0] == "Merge origin/main" and {f"Bob: # bob, cell {cell + 1}", f"Alice: cell {cell + 5}"} <= set(log)


def conflicting_pull(page: Page, panel, demo: Demo, screenshots: Path, theme: str) -> None:
    """bob and alice both edit cell 13: Pull stops with the conflict named and the fix, and changes nothing."""
    teammate_pushes(demo, 12, "# bob's take on cell 13")
    mine = demo.local / "jupyter-docs/Running Code.ipynb"
    edit_cell(mine, 12, "# alice's take on cell 13")
    replan(panel)
    panel.locator(".jp-ApoloNotebooks-message").fill("Alice: her take on cell 13")
    panel.locator('[data-action="commit"]').click()
    expect(panel.locator(".jp-ApoloNotebooks-outcome")).to_contain_text(": Alice: her take on cell 13")
    head, before = git(demo.project, "rev-parse", "HEAD"), mine.read_bytes()

    panel.locator('[data-action="git-push"]').click()
    page.locator(".jp-Dialog .jp-Dialog-button", has_text="Pull").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Pull failed")
    expect(dialog).to_contain_text("Running Code.ipynb changed in the same place on both sides")
    expect(dialog).to_contain_text("The merge was undone; nothing changed here.")
    expect(dialog).to_contain_text("nbdime mergetool")
    expect(dialog.locator(".jp-ApoloNotebooks-output")).to_contain_text("CONFLICT")
    expect(dialog.locator(".jp-Dialog-button", has_text="Pull")).to_have_count(0)  # no second offer
    shoot(page, screenshots, f"notebooks-pull-conflict-{theme}", main=True)
    dialog.locator(".jp-Dialog-button", has_text="Close").click()
    assert git(demo.project, "rev-parse", "HEAD") == head and mine.read_bytes() == before
    assert not (demo.project / ".git/MERGE_HEAD").exists() and git(demo.project, "status", "--porcelain") == ""


def test_a_rejected_push_offers_pull_then_pushes(page, demo, screenshots):
    demo.reset("Running Code.ipynb")
    panel = open_panel(page, demo.lab)
    panel.locator('[data-action="pull"]').click()
    expect(panel.locator('[data-outcome="sync"]')).to_contain_text("Pulled: 1 downloaded")
    commit_and_push(panel, "Notebooks from the team")
    reject_then_pull(page, panel, demo, screenshots, "light", 2)

    demo.lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Dark"})
    try:
        panel = open_panel(page, demo.lab)
        reject_then_pull(page, panel, demo, screenshots, "dark", 3)
        conflicting_pull(page, panel, demo, screenshots, "dark")
    finally:
        demo.lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Light"})


def test_states_light_and_dark(page, demo, screenshots):
    demo.reset("Running Code.ipynb")
    panel = open_panel(page, demo.lab)
    panel.locator('[data-action="pull"]').click()
    expect(panel.locator('[data-outcome="sync"]')).to_contain_text("Pulled:")
    replan(panel)
    expect(panel.locator("[data-empty]")).to_contain_text("In sync")
    shoot(page, screenshots, "notebooks-in-sync-light")

    # error: a folder outside any flow project
    panel.locator("#jp-apolo-nb-path").fill("elsewhere")
    panel.locator("#jp-apolo-nb-path").press("Enter")
    expect(panel.locator(".jp-ApoloNotebooks-body")).to_have_attribute("data-phase", "error")
    expect(panel.locator(".jp-Apolo-notice")).to_contain_text("Cannot plan the notebooks sync")
    # the folder as the file browser names it, not the server's absolute path
    expect(panel.locator(".jp-Apolo-notice")).to_contain_text("elsewhere is not inside an apolo-flow project")
    expect(panel.locator(".jp-Apolo-notice")).not_to_contain_text(str(demo.lab.root))
    expect(panel.locator(".jp-ApoloNotebooks-candidate")).to_have_text("awesome-project")
    shoot(page, screenshots, "notebooks-error-light")

    demo.lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Dark"})
    try:
        demo.bob_edits("Running Code.ipynb", 4, "# bob, in the dark")
        # loading: hold the plan answers until the screenshot is taken
        held: list = []
        page.route("**/apolo/notebooks/plan*", lambda route: held.append(route))
        open_lab(page, demo.lab)
        page.locator(TAB).click()
        panel = page.locator(PANEL)
        expect(panel.locator(".jp-ApoloNotebooks-loading")).to_be_visible()
        shoot(page, screenshots, "notebooks-loading-dark")
        for route in held:
            route.continue_()
        page.unroute("**/apolo/notebooks/plan*")
        expect(panel.locator(".jp-ApoloNotebooks-body")).to_have_attribute("data-phase", "ready")
        expect(row(panel, "pull", "jupyter-docs/Running Code.ipynb")).to_be_visible()
        color = panel.locator(".jp-ApoloNotebooks-path").first.evaluate("e => getComputedStyle(e).color")
        rgb = [int(c) for c in color[color.index("(") + 1: color.index(")")].split(",")[:3]]
        assert sum(rgb) > 3 * 128, color  # light text on the dark theme
        shoot(page, screenshots, "notebooks-plan-dark")
        row(panel, "pull", "jupyter-docs/Running Code.ipynb").locator(".jp-ApoloNotebooks-open").click()
        expect(page.locator(".jp-ApoloNotebooks-diff:visible")).to_contain_text("bob, in the dark")
        shoot(page, screenshots, "notebooks-diff-dark", main=True)
        panel.locator("#jp-apolo-nb-path").fill("elsewhere")
        panel.locator("#jp-apolo-nb-path").press("Enter")
        notice = panel.locator(".jp-Apolo-notice")
        expect(notice).to_be_visible()
        # readable: a dark background under the light text (the light warn colour made it unreadable)
        background = brightness(notice.evaluate("e => getComputedStyle(e).backgroundColor"))
        text = brightness(notice.evaluate("e => getComputedStyle(e).color"))
        assert text - background > 0.4, (text, background)
        shoot(page, screenshots, "notebooks-error-dark")
    finally:
        demo.lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Light"})
