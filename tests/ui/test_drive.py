"""The "Apolo storage" drive in a real JupyterLab (``jupyter apolo lab`` on a fresh data dir, so
the seeded sample: the team project ``awesome-team`` with three notebooks under the flow
project's notebooks volume) in headless Chromium, with the official ``apolo`` CLI as the other
client: browse and edit a notebook on storage, upload 50 MB with progress, copy a storage folder
into the workspace, a read-only share refusing an upload; screenshots light and dark, empty,
loading and error states."""

from __future__ import annotations

import hashlib
import json
import os
import re

import pytest
from playwright.sync_api import Page, expect

from jupyter_apolo.launcher import local_username
from tests.support.platform import BIN, ApoloCLI, LocalPlatform, wait_for
from tests.ui.lab import Lab, free_port
from tests.ui.test_sidebar import open_lab

PANEL = '[id="apolo-storage"]'
TAB = '.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="apolo-storage"]'
NOTEBOOKS = "/awesome-team/awesome_project/notebooks"  # the seeded flow volume, below the org


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """``(lab, platform, cli)``: ``jupyter apolo lab`` with its seeded embedded platform; ``cli(user)``
    is the official CLI logged in as ``user`` on that platform."""
    data = tmp_path_factory.mktemp("drive") / "data"
    port = free_port()
    launcher = [str(BIN / "jupyter-apolo"), "lab", "--data-dir", str(data), "--port", str(port), "--"]
    lab = Lab(tmp_path_factory.mktemp("lab"), command=launcher)
    lab.start(timeout=180)
    platform = LocalPlatform(data / "platform", url=f"http://127.0.0.1:{port}/api/v1")
    home = tmp_path_factory.mktemp("clihome")
    clis: dict[str, ApoloCLI] = {}

    def cli(user: str) -> ApoloCLI:
        if user not in clis:
            clis[user] = ApoloCLI(platform, user, home)
        return clis[user]

    yield lab, platform, cli, data / "workspace"
    lab.stop()


def open_storage(page: Page, lab) -> object:
    open_lab(page, lab)
    page.locator(TAB).click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    # home is the current project: the flow project's folder is in it
    expect(item(panel, "awesome_project")).to_be_visible()
    return panel


def item(panel, name: str):
    return panel.locator(".jp-DirListing-item").filter(has=panel.page.get_by_text(name, exact=True))


def shoot(page: Page, folder, name: str, width: int | None = None) -> None:
    box = page.locator(PANEL).bounding_box()
    page.screenshot(path=folder / f"{name}.png",
                    clip={"x": 0, "y": 0, "width": width or box["x"] + box["width"] + 1, "height": 800})


def test_browse_open_edit_save_notebook_read_back_by_cli(page, seeded, screenshots, tmp_path):
    lab, platform, cli, _ = seeded
    panel = open_storage(page, lab)
    # the flow project's volumes are bookmarks
    bookmarks = panel.locator(".jp-ApoloDrive-bookmark")
    expect(bookmarks.filter(has_text="notebooks")).to_be_visible()
    bookmarks.filter(has_text="notebooks").click()
    for name in ("01-explore-data.ipynb", "02-train-model.ipynb", "03-share-results.ipynb"):
        expect(item(panel, name)).to_be_visible()
    expect(panel.locator(".jp-BreadCrumbs")).to_contain_text("notebooks")
    shoot(page, screenshots, "drive-notebooks-light")

    item(panel, "01-explore-data.ipynb").dblclick()
    notebook = page.locator(".jp-NotebookPanel:visible")
    expect(notebook.locator(".jp-Cell").first).to_be_visible()
    # Once the kernel is up, Lab writes its language_info into the notebook (dirty again): edit after that.
    expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle")).to_be_visible(timeout=60_000)
    cell = notebook.locator(".jp-CodeCell").first
    cell.locator(".cm-content").click()
    page.keyboard.press("End")
    page.keyboard.press("Control+End")
    page.keyboard.type("\nprint('edited in the Apolo drive')")
    page.keyboard.press("Control+s")
    expect(page.locator(".jp-mod-dirty")).to_have_count(0)
    page.screenshot(path=screenshots / "drive-notebook-open.png")

    out = tmp_path / "back.ipynb"
    cli(local_username())("cp", f"storage:{NOTEBOOKS}/01-explore-data.ipynb", str(out))
    saved = json.loads(out.read_text())
    code = [c for c in saved["cells"] if c["cell_type"] == "code"][0]
    assert "print('edited in the Apolo drive')" in "".join(code["source"])
    assert saved["metadata"]["kernelspec"]["name"] == "python3"
    assert not [e for e in page.errors if "apolo" in e.lower()], page.errors


def test_upload_50_mb_with_progress_byte_identical(page, seeded, screenshots, tmp_path):
    lab, platform, cli, _ = seeded
    big = tmp_path / "measurements.bin"
    big.write_bytes(os.urandom(50 * 1024 * 1024))
    panel = open_storage(page, lab)
    item(panel, "awesome_project").dblclick()
    expect(item(panel, "notebooks")).to_be_visible()
    with page.expect_file_chooser() as chooser:
        panel.locator('.jp-ToolbarButtonComponent[title="Upload Files to Storage"]').click()
    # Slow the browser's uploads (DevTools throttling) so the progress between chunks is seen and pictured.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                   "uploadThroughput": 10 * 1024 * 1024})
    chooser.value.set_files(str(big))
    between_chunks = re.compile(r"Uploading measurements\.bin to storage: .* of 52\.4 MB")
    progress = page.locator(".Toastify__toast", has_text=between_chunks)
    expect(progress).to_be_visible(timeout=60_000)
    page.screenshot(path=screenshots / "drive-upload-progress.png")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                   "uploadThroughput": -1})
    expect(page.locator(".Toastify__toast", has_text="Uploaded measurements.bin")).to_be_visible(timeout=180_000)
    expect(item(panel, "measurements.bin")).to_be_visible()

    out = tmp_path / "back.bin"
    cli(local_username())("cp", "storage:/awesome-team/awesome_project/measurements.bin", str(out))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()


def test_copy_storage_folder_to_workspace(page, seeded, screenshots):
    lab, platform, cli, workspace = seeded
    panel = open_storage(page, lab)
    item(panel, "awesome_project").dblclick()
    item(panel, "notebooks").click(button="right")
    page.locator(".lm-Menu-item", has_text="Copy to Workspace").click()
    expect(page.locator(".Toastify__toast", has_text="Copied")).to_be_visible(timeout=60_000)
    assert (workspace / "notebooks" / "02-train-model.ipynb").is_file()
    page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="filebrowser"]').click()
    local = page.locator("#filebrowser")
    expect(local.locator(".jp-DirListing-itemText").get_by_text("notebooks", exact=True)).to_be_visible()
    page.screenshot(path=screenshots / "drive-copied-to-workspace.png")
    page.locator(TAB).click()

    # Again: the target exists; the user chooses, nothing is overwritten silently.
    (workspace / "notebooks" / "02-train-model.ipynb").write_text("local edits")
    item(panel, "notebooks").click(button="right")
    page.locator(".lm-Menu-item", has_text="Copy to Workspace").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("already exists in the workspace")
    page.screenshot(path=screenshots / "drive-conflict.png")
    dialog.locator("button", has_text="Keep Both").click()
    expect(page.locator(".Toastify__toast", has_text="notebooks (1)")).to_be_visible(timeout=60_000)
    assert (workspace / "notebooks" / "02-train-model.ipynb").read_text() == "local edits"
    assert (workspace / "notebooks (1)" / "02-train-model.ipynb").is_file()


def test_read_only_share_refuses_upload_with_platform_message(page, seeded, screenshots, tmp_path):
    lab, platform, cli, _ = seeded
    me = local_username()
    bob = cli("bob")
    bob("mkdir", "-p", "storage:/bob/datasets")  # bob's own project (his CLI defaults to the team's)
    bob("share", "storage:/bob/datasets", me, "read")
    panel = open_storage(page, lab)
    panel.locator(".jp-BreadCrumbs-home").click()
    item(panel, "bob").dblclick()
    item(panel, "datasets").dblclick()
    notice = panel.locator(".jp-ApoloDrive-notice")
    expect(notice).to_have_attribute("data-kind", "readonly")
    (tmp_path / "mine.csv").write_text("a,b\n")
    with page.expect_file_chooser() as chooser:
        panel.locator('.jp-ToolbarButtonComponent[title="Upload Files to Storage"]').click()
    chooser.value.set_files(str(tmp_path / "mine.csv"))
    error = page.locator(".Toastify__toast", has_text="Upload of mine.csv failed")
    expect(error).to_contain_text("no permission")  # the platform's own words
    page.wait_for_timeout(800)  # the toast's slide-in animation
    shoot(page, screenshots, "drive-readonly-refused-light", width=1280)
    assert "mine.csv" not in bob("ls", "storage:/bob/datasets").stdout


def test_states_and_dark_theme(page, seeded, screenshots):
    lab, platform, cli, _ = seeded
    panel = open_storage(page, lab)
    # empty folder state
    panel.locator('.jp-ToolbarButtonComponent[title="New Folder"]').click()
    editor = panel.locator(".jp-DirListing-editor")
    expect(editor).to_be_focused()
    editor.press("Enter")
    expect(editor).to_have_count(0)
    item(panel, "Untitled Folder").dblclick()
    expect(panel.locator(".jp-ApoloDrive-notice")).to_have_attribute("data-kind", "empty")
    shoot(page, screenshots, "drive-empty-light")

    lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Dark"})
    try:
        panel = open_storage(page, lab)
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
        panel.locator(".jp-ApoloDrive-bookmark", has_text="notebooks").click()
        expect(item(panel, "02-train-model.ipynb")).to_be_visible()
        shoot(page, screenshots, "drive-notebooks-dark")

        # loading: the context answer held back; error: the server has no credentials (503)
        held = []
        page.route("**/apolo/context*", lambda route: held.append(route))
        page.goto(lab.page_url())
        page.locator(TAB).click()
        expect(page.locator(PANEL).locator(".jp-ApoloDrive-notice")).to_have_attribute("data-kind", "loading")
        shoot(page, screenshots, "drive-loading-dark")
        page.unroute("**/apolo/context*")  # the held requests die with the next page load
        page.route("**/apolo/context*", lambda route: route.fulfill(
            status=503, content_type="application/json",
            body=json.dumps({"error": "No Apolo credentials found.", "fix": "Run `apolo login`, then refresh."})))
        page.goto(lab.page_url())
        page.locator(TAB).click()
        notice = page.locator(PANEL).locator(".jp-ApoloDrive-notice")
        expect(notice).to_have_attribute("data-kind", "error")
        expect(notice).to_contain_text("apolo login")
        shoot(page, screenshots, "drive-error-dark")
    finally:
        lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Light"})


# Drag and drop between the two browsers. Both sit in the left sidebar, where only one shows at a
# time; users put the storage browser on the right with its tab's context menu "Switch Sidebar Side"
# (Lab keeps that choice in the shell settings), so both are visible.
LOCAL = "#filebrowser"
RIGHT_TAB = '.jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id="apolo-storage"]'
TEAM = "/awesome-team"  # the current project on storage (the panel's home)


@pytest.fixture
def side_by_side(page, seeded):
    """``(local, storage)``: the workspace browser on the left, the storage browser on the right,
    its home project shown. The sidebar choice is dropped afterwards, so other tests find the tab
    on the left again."""
    lab = seeded[0]
    storage = open_storage(page, lab)
    page.locator(TAB).click(button="right")
    page.locator(".lm-Menu-item", has_text="Switch Sidebar Side").click()
    expect(page.locator(RIGHT_TAB)).to_be_visible()
    expect(storage).to_be_visible()
    page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="filebrowser"]').click()
    local = page.locator(LOCAL)
    expect(local).to_be_visible()
    yield local, storage
    lab.write_settings("@jupyterlab/application-extension", "shell", {})


def drag(page: Page, source, *stops, shots=()):
    """Drag ``source`` with the mouse as a person does: press, move past Lumino's 5 px threshold,
    then glide to each locator in ``stops`` (a locator, or ``(locator, dy)`` for a point ``dy`` px
    above its bottom edge), saving ``shots[i]`` (a path) while hovering stop i; release on the last."""
    box = source.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 12, y + 12, steps=4)
    for i, stop in enumerate(stops):
        locator, dy = stop if isinstance(stop, tuple) else (stop, None)
        box = locator.bounding_box()
        tx = box["x"] + box["width"] / 2
        ty = box["y"] + box["height"] - dy if dy is not None else box["y"] + box["height"] / 2
        page.mouse.move(tx, ty, steps=12)
        page.wait_for_timeout(150)  # the highlight is set on the next pointer move; let it paint
        if i < len(shots) and shots[i]:
            page.screenshot(path=shots[i])
    page.mouse.up()


def local_item(local, name: str):
    return local.locator(".jp-DirListing-item").filter(has=local.page.get_by_text(name, exact=True))


def test_drag_workspace_files_onto_storage_uploads_them(page, seeded, side_by_side, screenshots):
    lab, platform, cli, workspace = seeded
    local, storage = side_by_side
    me = cli(local_username())
    data = os.urandom(3 * 1024 * 1024)
    (workspace / "dragged.bin").write_bytes(data)
    (workspace / "notes.txt").write_text("two files in one drag")
    local.locator('.jp-ToolbarButtonComponent[title="Refresh the file browser."]').click()
    item(storage, "awesome_project").dblclick()
    expect(item(storage, "notebooks")).to_be_visible()
    local_item(local, "notes.txt").click()
    local_item(local, "dragged.bin").click(modifiers=["Control"])
    listing = storage.locator(".jp-DirListing-content")
    # over a folder: that folder is the target; over the free space: the folder shown
    drag(page, local_item(local, "dragged.bin"), item(storage, "notebooks"), (listing, 40),
         shots=(screenshots / "drive-drag-upload-folder-light.png",
                screenshots / "drive-drag-upload-hover-light.png"))
    expect(page.locator(".Toastify__toast", has_text="Uploaded dragged.bin")).to_be_visible(timeout=60_000)
    expect(page.locator(".Toastify__toast", has_text="Uploaded notes.txt")).to_be_visible(timeout=60_000)
    expect(item(storage, "dragged.bin")).to_be_visible()
    expect(item(storage, "notes.txt")).to_be_visible()
    expect(storage.locator(".jp-mod-dropTarget, .jp-mod-native-drop")).to_have_count(0)
    page.screenshot(path=screenshots / "drive-drag-upload-done-light.png")

    out = workspace.parent / "back.bin"
    me("cp", f"storage:{TEAM}/awesome_project/dragged.bin", str(out))
    assert out.read_bytes() == data
    me("cp", f"storage:{TEAM}/awesome_project/notes.txt", str(out))
    assert out.read_text() == "two files in one drag"
    assert (workspace / "dragged.bin").read_bytes() == data  # a copy: the source stays
    assert "dragged.bin" not in me("ls", f"storage:{TEAM}/awesome_project/notebooks").stdout


@pytest.fixture
def dark(seeded):
    """The dark theme for the pages of one test."""
    lab = seeded[0]
    lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Dark"})
    yield
    lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Light"})


def test_drag_storage_folder_onto_workspace_folder_copies_it_and_asks_on_conflict(
        page, seeded, dark, side_by_side, screenshots, tmp_path):
    lab, platform, cli, workspace = seeded
    local, storage = side_by_side
    me = cli(local_username())
    run = tmp_path / "run-42"
    (run / "logs").mkdir(parents=True)
    (run / "metrics.json").write_text('{"accuracy": 0.93}')
    (run / "logs" / "train.log").write_bytes(os.urandom(200_000))
    me("cp", "-r", str(run), f"storage:{TEAM}/awesome_project/run-42")
    (workspace / "incoming").mkdir()
    local.locator('.jp-ToolbarButtonComponent[title="Refresh the file browser."]').click()
    item(storage, "awesome_project").dblclick()
    incoming = local_item(local, "incoming")
    expect(incoming).to_be_visible()

    drag(page, item(storage, "run-42"), (local.locator(".jp-DirListing-content"), 60), incoming,
         shots=(screenshots / "drive-drag-copy-hover-dark.png", screenshots / "drive-drag-copy-folder-dark.png"))
    expect(page.locator(".Toastify__toast", has_text="Copied")).to_be_visible(timeout=60_000)
    copied = workspace / "incoming" / "run-42"
    assert (copied / "metrics.json").read_text() == '{"accuracy": 0.93}'
    assert (copied / "logs" / "train.log").read_bytes() == (run / "logs" / "train.log").read_bytes()
    assert not (workspace / "run-42").exists()  # into the folder under the cursor, not the one shown
    incoming.dblclick()
    expect(local_item(local, "run-42")).to_be_visible()
    page.screenshot(path=screenshots / "drive-drag-copy-done-dark.png")
    assert "run-42" in me("ls", f"storage:{TEAM}/awesome_project").stdout  # a copy: the source stays

    # The same drag again: the target exists, so the user chooses; Skip changes nothing.
    local.locator(".jp-BreadCrumbs-home").click()
    expect(incoming).to_be_visible()
    (copied / "metrics.json").write_text("local edits")
    for choice in ("Skip", "Overwrite"):
        drag(page, item(storage, "run-42"), incoming)
        dialog = page.locator(".jp-Dialog")
        expect(dialog).to_contain_text('"incoming/run-42" already exists in the workspace')
        for button in ("Skip", "Keep Both", "Overwrite"):
            expect(dialog.locator("button", has_text=button)).to_be_visible()
        if choice == "Skip":
            page.screenshot(path=screenshots / "drive-drag-conflict-dark.png")
        dialog.locator("button", has_text=choice).click()
        expect(dialog).to_have_count(0)
        if choice == "Skip":
            page.wait_for_timeout(1000)
            assert (copied / "metrics.json").read_text() == "local edits"
    wait_for(lambda: (copied / "metrics.json").read_text() == '{"accuracy": 0.93}', 60,
             what="Overwrite to replace the local edits")
    assert sorted(p.name for p in (workspace / "incoming").iterdir()) == ["run-42"]


def test_drag_inside_storage_still_moves(page, seeded, side_by_side):
    lab, platform, cli, workspace = seeded
    local, storage = side_by_side
    me = cli(local_username())
    me("mkdir", "-p", f"storage:{TEAM}/awesome_project/into")
    note = workspace.parent / "move-me.txt"
    note.write_text("moved, not copied")
    me("cp", str(note), f"storage:{TEAM}/awesome_project/move-me.txt")
    item(storage, "awesome_project").dblclick()
    expect(item(storage, "move-me.txt")).to_be_visible()
    drag(page, item(storage, "move-me.txt"), item(storage, "into"))
    # shown at once, not at the browser's next 30 s poll
    expect(item(storage, "move-me.txt")).to_have_count(0, timeout=10_000)
    assert "move-me.txt" in me("ls", f"storage:{TEAM}/awesome_project/into").stdout
    assert "move-me.txt" not in me("ls", f"storage:{TEAM}/awesome_project").stdout
    assert not (workspace / "move-me.txt").exists()
    expect(page.locator(".Toastify__toast", has_text="Copying")).to_have_count(0)
