"""``ShareDialog`` driven from Python (traits, ``.click()``, ``wait()``) against the embedded platform;
the official apolo CLI, logged in as the grantee, is the independent check of what happened."""

from __future__ import annotations

import html

import pytest

from jupyter_apolo.display import JUPYTER_JOB_WARNING
from jupyter_apolo.widgets import ShareDialog
from tests.magics.conftest import SLEEPER_CMD, create_job, job_status
from tests.support.platform import wait_for


@pytest.fixture(scope="module")
def bobs_job(platform):
    """A running job of bob's (a Python sleeper)."""
    job = create_job(platform, "bob", SLEEPER_CMD, name="bob-sleeper")
    wait_for(lambda: job_status(platform, "bob", job["id"]) == "running", 60, what="bob's job running")
    return job


def alice_sees(cli, job_id: str) -> bool:
    return cli("alice")("status", job_id, check=False).returncode == 0


def test_bob_shares_his_running_job_with_alice_then_revokes_from_the_list(apolo, cli, bobs_job):
    job_id = bobs_job["id"]
    assert not alice_sees(cli, job_id)
    dlg = ShareDialog(f"job:{job_id}", api=apolo("bob")).wait()
    assert dlg.title.value.count("bob-sleeper") == 1  # the job was looked up: name and status shown
    assert not dlg.access and "Nobody yet" in dlg.access_box.children[0].value

    dlg.user = "alice"
    dlg.wait()
    assert "alice is a platform user" in dlg.user_hint.value
    assert dlg.action == "read" and "see this job" in dlg.explain.value
    dlg.share_button.click()
    dlg.wait()
    assert dlg.error == ""
    assert dlg.message == f"Shared job:{job_id} with alice: read."
    assert alice_sees(cli, job_id)  # the second client now sees bob's job

    rows = dlg.access_box.children
    assert [a.user for a in dlg.access] == ["alice"] and len(rows) == 1
    assert "alice: read" in rows[0].children[0].value
    rows[0].children[1].click()  # Revoke -> asks first
    question, yes, _no = rows[0].children
    assert "Revoke alice's read access?" in question.value
    assert alice_sees(cli, job_id)  # nothing done before the confirmation
    yes.click()
    dlg.wait()
    assert dlg.message == f"Revoked alice's access to job:{job_id}." and not dlg.access
    assert not alice_sees(cli, job_id)


def test_unknown_user_is_an_inline_error_and_nothing_is_shared(apolo, cli, bobs_job):
    before = cli("bob")("acl", "ls", "--shared").stdout
    dlg = ShareDialog(f"job:{bobs_job['id']}", api=apolo("bob")).wait()
    dlg.user = "nobody-at-all"
    dlg.wait()
    assert 'user "nobody-at-all" was not found' in html.unescape(dlg.user_hint.value)  # as you type
    dlg.action = "write"
    dlg.share()
    dlg.wait()
    assert dlg.error.startswith('user "nobody-at-all" was not found: check the name')
    assert "nothing was shared" in dlg.error and dlg.message == ""
    assert "\n" not in dlg.error and "Traceback" not in dlg.status_line.value
    assert cli("bob")("acl", "ls", "--shared").stdout == before


@pytest.mark.parametrize("uri, needle", [
    ("foo:bar", "Invalid scheme 'foo:'"),
    ("storage:a#b", "Fragment part is not allowed"),
    ("", "Choose a resource"),
])
def test_bad_uri_is_an_inline_error(apolo, uri, needle):
    dlg = ShareDialog(api=apolo("bob")).wait()
    dlg.uri = uri
    dlg.user = "alice"
    assert dlg.share() is None  # rejected before anything is sent
    assert needle in dlg.error and "\n" not in dlg.error


def test_no_manage_is_an_inline_error(apolo, cli, unique):
    folder = unique("alices")
    apolo("alice").storage.mkdir(f"storage:{folder}")
    apolo("alice").permissions.share(f"storage:{folder}", "bob", "write")  # write, not manage
    dlg = ShareDialog(f"storage:/alice/{folder}", api=apolo("bob")).wait()
    dlg.user = "alice"
    dlg.share()
    dlg.wait()
    assert dlg.error.startswith("Not allowed: Not enough permissions")
    assert "you need manage on it" in dlg.error


def test_higher_access_is_explained_not_hidden(apolo, cli, unique):
    folder = unique("team")
    bob = apolo("bob")
    bob.storage.mkdir(f"storage:{folder}/child", parents=True)
    cli("bob")("share", f"storage:{folder}", "alice", "write")
    dlg = ShareDialog(f"storage:{folder}/child", api=bob).wait()
    assert "alice: write, from a share of storage:" + folder in dlg.access_box.children[0].children[0].value
    # a grant on the parent is not revocable here: no button, and revoke() says where it comes from
    assert len(dlg.access_box.children[0].children) == 1
    assert dlg.revoke("alice") is None and "revoke it there" in dlg.error
    dlg.user, dlg.action = "alice", "read"
    dlg.share()
    dlg.wait()
    assert dlg.message.startswith(f"alice already has write on storage:{folder}/child; nothing lowered.")
    assert f"alice has write on storage:{folder}, which covers storage:{folder}/child." in dlg.message


@pytest.mark.parametrize("uri, canonical", [
    ("image:bob-model", "image://default/local/bob/bob-model"),
    ("role://bob/roles/reviewers", "role://bob/roles/reviewers"),
])
def test_any_uri_the_cli_accepts(apolo, cli, uri, canonical):
    if uri.startswith("role:"):
        apolo("bob").permissions.add_role("bob/roles/reviewers")
    dlg = ShareDialog(uri, api=apolo("bob")).wait()
    dlg.user = "alice"
    dlg.share()
    dlg.wait()
    assert dlg.error == "" and dlg.message.startswith(f"Shared {uri} with alice: read.")
    assert canonical in cli("alice")("acl", "ls", "--full-uri").stdout  # alice's CLI sees the grant


def test_project_membership_is_named(apolo, platform, unique):
    project = unique("proj")
    platform.add_project_user(project, "bob", "admin")
    platform.add_project_user(project, "alice", "writer")
    dlg = ShareDialog(f"storage:/{project}/data", api=apolo("bob")).wait()
    dlg.user = "alice"
    dlg.share()
    dlg.wait()
    assert "alice already has write" in dlg.message
    assert f"alice is a writer of project {project}" in dlg.message


def test_jupyter_job_warning_and_this_job_default(apolo, platform, monkeypatch):
    job = create_job(platform, "bob", "python -c \"import time; time.sleep(300)\" # jupyter lab", name="bob-lab")
    monkeypatch.setenv("NEURO_JOB_ID", job["id"])
    dlg = ShareDialog(api=apolo("bob")).wait()
    assert dlg.uri == f"job:{job['id']}"  # inside a platform job: this job
    assert dlg.picker.layout.display == "none"
    assert dlg.warning.layout.display is None and JUPYTER_JOB_WARNING.split(":")[0] in dlg.warning.value
    dlg.action = "write"
    assert "change your notebooks on storage" in dlg.explain.value


def test_picker_lists_running_jobs_outside_a_job(apolo, bobs_job):
    dlg = ShareDialog(api=apolo("bob")).wait()
    assert dlg.uri == "" and dlg.picker.layout.display is None
    labels = dict((v, k) for k, v in dlg.picker.options)
    assert bobs_job["id"] in labels and labels[bobs_job["id"]] == f"bob-sleeper · running · {bobs_job['id']}"
    dlg.picker.value = bobs_job["id"]
    assert dlg.uri == f"job:{bobs_job['id']}"


def test_closing_cancels_pending_work(apolo):
    dlg = ShareDialog("storage:x", api=apolo("bob"))
    dlg.close()
    dlg.wait(10)
    assert dlg.work.pending == 0


def test_platform_down_is_an_inline_error(apolo, platform):
    # last in the module: stopping the platform fails the jobs running in it
    dlg = ShareDialog("storage:x", api=apolo("bob")).wait()
    port = int(platform.url.rsplit(":", 1)[1].split("/")[0])
    platform.stop()
    try:
        dlg.user = "alice"
        dlg.share()
        dlg.wait(120)
        assert dlg.error.startswith("Cannot reach the platform") and "retry" in dlg.error
    finally:
        platform.start(port)
