"""Server endpoints of the notebooks workflow (plan, apply with progress, git status, diff, commit, push).

Thin handlers over ``jupyter_apolo.notebooks``; paths are relative to the server's ``root_dir`` (what the Lab file
browser shows) and may not leave it. Settings: ``c.ApoloNotebooks.*``. REST contract (all under ``<base>apolo/notebooks/``,
``@authenticated``, JSON errors ``{"error", ...}``):

- ``GET plan?path=P&direction=pull|push`` -> ``{"direction", "local", "remote", "unchanged", "changes": [{"path",
  "action", "reason", "size"}], "elsewhere": [...]}``; 400 when ``P`` is not in a flow project.
- ``POST apply`` ``{"path", "direction", "delete": false|true|[paths]}`` -> ``application/x-ndjson`` lines
  ``{"event": "progress", "done", "total", "path", "action", "bytes"}`` then one ``{"event": "result", "downloaded",
  "uploaded", "deleted", "verified", "conflicts": [{"path", "reason", "kept_as"}], "proposed_deletions", "bytes",
  "transferred"}`` (or ``{"event": "error", "error"}`` if the apply fails mid-way; re-plan to resume).
- ``GET status?path=P`` -> ``{"root", "files": [{"path", "index", "worktree"}]}`` (git, under ``P``).
- ``GET diff?path=FILE`` -> ``{"kind": "notebook", "base", "diff", "text"}`` (nbdime) or ``{"kind": "text", "text"}``.
- ``POST commit`` ``{"message", "paths": [...], "clear_outputs"?}`` -> ``{"sha", "summary", "files", "output"}``.
- ``POST push`` ``{"path", "remote"?}`` -> ``{"output"}``; never forces.
Git failures answer 409 ``{"error", "output"}`` (git's own output, hook messages included).
"""

from __future__ import annotations

import asyncio
import json

from jupyter_server.auth.decorator import authorized
from tornado import web
from traitlets import Bool, Int, Unicode
from traitlets.config import Configurable

from ..notebooks import GitRepo, workflow
from ..notebooks.sync import DEFAULT_CONCURRENCY, PULL, PUSH
from .base import ApoloHandler, JSONError, error_answer


class ApoloNotebooks(Configurable):
    """``c.ApoloNotebooks.*``: the notebooks workflow's settings."""

    remote = Unicode("", config=True, help="Storage URI overriding the notebooks volume's remote (empty: live.yml).")
    local = Unicode("", config=True, help="Folder overriding the notebooks volume's local, relative to the project root.")
    clear_outputs = Bool(False, config=True, help="Commit notebooks without outputs (the working tree keeps them).")
    concurrency = Int(DEFAULT_CONCURRENCY, config=True, help="Files transferred at once by a pull or push.")

    def sync_settings(self) -> workflow.SyncSettings:
        return workflow.SyncSettings(remote=self.remote or None, local=self.local or None,
                                     concurrency=self.concurrency)


class NotebooksHandler(ApoloHandler):
    """The notebooks endpoints' shared reading of ``direction`` (settings: ``self.notebooks``)."""

    notebooks: ApoloNotebooks

    def direction(self, value: str | None) -> str:
        if (value or PULL) not in (PULL, PUSH):
            raise JSONError(400, f"direction must be 'pull' or 'push', not {value!r}")
        return value or PULL


class PlanHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.local_path(self.get_query_argument("path", ""))
        direction = self.direction(self.get_query_argument("direction", PULL))
        api = await self.connection.client()
        plan = await workflow.plan(api, path, direction, self.notebooks.sync_settings())
        self.write_json(plan.to_json())


class ApplyHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        path = self.local_path(body.get("path"))
        direction = self.direction(body.get("direction"))
        delete = body.get("delete", False)
        if not isinstance(delete, (bool, list)):
            raise JSONError(400, "delete must be true, false or a list of paths")
        api = await self.connection.client()
        _, syncer = workflow.open_sync(api, path, self.notebooks.sync_settings())
        plan = await syncer.plan(direction)
        self.set_header("Content-Type", "application/x-ndjson")

        def progress(event: dict) -> None:
            self.write(json.dumps({"event": "progress", **event}) + "\n")
            self.flush()

        try:
            result = await syncer.apply(plan, delete=delete, progress=progress)
            last = {"event": "result", **result.to_json()}
        except Exception as exc:  # noqa: BLE001 - the stream must end with one result or error event
            answer = error_answer(exc)
            if answer is None:
                self.log.exception("apolo: notebooks apply failed")
            last = {"event": "error", "error": answer.message if answer else
                    f"Unexpected {type(exc).__name__} during the apply; see the server log. Re-plan to resume."}
        self.write(json.dumps(last) + "\n")
        self.finish()


class GitStatusHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.local_path(self.get_query_argument("path", ""))

        def status() -> dict:
            repo = GitRepo(path)
            return {"root": str(repo.root), "files": [s.__dict__ for s in repo.status([path])]}

        self.write_json(await asyncio.to_thread(status))


class DiffHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.local_path(self.get_query_argument("path"))
        self.write_json(await asyncio.to_thread(lambda: GitRepo(path).diff(path)))


class CommitHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        paths = [self.local_path(p) for p in body.get("paths") or []]
        if not paths:
            raise JSONError(400, "paths: name the files or folders to commit")
        clear = bool(body.get("clear_outputs", self.notebooks.clear_outputs))

        def commit() -> dict:
            done = GitRepo(paths[0]).commit(str(body.get("message") or ""), paths, clear_outputs=clear)
            return {"sha": done.sha, "summary": done.summary, "files": done.files, "output": done.output}

        self.write_json(await asyncio.to_thread(commit))


class PushHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        path = self.local_path(body.get("path"))
        output = await asyncio.to_thread(lambda: GitRepo(path).push(body.get("remote") or None))
        self.write_json({"output": output})


#: ``apolo/notebooks/<name>`` -> handler (the route table in ``server/__init__.py`` mounts them).
HANDLERS = {"plan": PlanHandler, "apply": ApplyHandler, "status": GitStatusHandler, "diff": DiffHandler,
            "commit": CommitHandler, "push": PushHandler}
