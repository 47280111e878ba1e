"""The flow API: ``{api}/flow/...``, what ``apolo-flow`` stores on the platform.

Request and answer shapes are those of apolo-flow 26.7's client (``apolo_flow/storage/api.py``)
and of neuro-inc/platform-neuro-flow-api, whose permission rules it mirrors (reference §3, §6.5):

- a **flow project** (``POST flow/projects {name, project_name, cluster, org_name}``) lives in
  a platform project; creating one needs ``write`` on ``flow://<cluster>/<org>/<project>``;
- reading it (and everything inside it) needs ``read``, changing anything inside it ``write``,
  on ``flow://<cluster>/<org>/<project>/<flow-project id>`` **or** ``.../<flow-project name>``;
  project members hold these through their role, others through a share
  (``apolo share flow:/<project>/<flow id> alice read``);
- inside: **live jobs** (one per ``live.yml`` job, ``PUT flow/live_jobs/replace`` on every
  ``apolo-flow run``), **bakes** with their **attempts**, **tasks**, **config files**,
  **bake images**, and **cache entries**.

Routes (``{id}`` is a record id; ``by_*`` look-ups take query parameters)::

    flow/projects          GET list, POST;  /by_name GET;  /{id} GET, DELETE
    flow/live_jobs         GET ?project_id, POST;  /replace PUT;  /by_yaml_id GET;  /{id} GET
    flow/bakes             GET ?project_id (tags, since, until, reverse, name), POST;  /by_name GET;  /{id} GET
    flow/attempts          GET ?bake_id, POST;  /replace PUT;  /by_number GET (-1 = last);  /{id} GET
    flow/tasks             GET ?attempt_id, POST;  /replace PUT;  /by_yaml_id GET;  /{id} GET
    flow/config_files      POST;  /{id} GET
    flow/bake_images       GET ?bake_id, POST;  /by_ref GET;  /{id} GET, PATCH
    flow/cache_entries     POST, DELETE ?project_id (batch, task_id);  /by_key GET;  /{id} GET

Answers: 200 (201 for creations and ``replace``), lists as NDJSON when asked
(``Accept: application/x-ndjson``) else a JSON array. Errors are ``{"error": ...}``: 400 for a
malformed body naming the field, 404 for a missing record or parent, 403 with ``missing``
without permission, 409 (plus ``code: unique``) for a duplicate. As on the real service, a list
whose parent is missing is empty, not an error.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable, Iterable, Iterator

from .base import BaseHandler
from .runner import iso, now_iso, parse_iso
from .state import Platform, PlatformError

TASK_STATUSES = ("unknown", "pending", "running", "succeeded", "failed", "cancelled", "skipped", "cached")
IMAGE_STATUSES = ("pending", "building", "built", "build_failed", "cached")
_ID_PREFIX = {"project": "project", "live_job": "live-job", "bake": "bake", "attempt": "attempt", "task": "task",
              "config_file": "config-file", "bake_image": "bake-image", "cache_entry": "cache-entry"}
_PAGE = 500
# A flow id (project.yml ``id``, else the folder name): it becomes the last segment of a flow:// URI.
_FLOW_NAME = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\Z")


def new_id(kind: str) -> str:
    """``<kind>-<uuid4>``: apolo-flow recognises bake ids by ``bake-<uuid>`` (cli ``BAKE_ID_PATTERN``)."""
    return f"{_ID_PREFIX[kind]}-{uuid.uuid4()}"


def _bad(message: str) -> PlatformError:
    return PlatformError(400, message)


def _missing(what: str) -> PlatformError:
    return PlatformError(404, f"{what} was not found")


# -- request bodies ------------------------------------------------------------------------------


class Body:
    """A JSON object from a request, read field by field; every mistake is a 400 naming the field."""

    def __init__(self, data: Any, what: str):
        if not isinstance(data, dict):
            raise _bad(f"Expected a JSON object describing the {what}")
        self.data, self.what = data, what

    def str(self, name: str, *, required: bool = True, default: str | None = None) -> Any:
        value = self.data.get(name, default)
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value):
            raise _bad(f"'{name}' of the {self.what} must be a non-empty string")
        return value

    def bool(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise _bad(f"'{name}' of the {self.what} must be true or false")
        return value

    def strings(self, name: str, *, default: list | None = None) -> list[str]:
        value = self.data.get(name, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(f"'{name}' of the {self.what} must be a list of strings")
        return list(value)

    def mapping(self, name: str, *, nullable: bool = True, nested: bool = False) -> dict | None:
        """A ``{str: str}`` object (``nested``: ``{str: [str]}`` values allowed as for graphs)."""
        value = self.data.get(name)
        if value is None and nullable:
            return None
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _bad(f"'{name}' of the {self.what} must be an object with string keys")
        if not nested and not all(isinstance(v, str) for v in value.values()):
            raise _bad(f"'{name}' of the {self.what} must map strings to strings")
        return dict(value)

    def choice(self, name: str, choices: Iterable[str]) -> str:
        value = self.data.get(name)
        if value not in tuple(choices):
            raise _bad(f"'{name}' of the {self.what} must be one of {', '.join(choices)} (got {value!r})")
        return value

    def time(self, name: str) -> str:
        value = self.data.get(name)
        if value is None:
            return now_iso()
        try:
            return iso(parse_iso(value))
        except (TypeError, ValueError):
            raise _bad(f"'{name}' of the {self.what} must be an ISO 8601 date-time") from None


def _graphs(body: Body) -> dict:
    graphs = body.mapping("graphs", nullable=False, nested=True)
    for prefix, graph in graphs.items():
        if not isinstance(graph, dict) or not all(
            isinstance(deps, list) and all(isinstance(d, str) for d in deps) for deps in graph.values()
        ):
            raise _bad(f"'graphs.{prefix}' of the bake must map task ids to lists of task ids")
    return graphs


def _configs_meta(body: Body) -> dict:
    meta = Body(body.data.get("configs_meta"), "attempt's configs_meta")
    action_ids = meta.mapping("action_config_ids", nullable=False)
    return {"workspace": meta.str("workspace"), "flow_config_id": meta.str("flow_config_id"),
            "project_config_id": meta.str("project_config_id", required=False), "action_config_ids": action_ids}


def _statuses(body: Body) -> list[dict]:
    items = body.data.get("statuses")
    if not isinstance(items, list) or not items:
        raise _bad("'statuses' of the task must be a non-empty list of {created_at, status}")
    out = []
    for item in items:
        entry = Body(item, "task status")
        out.append({"created_at": entry.time("created_at"), "status": entry.choice("status", TASK_STATUSES)})
    return out


def _git_info(body: Body) -> dict | None:
    meta = body.data.get("meta") or {}
    info = meta.get("git_info") if isinstance(meta, dict) else None
    if info is None:
        return None
    git = Body(info, "bake's git_info")
    return {"sha": git.str("sha"), "branch": git.str("branch", required=False, default="") or "",
            "tags": git.strings("tags", default=[])}


# -- the handler ---------------------------------------------------------------------------------


class FlowHandler(BaseHandler):
    """Every ``{api}/flow/<collection>[/<sub>]`` request, dispatched by method, collection and sub-path."""

    # -- plumbing

    def initialize(self, platform: Platform) -> None:  # type: ignore[override]
        super().initialize(platform)
        self._trees: dict[str, Any] = {}

    def _dispatch(self, method: str, collection: str, sub: str | None) -> None:
        special = {"by_name", "by_yaml_id", "by_number", "by_ref", "by_key", "replace"}
        name = f"{method}_{collection}" + (f"_{sub}" if sub in special else ("_one" if sub else ""))
        action: Callable | None = getattr(self, name, None)
        if action is None:
            raise PlatformError(405, f"{method.upper()} is not supported on {self.request.path}")
        if sub and sub not in special:
            action(sub)
        else:
            action()

    def get(self, collection: str, sub: str | None = None) -> None:
        self._dispatch("get", collection, sub)

    def post(self, collection: str, sub: str | None = None) -> None:
        self._dispatch("post", collection, sub)

    def put(self, collection: str, sub: str | None = None) -> None:
        self._dispatch("put", collection, sub)

    def patch(self, collection: str, sub: str | None = None) -> None:
        self._dispatch("patch", collection, sub)

    def delete(self, collection: str, sub: str | None = None) -> None:
        self._dispatch("delete", collection, sub)

    def arg(self, name: str, *, required: bool = True) -> Any:
        value = self.get_query_argument(name, None)
        if required and not value:
            raise _bad(f"Missing query parameter '{name}'")
        return value

    def write_list(self, items: Iterable[dict]) -> None:
        """Finish with ``items`` as NDJSON (when asked) or a JSON array."""
        if "application/x-ndjson" in self.request.headers.get("Accept", ""):
            self.set_header("Content-Type", "application/x-ndjson")
            for item in items:
                self.write(json.dumps(item) + "\n")
            self.finish()
        else:
            self.write_json(list(items))

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    # -- permissions

    def _allowed(self, project: dict, action: str) -> bool:
        tree = self._trees.get(self.user) or self._trees.setdefault(self.user, self.platform.tree(self.user))
        base = f"flow://{project['cluster']}/{project['org_name']}/{project['project_name']}"
        return tree.allows(f"{base}/{project['id']}", action) or tree.allows(f"{base}/{project['name']}", action)

    def _check(self, project: dict, action: str) -> dict:
        if not self._allowed(project, action):
            uri = f"flow://{project['cluster']}/{project['org_name']}/{project['project_name']}/{project['name']}"
            raise PlatformError(403, f"Not enough permissions: {action} on {uri} is required",
                                missing=[{"uri": uri, "action": action}])
        return project

    def project(self, project_id: str, action: str = "read") -> dict:
        """The flow project ``project_id`` if the caller may ``action`` it; 404 / 403 otherwise."""
        row = self.platform.db.execute("SELECT data FROM flow_projects WHERE id = ?", (project_id,)).fetchone()
        if row is None:
            raise _missing(f"Flow project {project_id!r}")
        return self._check(json.loads(row["data"]), action)

    def record(self, kind: str, record_id: str, action: str = "read") -> dict:
        """The ``kind`` record ``record_id`` if the caller may ``action`` its flow project."""
        row = self.platform.db.execute(
            "SELECT flow_project, data FROM flow_records WHERE id = ? AND kind = ?", (record_id, kind)
        ).fetchone()
        if row is None:
            raise _missing(f"{kind.replace('_', ' ').capitalize()} {record_id!r}")
        self.project(row["flow_project"], action)
        return json.loads(row["data"])

    def parent_or_none(self, kind: str, parent_id: str) -> str | None:
        """For lists: the flow project id behind ``parent_id`` (a ``kind`` record or a project),
        None when it does not exist (the list is then empty); 403 without read."""
        try:
            if kind == "project":
                return self.project(parent_id)["id"]
            row = self.platform.db.execute(
                "SELECT flow_project FROM flow_records WHERE id = ? AND kind = ?", (parent_id, kind)
            ).fetchone()
            if row is None:
                return None
            return self.project(row["flow_project"])["id"]
        except PlatformError as exc:
            if exc.status == 404:
                return None
            raise

    # -- storage

    def find(self, kind: str, parent: str, key: str | None = None, *, latest: bool = False) -> dict | None:
        sql = "SELECT data FROM flow_records WHERE kind = ? AND parent = ?"
        params: list[Any] = [kind, parent]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        row = self.platform.db.execute(
            sql + f" ORDER BY created_at {'DESC' if latest else 'ASC'}, id LIMIT 1", params).fetchone()
        return json.loads(row["data"]) if row else None

    def children(self, kind: str, parent: str, *, reverse: bool = False) -> Iterator[dict]:
        """The ``kind`` records of ``parent`` by creation time, fetched page by page."""
        order, cmp = ("DESC", "<") if reverse else ("ASC", ">")
        last: tuple[str, str] | None = None
        while True:
            sql, params = "SELECT id, created_at, data FROM flow_records WHERE kind = ? AND parent = ?", [kind, parent]
            if last:
                sql += f" AND (created_at, id) {cmp} (?, ?)"
                params.extend(last)
            rows = self.platform.db.execute(
                sql + f" ORDER BY created_at {order}, id {order} LIMIT {_PAGE}", params).fetchall()
            for row in rows:
                yield json.loads(row["data"])
            if len(rows) < _PAGE:
                return
            last = (rows[-1]["created_at"], rows[-1]["id"])

    def store(self, kind: str, record: dict, flow_project: str, parent: str, key: str | None) -> dict:
        """Insert ``record`` or replace the one with its id (keeping its place in listings)."""
        old = self.platform.db.execute("SELECT created_at FROM flow_records WHERE id = ?", (record["id"],)).fetchone()
        created = old["created_at"] if old else (record.get("created_at") or now_iso())
        self.platform.db.execute(
            "INSERT OR REPLACE INTO flow_records (id, kind, flow_project, parent, key, created_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record["id"], kind, flow_project, parent, key, created, json.dumps(record)),
        )
        return record

    def conflict(self, description: str) -> PlatformError:
        return PlatformError(409, description, code="unique", description=description)

    # -- projects

    def get_projects(self) -> None:
        filters = {"name": self.arg("name", required=False), "project_name": self.arg("project_name", required=False),
                   "owner": self.arg("owner", required=False)}
        cluster, org = self.arg("cluster", required=False), self.arg("org_name", required=False)
        if (cluster and cluster != self.platform.cluster) or (org and org != self.platform.org):
            return self.write_list([])
        rows = self.platform.db.execute("SELECT data FROM flow_projects ORDER BY project_name, name").fetchall()
        projects = (json.loads(r["data"]) for r in rows)
        self.write_list(p for p in projects if all(p[k] == v for k, v in filters.items() if v)
                        and self._allowed(p, "read"))

    def post_projects(self) -> None:
        body = Body(self.json_body(), "flow project")
        name = body.str("name")
        if not _FLOW_NAME.match(name) or name in (".", ".."):
            raise _bad(f"Invalid flow project name {name!r}: use letters, digits, '_', '.' and '-' "
                       "(the id in project.yml)")
        project_name = body.str("project_name", default=self.user)
        cluster = body.str("cluster", default=self.platform.cluster)
        org = body.str("org_name", required=False) or self.platform.org
        if cluster != self.platform.cluster or org != self.platform.org:
            raise _bad(f"Unknown cluster/org {cluster}/{org}: "
                       f"this platform serves {self.platform.cluster}/{self.platform.org}")
        uri = f"flow://{cluster}/{org}/{project_name}"
        if not self.platform.tree(self.user).allows(uri, "write"):
            raise PlatformError(403, f"Not enough permissions: write on {uri} is required to create a flow project "
                                "there", missing=[{"uri": uri, "action": "write"}])
        if self.platform.project_owner(project_name) is None:
            raise _missing(f"Project {project_name!r}")
        if self.platform.db.execute("SELECT 1 FROM flow_projects WHERE project_name = ? AND name = ?",
                                    (project_name, name)).fetchone():
            raise self.conflict("Project with such name exists")
        project = {"id": new_id("project"), "name": name, "owner": self.user, "project_name": project_name,
                   "cluster": cluster, "org_name": org}
        self.platform.db.execute("INSERT INTO flow_projects (id, name, project_name, data) VALUES (?, ?, ?, ?)",
                                 (project["id"], name, project_name, json.dumps(project)))
        self.write_json(project, 201)

    def get_projects_by_name(self) -> None:
        # apolo-flow sends owner too; flow projects are project-scoped, as on the real service
        name, cluster = self.arg("name"), self.arg("cluster")
        project_name = self.arg("project_name", required=False) or self.arg("owner", required=False) or self.user
        org = self.arg("org_name", required=False) or self.platform.org
        row = self.platform.db.execute("SELECT data FROM flow_projects WHERE project_name = ? AND name = ?",
                                       (project_name, name)).fetchone()
        if row is None or cluster != self.platform.cluster or org != self.platform.org:
            raise _missing(f"Flow project {name!r} in project {project_name!r}")
        self.write_json(self._check(json.loads(row["data"]), "read"))

    def get_projects_one(self, project_id: str) -> None:
        self.write_json(self.project(project_id))

    def delete_projects_one(self, project_id: str) -> None:
        self.project(project_id, "write")
        with self.platform.db:
            self.platform.db.execute("BEGIN")
            self.platform.db.execute("DELETE FROM flow_records WHERE flow_project = ?", (project_id,))
            self.platform.db.execute("DELETE FROM flow_projects WHERE id = ?", (project_id,))
        self.no_content()

    # -- live jobs

    def _live_job_body(self) -> tuple[dict, dict]:
        body = Body(self.json_body(), "live job")
        project = self.project(body.str("project_id"), "write")
        raw_id = body.str("raw_id", required=False) or ""
        return project, {"yaml_id": body.str("yaml_id"), "project_id": project["id"], "multi": body.bool("multi"),
                         "tags": body.strings("tags"), "raw_id": raw_id}

    def get_live_jobs(self) -> None:
        project_id = self.parent_or_none("project", self.arg("project_id"))
        self.write_list(self.children("live_job", project_id) if project_id else [])

    def post_live_jobs(self) -> None:
        project, job = self._live_job_body()
        if self.find("live_job", project["id"], job["yaml_id"]):
            raise self.conflict("Live with such yaml_id exists")
        job = {"id": new_id("live_job"), **job}
        self.write_json(self.store("live_job", job, project["id"], project["id"], job["yaml_id"]), 201)

    def put_live_jobs_replace(self) -> None:
        project, job = self._live_job_body()
        old = self.find("live_job", project["id"], job["yaml_id"])
        job = {"id": old["id"] if old else new_id("live_job"), **job}
        self.write_json(self.store("live_job", job, project["id"], project["id"], job["yaml_id"]), 201)

    def get_live_jobs_by_yaml_id(self) -> None:
        project = self.project(self.arg("project_id"))
        job = self.find("live_job", project["id"], self.arg("yaml_id"))
        if job is None:
            raise _missing(f"Live job {self.arg('yaml_id')!r} of flow project {project['name']!r}")
        self.write_json(job)

    def get_live_jobs_one(self, job_id: str) -> None:
        self.write_json(self.record("live_job", job_id))

    # -- bakes

    def _with_last_attempt(self, bake: dict) -> dict:
        if self.get_query_argument("fetch_last_attempt", "") in ("1", "true", "True"):
            bake = {**bake, "last_attempt": self.find_attempt(bake["id"], -1)}
        return bake

    def find_attempt(self, bake_id: str, number: int) -> dict | None:
        if number == -1:
            row = self.platform.db.execute(
                "SELECT data FROM flow_records WHERE kind = 'attempt' AND parent = ? "
                "ORDER BY CAST(key AS INTEGER) DESC LIMIT 1", (bake_id,)).fetchone()
            return json.loads(row["data"]) if row else None
        return self.find("attempt", bake_id, str(number))

    def get_bakes(self) -> None:
        project_id = self.parent_or_none("project", self.arg("project_id"))
        if project_id is None:
            return self.write_list([])
        tags = set(self.get_query_arguments("tags"))
        name = self.arg("name", required=False)
        bounds = []
        for key, test in (("since", lambda at, v: at >= v), ("until", lambda at, v: at <= v)):
            value = self.arg(key, required=False)
            if value:
                try:
                    bounds.append((test, iso(parse_iso(value))))
                except ValueError:
                    raise _bad(f"Invalid {key}={value!r}: use an ISO 8601 date-time") from None
        reverse = self.get_query_argument("reverse", "") in ("1", "true", "True")
        bakes = (b for b in self.children("bake", project_id, reverse=reverse)
                 if tags <= set(b["tags"]) and (not name or b.get("name") == name)
                 and all(test(b["created_at"], v) for test, v in bounds))
        self.write_list(self._with_last_attempt(b) for b in bakes)

    def post_bakes(self) -> None:
        body = Body(self.json_body(), "bake")
        project = self.project(body.str("project_id"), "write")
        params = body.mapping("params")
        bake = {"id": new_id("bake"), "project_id": project["id"], "batch": body.str("batch"),
                "created_at": body.time("created_at"), "graphs": _graphs(body), "params": params,
                "name": body.str("name", required=False), "tags": body.strings("tags", default=[]),
                "meta": {"git_info": _git_info(body)}}
        self.write_json(self.store("bake", bake, project["id"], project["id"], bake["name"]), 201)

    def get_bakes_by_name(self) -> None:
        project = self.project(self.arg("project_id"))
        bake = self.find("bake", project["id"], self.arg("name"), latest=True)
        if bake is None:
            raise _missing(f"Bake {self.arg('name')!r} of flow project {project['name']!r}")
        self.write_json(self._with_last_attempt(bake))

    def get_bakes_one(self, bake_id: str) -> None:
        self.write_json(self._with_last_attempt(self.record("bake", bake_id)))

    # -- attempts

    def _attempt_body(self, action: str) -> tuple[dict, dict]:
        body = Body(self.json_body(), "attempt")
        bake = self.record("bake", body.str("bake_id"), action)
        number = body.data.get("number")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
            raise _bad("'number' of the attempt must be a whole number >= 1")
        return bake, {"bake_id": bake["id"], "number": number, "result": body.choice("result", TASK_STATUSES),
                      "configs_meta": _configs_meta(body), "executor_id": body.str("executor_id", required=False)}

    def get_attempts(self) -> None:
        bake_id = self.arg("bake_id")
        self.write_list(self.children("attempt", bake_id) if self.parent_or_none("bake", bake_id) else [])

    def post_attempts(self) -> None:
        bake, attempt = self._attempt_body("write")
        if attempt["number"] is None:
            last = self.find_attempt(bake["id"], -1)
            attempt["number"] = last["number"] + 1 if last else 1
        if self.find_attempt(bake["id"], attempt["number"]):
            raise self.conflict("Attempt with such bake and number exists")
        attempt = {"id": new_id("attempt"), "created_at": now_iso(), **attempt}
        self.write_json(self.store("attempt", attempt, bake["project_id"], bake["id"], str(attempt["number"])), 201)

    def put_attempts_replace(self) -> None:
        bake, update = self._attempt_body("write")
        attempt = self.find_attempt(bake["id"], update["number"] or -1)
        if attempt is None:
            raise _missing(f"Attempt {update['number']} of bake {bake['id']!r}")
        attempt.update(result=update["result"], executor_id=update["executor_id"])
        self.write_json(self.store("attempt", attempt, bake["project_id"], bake["id"], str(attempt["number"])))

    def get_attempts_by_number(self) -> None:
        bake = self.record("bake", self.arg("bake_id"))
        try:
            number = int(self.arg("number"))
        except ValueError:
            raise _bad("'number' must be a whole number (-1 = the last attempt)") from None
        attempt = self.find_attempt(bake["id"], number)
        if attempt is None:
            raise _missing(f"Attempt {number} of bake {bake['id']!r}")
        self.write_json(attempt)

    def get_attempts_one(self, attempt_id: str) -> None:
        self.write_json(self.record("attempt", attempt_id))

    # -- tasks

    def _task_body(self) -> tuple[dict, dict]:
        body = Body(self.json_body(), "task")
        attempt = self.record("attempt", body.str("attempt_id"), "write")
        raw_id = body.data.get("raw_id")
        if raw_id is not None and not isinstance(raw_id, str):
            raise _bad("'raw_id' of the task must be a string (empty: no job)")
        return attempt, {"yaml_id": body.str("yaml_id"), "attempt_id": attempt["id"], "raw_id": raw_id,
                         "outputs": body.mapping("outputs"), "state": body.mapping("state"),
                         "statuses": _statuses(body)}

    def _task_project(self, attempt: dict) -> str:
        return self.platform.db.execute("SELECT flow_project FROM flow_records WHERE id = ?",
                                        (attempt["id"],)).fetchone()["flow_project"]

    def get_tasks(self) -> None:
        attempt_id = self.arg("attempt_id")
        self.write_list(self.children("task", attempt_id) if self.parent_or_none("attempt", attempt_id) else [])

    def post_tasks(self) -> None:
        attempt, task = self._task_body()
        if self.find("task", attempt["id"], task["yaml_id"]):
            raise self.conflict("Task already exists")
        task = {"id": new_id("task"), **task}
        self.store("task", task, self._task_project(attempt), attempt["id"], task["yaml_id"])
        self.write_json(task, 201)

    def put_tasks_replace(self) -> None:
        attempt, update = self._task_body()
        task = self.find("task", attempt["id"], update["yaml_id"])
        if task is None:
            raise _missing(f"Task {update['yaml_id']!r} of attempt {attempt['id']!r}")
        task.update({k: update[k] for k in ("raw_id", "outputs", "state", "statuses")})
        self.write_json(self.store("task", task, self._task_project(attempt), attempt["id"], task["yaml_id"]))

    def get_tasks_by_yaml_id(self) -> None:
        attempt = self.record("attempt", self.arg("attempt_id"))
        task = self.find("task", attempt["id"], self.arg("yaml_id"))
        if task is None:
            raise _missing(f"Task {self.arg('yaml_id')!r} of attempt {attempt['id']!r}")
        self.write_json(task)

    def get_tasks_one(self, task_id: str) -> None:
        self.write_json(self.record("task", task_id))

    # -- config files, bake images, cache entries

    def post_config_files(self) -> None:
        body = Body(self.json_body(), "config file")
        bake = self.record("bake", body.str("bake_id"), "write")
        content = body.data.get("content")
        if not isinstance(content, str):
            raise _bad("'content' of the config file must be a string")
        config = {"id": new_id("config_file"), "bake_id": bake["id"], "filename": body.str("filename"),
                  "content": content}
        self.write_json(self.store("config_file", config, bake["project_id"], bake["id"], None), 201)

    def get_config_files_one(self, config_id: str) -> None:
        self.write_json(self.record("config_file", config_id))

    def get_bake_images(self) -> None:
        bake_id = self.arg("bake_id")
        self.write_list(self.children("bake_image", bake_id) if self.parent_or_none("bake", bake_id) else [])

    def post_bake_images(self) -> None:
        body = Body(self.json_body(), "bake image")
        bake = self.record("bake", body.str("bake_id"), "write")
        yaml_defs = body.strings("yaml_defs")
        if not yaml_defs:
            raise _bad("'yaml_defs' of the bake image must list at least one definition")
        ref = body.str("ref")
        if self.find("bake_image", bake["id"], ref):
            raise self.conflict("Bake image with such ref exists")
        prefix, _, yaml_id = yaml_defs[0].rpartition(".")
        image = {"id": new_id("bake_image"), "bake_id": bake["id"], "ref": ref, "yaml_defs": yaml_defs,
                 "status": body.choice("status", IMAGE_STATUSES), "prefix": prefix, "yaml_id": yaml_id,
                 **{k: body.str(k, required=False) for k in ("context_on_storage", "dockerfile_rel", "builder_job_id")}}
        self.write_json(self.store("bake_image", image, bake["project_id"], bake["id"], ref), 201)

    def get_bake_images_by_ref(self) -> None:
        bake = self.record("bake", self.arg("bake_id"))
        image = self.find("bake_image", bake["id"], self.arg("ref"))
        if image is None:
            raise _missing(f"Bake image {self.arg('ref')!r} of bake {bake['id']!r}")
        self.write_json(image)

    def get_bake_images_one(self, image_id: str) -> None:
        self.write_json(self.record("bake_image", image_id))

    def patch_bake_images_one(self, image_id: str) -> None:
        image = self.record("bake_image", image_id, "write")
        body = Body(self.json_body(), "bake image update")
        if "status" in body.data:
            image["status"] = body.choice("status", IMAGE_STATUSES)
        if "builder_job_id" in body.data:
            image["builder_job_id"] = body.str("builder_job_id", required=False)
        bake = self.record("bake", image["bake_id"], "write")
        self.write_json(self.store("bake_image", image, bake["project_id"], bake["id"], image["ref"]))

    @staticmethod
    def _cache_key(batch: str, task_id: str, key: str) -> str:
        return json.dumps([batch, task_id, key])

    def post_cache_entries(self) -> None:
        body = Body(self.json_body(), "cache entry")
        project = self.project(body.str("project_id"), "write")
        entry = {"id": new_id("cache_entry"), "project_id": project["id"], "batch": body.str("batch"),
                 "task_id": body.str("task_id"), "key": body.str("key"), "created_at": body.time("created_at"),
                 "raw_id": body.str("raw_id", required=False) or "",
                 "outputs": body.mapping("outputs", nullable=False), "state": body.mapping("state", nullable=False)}
        key = self._cache_key(entry["batch"], entry["task_id"], entry["key"])
        old = self.find("cache_entry", project["id"], key)
        if old:  # a newer result of the same task replaces the cached one
            self.platform.db.execute("DELETE FROM flow_records WHERE id = ?", (old["id"],))
        self.write_json(self.store("cache_entry", entry, project["id"], project["id"], key), 201)

    def get_cache_entries_by_key(self) -> None:
        project = self.project(self.arg("project_id"))
        entry = self.find("cache_entry", project["id"],
                          self._cache_key(self.arg("batch"), self.arg("task_id"), self.arg("key")))
        if entry is None:
            raise _missing("Cache entry")
        self.write_json(entry)

    def get_cache_entries_one(self, entry_id: str) -> None:
        self.write_json(self.record("cache_entry", entry_id))

    def delete_cache_entries(self) -> None:
        project = self.project(self.arg("project_id"), "write")
        batch, task_id = self.arg("batch", required=False), self.arg("task_id", required=False)
        for entry in list(self.children("cache_entry", project["id"])):
            if (not batch or entry["batch"] == batch) and (not task_id or entry["task_id"] == task_id):
                self.platform.db.execute("DELETE FROM flow_records WHERE id = ?", (entry["id"],))
        self.no_content()


COLLECTIONS = ("projects", "live_jobs", "bakes", "attempts", "tasks", "config_files", "bake_images", "cache_entries")


def routes(platform: Platform) -> list:
    return [(rf"/api/v1/flow/({'|'.join(COLLECTIONS)})(?:/([^/]+))?/?", FlowHandler, {"platform": platform})]
