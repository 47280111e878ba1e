"""Server endpoints of the notebooks workflow (plan, apply with progress, git status, diff, commit, push).

Thin handlers over ``jupyter_apolo.notebooks``; paths are relative to the server's ``root_dir`` (what the Lab file
browser shows) and may not leave it. Settings: ``c.ApoloNotebooks.*``. REST contract (all under ``<base>apolo/notebooks/``,
``@authenticated``, JSON errors ``{"error", ...}``):

- ``GET plan?path=P&direction=pull|push`` -> ``{"id", "direction", "local", "remote", "unchanged", "changes":
  [{"path", "action", "reason", "size"}], "elsewhere": [...], "skipped": [{"path", "side", "reason"}]}``; 400 when
  ``P`` is not in a flow project. ``skipped``: control paths, names this system cannot hold, local symlinks.
- ``POST apply`` ``{"path", "direction", "plan": id, "delete": false|true|[paths]}`` applies the plan the user
  reviewed: ``plan`` is its ``id``; when storage or the folder changed since, 409 ``{"error", "plan": <new plan>}``
  and nothing is done. ``delete``: the reviewed deletions to carry out (``true``: all of them, only with ``plan``;
  a path that is no longer a proposed deletion -> 409). Answers ``application/x-ndjson`` lines
  ``{"event": "progress", "done", "total", "path", "action", "bytes"}`` then exactly one ``{"event": "result",
  "downloaded", "uploaded", "deleted", "verified", "conflicts": [{"path", "reason", "kept_as"}],
  "proposed_deletions", "skipped", "bytes", "transferred"}`` or ``{"event": "error", "error"}`` (whatever failed
  mid-way, a full disk included; what finished is recorded: re-plan to resume).
- ``GET status?path=P`` -> ``{"root", "files": [{"path", "index", "worktree"}]}`` (git, under ``P``).
- ``GET diff?path=FILE`` -> ``{"kind": "notebook", "base", "diff", "text"}`` (nbdime) or ``{"kind": "text", "text"}``.
- ``POST commit`` ``{"message", "paths": [...], "clear_outputs"?}`` -> ``{"sha", "summary", "files", "output"}``.
- ``POST push`` ``{"path", "remote"?}`` -> ``{"output"}``; never forces.
Git failures answer 409 ``{"error", "output"}`` (git's own output, hook messages included).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.iostream import StreamClosedError
from traitlets import Bool, Int, Unicode
from traitlets.config import Configurable

from ..client.errors import ApoloError
from ..client.localfs import MAX_NAME_BYTES, MAX_PATH_BYTES, display_name
from ..notebooks import GitError, GitRepo, ProjectError, workflow
from ..notebooks.sync import DEFAULT_CONCURRENCY, PULL, PUSH
from .handlers import ApoloHandler, JSONError, error_from_apolo


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
    """Shared plumbing: the settings, paths confined to the server root, JSON bodies, error mapping."""

    def initialize(self, connection: Any, notebooks: ApoloNotebooks) -> None:  # type: ignore[override]
        super().initialize(connection)
        self.notebooks = notebooks

    def local_path(self, rel: str | None) -> Path:
        """``rel`` below the server's root (400 naming the problem: NUL, a name over 255 bytes, a path over
        4,000 bytes, or one leading outside the root)."""
        rel = rel or ""
        if not isinstance(rel, str):
            raise JSONError(400, "path must be a string: a file or folder relative to the Jupyter root")
        if "\0" in rel:
            raise JSONError(400, "path contains a NUL character: name a file or folder of the Jupyter root")
        size = len(rel.encode("utf-8", "surrogatepass"))
        longest = max((len(p.encode("utf-8", "surrogatepass")) for p in rel.split("/")), default=0)
        if size > MAX_PATH_BYTES or longest > MAX_NAME_BYTES:
            raise JSONError(400, f"path is too long ({size} bytes, longest name {longest}): names may have "
                                 f"{MAX_NAME_BYTES} bytes, paths {MAX_PATH_BYTES}")
        root = Path(self.settings.get("server_root_dir") or os.getcwd()).expanduser().resolve()
        try:
            path = (root / rel.lstrip("/")).resolve()
        except (OSError, ValueError) as exc:
            raise JSONError(400, f"path {rel[:100]!r} cannot be used: {exc}") from None
        if path != root and root not in path.parents:
            raise JSONError(400, f"path {rel!r} is outside the server's root directory")
        return path

    def body(self) -> dict:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise JSONError(400, "the request body must be JSON") from None
        if not isinstance(data, dict):
            raise JSONError(400, "the request body must be a JSON object")
        return data

    def direction(self, value: str | None) -> str:
        if (value or PULL) not in (PULL, PUSH):
            raise JSONError(400, f"direction must be 'pull' or 'push', not {value!r}")
        return value or PULL

    async def guarded(self, coro):  # type: ignore[no-untyped-def]
        try:
            return await coro
        except ProjectError as exc:
            raise JSONError(400, str(exc)) from None
        except GitError as exc:
            raise JSONError(409, str(exc).splitlines()[0], output=exc.output) from None
        except ValueError as exc:
            raise JSONError(400, str(exc)) from None
        except OSError as exc:  # e.g. permission denied on the local folder
            raise JSONError(409, _os_error(exc)) from None


class PlanHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.local_path(self.get_query_argument("path", ""))
        direction = self.direction(self.get_query_argument("direction", PULL))
        api = await self.connection.client()
        plan = await self.guarded(workflow.plan(api, path, direction, self.notebooks.sync_settings()))
        self.write_json(plan.to_json())


class ApplyHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
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
        _, syncer = await self.guarded(_async(workflow.open_sync, api, path, self.notebooks.sync_settings()))
        plan = await self.guarded(syncer.plan(direction))
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
        except ApoloError as exc:
            last = {"event": "error", "error": error_from_apolo(exc).message}
        except OSError as exc:
            last = {"event": "error", "error": f"{_os_error(exc)}. What finished is recorded: fix that, then plan "
                                               "and apply again to resume."}
        except Exception:  # noqa: BLE001 - reported in the stream, logged with its traceback
            self.log.exception("apolo: notebooks apply failed")
            last = {"event": "error", "error": "Internal error in the jupyter-apolo server extension; see the "
                                               "server log. What finished is recorded: plan again to resume."}
        try:
            self.write(json.dumps(last) + "\n")
            self.finish()
        except StreamClosedError:  # the client went away: nothing left to tell
            pass


class GitStatusHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.local_path(self.get_query_argument("path", ""))

        def status() -> dict:
            repo = GitRepo(path)
            return {"root": str(repo.root), "files": [s.__dict__ for s in repo.status([path])]}

        self.write_json(await self.guarded(asyncio.to_thread(status)))


class DiffHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.local_path(self.get_query_argument("path"))
        self.write_json(await self.guarded(asyncio.to_thread(lambda: GitRepo(path).diff(path))))


class CommitHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
        paths = [self.local_path(p) for p in body.get("paths") or []]
        if not paths:
            raise JSONError(400, "paths: name the files or folders to commit")
        clear = bool(body.get("clear_outputs", self.notebooks.clear_outputs))

        def commit() -> dict:
            done = GitRepo(paths[0]).commit(str(body.get("message") or ""), paths, clear_outputs=clear)
            return {"sha": done.sha, "summary": done.summary, "files": done.files, "output": done.output}

        self.write_json(await self.guarded(asyncio.to_thread(commit)))


class PushHandler(NotebooksHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
        path = self.local_path(body.get("path"))
        output = await self.guarded(asyncio.to_thread(lambda: GitRepo(path).push(body.get("remote") or None)))
        self.write_json({"output": output})


def _os_error(exc: OSError) -> str:
    """``"No space left on device: notebooks/a.ipynb"``: the error and the file, printable."""
    where = f": {display_name(str(exc.filename))}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


async def _async(fn, *args):  # type: ignore[no-untyped-def]
    return fn(*args)


def routes(base_url: str, settings: dict) -> list:
    """Tornado route specs ``(pattern, handler, kwargs)`` under ``base_url`` (see the module docstring)."""
    notebooks = ApoloNotebooks(parent=settings.get("serverapp"))
    kwargs = {"connection": settings["jupyter_apolo.connection"], "notebooks": notebooks}
    table = {"plan": PlanHandler, "apply": ApplyHandler, "status": GitStatusHandler, "diff": DiffHandler,
             "commit": CommitHandler, "push": PushHandler}
    return [(url_path_join(base_url, "apolo/notebooks", name), handler, kwargs) for name, handler in table.items()]
