"""Fixtures for the %apolo magics: a real IPython ``InteractiveShell`` with the extension loaded,
talking to the embedded platform over HTTP (credentials passed with ``%config``)."""

from __future__ import annotations

import sys

import pytest
from IPython.core.interactiveshell import InteractiveShell

PYTHON = sys.executable
SLEEPER_CMD = 'python -c "import time; print(\'sleeping\', flush=True); time.sleep(900)"'


class Shell:
    """``shell("ps -a")`` runs ``%apolo ps -a`` and returns its result; ``shell.cell(src)``
    runs a whole cell the way a notebook does (``ExecutionResult``); ``shell.login(user)``
    sets ``%config ApoloMagics.url/token`` for ``user``."""

    def __init__(self, ip: InteractiveShell, platform):
        self.ip, self.platform = ip, platform

    def __call__(self, line: str):
        return self.ip.run_line_magic("apolo", line)

    def cell(self, source: str):
        return self.ip.run_cell(source, store_history=False)

    def login(self, user: str) -> "Shell":
        self.ip.run_line_magic("config", f"ApoloMagics.url = {self.platform.url!r}")
        self.ip.run_line_magic("config", f"ApoloMagics.token = {self.platform.token(user)!r}")
        return self


@pytest.fixture(scope="module")
def ipython():
    """The process's ``InteractiveShell`` with ``%load_ext jupyter_apolo`` done."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_apolo")
    return ip


@pytest.fixture
def shell(ipython, platform):
    """A ``Shell`` logged in as alice; settings reset after the test."""
    sh = Shell(ipython, platform).login("alice")
    yield sh
    magics = magics_of(ipython)
    for trait in ("url", "token", "cluster", "org", "project", "ps_columns", "progress", "raise_errors"):
        setattr(magics, trait, magics.trait_defaults(trait))
    magics.close()


def magics_of(ip):
    from jupyter_apolo.magics import ApoloMagics

    return next(c for c in ip.configurables if isinstance(c, ApoloMagics))


def create_job(platform, user: str, command: str, **body):
    """POST /jobs?from_preset as ``user`` (as `apolo run --detach` does); returns the job JSON."""
    payload = {"preset_name": "cpu-small", "image": "python:3", "command": command, **body}
    with platform.http(user) as http:
        resp = http.post("/jobs", params={"from_preset": ""}, json=payload)
    assert resp.status_code == 202, resp.text
    return resp.json()


def job_status(platform, user: str, job_id: str) -> str:
    with platform.http(user) as http:
        return http.get(f"/jobs/{job_id}").json()["status"]
