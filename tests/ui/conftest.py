"""Browser tests: the embedded platform, real JupyterLab servers and headless Debian Chromium
through sync Playwright. Run on their own: ``.venv/bin/pytest tests/ui`` (never in the same
process as pytest-jupyter, whose event-loop fixtures break sync Playwright)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.platform import REPO, LocalPlatform, running_platform
from tests.ui.lab import Lab

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

# Generous waits: the machine's 2 cores are shared, and JupyterLab's first page load is heavy.
expect.set_options(timeout=30_000)


def passed_config(platform: LocalPlatform, user: str) -> str:
    """``NEURO_PASSED_CONFIG`` for ``user``, as ``apolo run --pass-config`` sets it in a job."""
    blob = {"token": platform.token(user), "cluster": platform.cluster, "url": platform.url,
            "org_name": platform.org, "project_name": user}
    return base64.b64encode(json.dumps(blob).encode()).decode()


@pytest.fixture
def jp_asyncio_loop():
    """No loop for browser tests. pytest-jupyter, loaded when server tests share the session, makes its
    ``jp_asyncio_loop`` autouse and closes the loop it yields: that would be Playwright's running one."""
    yield None


@pytest.fixture
def jp_server_cleanup():
    """Nothing to clean: browser tests run their own Lab processes, not pytest-jupyter's in-process server."""
    yield


@pytest.fixture(scope="session")
def ui_platform(tmp_path_factory):
    """The embedded platform for the whole browser session (users alice and bob)."""
    with running_platform(tmp_path_factory.mktemp("platform") / "root") as lp:
        yield lp


@pytest.fixture(scope="session")
def start_lab(tmp_path_factory):
    """``start_lab(env=..., args=...)`` -> a running ``Lab``; all are stopped at session end."""
    labs: list[Lab] = []

    def start(env: dict[str, str] | None = None, args: list[str] | None = None) -> Lab:
        lab = Lab(tmp_path_factory.mktemp("lab"), env=env or {}, args=args or [])
        labs.append(lab)
        return lab.start(timeout=180)

    yield start
    for lab in labs:
        lab.stop()


@pytest.fixture(scope="session")
def lab(start_lab, ui_platform):
    """JupyterLab whose server extension talks to the platform as alice via NEURO_PASSED_CONFIG."""
    return start_lab(env={"NEURO_PASSED_CONFIG": passed_config(ui_platform, "alice")})


@pytest.fixture(scope="session")
def embedded(start_lab, ui_platform, tmp_path_factory):
    """``(lab, login)``: JupyterLab reading the embedded platform's credentials file
    (``JUPYTER_APOLO_EMBEDDED``, as ``jupyter apolo lab`` writes it). ``login(user)`` rewrites the
    file for ``user``; ``login(None)`` removes it. The server re-reads it on every request."""
    credentials = tmp_path_factory.mktemp("embedded") / "embedded.json"

    def login(user: str | None) -> None:
        if user is None:
            credentials.unlink(missing_ok=True)
            return
        credentials.write_text(json.dumps({"url": ui_platform.url, "token": ui_platform.token(user),
                                           "cluster": ui_platform.cluster, "org": ui_platform.org,
                                           "project": user}))

    return start_lab(env={"JUPYTER_APOLO_EMBEDDED": str(credentials)}), login


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Per module, not per session: Playwright's sync API keeps its asyncio loop
    running while it is open, which would break asyncio tests (server, client) collected after this module."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page (1280x800). Console errors are kept in ``page.errors``;
    a failing test leaves ``<test name>-failure.png`` in the screenshots folder."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.errors = []
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{request.node.name}-failure.png")
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder for PNG artifacts (test-artifacts/screenshots/, kept by CI)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
