"""``StorageBrowser`` driven from Python against the embedded platform: paging a folder larger than
a page (never more than one page held), filter, navigation, download of a folder byte-identical
with progress events and no silent overwrite, upload, new folder, rename, delete; the apolo CLI
(a second client) checks storage."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from ipywidgets import Button

from jupyter_apolo.widgets import StorageBrowser
from tests.support.platform import wait_for


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def big_folder(apolo, tmp_path_factory):
    """storage:many with 120 files and 3 folders (alice's)."""
    src = tmp_path_factory.mktemp("many")
    for i in range(120):
        (src / f"file-{i:03d}.txt").write_text(str(i))
    for name in ("dir-a", "dir-b", "Zeta"):
        (src / name).mkdir()
        (src / name / "x").write_text(name)
    apolo("alice").transfer.upload_tree(src, "storage:many")
    return "storage:many"


def test_pages_hold_one_page_and_folders_come_first(apolo, big_folder):
    b = StorageBrowser(big_folder, api=apolo("alice"), page_size=50).wait()
    assert len(b.entries) == 50 and b.page == 0
    assert b.page_label.value == "1–50 of more" and b.prev_button.disabled and not b.next_button.disabled
    dirs = [e.is_dir for e in b.entries]
    assert dirs == sorted(dirs, reverse=True)  # folders first within the page
    seen = [e.name for e in b.entries]
    b.next_button.click()
    b.wait()
    assert b.page == 1 and len(b.entries) == 50
    seen += [e.name for e in b.entries]
    b.next_page()
    b.wait()
    assert len(b.entries) == 23 and b.page_label.value == "101–123 of 123" and b.next_button.disabled
    seen += [e.name for e in b.entries]
    assert len(seen) == len(set(seen)) == 123  # every entry exactly once across pages
    b.prev_page()
    b.wait()
    assert b.page == 1 and [e.name for e in b.entries] == seen[50:100]  # back re-lists and skips
    # the rows show the page; the rest of the pool is hidden
    shown = [r.name.description for r in b.rows if r.box.layout.display is None]
    assert len(shown) == 50


def test_filter_and_navigation(apolo, big_folder):
    b = StorageBrowser(big_folder, api=apolo("alice"), page_size=50).wait()
    b.filter_field.value = "FILE-11"
    b.wait()
    assert sorted(e.name for e in b.entries) == [f"file-{i}.txt" for i in range(110, 120)]
    dir_row = None
    b.filter = "dir-a"
    b.wait()
    dir_row = next(r for r in b.rows if r.entry is not None and r.entry.is_dir)
    dir_row.name.click()  # a folder's name opens it
    b.wait()
    assert b.path == "storage:many/dir-a" and [e.name for e in b.entries] == ["x"] and b.filter == ""
    assert [c.description for c in b.crumbs.children if isinstance(c, Button)] == ["storage:", "many", "dir-a"]
    b.up_button.click()
    b.wait()
    assert b.path == "storage:many"


def test_selection_callback(apolo, big_folder):
    b = StorageBrowser(big_folder, api=apolo("alice"), page_size=50).wait()
    got = []
    b.on_select(got.append)
    row = next(r for r in b.rows if r.entry is not None and r.entry.is_file)
    row.name.click()  # a file's name toggles its selection
    assert b.selected == [row.entry.uri] and got == [[row.entry.uri]]
    assert row.entry.uri.startswith("storage://default/local/alice/many/")
    row.check.value = False
    assert b.selected == [] and got[-1] == []


def test_download_a_folder_byte_identical_with_progress_and_no_overwrite(apolo, cli, tmp_path, unique):
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "big.bin").write_bytes(bytes(range(256)) * 12_000)  # ~3 MiB: several progress events
    (src / "nested" / "small.txt").write_text("hello\n")
    (src / "nested" / "ünïcode name.txt").write_text("ü")
    folder = unique("dl")
    cli("alice")("cp", "-r", str(src), f"storage:{folder}")  # the second client puts the data there
    ws = tmp_path / "ws"
    ws.mkdir()
    b = StorageBrowser("storage:", api=apolo("alice"), workspace=ws).wait()
    b.filter = folder
    b.wait()
    b.selected = [e.uri for e in b.entries if e.name == folder]
    b.download_button.click()  # asks where (the workspace by default)
    field, go, _cancel = b.prompt.children
    assert field.value == str(ws)
    go.click()
    b.wait()
    assert b.error == "" and b.message == f"Downloaded 3 file(s) into {ws}."
    assert tree_digest(ws / folder) == tree_digest(src)
    events = b.progress_events
    total = 3 * 1024 * 1024 * 0 + 256 * 12_000 + 6 + 2
    assert len(events) >= 4 and events[-1].all_bytes_done == events[-1].all_bytes == total
    assert events[-1].files_done == events[-1].files_total == 3
    done = [e.all_bytes_done for e in events]
    assert done == sorted(done)  # monotonic

    (ws / folder / "nested" / "small.txt").write_text("my local edit\n")
    b.download()
    b.wait()
    assert b.error.startswith(f"{ws / folder} exists: nothing was copied")
    assert (ws / folder / "nested" / "small.txt").read_text() == "my local edit\n"  # untouched
    question, overwrite, _cancel = b.prompt.children
    assert "Replace it?" in question.value
    overwrite.click()
    b.wait()
    assert b.error == "" and (ws / folder / "nested" / "small.txt").read_text() == "hello\n"


def test_a_name_that_cannot_be_written_locally(apolo, tmp_path, big_folder):
    b = StorageBrowser(big_folder, api=apolo("alice"), workspace=tmp_path).wait()
    (tmp_path / "a-file").write_text("x")
    b.selected = [next(e.uri for e in b.entries if e.is_file)]
    b.download(tmp_path / "a-file" / "sub")
    b.wait()
    assert b.error.startswith("Cannot write") and "locally" in b.error and "\n" not in b.error


def test_upload_mkdir_rename_delete(apolo, cli, tmp_path, unique):
    folder = unique("ops")
    apolo("alice").storage.mkdir(f"storage:{folder}")
    (tmp_path / "up.txt").write_text("uploaded")
    b = StorageBrowser(f"storage:{folder}", api=apolo("alice"), workspace=tmp_path).wait()
    assert "This folder is empty." in b.empty.value

    b.upload("up.txt")
    b.wait()
    assert b.error == ""
    assert b.message == f"Uploaded 1 file(s) into storage:{folder}." and [e.name for e in b.entries] == ["up.txt"]
    cli("alice")("cp", f"storage:{folder}/up.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "uploaded"
    b.upload("up.txt")  # again: refused, nothing replaced
    b.wait()
    assert b.error.startswith(f"storage:{folder}/up.txt exists: nothing was copied")

    b.mkdir_button.click()
    field, go, _ = b.prompt.children
    field.value = "new dir"
    go.click()
    b.wait()
    assert b.message == f"Created storage:{folder}/new%20dir."
    assert b.mkdir("../escape") is None and "single name" in b.error

    b.selected = [e.uri for e in b.entries if e.name == "up.txt"]
    b.rename("new dir")  # taken: refused
    b.wait()
    assert "exists: choose another name" in b.error
    b.rename("renamed.txt")
    b.wait()
    assert sorted(e.name for e in b.entries) == ["new dir", "renamed.txt"]

    b.selected = [e.uri for e in b.entries]
    b.delete_button.click()  # asks first, counting files
    b.wait()
    question, really, _ = b.prompt.children
    assert "Delete 2 entries: 1 file(s), 8 B?" in question.value
    assert cli("alice")("ls", f"storage:{folder}").stdout.splitlines() == ["new dir", "renamed.txt"]  # nothing yet
    really.click()
    b.wait()
    assert b.entries == [] and cli("alice")("ls", f"storage:{folder}").stdout.strip() == ""


def test_bad_path_and_missing_folder(apolo):
    b = StorageBrowser("job:x", api=apolo("alice"))
    assert "Invalid scheme 'job:'" in b.error
    b.path = "storage:no/such/folder"
    b.wait()
    assert b.error.startswith("storage:no/such/folder: not found, or you lack read on it")


def test_share_and_uri_actions(apolo, big_folder):
    b = StorageBrowser(big_folder, api=apolo("alice")).wait()
    b.selected = [next(e.uri for e in b.entries if e.is_dir)]
    b.share_button.click()
    dialog = b.share_box.children[0]
    assert dialog.uri.startswith("storage:many/")
    b.uri_button.click()
    assert b.prompt.children[0].value == dialog.uri
    b.close()
    assert b.work.pending == 0 or b.wait(10)


def test_hostile_names_are_shown_as_text(apolo, tmp_path, unique):
    folder = unique("hostile")
    name = "<img src=x onerror=alert(1)>\"'.txt"
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / name).write_text("x")
    apolo("alice").transfer.upload_tree(tmp_path / "h", f"storage:{folder}")
    ws = tmp_path / "ws"
    ws.mkdir()
    b = StorageBrowser(f"storage:{folder}", api=apolo("alice"), workspace=ws).wait()
    row = b.rows[0]
    assert row.name.description == name  # a button label is text, never HTML
    b.selected = [row.entry.uri]
    b.download()
    b.wait()
    assert (ws / name).read_text() == "x"
    every_html = " ".join(c.value for c in b.progress_box.children[1].children if hasattr(c, "value")
                          and isinstance(c.value, str))
    assert "<img" not in every_html and "&lt;img" in every_html
    b.delete_button.click()
    b.wait()
    assert "<img" not in b.prompt.children[0].value


def test_cancel_leaves_no_partial_file(apolo, tmp_path, unique):
    folder = unique("cancel")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.bin").write_bytes(b"\0" * (64 * 1024 * 1024))
    apolo("alice").transfer.upload_tree(tmp_path / "src", f"storage:{folder}")
    ws = tmp_path / "ws"
    ws.mkdir()
    b = StorageBrowser(f"storage:{folder}", api=apolo("alice"), workspace=ws).wait()
    b.selected = [b.entries[0].uri]
    seen = []
    b.download()
    while not b.progress_events and len(seen) < 2000:  # cancel mid-transfer
        seen.append(None)
        import time
        time.sleep(0.005)
    b.progress_box.children[0].children[2].click()  # the Cancel button
    b.wait()
    assert b.message.startswith("Cancelled") and not b.busy
    # the coroutine unwinds on the client's loop right after: neither big.bin nor a .part file stays
    wait_for(lambda: list(ws.iterdir()) == [], 10, what="the partial download removed")
