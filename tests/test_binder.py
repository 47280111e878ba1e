"""``binder/start``, as mybinder runs it before JupyterLab: in a fresh home it brings up the seeded
embedded platform in the background, and what it then execs (JupyterLab there, a probe here)
reaches it through the client with no account, and finds the sample project where Lab opens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.platform import BIN

REPO = Path(__file__).resolve().parents[1]

PROBE = r"""
import os, sys, time
from pathlib import Path
from jupyter_apolo.client import Apolo

embedded = Path(os.environ["JUPYTER_APOLO_EMBEDDED"])
for _ in range(600):  # the first start seeds the project and its notebook job
    if embedded.exists():
        break
    time.sleep(0.2)
with Apolo() as api:  # credentials from the embedded platform, nothing else configured
    names = sorted(f.name for f in api.storage.ls("storage:/awesome-team/awesome_project/notebooks"))
    print("NOTEBOOKS", *names)
    print("SOURCE", api.config.source)
project = Path.home() / "awesome-project"
print("PROJECT", project.is_symlink(), (project / ".apolo" / "live.yml").is_file())
"""


@pytest.mark.timeout(300)
def test_binder_start_serves_the_seeded_platform_to_what_it_runs(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG", "JUPYTER_APOLO_EMBEDDED")}
    env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{env['PATH']}", APOLO_CONFIG=str(home / "no-apolo"))
    proc = subprocess.Popen(["bash", str(REPO / "binder" / "start"), sys.executable, "-c", PROBE], env=env,
                            cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=240)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the platform `binder/start` left running in the background
    log = (home / ".jupyter-apolo-platform.log").read_text() if (home / ".jupyter-apolo-platform.log").exists() else ""
    assert proc.returncode == 0, f"{out}\n--- platform log ---\n{log[-3000:]}"
    assert "NOTEBOOKS 01-explore-data.ipynb 02-train-model.ipynb 03-share-results.ipynb" in out, out
    assert "SOURCE embedded" in out, out
    assert "PROJECT True True" in out, out
