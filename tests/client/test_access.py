"""The client calls the widgets need: does a user exist (``GET users/{name}``), who has access to a
resource (from the platform's shares, with parents, job name URIs and roles), and how many files a
storage tree holds. Real HTTP against the embedded platform; the apolo CLI makes the grants."""

from __future__ import annotations

from jupyter_apolo.client import Access


def test_user_exists(apolo):
    alice = apolo("alice")
    assert alice.permissions.user_exists("bob") is True
    assert alice.permissions.user_exists("alice") is True
    assert alice.permissions.user_exists("nobody-here") is False


def test_access_lists_direct_parent_and_role_grants(apolo, cli, unique):
    alice = apolo("alice")
    folder = unique("acc")
    alice.storage.mkdir(f"storage:{folder}/inner", parents=True)
    cli("alice")("share", f"storage:{folder}/inner", "bob", "read")   # the second client grants
    cli("alice")("share", f"storage:{folder}", "bob", "write")        # a parent grant covers it too
    role = f"alice/roles/{unique('team')}"
    alice.permissions.add_role(role)
    alice.permissions.share(f"storage:{folder}", role, "read")
    alice.permissions.share(f"role://{role}", "bob", "read")          # bob is in the role

    inner = alice.permissions.normalize(f"storage:{folder}/inner")
    parent = alice.permissions.normalize(f"storage:{folder}")
    rows = alice.permissions.access(f"storage:{folder}/inner")
    assert Access("bob", "read", inner) in rows
    assert Access("bob", "write", parent) in rows
    assert Access(role, "read", parent) in rows and Access(role, "read", parent).is_role
    assert Access("bob", "read", parent, role=role) in rows
    # a sibling is not covered: grants are by whole segments
    assert not alice.permissions.access(f"storage:{folder}x")


def test_access_covers_a_job_by_its_name_uri(apolo, cli, unique):
    alice = apolo("alice")
    name = unique("named-job-")
    cli("alice")("share", f"job:{name}", "bob", "read")
    job_id_uri = "job:job-00000000-0000-0000-0000-000000000000"
    assert not alice.permissions.access(job_id_uri)
    rows = alice.permissions.access(job_id_uri, aliases=[f"job:{name}"])
    assert [(r.user, r.action, r.granted_uri) for r in rows] == [
        ("bob", "read", alice.permissions.normalize(f"job:{name}"))]


def test_usage_counts_a_tree(apolo, tmp_path, unique):
    alice = apolo("alice")
    folder = unique("usage")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one").write_bytes(b"x" * 10)
    (tmp_path / "a" / "b" / "two").write_bytes(b"y" * 32)
    alice.transfer.upload_tree(tmp_path / "a", f"storage:{folder}")
    assert alice.storage.usage(f"storage:{folder}") == (2, 42)
    assert alice.storage.usage(f"storage:{folder}/b/two") == (1, 32)


def test_submit_from_a_done_callback_on_the_loop_chains_work(apolo):
    # a widget's done-callback runs on the client's loop and may start the next call
    alice = apolo("alice")
    chained = []
    first = alice.submit(lambda aio: aio.permissions.user_exists("bob"))
    first.add_done_callback(lambda f: chained.append(alice.submit(lambda aio: aio.permissions.user_exists("nobody"))))
    assert first.result(30) is True
    for _ in range(300):
        if chained:
            break
        import time
        time.sleep(0.01)
    assert chained[0].result(30) is False
