"""Issue 10, findings 1-4 and 8 on the notebooks endpoints: what a hostile teammate can put on the shared notebooks
folder (or commit into the checkout) against a real ``jupyter server`` with the extension and the embedded platform.
Bob (writer on the team project) writes storage with raw platform calls; alice's server plans, applies and runs git.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest

from jupyter_apolo.client.errors import NotFoundError
from tests.notebooks.conftest import NOTEBOOKS_URI, git, jupyter_server, make_checkout

pytestmark = pytest.mark.timeout(300)
STORAGE_NOTEBOOKS = "storage/local/awesome-team/awesome_project/notebooks"


@pytest.fixture(scope="module")
def lab(platform, team, tmp_path_factory):
    with jupyter_server(platform, tmp_path_factory.mktemp("jupyter")) as lab:
        yield lab


@pytest.fixture
def teammate(platform, session):
    """``put(rel, data)``: bob writes ``notebooks/<rel>`` on storage (``rel`` percent-encoded as on the wire: any
    bytes); ``rm(rel)`` deletes. The notebooks folder starts empty."""
    api = session("alice").api
    try:
        api.storage.rm(NOTEBOOKS_URI, recursive=True)
    except NotFoundError:
        pass
    api.storage.mkdir(NOTEBOOKS_URI, parents=True)
    bob = platform.http("bob")

    class Teammate:
        def put(self, rel: str, data: bytes | str) -> None:
            resp = bob.put(f"{STORAGE_NOTEBOOKS}/{rel}", params={"op": "CREATE"},
                           content=data.encode() if isinstance(data, str) else data)
            assert resp.status_code in (200, 201), (rel, resp.status_code, resp.text)

        def rm(self, rel: str) -> None:
            resp = bob.delete(f"{STORAGE_NOTEBOOKS}/{rel}", params={"op": "DELETE", "recursive": "true"})
            assert resp.status_code < 300, resp.text

    yield Teammate()
    bob.close()


def new_checkout(root: Path, shared_fixtures: Path, name: str) -> Path:
    return make_checkout(root / name, shared_fixtures / "flow-project")


def plan(client, path: str, direction: str = "pull") -> dict:  # type: ignore[no-untyped-def]
    resp = client.get("apolo/notebooks/plan", params={"path": path, "direction": direction})
    assert resp.status_code == 200, resp.text
    return resp.json()


def apply(client, body: dict) -> list[dict]:  # type: ignore[no-untyped-def]
    """POST apply; the NDJSON events (the stream must be complete and well-formed)."""
    with client.stream("POST", "apolo/notebooks/apply", json=body) as resp:
        assert resp.status_code == 200, resp.read()
        return [json.loads(line) for line in resp.iter_lines() if line]


def ends_with_one_outcome(events: list[dict]) -> dict:
    outcomes = [e for e in events if e["event"] in ("result", "error")]
    assert len(outcomes) == 1 and events[-1] is outcomes[0], events
    return outcomes[0]


def plant_git(folder: Path, marker: Path) -> None:
    """The repository a teammate uploads (finding 1): ``core.fsmonitor`` runs a command whenever git reads it."""
    (folder / ".git/objects/info").mkdir(parents=True)
    (folder / ".git/refs/heads").mkdir(parents=True)
    (folder / ".git/HEAD").write_text("ref: refs/heads/main\n")
    (folder / ".git/config").write_text(
        f'[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch {marker}; false"\n')
    (folder / ".git/objects/info/packs").write_text("")
    (folder / ".git/refs/heads/.keep").write_text("")


def local_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


HOSTILE = {  # wire name -> why it is skipped
    ".git/HEAD": "control path", ".git/config": "control path", ".git/objects/info/packs": "control path",
    ".git/refs/heads/.keep": "control path", ".apolo/live.yml": "control path", ".apoloignore": "control path",
    "sub/.GIT/config": "control path", ".neuroignore": "control path", ".gitattributes": "control path",
    "new%0Aline.ipynb": "control character U+000A", "cr%0Dname.ipynb": "control character U+000D",
    "tab%09name.ipynb": "control character U+0009", "%E2%80%AEbnpi.exe.ipynb": "bidirectional control U+202E",
    "-rf.ipynb": "starts with '-'",
}


def test_control_paths_and_unrepresentable_names_are_skipped_one_by_one(lab, teammate, shared_fixtures, tmp_path):
    # findings 1 and 4: a planted .git/ (with a command in its config), .apolo/, ignore files and names with
    # newline/CR/TAB, RTL override or a leading '-': none is written, the rest syncs
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, f"hostile-{tmp_path.name}")
    marker = tmp_path / "fsmonitor-ran"
    for rel in HOSTILE:
        teammate.put(rel, f'[core]\n\tfsmonitor = "touch {marker}; false"\n' if rel.endswith("config") else "x")
    teammate.put("ok.ipynb", '{"cells": []}')
    teammate.put("sub/fine.ipynb", '{"cells": []}')

    reviewed = plan(client, f"{checkout.name}/notebooks")
    assert [(c["path"], c["action"]) for c in reviewed["changes"]] == [("ok.ipynb", "download"),
                                                                      ("sub/fine.ipynb", "download")]
    skipped = {s["path"]: s["reason"] for s in reviewed["skipped"] if s["side"] == "storage"}
    assert {".git/", ".apolo/", ".apoloignore", ".neuroignore", ".gitattributes", "sub/.GIT/"} <= set(skipped)
    assert "U+000A" in skipped["new\\nline.ipynb"] and "U+202E" in skipped["\\u202ebnpi.exe.ipynb"]
    assert "starts with '-'" in skipped["-rf.ipynb"] and "control path" in skipped[".git/"]

    events = apply(client, {"path": checkout.name, "plan": reviewed.get("id")})
    outcome = ends_with_one_outcome(events)
    assert outcome["event"] == "result" and outcome["downloaded"] == ["ok.ipynb", "sub/fine.ipynb"], outcome
    assert local_files(checkout / "notebooks") == {"demo.ipynb", "ok.ipynb", "sub/fine.ipynb"}
    status = client.get("apolo/notebooks/status", params={"path": f"{checkout.name}/notebooks"})
    assert status.status_code == 200 and status.json()["root"] == str(checkout)
    assert not marker.exists()


def test_a_name_that_is_not_utf8_does_not_stop_sync(lab, teammate, shared_fixtures, tmp_path):
    # finding 4: one storage file named with the bytes FF FE made every plan answer 400 and every apply 500
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, f"bytes-{tmp_path.name}")
    teammate.put("%FF%FE.ipynb", "x")
    teammate.put("sub%FF/inner.ipynb", "x")
    teammate.put("ok.ipynb", "{}")
    reviewed = plan(client, f"{checkout.name}/notebooks")
    assert [c["path"] for c in reviewed["changes"]] == ["ok.ipynb"]
    skipped = {s["path"]: s["reason"] for s in reviewed["skipped"]}
    assert skipped == {"\\xff\\xfe.ipynb": "the name is not valid UTF-8", "sub\\xff/": "the name is not valid UTF-8"}
    outcome = ends_with_one_outcome(apply(client, {"path": checkout.name, "plan": reviewed.get("id")}))
    assert outcome["event"] == "result" and outcome["downloaded"] == ["ok.ipynb"]
    assert local_files(checkout / "notebooks") == {"demo.ipynb", "ok.ipynb"}


def test_git_never_uses_a_repository_planted_below_the_project(lab, shared_fixtures, tmp_path):
    # finding 1, the git half: a notebooks/.git already in the checkout (as an old pull left it) is never the
    # repository status/diff/commit use, so its config never runs
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, f"planted-{tmp_path.name}")
    marker = tmp_path / "fsmonitor-ran"
    plant_git(checkout / "notebooks", marker)
    demo = checkout / "notebooks/demo.ipynb"
    demo.write_text(demo.read_text().replace("}", "} ", 1))

    status = client.get("apolo/notebooks/status", params={"path": f"{checkout.name}/notebooks"})
    assert status.status_code == 200, status.text
    assert status.json()["root"] == str(checkout)
    assert {f["path"] for f in status.json()["files"]} >= {"notebooks/demo.ipynb"}
    diff = client.get("apolo/notebooks/diff", params={"path": f"{checkout.name}/notebooks/demo.ipynb"})
    assert diff.status_code == 200, diff.text
    commit = client.post("apolo/notebooks/commit", json={"message": "Edit demo",
                                                          "paths": [f"{checkout.name}/notebooks/demo.ipynb"]})
    assert commit.status_code == 200, commit.text
    assert git(checkout, "log", "-1", "--format=%s").strip() == "Edit demo"
    assert not marker.exists()
    # committing the whole folder would stage the planted repository (and later run its config): refused
    folder = client.post("apolo/notebooks/commit", json={"message": "All", "paths": [f"{checkout.name}/notebooks"]})
    assert folder.status_code == 409 and "notebooks/.git" in folder.json()["error"], folder.text
    assert not marker.exists() and local_files(checkout / "notebooks/.git/objects") == {"info/packs"}


def test_commit_from_a_kernel_in_the_notebooks_folder_uses_the_project_repository(
        shell, checkout, tmp_path, monkeypatch):
    # finding 1 from a kernel: `%apolo commit` with cwd = notebooks/ (Jupyter's default for a notebook there)
    marker = tmp_path / "fsmonitor-ran"
    plant_git(checkout / "notebooks", marker)
    monkeypatch.chdir(checkout / "notebooks")
    (checkout / "notebooks/demo.ipynb").write_text((checkout / "notebooks/demo.ipynb").read_text() + "\n")
    git(checkout, "add", "notebooks/demo.ipynb")
    done = shell("commit -m 'From the kernel'")
    assert done is not None and git(checkout, "log", "-1", "--format=%s").strip() == "From the kernel"
    assert not marker.exists()


def test_a_symlinked_notebook_is_never_pushed(lab, teammate, shared_fixtures, tmp_path, session):
    # finding 2: notebooks/leak.ipynb -> the embedded platform's credentials, notebooks/linked -> a folder outside
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, f"leak-{tmp_path.name}")
    secret = tmp_path / "embedded.json"
    secret.write_text('{"token": "SECRET-PLATFORM-TOKEN"}')
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/private.ipynb").write_text("SECRET-PRIVATE-NOTEBOOK")
    os.symlink(secret, checkout / "notebooks/leak.ipynb")
    os.symlink(tmp_path / "outside", checkout / "notebooks/linked")
    os.symlink(checkout / "notebooks/demo.ipynb", checkout / "notebooks/alias.ipynb")  # inside, still a link

    reviewed = plan(client, f"{checkout.name}/notebooks", "push")
    assert [(c["path"], c["action"]) for c in reviewed["changes"]] == [("demo.ipynb", "upload")]
    assert {s["path"] for s in reviewed["skipped"] if s["side"] == "local"} == {"leak.ipynb", "linked", "alias.ipynb"}
    body = {"path": checkout.name, "direction": "push", "plan": reviewed.get("id")}
    outcome = ends_with_one_outcome(apply(client, body))
    assert outcome["uploaded"] == ["demo.ipynb"], outcome
    api = session("bob").api
    on_storage = {st.name for st in api.storage.ls(NOTEBOOKS_URI)}
    assert on_storage == {"demo.ipynb"}


def test_a_symlinked_folder_is_never_written_through_on_pull(lab, teammate, shared_fixtures, tmp_path):
    # finding 3: notebooks/sub -> /outside and a teammate's sub/evil.ipynb: nothing lands outside, no conflict copy
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, f"through-{tmp_path.name}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.ipynb").write_text("my own file")
    os.symlink(outside, checkout / "notebooks/sub")
    teammate.put("sub/evil.ipynb", "bob's version")
    teammate.put("sub/new.ipynb", "bob's new file")
    teammate.put("fine.ipynb", "{}")

    reviewed = plan(client, f"{checkout.name}/notebooks")
    assert [c["path"] for c in reviewed["changes"]] == ["fine.ipynb"]
    skipped = {(s["path"], s["side"]) for s in reviewed["skipped"]}
    assert {("sub", "local"), ("sub/evil.ipynb", "storage"), ("sub/new.ipynb", "storage")} <= skipped
    outcome = ends_with_one_outcome(apply(client, {"path": checkout.name, "plan": reviewed.get("id")}))
    assert outcome["downloaded"] == ["fine.ipynb"]
    assert sorted(os.listdir(outside)) == ["evil.ipynb"] and (outside / "evil.ipynb").read_text() == "my own file"
    assert os.readlink(checkout / "notebooks/sub") == str(outside)


def test_a_notebooks_folder_that_is_a_symlink_is_refused(lab, teammate, shared_fixtures, tmp_path):
    # finding 3 at the top: a committed `notebooks -> ~/.ssh` must not receive a teammate's authorized_keys
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, f"linked-{tmp_path.name}")
    outside = tmp_path / "dot-ssh"
    outside.mkdir()
    (checkout / "notebooks/demo.ipynb").unlink()
    (checkout / "notebooks").rmdir()
    os.symlink(outside, checkout / "notebooks")
    teammate.put("authorized_keys", "ssh-ed25519 AAAA... mallory")
    resp = client.get("apolo/notebooks/plan", params={"path": checkout.name})
    assert resp.status_code == 400 and "symbolic link" in resp.json()["error"], resp.text
    applied = client.post("apolo/notebooks/apply", json={"path": checkout.name})
    assert applied.status_code == 400 and "symbolic link" in applied.json()["error"], applied.text
    assert os.listdir(outside) == []


def test_a_path_too_long_for_this_checkout_is_skipped_and_the_stream_ends(lab, teammate, shared_fixtures, tmp_path):
    # finding 4: a storage path the platform holds but that is longer than this system allows under the checkout
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, "p" * 200)
    room = 4096 - len(os.fsencode(checkout / "notebooks")) + 20  # over PATH_MAX here, well under it on storage
    levels = room // 201
    deep = "/".join(["d" * 200] * levels) + "/" + "n" * max(10, room - levels * 201) + ".ipynb"
    teammate.put(deep, "deep")
    teammate.put("fine.ipynb", "{}")
    reviewed = plan(client, f"{checkout.name}/notebooks")
    assert [c["path"] for c in reviewed["changes"]] == ["fine.ipynb"]
    assert any("longer than" in s["reason"] for s in reviewed["skipped"]), reviewed["skipped"]
    outcome = ends_with_one_outcome(apply(client, {"path": checkout.name, "plan": reviewed.get("id")}))
    assert outcome["event"] == "result" and outcome["downloaded"] == ["fine.ipynb"]


def test_apply_deletes_only_what_was_reviewed_and_refuses_a_stale_plan(lab, teammate, shared_fixtures, tmp_path):
    # finding 8: apply used to re-plan and delete whatever the new plan said
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, f"stale-{tmp_path.name}")
    nb = checkout.name
    for name in ("a.ipynb", "b.ipynb", "c.ipynb"):
        teammate.put(name, name)
    time.sleep(1.1)  # storage mtimes have 1 s resolution
    first = plan(client, f"{nb}/notebooks")
    assert ends_with_one_outcome(apply(client, {"path": nb, "plan": first.get("id")}))["event"] == "result"

    teammate.rm("a.ipynb")
    teammate.rm("b.ipynb")
    reviewed = plan(client, f"{nb}/notebooks")
    assert {(c["path"], c["action"]) for c in reviewed["changes"]} == {("a.ipynb", "delete-local"),
                                                                      ("b.ipynb", "delete-local")}
    outcome = ends_with_one_outcome(apply(client, {"path": nb, "plan": reviewed.get("id"), "delete": ["b.ipynb"]}))
    assert outcome["deleted"] == ["b.ipynb"] and outcome["proposed_deletions"] == ["a.ipynb"]

    reviewed = plan(client, f"{nb}/notebooks")  # proposes deleting a.ipynb only
    teammate.rm("c.ipynb")  # after the review: the user never saw "delete c.ipynb"
    stale = client.post("apolo/notebooks/apply", json={"path": nb, "plan": reviewed.get("id"), "delete": True})
    assert stale.status_code == 409 and "changed since the plan you reviewed" in stale.json()["error"], stale.text
    assert ("c.ipynb", "delete-local") in {(c["path"], c["action"]) for c in stale.json()["plan"]["changes"]}
    assert (checkout / "notebooks/a.ipynb").exists() and (checkout / "notebooks/c.ipynb").exists()

    unnamed = client.post("apolo/notebooks/apply", json={"path": nb, "delete": True})
    assert unnamed.status_code == 400 and '"plan"' in unnamed.json()["error"]
    gone = client.post("apolo/notebooks/apply", json={"path": nb, "delete": ["demo.ipynb"]})
    assert gone.status_code == 409 and "demo.ipynb" in gone.json()["error"]
    assert (checkout / "notebooks/demo.ipynb").exists() and (checkout / "notebooks/c.ipynb").exists()


@pytest.mark.parametrize("method, route, request_kw, says", [
    ("POST", "apply", {"json": {"path": "a\0b"}}, "NUL"),
    ("POST", "apply", {"json": {"path": "a" * 5000}}, "4096"),
    ("POST", "apply", {"json": {"path": "n" * 300}}, "too long"),
    ("POST", "commit", {"json": {"message": "m", "paths": ["x\0y"]}}, "NUL"),
    ("POST", "commit", {"json": {"message": "m", "paths": ["d/" * 2500]}}, "4096"),
    ("POST", "push", {"json": {"path": "p\0"}}, "NUL"),
    ("GET", "plan", {"params": {"path": "a" * 5000}}, "4096"),
    ("GET", "plan", {"params": {"path": "n" * 300}}, "too long"),
    ("GET", "status", {"params": {"path": "b" * 5000}}, "4096"),
    ("GET", "diff", {"params": {"path": "c/" * 2500}}, "4096"),
])
def test_bad_paths_answer_400_naming_the_problem(lab, method, route, request_kw, says):
    # finding 8: NUL and 5,000-character paths gave 500
    client, _ = lab
    resp = client.request(method, f"apolo/notebooks/{route}", **request_kw)
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert says in resp.json()["error"], resp.json()


def test_diff_of_a_malformed_notebook_answers_400(lab, shared_fixtures, tmp_path):
    client, root = lab
    checkout = new_checkout(root, shared_fixtures, f"bad-nb-{tmp_path.name}")
    (checkout / "notebooks/bad.ipynb").write_text(json.dumps({"cells": "nope", "metadata": {}, "nbformat": 4,
                                                              "nbformat_minor": 5}))
    resp = client.get("apolo/notebooks/diff", params={"path": f"{checkout.name}/notebooks/bad.ipynb"})
    assert resp.status_code == 400 and "not a valid notebook" in resp.json()["error"], resp.text
    assert "cells" in resp.json()["error"]


@pytest.fixture(scope="module")
def small_disk_lab(platform, team, tmp_path_factory):
    """A server whose files may not grow past 1 MiB (RLIMIT_FSIZE): writes fail mid-apply with EFBIG, as on a
    full disk (ENOSPC) — both are an ``OSError`` from a local write."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    with jupyter_server(platform, tmp_path_factory.mktemp("small-disk"), preexec_fn=limit) as lab:
        yield lab


def test_a_failing_local_write_ends_the_stream_with_one_error_event(small_disk_lab, teammate, shared_fixtures):
    # finding 4: a full disk cut the stream with neither a result nor an error event
    client, root = small_disk_lab
    checkout = new_checkout(root, shared_fixtures, "small-disk")
    teammate.put("big.ipynb", os.urandom(3 << 20))
    teammate.put("small.ipynb", "{}")
    reviewed = plan(client, f"{checkout.name}/notebooks")
    outcome = ends_with_one_outcome(apply(client, {"path": checkout.name, "plan": reviewed.get("id")}))
    assert outcome["event"] == "error" and "File too large" in outcome["error"], outcome
    assert "big.ipynb" in outcome["error"] and "apply again" in outcome["error"]
    assert not (checkout / "notebooks/big.ipynb").exists()
    assert not [p for p in (checkout / "notebooks").rglob("*") if p.name.endswith(".apolo-partial")]
    assert (checkout / "notebooks/small.ipynb").read_text() == "{}"  # what finished is kept and recorded

