"""Persistent state of the embedded platform: one root directory holding

- ``platform.db``: SQLite (WAL) with users, roles, projects, memberships, permissions and jobs;
- ``secret``: the HS256 signing key for bearer tokens (mode 0600);
- ``storage/<org>/<project>/...``: the storage service's files;
- ``jobs/<job-id>/``: each job's sandbox and captured log.

The object is used from the tornado loop thread only; SQLite calls are short and synchronous.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from . import acl

SCHEMA = """
CREATE TABLE IF NOT EXISTS principals (
    name TEXT PRIMARY KEY,          -- 'alice' or a role such as 'alice/roles/team'
    kind TEXT NOT NULL,             -- 'user' | 'role'
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    project TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,             -- reader | writer | manager | admin
    PRIMARY KEY (project, user)
);
CREATE TABLE IF NOT EXISTS permissions (
    principal TEXT NOT NULL,
    uri TEXT NOT NULL,
    action TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    PRIMARY KEY (principal, uri)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT,
    org_name TEXT NOT NULL,
    project_name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,       -- ISO 8601, sortable
    data TEXT NOT NULL              -- the job JSON as served (history, statuses, container, ...)
);
CREATE INDEX IF NOT EXISTS jobs_by_project ON jobs (org_name, project_name, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_name ON jobs (name);
"""

PROJECT_ROLES = {"reader": "read", "writer": "write", "manager": "manage", "admin": "manage"}
# Schemes a project member gets on ``<scheme>://<cluster>/<org>/<project>``.
PROJECT_SCHEMES = ("storage", "job", "image", "secret", "disk", "blob", "flow")
_NAME_RE = re.compile(r"\A[a-z](?:-?[a-z0-9])*\Z")


class PlatformError(Exception):
    """An error the API answers with ``status`` and JSON ``{"error": message, ...extra}``."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def check_name(kind: str, name: str) -> str:
    """Validate a user or project name (lower-case letters, digits, single dashes; 3..40
    characters, starting with a letter, as platform names are). Raises ``PlatformError(400)``."""
    if not (3 <= len(name) <= 40) or not _NAME_RE.match(name):
        raise PlatformError(
            400,
            f"Invalid {kind} name {name!r}: use 3-40 lower-case letters, digits and single dashes, "
            "starting with a letter",
        )
    return name


class Platform:
    """The embedded platform's state under ``root``.

    ``cluster`` and ``org`` name the single cluster and organisation this platform serves.
    Raises ``OSError`` when ``root`` cannot be created.
    """

    def __init__(self, root: str | os.PathLike[str], *, cluster: str = "default", org: str = "local"):
        self.root = Path(root).resolve()
        self.cluster = cluster
        self.org = org
        self.root.mkdir(parents=True, exist_ok=True)
        self.storage_root = self.root / "storage"
        self.jobs_root = self.root / "jobs"
        self.storage_root.mkdir(exist_ok=True)
        self.jobs_root.mkdir(exist_ok=True)
        (self.storage_root / org).mkdir(exist_ok=True)
        self.secret = self._load_secret()
        self.db = sqlite3.connect(self.root / "platform.db", isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def _load_secret(self) -> bytes:
        path = self.root / "secret"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    # -- principals and projects -------------------------------------------------------------

    def principal_kind(self, name: str) -> str | None:
        """``'user'``, ``'role'`` or ``None`` when ``name`` is unknown."""
        row = self.db.execute("SELECT kind FROM principals WHERE name = ?", (name,)).fetchone()
        return row["kind"] if row else None

    def ensure_user(self, name: str) -> bool:
        """Create user ``name`` with a personal project of the same name (its owner is admin).

        Returns True when the user was created. Raises ``PlatformError(400)`` for a bad name.
        """
        check_name("user", name)
        if self.principal_kind(name) == "user":
            return False
        if self.principal_kind(name) == "role":
            raise PlatformError(400, f"{name!r} is a role, not a user")
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO principals (name, kind, created_at) VALUES (?, 'user', ?)", (name, time.time())
            )
        if self.project_owner(name) is None:
            self.create_project(name, owner=name)
        return True

    def add_role(self, name: str, *, by: str) -> None:
        """Create role ``name`` (``<user>/roles/<role>``) on behalf of ``by``.

        Raises ``PlatformError`` 400 for a malformed name or an existing principal, 403 when
        ``by`` may not create it (only ``<by>/roles/...`` roles are allowed).
        """
        parts = name.split("/")
        if len(parts) != 3 or parts[1] != "roles" or not parts[2]:
            raise PlatformError(400, f"Invalid role name {name!r}: use <user>/roles/<name>")
        if parts[0] != by:
            raise PlatformError(403, f"User {by!r} cannot create role {name!r}")
        if self.principal_kind(name):
            raise PlatformError(400, f"Principal {name!r} already exists")
        self.db.execute(
            "INSERT INTO principals (name, kind, created_at) VALUES (?, 'role', ?)", (name, time.time())
        )

    def remove_role(self, name: str, *, by: str) -> None:
        """Delete role ``name`` and its grants. Raises ``PlatformError`` 404 unknown, 403 not owner."""
        if self.principal_kind(name) != "role":
            raise PlatformError(404, f'user "{name}" was not found')
        if name.split("/")[0] != by:
            raise PlatformError(403, f"User {by!r} cannot remove role {name!r}")
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM principals WHERE name = ?", (name,))
            self.db.execute("DELETE FROM permissions WHERE principal = ?", (name,))
            self.db.execute("DELETE FROM permissions WHERE uri = ?", (f"role://{name}",))

    def project_owner(self, project: str) -> str | None:
        """The user who created ``project``, or None when there is no such project."""
        row = self.db.execute("SELECT owner FROM projects WHERE name = ?", (project,)).fetchone()
        return row["owner"] if row else None

    def create_project(self, project: str, *, owner: str) -> None:
        """Create ``project`` in this platform's org with ``owner`` as its admin, and its storage
        folder. Raises ``PlatformError(400)`` for a bad name, ``PlatformError(409)`` if it exists."""
        check_name("project", project)
        if self.project_owner(project) is not None:
            raise PlatformError(409, f"Project {project!r} already exists")
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO projects (name, owner, created_at) VALUES (?, ?, ?)", (project, owner, time.time())
            )
            self.db.execute(
                "INSERT OR REPLACE INTO members (project, user, role) VALUES (?, ?, 'admin')", (project, owner)
            )
        (self.storage_root / self.org / project).mkdir(parents=True, exist_ok=True)

    def add_project_user(self, project: str, user: str, role: str = "writer") -> None:
        """Make ``user`` a member of ``project`` with ``role`` (reader|writer|manager|admin),
        as ``apolo admin add-project-user`` does. Raises ``PlatformError(404/400)``."""
        if self.project_owner(project) is None:
            raise PlatformError(404, f"Project {project!r} was not found")
        if self.principal_kind(user) != "user":
            raise PlatformError(404, f'user "{user}" was not found')
        if role not in PROJECT_ROLES:
            raise PlatformError(400, f"Invalid project role {role!r}: use one of {', '.join(PROJECT_ROLES)}")
        self.db.execute("INSERT OR REPLACE INTO members (project, user, role) VALUES (?, ?, ?)", (project, user, role))

    def projects_of(self, user: str) -> list[dict[str, str]]:
        """``[{"name", "role"}]`` for the projects ``user`` belongs to, by name."""
        rows = self.db.execute(
            "SELECT project, role FROM members WHERE user = ? ORDER BY project", (user,)
        ).fetchall()
        return [{"name": r["project"], "role": r["role"]} for r in rows]

    # -- permissions --------------------------------------------------------------------------

    def direct_grants(self, principal: str) -> list[tuple[str, str]]:
        """``(uri, action)`` granted to ``principal`` itself, by URI."""
        rows = self.db.execute(
            "SELECT uri, action FROM permissions WHERE principal = ? ORDER BY uri", (principal,)
        ).fetchall()
        return [(r["uri"], r["action"]) for r in rows]

    def implicit_grants(self, user: str) -> list[tuple[str, str]]:
        """Grants a user holds by being a user: project memberships, own user and role space."""
        grants = [(f"user://{user}", "read"), (f"role://{user}", "manage"), (f"cluster://{self.cluster}/access", "read")]
        for project in self.projects_of(user):
            action = PROJECT_ROLES[project["role"]]
            base = f"{self.cluster}/{self.org}/{project['name']}"
            grants.extend((f"{scheme}://{base}", action) for scheme in PROJECT_SCHEMES)
        return grants

    def effective_grants(self, principal: str) -> list[tuple[str, str]]:
        """Everything ``principal`` holds: direct grants, implicit ones for users, and the
        grants of every role it holds (``role://<role>`` at read or above), transitively."""
        seen: set[str] = set()
        out: list[tuple[str, str]] = []
        todo = [principal]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            grants = self.direct_grants(name)
            if self.principal_kind(name) == "user":
                grants = grants + self.implicit_grants(name)
            for uri, action in grants:
                out.append((uri, action))
                if uri.startswith("role://") and acl.action_rank(action) >= acl.action_rank("read"):
                    role = uri[len("role://"):].strip("/")
                    if self.principal_kind(role) == "role":
                        todo.append(role)
                    elif project := acl.project_role(role):  # role://<owner>/projects/<project> (issue 15)
                        member = {p["name"]: p["role"] for p in self.projects_of(project[0])}.get(project[1])
                        out.extend(acl.project_role_grants(member, PROJECT_SCHEMES, f"{self.cluster}/{self.org}/{project[1]}"))
        return out

    def tree(self, principal: str) -> acl.PermissionTree:
        """A ``PermissionTree`` of ``principal``'s effective grants (build once per request)."""
        return acl.PermissionTree(self.effective_grants(principal))

    def grant(self, principal: str, uri: str, action: str, *, by: str) -> str:
        """Grant ``action`` on ``uri`` to ``principal`` on behalf of ``by``; returns the
        principal's effective action on ``uri`` afterwards (may be higher than asked).

        Raises ``PlatformError`` 404 for an unknown principal, 403 when ``by`` lacks ``manage``
        on ``uri``, 400 for a bad action or URI.
        """
        if action not in ("read", "write", "manage"):
            raise PlatformError(400, f"Invalid action {action!r}: use read, write or manage")
        _check_uri(uri)
        if not self.principal_kind(principal):
            raise PlatformError(404, f'user "{principal}" was not found')
        if not self.tree(by).allows(uri, "manage"):
            raise PlatformError(403, f"Not enough permissions: manage on {uri} is required", missing=[{"uri": uri, "action": "manage"}])
        current = self.db.execute(
            "SELECT action FROM permissions WHERE principal = ? AND uri = ?", (principal, uri)
        ).fetchone()
        stored = acl.max_action(current["action"] if current else None, action)
        self.db.execute(
            "INSERT OR REPLACE INTO permissions (principal, uri, action, granted_by) VALUES (?, ?, ?, ?)",
            (principal, uri, stored, by),
        )
        return self.tree(principal).action_for(uri)

    def revoke(self, principal: str, uri: str, *, by: str) -> None:
        """Remove ``principal``'s own grant on exactly ``uri``.

        Raises ``PlatformError`` 404 unknown principal, 403 without manage, 400
        ``Operation has no effect`` when there is no such grant (as platform-auth answers).
        """
        _check_uri(uri)
        if not self.principal_kind(principal):
            raise PlatformError(404, f'user "{principal}" was not found')
        if not self.tree(by).allows(uri, "manage"):
            raise PlatformError(403, f"Not enough permissions: manage on {uri} is required", missing=[{"uri": uri, "action": "manage"}])
        cur = self.db.execute("DELETE FROM permissions WHERE principal = ? AND uri = ?", (principal, uri))
        if cur.rowcount == 0:
            raise PlatformError(400, "Operation has no effect")

    def shared_by(self, user: str, prefix: str | None = None) -> list[dict[str, str]]:
        """Grants to other principals on URIs ``user`` manages: ``[{"uri","action","user"}]``,
        optionally only those whose URI starts with ``prefix``."""
        tree = self.tree(user)
        rows = self.db.execute(
            "SELECT principal, uri, action FROM permissions WHERE principal != ? ORDER BY uri, principal", (user,)
        ).fetchall()
        out = []
        for r in rows:
            if prefix and not _uri_has_prefix(r["uri"], prefix):
                continue
            if tree.allows(r["uri"], "manage"):
                out.append({"uri": r["uri"], "action": r["action"], "user": r["principal"]})
        return out

    # -- jobs ---------------------------------------------------------------------------------

    def save_job(self, job: dict[str, Any]) -> None:
        """Insert or replace the job record ``job`` (the job JSON as served)."""
        self.db.execute(
            "INSERT OR REPLACE INTO jobs (id, owner, name, org_name, project_name, status, created_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job["id"], job["owner"], job.get("name"), job["org_name"], job["project_name"],
                job["status"], job["history"]["created_at"], json.dumps(job),
            ),
        )

    def load_job(self, job_id: str) -> dict[str, Any] | None:
        """The stored job JSON for ``job_id``, or None."""
        row = self.db.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row["data"]) if row else None

    def iter_jobs(self, where: str = "", params: Iterable[Any] = ()) -> Iterable[dict[str, Any]]:
        """Stored jobs matching an SQL ``where`` clause over the jobs columns, oldest first,
        yielded one by one (never the whole table in memory)."""
        sql = "SELECT data FROM jobs" + (f" WHERE {where}" if where else "") + " ORDER BY created_at, id"
        for row in self.db.execute(sql, tuple(params)):
            yield json.loads(row["data"])


def _check_uri(uri: str) -> None:
    try:
        scheme, _ = acl.split_uri(uri)
    except ValueError as exc:
        raise PlatformError(400, str(exc)) from None
    if not scheme.isalpha():
        raise PlatformError(400, f"Invalid URI scheme in {uri!r}")


def _uri_has_prefix(uri: str, prefix: str) -> bool:
    if prefix.endswith(":"):  # "storage:" = the whole scheme
        return uri.startswith(prefix + "//")
    if uri == prefix:
        return True
    return uri.startswith(prefix.rstrip("/") + "/")
