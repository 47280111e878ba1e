"""Persistent state of the embedded platform: one root directory holding

- ``platform.db``: SQLite (WAL) with users, roles, projects, memberships, permissions and jobs;
- ``secret``: the HS256 signing key for bearer tokens (mode 0600);
- ``storage/<org>/<project>/...``: the storage service's files;
- ``jobs/<job-id>/``: each job's sandbox and captured log.

Everything under the root is private to the OS user: files 0600 and folders 0700 (the
database holds job envs with passed-config tokens), whatever the umask (``make_private``).

The object is used from the tornado loop thread only; SQLite calls are short and synchronous.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import stat
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
-- the flow API (flow_api.py): flow projects, and everything inside one as JSON records
CREATE TABLE IF NOT EXISTS flow_projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,             -- the flow's id from project.yml (yaml_id)
    project_name TEXT NOT NULL,     -- the platform project holding it
    data TEXT NOT NULL,             -- the project JSON as served
    UNIQUE (project_name, name)
);
CREATE TABLE IF NOT EXISTS flow_records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,             -- live_job | bake | attempt | task | config_file | bake_image | cache_entry
    flow_project TEXT NOT NULL,     -- flow_projects.id, for permission checks and cascading deletes
    parent TEXT NOT NULL,           -- the project, bake or attempt it belongs to
    key TEXT,                       -- its name within the parent (yaml_id, bake name, attempt number, ...)
    created_at TEXT NOT NULL,       -- ISO 8601, sortable
    data TEXT NOT NULL              -- the record JSON as served
);
CREATE INDEX IF NOT EXISTS flow_records_by_parent ON flow_records (kind, parent, key, created_at);
CREATE INDEX IF NOT EXISTS flow_records_by_project ON flow_records (flow_project);
"""

# Every table ``effective_grants`` reads bumps ``acl_version`` on any change, from any process
# (the CLI's ``token``/``add-project-user`` write while the platform serves): the cached
# permission trees are valid while it stays the same.
ACL_TABLES = ("principals", "projects", "members", "permissions")
ACL_VERSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS acl_version (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL);
INSERT OR IGNORE INTO acl_version (id, n) VALUES (0, 0);
""" + "".join(
    f"CREATE TRIGGER IF NOT EXISTS {table}_{event.lower()}_acl AFTER {event} ON {table} "
    "BEGIN UPDATE acl_version SET n = n + 1 WHERE id = 0; END;\n"
    for table in ACL_TABLES for event in ("INSERT", "UPDATE", "DELETE")
)
DB_NAME = "platform.db"  # and its -wal, -shm
_TREE_CACHE_SIZE = 256  # principals whose permission tree is kept between requests
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700

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
        self.root.mkdir(PRIVATE_DIR, parents=True, exist_ok=True)
        self.storage_root = self.root / "storage"
        self.jobs_root = self.root / "jobs"
        self.storage_root.mkdir(PRIVATE_DIR, exist_ok=True)
        self.jobs_root.mkdir(PRIVATE_DIR, exist_ok=True)
        (self.storage_root / org).mkdir(PRIVATE_DIR, exist_ok=True)
        self.secret = self._load_secret()
        # SQLite creates the WAL and SHM files with the database file's mode: make that 0600 first.
        # (Only when missing: closing a descriptor of an open database drops this process's locks.)
        try:
            os.close(os.open(self.root / DB_NAME, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE))
        except FileExistsError:
            pass
        self.db = sqlite3.connect(self.root / DB_NAME, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.db.executescript(ACL_VERSION_SCHEMA)
        self._trees: dict[str, tuple[int, acl.PermissionTree]] = {}

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
        (self.storage_root / self.org / project).mkdir(PRIVATE_DIR, parents=True, exist_ok=True)

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
        grants = [(f"user://{user}", "read"), (f"role://{user}", "manage"),
                  (f"cluster://{self.cluster}/access", "read")]
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
                        out.extend(acl.project_role_grants(member, PROJECT_SCHEMES,
                                                           f"{self.cluster}/{self.org}/{project[1]}"))
        return out

    def tree(self, principal: str) -> acl.PermissionTree:
        """A ``PermissionTree`` of ``principal``'s effective grants, shared between requests
        until any grant, role, user or membership changes (``acl_version``): read it, never
        ``add`` to it. Costs one SQLite lookup when cached, one pass over the grants otherwise."""
        version = self.db.execute("SELECT n FROM acl_version WHERE id = 0").fetchone()[0]
        cached = self._trees.get(principal)
        if cached and cached[0] == version:
            return cached[1]
        tree = acl.PermissionTree(self.effective_grants(principal))
        if len(self._trees) >= _TREE_CACHE_SIZE:
            self._trees.clear()  # changes clear it anyway; this only bounds memory
        self._trees[principal] = (version, tree)
        return tree

    def grant(self, principal: str, uri: str, action: str, *, by: str) -> str:
        """Grant ``action`` on ``uri`` to ``principal`` on behalf of ``by``; returns the
        principal's effective action on ``uri`` afterwards (may be higher than asked).

        Raises ``PlatformError`` as ``grant_many`` does.
        """
        return self.grant_many(principal, [(uri, action)], by=by)[0]

    def grant_many(self, principal: str, grants: list[tuple[str, str]], *, by: str) -> list[str]:
        """Grant each ``(uri, action)`` to ``principal`` on behalf of ``by``, all or none, in one
        transaction and in time linear in ``len(grants)``; returns the principal's effective
        action on each URI once all are applied (may be higher than asked).

        Raises ``PlatformError`` 404 for an unknown principal, 400 for a bad action or URI,
        403 (``missing``: the first URI) when ``by`` lacks ``manage`` on a URI.
        """
        if grants and not self.principal_kind(principal):
            raise PlatformError(404, f'user "{principal}" was not found')
        for uri, action in grants:
            if action not in ("read", "write", "manage"):
                raise PlatformError(400, f"Invalid action {action!r}: use read, write or manage")
            _check_uri(uri)
        self._require_manage(by, [uri for uri, _ in grants])
        wanted: dict[str, str] = {}
        for uri, action in grants:
            wanted[uri] = acl.max_action(wanted.get(uri), action) or action
        with self.db:
            self.db.execute("BEGIN")
            held = dict(self.db.execute(
                "SELECT uri, action FROM permissions WHERE principal = ?", (principal,)).fetchall())
            self.db.executemany(
                "INSERT OR REPLACE INTO permissions (principal, uri, action, granted_by) VALUES (?, ?, ?, ?)",
                [(principal, uri, acl.max_action(held.get(uri), action), by) for uri, action in wanted.items()],
            )
        tree = self.tree(principal)
        return [tree.action_for(uri) for uri, _ in grants]

    def revoke(self, principal: str, uri: str, *, by: str) -> None:
        """Remove ``principal``'s own grant on exactly ``uri``; raises as ``revoke_many`` does."""
        self.revoke_many(principal, [uri], by=by)

    def revoke_many(self, principal: str, uris: list[str], *, by: str) -> None:
        """Remove ``principal``'s own grants on exactly ``uris``, all or none, in one transaction.

        Raises ``PlatformError`` 404 unknown principal, 400 bad URI, 403 without manage, 400
        ``Operation has no effect`` when one URI holds no such grant (as platform-auth answers).
        """
        for uri in uris:
            _check_uri(uri)
        if not self.principal_kind(principal):
            raise PlatformError(404, f'user "{principal}" was not found')
        self._require_manage(by, uris)
        with self.db:
            self.db.execute("BEGIN")
            for uri in dict.fromkeys(uris):
                cur = self.db.execute("DELETE FROM permissions WHERE principal = ? AND uri = ?", (principal, uri))
                if cur.rowcount == 0:
                    raise PlatformError(400, "Operation has no effect")  # rolls back the others

    def _require_manage(self, user: str, uris: list[str]) -> None:
        tree = self.tree(user)
        for uri in uris:
            if not tree.allows(uri, "manage"):
                raise PlatformError(403, f"Not enough permissions: manage on {uri} is required",
                                    missing=[{"uri": uri, "action": "manage"}])

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


def make_private(root: str | os.PathLike[str]) -> int:
    """Drop group and other bits from every file and folder below a platform ``root`` (and
    ``root``), for data an older version or a looser umask left readable to others; symlinks
    are neither followed nor changed. Each entry is opened ``O_NOFOLLOW`` and changed through
    its descriptor, so an entry swapped for a symlink meanwhile is left alone. The database
    files are changed by name, never opened: closing a descriptor of a file drops every SQLite
    lock this process holds on it. Returns how many modes changed; entries that vanish or
    cannot be opened are skipped."""
    if not os.path.isdir(root):
        return 0  # a first start: Platform() creates it private
    changed = 0
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    top = True
    for _, _, files, dir_fd in os.fwalk(root, follow_symlinks=False):
        changed += _private(dir_fd)
        for name in files:
            if top and name.startswith(DB_NAME):
                changed += _private_by_name(name, dir_fd)
                continue
            try:
                fd = os.open(name, flags, dir_fd=dir_fd)
            except OSError:  # a symlink (ELOOP), gone, or unreadable to its owner
                continue
            try:
                changed += _private(fd)
            finally:
                os.close(fd)
        top = False
    return changed


def _private_by_name(name: str, dir_fd: int) -> int:
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
        os.chmod(name, stat.S_IMODE(st.st_mode) & 0o700, dir_fd=dir_fd)
        return 1
    return 0


def _private(fd: int) -> int:
    mode = os.fstat(fd).st_mode
    if mode & 0o077:
        os.fchmod(fd, stat.S_IMODE(mode) & 0o700)  # the owner's bits kept, group and other dropped
        return 1
    return 0


def _uri_has_prefix(uri: str, prefix: str) -> bool:
    if prefix.endswith(":"):  # "storage:" = the whole scheme
        return uri.startswith(prefix + "//")
    if uri == prefix:
        return True
    return uri.startswith(prefix.rstrip("/") + "/")
