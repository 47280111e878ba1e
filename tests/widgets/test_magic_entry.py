"""The magics' widget entry points: in a real kernel (nbclient) ``%apolo share`` / ``browse`` /
``ps --widget`` display widgets (``%apolo share`` inside a platform job is pre-filled with that job);
in a plain IPython shell (no widget front end) they keep their text behaviour."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from jupyter_apolo.magics.jobs import JobList
from jupyter_apolo.magics.storage import FileList
from tests.magics.conftest import SLEEPER_CMD, create_job, ipython, job_status, shell  # noqa: F401 - fixtures
from tests.magics.test_kernel import outputs, passed_config, run_notebook
from tests.support.platform import wait_for

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.mark.slow
def test_widgets_in_a_kernel_and_share_prefilled_with_this_job(platform, tmp_path):
    job = create_job(platform, "alice", SLEEPER_CMD, name="entry-job")
    wait_for(lambda: job_status(platform, "alice", job["id"]) == "running", 60, what="running job")
    (tmp_path / ".apolo").mkdir()  # the kernel's working tree is a flow project: volumes become shortcuts
    (tmp_path / ".apolo" / "project.yml").write_text("id: demo\n")
    (tmp_path / ".apolo" / "live.yml").write_text(
        "kind: live\nvolumes:\n  data:\n    remote: storage:$[[ flow.project_id ]]/data\n    mount: /project/data\n"
        "    local: data\n  notebooks:\n    remote: storage:$[[ flow.project_id ]]/notebooks\n"
        "    mount: /project/notebooks\n")
    nb = run_notebook([
        "%load_ext jupyter_apolo",
        "%apolo share",
        "dlg = _\ndlg.wait(); print(type(dlg).__name__, dlg.uri, repr(dlg.error))",
        "%apolo browse storage:",
        "%apolo ps --widget",
        "table = _\ntable.wait(); print(type(table).__name__, [j.id for j in table.jobs])",
        "%apolo share --dialog storage:data",
        "print(_.uri)",
        "browser = %apolo browse\nprint([(b.description, b.tooltip) for b in browser.shortcuts.children[1:]])",
        "t2 = %apolo ps --widget -o ME -s running -n entry\n"
        "t2.wait(); print(t2.owner, t2.status, t2.search, len(t2.shown))",
    ], tmp_path, {"APOLO_PASSED_CONFIG": passed_config(platform, "alice"), "NEURO_JOB_ID": job["id"]})
    for index in (1, 3, 4, 6):
        assert any(WIDGET in o.get("data", {}) for o in nb.cells[index].outputs), outputs(nb.cells[index])
    assert outputs(nb.cells[2]).strip() == f"ShareDialog job:{job['id']} ''"
    assert outputs(nb.cells[5]).strip() == f"JobsTable ['{job['id']}']"
    assert outputs(nb.cells[7]).strip() == "storage:data"
    assert outputs(nb.cells[8]).strip() == "[('data', 'storage:demo/data'), ('notebooks', 'storage:demo/notebooks')]"
    assert outputs(nb.cells[9]).strip() == "me running entry 1"  # the ps filters carried into the table


def test_text_behaviour_without_a_widget_front_end(shell):  # noqa: F811 - the fixture
    assert isinstance(shell("browse storage:"), FileList)  # %apolo ls -l
    assert isinstance(shell("ps --widget"), JobList)
    with pytest.raises(UsageError, match="the share dialog"):
        shell("share")
    with pytest.raises(UsageError, match="needs a notebook with widgets"):
        shell("share --dialog")
