"""A real JupyterLab server for browser tests: ``python -m jupyterlab`` as a subprocess with its
settings, workspaces, runtime, config and home directories in a temp dir, so nothing from the
machine's own Jupyter or apolo setup leaks in (toolchain.md "Browser tests")."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from jupyter_apolo.launcher import stop_process
from tests.support.net import free_port
from tests.support.platform import wait_for

#: Credential sources the server extension reads; cleared so each Lab sees only what a test passes.
CREDENTIAL_VARS = ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG", "APOLO_CONFIG", "NEUROMATION_CONFIG",
                   "JUPYTER_APOLO_EMBEDDED", "NEURO_JOB_ID", "NEURO_JOB_NAME")

#: Settings that keep the "get Jupyter news?" toast from covering the page.
QUIET_NOTIFICATIONS = ("@jupyterlab/apputils-extension", "notification",
                       {"fetchNews": "false", "checkForUpdates": False})


@dataclass
class Lab:
    """One ``python -m jupyterlab`` process.

    ``root``: a fresh temp dir for everything it writes; ``env``: extra environment (credentials);
    ``args``: extra command-line options. ``url`` is the server root, ``token`` its Jupyter token
    (not a platform token).
    """

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    url: str = ""
    token: str = ""
    proc: subprocess.Popen | None = None
    command: list[str] | None = None  # default: python -m jupyterlab; a launcher brings its own root_dir

    @property
    def log(self) -> Path:
        return self.root / "lab.log"

    def start(self, timeout: float = 60) -> "Lab":
        dirs = {name: self.root / name for name in ("settings", "workspaces", "runtime", "config", "home", "work")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        self.write_settings(*QUIET_NOTIFICATIONS)
        port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{port}/"
        env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}
        env.update(
            HOME=str(dirs["home"]),
            JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            **self.env,
        )
        root_dir = [] if self.command else [f"--ServerApp.root_dir={dirs['work']}"]
        cmd = [
            *(self.command or [sys.executable, "-m", "jupyterlab"]), "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            *root_dir, "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *self.args,
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.proc = subprocess.Popen(cmd, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_for(self._up, timeout, interval=0.2, what=f"JupyterLab at {self.url} (log: {self.log})")
        return self

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}api/status", params={"token": self.token}, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def write_settings(self, plugin_package: str, plugin: str, values: dict) -> None:
        """Write user settings ``values`` of ``plugin_package:plugin`` (read when Lab loads a page)."""
        path = self.root / "settings" / plugin_package / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    def get(self, path: str) -> httpx.Response:
        """GET ``<url><path>`` authenticated with the Jupyter token."""
        return httpx.get(self.url + path, headers={"Authorization": f"token {self.token}"}, timeout=30)

    def page_url(self, path: str = "lab") -> str:
        """A browser URL that logs in with the token and resets the saved workspace."""
        return f"{self.url}{path}?reset&token={self.token}"

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc, 15)
        self.proc = None


def run_first_cell(page, widget_selector: str = ".jp-ApoloW"):
    """Run the first cell of the notebook open in ``page`` (once its kernel is idle) and return the first
    output element matching ``widget_selector``, visible. A run sent while the kernel connection is still
    settling can be dropped, so it is sent again until the prompt shows it ran."""
    from playwright.sync_api import expect

    panel = page.locator(".jp-NotebookPanel:visible")
    expect(panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(timeout=120_000)
    prompt = panel.locator(".jp-Cell .jp-InputPrompt").first
    for _ in range(5):
        panel.locator(".jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Control+Enter")
        try:
            expect(prompt).not_to_have_text("[ ]:", timeout=10_000)
            break
        except AssertionError:
            continue
    widget = panel.locator(f".jp-OutputArea-output {widget_selector}").first
    expect(widget).to_be_visible(timeout=60_000)
    return widget
