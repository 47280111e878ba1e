"""Surface-neutral presentation, shared by the magics and the widgets (never importing either):

- result objects: ``Table``, ``Record``, ``Message``; returned to code (``jobs = %apolo ps``) and shown
  by IPython as HTML in notebooks (``_repr_html_``) or a text grid in terminals (``__repr__``);
  rendering is capped at ``limit`` rows (the rest summarised), the objects always hold every item;
- the column sets: ``JOB_COLUMNS`` (``apolo ps``'s, picked with ``job_columns``) and ``file_columns``
  (``apolo ls [-l]``'s);
- the share wording: what each level lets a teammate do (``capabilities``), and the sentences a share
  answers with (``share_lines``).

Imports nothing from IPython, ipywidgets, tornado or Jupyter (a test checks it).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Callable, Iterable, Iterator, Sequence

from .client.errors import InvalidInput
from .client.jobs import JOB_ID, Job
from .client.permissions import ACTIONS, Access, ShareResult
from .client.storage import FileStatus

Column = tuple[str, Callable[[Any], Any]]  # (header, item -> cell value)


def fmt_cell(value: Any) -> str:
    """A cell as text: ``None`` -> empty, datetimes in UTC without microseconds, lists joined."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(fmt_cell(v) for v in value)
    return str(value)


class Table:
    """A list of ``items`` shown through ``columns`` (``[(header, getter)]``).

    Behaves as a read-only sequence of its items: ``len``, iteration, ``[int]`` and slices.
    ``title`` (optional) is printed above the grid; ``limit`` caps the rendered rows; ``more_hint``
    ends the "... N more" line (how this surface shows the rest).
    """

    def __init__(self, items: Iterable[Any], columns: Sequence[Column], *, title: str = "",
                 limit: int = 100, empty: str = "(nothing)", more_hint: str = "iterate the result"):
        self.items = list(items)
        self.columns = list(columns)
        self.title, self.limit, self.empty, self.more_hint = title, limit, empty, more_hint

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __getitem__(self, key: Any) -> Any:
        return self.items[key]

    def rows(self) -> list[list[str]]:
        """The rendered cells of the first ``limit`` items."""
        return [[fmt_cell(get(item)) for _, get in self.columns] for item in self.items[: self.limit]]

    def _more(self) -> str:
        hidden = len(self.items) - self.limit
        return f"... {hidden} more (of {len(self.items)}); {self.more_hint}" if hidden > 0 else ""

    def __repr__(self) -> str:
        if not self.items:
            return self.empty
        headers = [h for h, _ in self.columns]
        rows = self.rows()
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
        out = ([self.title] if self.title else []) + [line(headers)] + [line(r) for r in rows]
        if self._more():
            out.append(self._more())
        return "\n".join(out)

    def _repr_html_(self) -> str:
        esc = html.escape
        if not self.items:
            return f"<p>{esc(self.empty)}</p>"
        head = "".join(f"<th style='text-align:left'>{esc(h)}</th>" for h, _ in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{esc(c)}</td>" for c in row) + "</tr>"
            for row in self.rows()
        )
        caption = f"<caption style='text-align:left'>{esc(self.title)}</caption>" if self.title else ""
        more = f"<p>{esc(self._more())}</p>" if self._more() else ""
        table = f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        return f"<table class='jp-apolo-table'>{caption}{table}</table>{more}"


class Record:
    """One object shown as a two-column ``field | value`` table (``%apolo status``,
    ``%apolo whoami``). ``obj`` is the underlying client object; ``fields`` are ``[(label, value)]``.
    Attribute access falls through to ``obj``."""

    def __init__(self, obj: Any, fields: Sequence[tuple[str, Any]], *, title: str = ""):
        self.obj = obj
        self.fields = [(label, value) for label, value in fields if value not in (None, "", [], ())]
        self.title = title

    def __getattr__(self, name: str) -> Any:
        if name == "obj":  # not yet set (e.g. during unpickling)
            raise AttributeError(name)
        return getattr(self.obj, name)

    def _table(self) -> Table:
        return Table(self.fields, [("field", lambda f: f[0]), ("value", lambda f: f[1])], title=self.title)

    def __repr__(self) -> str:
        rows = [(label, fmt_cell(value)) for label, value in self.fields]
        width = max((len(label) for label, _ in rows), default=0)
        lines = [self.title] if self.title else []
        return "\n".join(lines + [f"{label.ljust(width)}  {value}" for label, value in rows])

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()


class Message:
    """A sentence (or a few) as a result: ``__repr__`` is the text, ``_repr_html_`` a paragraph.
    ``data`` holds the structured outcome for code (e.g. the effective action of a share)."""

    def __init__(self, text: str, **data: Any):
        self.text = text
        self.data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return "".join(f"<p>{html.escape(p)}</p>" for p in self.text.split("\n") if p)


# -- column sets ----------------------------------------------------------------------------------

#: Job columns by name -> (header, Job -> value): ``apolo ps --format`` names (reference §6.2).
JOB_COLUMNS: dict[str, Column] = {
    "id": ("ID", lambda j: j.id),
    "name": ("NAME", lambda j: j.name),
    "status": ("STATUS", lambda j: j.status),
    "when": ("WHEN", lambda j: j.created_at),
    "created": ("CREATED", lambda j: j.created_at),
    "image": ("IMAGE", lambda j: j.image),
    "owner": ("OWNER", lambda j: j.owner),
    "project": ("PROJECT", lambda j: j.project),
    "preset": ("PRESET", lambda j: j.preset_name),
    "tags": ("TAGS", lambda j: j.tags),
    "command": ("COMMAND", lambda j: j.command),
    "uri": ("URI", lambda j: j.uri),
    "http_url": ("HTTP URL", lambda j: j.http_url),
    "description": ("DESCRIPTION", lambda j: j.raw.get("description")),
}
DEFAULT_JOB_COLUMNS = ["id", "name", "status", "when", "image", "owner", "command"]


def job_columns(names: Sequence[str]) -> list[Column]:
    """The columns for ``names`` (keys of ``JOB_COLUMNS``). Raises ``InvalidInput`` naming the
    unknown ones and the choices."""
    unknown = [n for n in names if n not in JOB_COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown ps column(s) {', '.join(unknown)}; choose from {', '.join(JOB_COLUMNS)}")
    return [JOB_COLUMNS[n] for n in names]


def job_details(job: Job) -> list[tuple[str, Any]]:
    """``apolo status``'s fields of ``job`` as ``[(label, value)]`` (empty values dropped by ``Record``)."""
    history = job.raw.get("history") or {}
    return [
        ("Job", job.id), ("Name", job.name), ("Owner", job.owner), ("Project", job.project),
        ("Status", job.status), ("Reason", history.get("reason")), ("Description", history.get("description")),
        ("Exit code", history.get("exit_code")), ("Image", job.image), ("Command", job.command),
        ("Preset", job.preset_name), ("Tags", job.tags), ("Created", job.created_at),
        ("Started", iso_time(history.get("started_at"))), ("Finished", iso_time(history.get("finished_at"))),
        ("Http URL", job.http_url), ("URI", job.uri),
    ]


def iso_time(value: Any) -> Any:
    """An ISO 8601 string from the platform as an aware datetime (shown like the other times);
    anything else unchanged."""
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def file_columns(long: bool, name: Callable[[FileStatus], Any] = lambda st: st.name) -> list[Column]:
    """``apolo ls`` columns: the name (``name`` picks how it is shown); with ``long`` also type,
    permission, size in bytes and modification time (UTC), as ``apolo ls -l``."""
    columns: list[Column] = [("NAME", name)]
    if long:
        columns = [("TYPE", lambda st: st.type.lower()), ("PERMISSION", lambda st: st.permission),
                   ("SIZE", lambda st: st.size), ("MODIFIED", lambda st: epoch_time(st.modified))] + columns
    return columns


def epoch_time(epoch: int) -> dt.datetime | None:
    """Epoch seconds as an aware UTC datetime; 0 (unknown) as None."""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc) if epoch else None


# -- share wording --------------------------------------------------------------------------------

#: What each level adds, per scheme (reference §3.6 "Job grants", §4, §6.6, §6.7).
CAPABILITIES: dict[str, dict[str, str]] = {
    "job": {
        "read": "see this job (status, logs, and its environment, including a token passed with --pass-config) "
                "and open its web UI: for a notebook job, open your notebook",
        "write": "also kill it and exec into it: for a notebook job, change your notebooks on storage "
                 "(the job mounts them read-write)",
        "manage": "also re-share it with others and revoke their access",
    },
    "storage": {
        "read": "list and download these files",
        "write": "also upload, change, move and delete them",
        "manage": "also re-share them with others and revoke their access",
    },
}
GENERIC_CAPABILITIES = {"read": "use it read-only", "write": "also change it", "manage": "also re-share it with others"}


def capabilities(scheme: str, action: str) -> str:
    """A sentence (no subject) saying what ``action`` (read/write/manage) on a ``scheme`` resource
    allows, cumulatively. Raises ``InvalidInput`` for another action."""
    if action not in ACTIONS:
        raise InvalidInput(f"invalid action {action!r}: use one of 'read', 'write', 'manage'")
    table = CAPABILITIES.get(scheme, GENERIC_CAPABILITIES)
    return "; ".join(table[level] for level in ACTIONS[: ACTIONS.index(action) + 1])


def capability_steps(scheme: str) -> dict[str, str]:
    """What each level adds over the one below on a ``scheme`` resource (read, then "also ..."), for a
    chooser that shows the levels side by side; ``capabilities`` gives the cumulative sentence."""
    table = CAPABILITIES.get(scheme, GENERIC_CAPABILITIES)
    return {action: table[action] for action in ACTIONS}


def share_lines(result: ShareResult, shown_uri: str) -> list[str]:
    """The sentences answering a share: what was granted (or that a higher grant already covers it),
    what the grantee can now do, and, for a job shared by name, that every run of that name is covered.
    ``shown_uri``: the resource as this surface prints it (e.g. the CLI's short form)."""
    user, action = result.user, result.action
    first = f"Shared {shown_uri} with {user}: {action}."
    if result.higher:
        why = f" through {result.via}" if getattr(result, "via", "") else ""
        first = f"{user} already has {action} on {shown_uri}{why} (higher than {result.requested}); nothing lowered."
    scheme = result.uri.partition(":")[0]
    lines = [first, f"{user} can {capabilities(scheme, action)}."]
    if scheme == "job" and not JOB_ID.fullmatch(result.uri.rstrip("/").rsplit("/", 1)[-1]):
        lines.append(f"Note: {shown_uri} names jobs by name: it covers every run with that name, past and future.")
    return lines


#: Shown above the level choice when the resource is a Jupyter job (reference §6.6, §6.7).
JUPYTER_JOB_WARNING = ("This is a Jupyter job: read already lets them open its notebook server and run code in its "
                       "kernels as you (your mounted storage, your passed token); write also lets them change your "
                       "notebooks on storage.")

#: The project role that gives each action (reference §3.5: reader, writer, manager).
PROJECT_ROLE_OF = {"read": "reader", "write": "writer", "manage": "manager"}


def access_line(access: Access, shown_granted: str, exact: bool) -> str:
    """One "who has access" row as a sentence fragment: ``alice: write``, with where it comes from
    when not a grant on the resource itself. ``shown_granted``: ``access.granted_uri`` as this surface
    prints it; ``exact``: the grant is on the resource itself."""
    if access.role:
        return f"{access.user}: {access.action}, as a member of role {access.role}"
    where = "" if exact else f", from a share of {shown_granted}"
    kind = " (role)" if access.is_role else ""
    return f"{access.user}{kind}: {access.action}{where}"


def higher_reason(result: ShareResult, rows: Sequence[Access], shown_uri: str, shown: Callable[[str], str],
                  project: str | None) -> str:
    """Why ``result.user`` already had more than asked on ``shown_uri``: the covering grant from
    ``rows`` (``Permissions.access``), else the project membership that grants it (the platform
    lists no project members, hence the "or a role" hedge). ``shown`` maps a canonical URI to its
    displayed form; ``project``: the resource's project (``project_of``)."""
    user, action = result.user, result.action
    for row in rows:
        if row.user == user and row.action == action:
            if row.role:
                return f"{user} is a member of role {row.role}, which has {action} on {shown(row.granted_uri)}."
            return f"{user} has {action} on {shown(row.granted_uri)}, which covers {shown_uri}."
    where = f"a {PROJECT_ROLE_OF.get(action, action)} of project {project}" if project else "a project member"
    return f"{user} is {where} (or holds a role with {action} there): that access is not a share, so it stays."


def project_of(uri: str, with_org: bool = True) -> str | None:
    """The project of a canonical cluster URI ``scheme://cluster/org/project/...`` (``with_org``:
    the cluster has orgs; else ``scheme://cluster/project/...``); None when the URI names none."""
    parts = uri.partition("://")[2].split("/")
    index = 2 if with_org else 1
    return parts[index] if len(parts) > index and parts[index] else None


def human_size(size: int | None) -> str:
    """Bytes as a short human size (``1.5 KiB``, ``12 MiB``); None as empty."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)
