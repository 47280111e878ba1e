"""A real python3 kernel (nbclient) runs notebooks using %apolo: credentials from the
environment, ps as an HTML table, a share that bob's own client then honours; and the kernel-side
autoload hook the server extension enables (no %load_ext needed)."""

from __future__ import annotations

import base64
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_apolo.client import Apolo, NotFoundError, resolve_config
from jupyter_apolo.kernel import STARTUP_FILE, kernel_env
from tests.magics.conftest import SLEEPER_CMD, create_job, job_status
from tests.support.platform import wait_for

pytestmark = pytest.mark.slow  # each test starts a real kernel


def passed_config(platform, user: str) -> str:
    blob = {"token": platform.token(user), "cluster": "default", "url": platform.url,
            "org_name": "local", "project_name": user}
    return base64.b64encode(json.dumps(blob).encode()).decode()


def run_notebook(cells: list[str], cwd, env: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("APOLO_", "NEURO_", "JUPYTER_APOLO"))}
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(cwd)}}).execute(
        env={**base, **env})
    return nb


def outputs(cell) -> str:
    """Everything a cell showed: streams, text/plain and text/html of results and displays."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/html", "") + out.data.get("text/plain", ""))
    return "\n".join(parts)


def bob_can_get(platform, job_id: str) -> bool:
    with Apolo(resolve_config(url=platform.url, token=platform.token("bob"))) as bob:
        try:
            return bob.jobs.get(job_id).id == job_id
        except NotFoundError:
            raise
        except Exception:  # a permission error means "not yet"
            return False


def test_notebook_lists_and_shares_a_job(platform, tmp_path):
    job = create_job(platform, "alice", SLEEPER_CMD, name="nb-sleeper")
    wait_for(lambda: job_status(platform, "alice", job["id"]) == "running", 60, what="running job")
    assert not bob_can_get(platform, job["id"])
    nb = run_notebook([
        "%load_ext jupyter_apolo",
        "jobs = %apolo ps\njobs",
        f"%apolo share job:{job['id']} bob read",
        f"len(jobs), jobs['{job['id']}'].name",
    ], tmp_path, {"APOLO_PASSED_CONFIG": passed_config(platform, "alice")})
    ps_html = next(o.data["text/html"] for o in nb.cells[1].outputs if o.output_type == "execute_result")
    assert ps_html.startswith("<table") and job["id"] in ps_html
    assert f"Shared job:{job['id']} with bob: read." in outputs(nb.cells[2])
    assert "(1, 'nb-sleeper')" in outputs(nb.cells[3])
    assert bob_can_get(platform, job["id"])


def test_notebook_errors_are_one_line(platform, tmp_path):
    nb = run_notebook([
        "%load_ext jupyter_apolo",
        "%apolo share storage:x nobody read",
    ], tmp_path, {"APOLO_PASSED_CONFIG": passed_config(platform, "alice")})
    shown = outputs(nb.cells[1])
    assert shown.strip() == '%apolo share: user "nobody" was not found'


def test_usage_error_in_a_kernel_has_no_traceback(platform, tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_apolo"), nbformat.v4.new_code_cell("%apolo ps --bogus")]
    client = NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ, "APOLO_PASSED_CONFIG": passed_config(platform, "alice")})
    # IPython shows a UsageError as one stderr message, never as a traceback
    assert [o.output_type for o in nb.cells[1].outputs] == ["stream"]
    shown = outputs(nb.cells[1])
    assert shown.startswith("UsageError: %apolo ps: unrecognized arguments: --bogus")
    assert "Traceback" not in shown


def test_autoload_hook_registers_magics_without_load_ext(platform, tmp_path):
    user_startup = tmp_path / "mine.py"
    user_startup.write_text("USER_STARTUP_RAN = True\n")
    env = {"PYTHONSTARTUP": str(user_startup), "APOLO_PASSED_CONFIG": passed_config(platform, "bob")}
    env.update(kernel_env(env))
    assert env["PYTHONSTARTUP"] == str(STARTUP_FILE) and env["JUPYTER_APOLO_USER_PYTHONSTARTUP"] == str(user_startup)
    assert {**env, **kernel_env(env)} == env  # idempotent: never chains to itself
    nb = run_notebook([
        "%apolo whoami",
        "print(USER_STARTUP_RAN, '_jupyter_apolo_startup' in dir())",
        "%load_ext jupyter_apolo",
        "%apolo whoami",
    ], tmp_path, env)
    assert "bob" in outputs(nb.cells[0]) and "passed-config" in outputs(nb.cells[0])
    assert outputs(nb.cells[1]).strip() == "True False"
    assert "bob" in outputs(nb.cells[3])


def test_autoload_switch_off(platform, tmp_path):
    env = {**kernel_env({}), "JUPYTER_APOLO_MAGICS": "0"}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("%apolo whoami")]
    client = NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ, **env})
    assert "UsageError: Line magic function `%apolo` not found" in outputs(nb.cells[0])
