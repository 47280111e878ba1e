"""Result objects of ``%apolo`` subcommands: returned to code (``jobs = %apolo ps``) and shown by
IPython as an HTML table in notebooks (``_repr_html_``) or a text grid in terminals (``__repr__``).

Rendering is capped at ``limit`` rows (the rest is summarised) so a 10,000-job listing stays
cheap to display; the objects themselves always hold every item.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Callable, Iterable, Sequence

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
    ``title`` (optional) is printed above the grid; ``limit`` caps the rendered rows.
    """

    def __init__(self, items: Iterable[Any], columns: Sequence[Column], *, title: str = "",
                 limit: int = 100, empty: str = "(nothing)"):
        self.items = list(items)
        self.columns = list(columns)
        self.title, self.limit, self.empty = title, limit, empty

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, key: Any) -> Any:
        return self.items[key]

    def rows(self) -> list[list[str]]:
        """The rendered cells of the first ``limit`` items."""
        return [[fmt_cell(get(item)) for _, get in self.columns] for item in self.items[: self.limit]]

    def _more(self) -> str:
        hidden = len(self.items) - self.limit
        return f"... {hidden} more (of {len(self.items)}); iterate the result, or raise %config ApoloMagics.display_limit" if hidden > 0 else ""

    def __repr__(self) -> str:
        if not self.items:
            return self.empty
        headers = [h for h, _ in self.columns]
        rows = self.rows()
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
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
        return f"<table class='jp-apolo-table'>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


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
