"""The README's "run it" command in a browser: ``jupyter apolo lab`` on a fresh data dir opens a
JupyterLab whose Apolo sidebar shows the signed-in user on the seeded embedded platform, with the
sample flow project in the file browser."""

from __future__ import annotations

from playwright.sync_api import expect

from jupyter_apolo.launcher import local_username
from tests.support.net import free_port
from tests.support.platform import BIN
from tests.ui.lab import Lab
from tests.ui.test_sidebar import field, open_lab, open_sidebar


def test_jupyter_apolo_lab_opens_connected_to_the_seeded_platform(page, tmp_path_factory, screenshots):
    data = tmp_path_factory.mktemp("launch") / "data"
    launcher = [str(BIN / "jupyter-apolo"), "lab", "--data-dir", str(data), "--port", str(free_port()), "--"]
    lab = Lab(tmp_path_factory.mktemp("lab"), command=launcher).start(timeout=180)
    try:
        open_lab(page, lab)
        sidebar = open_sidebar(page, "connected")
        expect(sidebar.locator(".jp-Apolo-user")).to_have_text(local_username())
        expect(field(sidebar, "project")).to_have_text("awesome-team")
        expect(sidebar.locator(".jp-Apolo-platformKind")).to_have_text("Embedded platform")
        # the file browser (behind the Apolo panel) lists the sample flow project
        expect(page.locator(".jp-DirListing-itemText", has_text="awesome-project")).to_be_attached()
        page.screenshot(path=screenshots / "launch.png")
    finally:
        lab.stop()
    assert not (lab.proc and lab.proc.poll() is None)
