"""The "Apolo" sidebar in a real JupyterLab in headless Chromium: identity shown from the server
extension, the embedded-platform badge, refresh (button and palette command), the "server
extension missing" and "no credentials" states, and screenshots in light and dark theme."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.ui.conftest import passed_config

SIDEBAR_ID = "jupyter-apolo:sidebar"
SIDEBAR = f'[id="{SIDEBAR_ID}"]'
TAB = f'.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="{SIDEBAR_ID}"]'
MISSING = "server extension missing or outdated: pip install jupyter-apolo and restart JupyterLab"


def open_lab(page: Page, lab) -> None:
    page.goto(lab.page_url())
    page.locator("#jupyterlab-splash").wait_for(state="detached")
    page.locator(".jp-LabShell").wait_for()
    # Lab opens the Launcher once the (reset) workspace is restored; until then a late focus
    # change can close a just-opened command palette.
    page.locator(".jp-Launcher").wait_for()


def open_sidebar(page: Page, state: str):
    """Open the Apolo sidebar (unless already open) and wait until it shows ``state``."""
    sidebar = page.locator(SIDEBAR)
    if not sidebar.is_visible():
        page.locator(TAB).click()
    expect(sidebar).to_be_visible()
    expect(sidebar.locator(".jp-Apolo-body")).to_have_attribute("data-state", state)
    return sidebar


def field(sidebar, name: str):
    return sidebar.locator(f'.jp-Apolo-value[data-field="{name}"]')


def shoot(page: Page, folder, name: str) -> None:
    """Save the left edge of the window (tab bar + sidebar) as ``<name>.png``."""
    box = page.locator(SIDEBAR).bounding_box()
    page.screenshot(path=folder / f"{name}.png",
                    clip={"x": 0, "y": 0, "width": box["x"] + box["width"] + 1, "height": box["y"] + box["height"]})


def test_sidebar_shows_who_alice_is(page, lab, ui_platform):
    open_lab(page, lab)
    tab = page.locator(TAB)
    expect(tab).to_have_attribute("title", "Apolo")
    expect(tab.locator("svg")).to_be_visible()

    sidebar = open_sidebar(page, "connected")
    expect(sidebar.locator(".jp-Apolo-user")).to_have_text("alice")
    expect(field(sidebar, "cluster")).to_have_text("default")
    expect(field(sidebar, "org")).to_have_text("local")
    expect(field(sidebar, "project")).to_have_text("alice")
    expect(field(sidebar, "url")).to_have_text(ui_platform.url)
    # NEURO_PASSED_CONFIG credentials: Lab does not know this platform is the embedded one.
    expect(sidebar.locator(".jp-Apolo-platformKind")).to_have_text("External platform")

    token = ui_platform.token("alice")
    assert token not in page.content()
    assert token not in lab.get("apolo/context").text
    assert not [e for e in page.errors if "apolo" in e.lower()], page.errors


def test_refresh_command_in_palette(page, lab):
    contexts: list[str] = []
    page.on("request", lambda r: r.url.split("?")[0].endswith("/apolo/context") and contexts.append(r.url))
    open_lab(page, lab)
    open_sidebar(page, "connected")
    before = len(contexts)

    # The menu, not Ctrl+Shift+C: Chromium keeps that shortcut for its inspector.
    page.locator(".lm-MenuBar-item", has_text="View").click()
    page.locator('.lm-Menu-item[data-command="apputils:activate-command-palette"]').click()
    palette = page.locator(".jp-ModalCommandPalette")
    # Unfiltered, the palette lists commands under category headers: ours is under "Apolo".
    under_apolo = palette.locator('.lm-CommandPalette-header:text-is("Apolo") + .lm-CommandPalette-item')
    expect(under_apolo).to_have_attribute("data-command", "apolo:refresh")
    palette.locator("input").fill("Refresh Apolo")
    item = palette.locator(".lm-CommandPalette-item", has_text="Refresh Apolo Connection")
    expect(item).to_be_visible()
    item.click()

    expect(page.locator(f"{SIDEBAR} .jp-Apolo-body")).to_have_attribute("data-state", "connected")
    assert len(contexts) == before + 1, contexts


def test_screenshots_light_and_dark(page, lab, screenshots):
    open_lab(page, lab)
    open_sidebar(page, "connected")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true")
    shoot(page, screenshots, "sidebar-light")

    lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Dark"})
    try:
        open_lab(page, lab)
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
        sidebar = open_sidebar(page, "connected")
        # Theme-aware colours: the text is light on the dark background.
        color = sidebar.locator(".jp-Apolo-user").evaluate("e => getComputedStyle(e).color")
        rgb = [int(c) for c in color[color.index("(") + 1: color.index(")")].split(",")[:3]]
        assert sum(rgb) > 3 * 128, color
        shoot(page, screenshots, "sidebar-dark")
    finally:
        lab.write_settings("@jupyterlab/apputils-extension", "themes", {"theme": "JupyterLab Light"})


def test_embedded_platform_and_refresh_button(page, embedded, screenshots):
    lab, login = embedded
    login("bob")
    open_lab(page, lab)
    sidebar = open_sidebar(page, "connected")
    expect(sidebar.locator(".jp-Apolo-user")).to_have_text("bob")
    expect(field(sidebar, "project")).to_have_text("bob")
    expect(sidebar.locator(".jp-Apolo-platformKind")).to_contain_text("Embedded platform")
    shoot(page, screenshots, "sidebar-embedded")

    login("alice")  # the server re-resolves credentials on every request: refresh shows alice
    sidebar.locator('[data-command="apolo:refresh"]').click()
    expect(sidebar.locator(".jp-Apolo-user")).to_have_text("alice")
    expect(field(sidebar, "project")).to_have_text("alice")


def test_server_extension_missing(page, start_lab, screenshots):
    lab = start_lab(args=["--ServerApp.jpserver_extensions=jupyter_apolo=False"])
    assert lab.get("apolo/version").status_code == 404
    open_lab(page, lab)
    sidebar = open_sidebar(page, "missing-extension")
    expect(sidebar.locator(".jp-Apolo-notice")).to_contain_text(MISSING)
    shoot(page, screenshots, "sidebar-extension-missing")


def test_no_credentials_says_what_to_run(page, embedded, screenshots):
    lab, login = embedded
    login(None)  # no embedded credentials, an empty HOME, no passed config: nothing resolves
    assert lab.get("apolo/context").status_code == 503
    open_lab(page, lab)
    sidebar = open_sidebar(page, "unconfigured")
    notice = sidebar.locator(".jp-Apolo-notice")
    expect(notice).to_contain_text("Not connected to an Apolo platform")
    expect(notice).to_contain_text("apolo login")
    shoot(page, screenshots, "sidebar-no-credentials")

    login("bob")
    sidebar.locator('[data-command="apolo:refresh"]').click()
    expect(sidebar.locator(".jp-Apolo-user")).to_have_text("bob")


def test_long_names_wrap_and_stay_whole(page, start_lab, ui_platform, screenshots):
    """A 40-character user (the platform's maximum) and project in the default-width sidebar:
    each wraps at its hyphens and is shown whole (no ellipsis, nothing clipped), with the name in
    the tooltip, and nothing scrolls sideways."""
    user = "konstantina-papadopoulou-data-science-01"
    assert len(user) == 40
    ui_platform.token(user)
    lab = start_lab(env={"NEURO_PASSED_CONFIG": passed_config(ui_platform, user)})
    open_lab(page, lab)
    sidebar = open_sidebar(page, "connected")
    name = sidebar.locator(".jp-Apolo-user")
    expect(name).to_have_text(user)
    expect(name).to_have_attribute("title", user)
    for element in (name, field(sidebar, "project")):
        expect(element).to_have_attribute("title", user)
        # taller than one line of its font: it wrapped instead of ending in an ellipsis
        ratio = element.evaluate("e => e.clientHeight / parseFloat(getComputedStyle(e).fontSize)")
        assert ratio > 2, f"expected the name to wrap, height is {ratio:.1f} times its font size"
        clipped = element.evaluate("e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth")
        assert not clipped, "part of the name is hidden"
    body = sidebar.locator(".jp-Apolo-body")
    assert body.evaluate("e => e.scrollWidth <= e.clientWidth"), "the sidebar scrolls sideways"
    shoot(page, screenshots, "sidebar-long-names")
