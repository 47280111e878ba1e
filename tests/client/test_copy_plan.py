"""``Transfer.resolve_copy`` + ``copy``: the one copy planner magics, server and widgets use. It follows
``apolo cp``'s reading of arguments, refuses to overwrite unless asked, and the copy asks the platform
nothing the plan already knows (requests counted on the wire)."""

from __future__ import annotations

import httpx
import pytest

from jupyter_apolo.client import Apolo, InvalidInput, NotFoundError, TargetExists, resolve_config


class CountingTransport(httpx.AsyncHTTPTransport):
    """Records ``(method, op)`` of every request the client sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.params.get("op")))
        return await super().handle_async_request(request)


@pytest.fixture
def counted(platform):
    transport = CountingTransport()
    with Apolo(resolve_config(url=platform.url, token=platform.token("alice"), environ={}), transport=transport) as api:
        api.cluster_info()
        transport.sent.clear()
        yield api, transport


def test_file_round_trips(counted, unique, tmp_path):
    api, wire = counted
    src = tmp_path / "small.txt"
    src.write_text("hello")
    uri = f"storage:{unique('plan')}.txt"
    plan = api.transfer.resolve_copy(src, uri)
    assert (plan.direction, plan.is_dir, plan.size, plan.replaces) == ("upload", False, 5, False)
    assert api.transfer.copy(plan) == 1
    assert wire.sent == [("GET", "GETFILESTATUS"), ("PUT", "CREATE")]  # was 3: upload_file stat'ed again

    wire.sent.clear()
    back = tmp_path / "back.txt"
    plan = api.transfer.resolve_copy(uri, back)
    assert api.transfer.copy(plan) == 1 and back.read_text() == "hello"
    assert wire.sent == [("GET", "GETFILESTATUS"), ("GET", "OPEN")]  # was 3: download_file stat'ed again


def test_refuses_to_overwrite_and_changes_nothing(counted, unique, tmp_path):
    api, wire = counted
    (tmp_path / "a.txt").write_text("new")
    uri = f"storage:{unique('keep')}.txt"
    api.transfer.copy(api.transfer.resolve_copy(tmp_path / "a.txt", uri))
    (tmp_path / "a.txt").write_text("newer")
    with pytest.raises(TargetExists) as refused:
        api.transfer.resolve_copy(tmp_path / "a.txt", uri)
    assert refused.value.target.endswith(uri.split(":", 1)[1]) and not refused.value.clash
    local = tmp_path / "local.txt"
    local.write_text("mine")
    with pytest.raises(TargetExists):
        api.transfer.resolve_copy(uri, local)
    assert local.read_text() == "mine"
    wire.sent.clear()
    plan = api.transfer.resolve_copy(tmp_path / "a.txt", uri, overwrite=True)
    assert plan.replaces and api.transfer.copy(plan) == 1
    assert not any(op == "CREATE" for _, op in wire.sent[:1])  # the plan itself writes nothing
    api.transfer.copy(api.transfer.resolve_copy(uri, local, overwrite=True))
    assert local.read_text() == "newer"


def test_into_folders_and_clashes(counted, unique, tmp_path):
    api, _ = counted
    folder = f"storage:{unique('into')}"
    api.storage.mkdir(folder)
    (tmp_path / "f.txt").write_text("x")
    plan = api.transfer.resolve_copy(tmp_path / "f.txt", folder)
    assert plan.target.endswith("/f.txt")  # into the existing folder, by name (apolo cp)
    with pytest.raises(TargetExists) as clash:
        api.transfer.resolve_copy(tmp_path / "f.txt", folder, into_dir=False, overwrite=True)
    assert clash.value.clash and clash.value.target_is_dir
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "g.txt").write_text("g")
    plan = api.transfer.resolve_copy(tree, folder)
    assert plan.is_dir and api.transfer.copy(plan) == 1
    down = tmp_path / "down"
    down.mkdir()
    plan = api.transfer.resolve_copy(plan.target, down)
    assert api.transfer.copy(plan) == 1 and (down / "tree" / "sub" / "g.txt").read_text() == "g"
    (tmp_path / "plain").write_text("file in the way")
    with pytest.raises(TargetExists) as clash:
        api.transfer.resolve_copy(folder, tmp_path / "plain", into_dir=False, overwrite=True)
    assert clash.value.clash and not clash.value.target_is_dir


def test_bad_input(counted, tmp_path):
    api, _ = counted
    with pytest.raises(InvalidInput, match="one side storage"):
        api.transfer.resolve_copy(tmp_path, tmp_path / "x")
    with pytest.raises(NotFoundError, match="no such local file"):
        api.transfer.resolve_copy(tmp_path / "missing", "storage:x")
    with pytest.raises(NotFoundError):
        api.transfer.resolve_copy("storage:no/such/file", tmp_path)
    with pytest.raises(ValueError, match="Query part is not allowed"):  # InvalidInput is a ValueError too
        api.transfer.resolve_copy(tmp_path, "storage:a?b")
