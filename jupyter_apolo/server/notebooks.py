"""Server endpoints of the notebooks workflow (plan, apply with progress, git status, diff, commit, push, pull).

Thin handlers over ``jupyter_apolo.notebooks``; paths are relative to the server's ``root_dir`` (what the Lab file
browser shows) and may not leave it. Settings: ``c.ApoloNotebooks.*``. REST contract (all under
``<base>apolo/notebooks/``, ``@authenticated``, JSON errors ``{"error", ...}``):

- ``GET projects?path=P`` -> ``{"projects": [{"path", "notebooks"}]}``: flow projects at or below ``P`` (3 levels,
  no hidden folders or symlinks), workspace paths; ``notebooks`` is null without a notebooks volume.
- ``GET plan?path=P&direction=pull|push`` -> ``{"id", "direction", "local", "local_path", "remote", "unchanged",
  "changes": [{"path", "action", "reason", "size"}], "elsewhere": [...], "skipped": [{"path", "side", "reason"}]}``;
  400 when ``P`` is not in a flow project. ``local_path``: the notebooks folder as a workspace path. ``skipped``:
  control paths, names this system cannot hold, local symlinks.
- ``POST apply`` ``{"path", "direction", "plan": id, "delete": false|true|[paths]}`` applies the plan the user
  reviewed: ``plan`` is its ``id``; when storage or the folder changed since, 409 ``{"error", "plan": <new plan>}``
  and nothing is done. ``delete``: the reviewed deletions to carry out (``true``: all of them, only with ``plan``;
  a path that is no longer a proposed deletion -> 409). Answers ``application/x-ndjson`` lines
  ``{"event": "progress", "done", "total", "path", "action", "bytes"}`` then exactly one ``{"event": "result",
  "downloaded", "uploaded", "deleted", "verified", "merged", "conflicts": [{"path", "reason", "kept_as", "merge_as"}],
  "proposed_deletions", "skipped", "bytes", "transferred"}`` or ``{"event": "error", "error"}`` (whatever failed
  mid-way, a full disk included; what finished is recorded: re-plan to resume).
- ``GET status?path=P`` -> ``{"root", "files": [{"path", "index", "worktree"}]}`` (git, under ``P``).
- ``GET diff?path=FILE[&direction=pull|push]`` -> ``{"kind": "notebook", "base", "diff", "text"}`` (nbdime) or
  ``{"kind": "text", "text"}``. Without ``direction``: git HEAD -> working tree; ``pull``: the local file -> its
  storage version (what a pull brings); ``push``: the storage version -> the local file (what a push sends).
- ``POST commit`` ``{"message", "paths": [...], "clear_outputs"?}`` -> ``{"sha", "summary", "files", "output"}``.
- ``POST push`` ``{"path", "remote"?}`` -> ``{"output"}``; never forces.
- ``POST pull`` ``{"path", "remote"?}`` -> ``{"outcome": "up-to-date"|"fast-forward"|"merged", "upstream",
  "previous", "head", "files", "output"}``: ``git fetch`` then fast-forward or merge (notebooks cell by cell with
  nbdime's merge driver), never rebase or force; a conflict aborts the merge (409, nothing changed).
Git failures answer 409 ``{"error", "output", "fix"?}`` (git's own output, hook messages included).
Error messages name workspace paths as the file browser does (relative to the root), never the server's absolute
paths.
"""

from __future__ import annotations

import asyncio
import json

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError
from traitlets import Bool, Int, Unicode
from traitlets.config import Configurable

from ..client.localfs import display_name
from ..notebooks import GitRepo, review, workflow
from ..notebooks.discover import find_projects
from ..notebooks.sync import DEFAULT_CONCURRENCY, PULL, PUSH
from .base import ApoloHandler, JSONError, error_answer


class ApoloNotebooks(Configurable):
    """``c.ApoloNotebooks.*``: the notebooks workflow's settings."""

    remote = Unicode("", config=True, help="Storage URI overriding the notebooks volume's remote (empty: live.yml).")
    local = Unicode("", config=True,
                    help="Folder overriding the notebooks volume's local, relative to the project root.")
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
        try:
            shown = self.shown_path(plan.local_root)
        except ValueError:  # a volume's local folder outside the workspace (configured so)
            shown = None
        self.write_json({**plan.to_json(), "local_path": "" if shown == "." else shown})


class ProjectsHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.local_path(self.get_query_argument("path", ""))
        found = await asyncio.to_thread(find_projects, path)
        base = self.shown_path(path)
        base = "" if base == "." else base

        def shown(rel: str | None) -> str | None:
            return None if rel is None else "/".join(p for p in (base, rel) if p)

        self.write_json({"projects": [{"path": shown(p.path), "notebooks": shown(p.notebooks)} for p in found]})


class ApplyHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        path = self.local_path(body.get("path"))
        direction = self.direction(body.get("direction"))
        delete, reviewed = body.get("delete", False), body.get("plan")
        if not (isinstance(delete, bool) or (isinstance(delete, list) and all(isinstance(p, str) for p in delete))):
            raise JSONError(400, "delete must be true, false or a list of paths")
        if reviewed is not None and not isinstance(reviewed, str):
            raise JSONError(400, "plan must be the id of the plan you reviewed (GET plan gives it)")
        if delete is True and not reviewed:
            raise JSONError(400, 'delete: true deletes what the plan you reviewed proposes: send its id as "plan" '
                                 "(GET plan gives it), or list the paths to delete")
        api = await self.connection.client()
        _, syncer = workflow.open_sync(api, path, self.notebooks.sync_settings())
        plan = await syncer.plan(direction)
        if reviewed and reviewed != plan.id:
            raise JSONError(409, "The notebooks changed since the plan you reviewed: nothing was done. Review the "
                                 "new plan and apply it.", plan=plan.to_json())
        if isinstance(delete, list):  # only what the user reviewed, and only while it is still a proposed deletion
            stale = sorted(set(delete) - {c.path for c in plan.deletions})
            if stale:
                raise JSONError(409, f"Not proposed for deletion any more (changed since you reviewed the plan): "
                                     f"{', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''}. Nothing was done; "
                                     "review the new plan.", paths=stale, plan=plan.to_json())
        self.set_header("Content-Type", "application/x-ndjson")

        def progress(event: dict) -> None:
            self.write(json.dumps({"event": "progress", **event}) + "\n")
            self.flush()

        # From here the answer is a stream: it ends with exactly one result or error event, whatever is raised.
        try:
            result = await syncer.apply(plan, delete=delete, progress=progress)
            last = {"event": "result", **result.to_json()}
        except Exception as exc:  # noqa: BLE001 - the stream must end with one result or error event
            last = {"event": "error", "error": self._apply_error(exc)}
        try:
            self.write(json.dumps(last) + "\n")
            self.finish()
        except StreamClosedError:  # the client went away: nothing left to tell
            pass

    def _apply_error(self, exc: Exception) -> str:
        answer = error_answer(exc)
        if answer is not None:
            return self.shown_text(answer.message)
        if isinstance(exc, OSError):  # a full disk, a read-only folder...: name the error and the file
            where = f": {display_name(str(exc.filename))}" if exc.filename else ""
            return self.shown_text(f"{exc.strerror or exc}{where}. What finished is recorded: fix that, then plan "
                                   "and apply again to resume.")
        self.log.exception("apolo: notebooks apply failed", exc_info=exc)
        return f"Unexpected {type(exc).__name__} during the apply; see the server log. Re-plan to resume."


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
        direction = self.get_query_argument("direction", None)
        if direction is None:
            self.write_json(await asyncio.to_thread(lambda: GitRepo(path).diff(path)))
            return
        direction = self.direction(direction)
        api = await self.connection.client()
        _, syncer = workflow.open_sync(api, path, self.notebooks.sync_settings())
        try:
            rel = path.relative_to(syncer.local_root).as_posix()
        except ValueError:
            raise JSONError(400, f"{self.shown_path(path)} is not in the notebooks folder "
                                 f"{self.shown_path(syncer.local_root)}: only its files sync with storage") from None
        self.write_json(await review.storage_diff(syncer, rel, direction))


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


class PullHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        path = self.local_path(body.get("path"))
        remote = body.get("remote") or None
        if remote is not None and not isinstance(remote, str):
            raise JSONError(400, "remote must be the name of a git remote, e.g. 'origin'")
        done = await asyncio.to_thread(lambda: GitRepo(path).pull(remote))
        self.write_json({**done.__dict__})


#: ``apolo/notebooks/<name>`` -> handler (the route table in ``server/__init__.py`` mounts them).
HANDLERS = {"projects": ProjectsHandler, "plan": PlanHandler, "apply": ApplyHandler, "status": GitStatusHandler,
            "diff": DiffHandler, "commit": CommitHandler, "push": PushHandler, "pull": PullHandler}
