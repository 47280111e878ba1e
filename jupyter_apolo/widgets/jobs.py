"""``JobsTable``: your jobs and the jobs shared with you, running first, with filters, paging and
per-row actions (status details, the last log lines and follow, open the web UI, share, kill).

Loading never blocks the kernel: active jobs are fetched and shown first; with ``all=True`` finished
jobs stream in newest first and the first page is drawn as soon as it is full. While the table is
displayed it refreshes itself every ``refresh_interval`` seconds on the client's loop.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import time
from concurrent.futures import Future
from typing import Any, Callable

import ipywidgets as w
from traitlets import Bool, Int, Unicode, observe

from ..client import Apolo, AsyncApolo, Job, Permission, short_uri
from ..client.jobs import ACTIVE_STATUSES, FINISHED_STATUSES
from ..client.permissions import action_rank, covers
from ..display import JOB_COLUMNS, Record, fmt_cell, job_details
from .base import ApoloWidget, Shared, cell, esc, paging_controls, set_cell, style_tag

PAGE_SIZE = 25
ACTIONS_WIDTH = "216px"  # the per-row buttons; the header keeps the same room
STATUS_ORDER = {"running": 0, "pending": 1, "suspended": 2}
ANYONE = "anyone"

#: (column key in ``display.JOB_COLUMNS``, width, monospace)
COLUMNS = [("name", "140px", False), ("id", "150px", True), ("status", "84px", False), ("when", "122px", False),
           ("owner", "72px", False), ("image", "100px", False)]


def job_order(job: Job) -> tuple:
    """Running first, then pending and suspended, then finished jobs; newest first within each."""
    created = job.created_at.timestamp() if job.created_at else 0.0
    return (STATUS_ORDER.get(job.status, 3), -created, job.id)


def can_write(job: Job, grants: list[Permission], me: str) -> bool:
    """Whether ``grants`` (my permissions on ``job:``, roles and projects expanded) let me kill ``job``:
    write on its id URI or its name URI (papi ``_resolve_job``), or being its owner."""
    if job.owner == me:
        return True
    name_uri = job.uri.rsplit("/", 1)[0] + "/" + job.name if job.name and job.uri else None
    targets = [u for u in (job.uri, name_uri) if u]
    return any(action_rank(p.action) >= action_rank("write") and any(covers(p.uri, t) for t in targets)
               for p in grants)


class _Row:
    def __init__(self, table: "JobsTable", shared: Shared):
        self.job: Job | None = None
        self.cells = [cell("", width, mono=mono, shared=shared) for _, width, mono in COLUMNS]
        # the id takes what is left (the header's id cell too), ellipsised
        self.cells[1].layout = shared.layout(width="150px", min_width="80px", flex="1 1 0")

        def button(icon: str, tip: str, handler: Callable[[Job], Any], style: str = "") -> w.Button:
            b = w.Button(icon=icon, tooltip=tip, button_style=style, style=shared.style(w.ButtonStyle),
                         layout=shared.layout(width="34px", flex="0 0 auto"))
            b.on_click(lambda _b: self.job is not None and handler(self.job))
            return b

        self.details = button("info-circle", "Status details", table._show_details)
        self.logs = button("file-text-o", "Last log lines", lambda job: table.logs(job.id))
        self.open = w.HTML("", layout=w.Layout(width="56px", flex="0 0 auto"))
        self.open.add_class("jp-ApoloW-open")
        self.share = button("share-alt", "Share this job", table._open_share)
        self.kill = button("times", "Kill (asks first)", table._ask_kill, "danger")
        self.kill.layout = w.Layout(width="34px", flex="0 0 auto")  # its own: hidden per row
        for b, name in ((self.details, "details"), (self.logs, "logs"), (self.share, "share"), (self.kill, "kill")):
            b.add_class(f"jp-ApoloW-{name}")
        actions = w.HBox([self.details, self.logs, self.open, self.share, self.kill],
                         layout=w.Layout(width=ACTIONS_WIDTH, flex="0 0 auto", align_items="center"))
        self.box = w.HBox([*self.cells, actions], layout=w.Layout(display="none", width="100%", align_items="center"))
        self.box.add_class("jp-ApoloW-row")

    def show(self, job: Job | None, writable: bool) -> None:
        self.job = job
        if job is None:
            self.box.layout.display = "none"
            return
        for (key, _, _), box in zip(COLUMNS, self.cells):
            value = fmt_cell(JOB_COLUMNS[key][1](job))
            if key == "status":
                box.value = f'<span class="jp-ApoloW-badge {esc(job.status)}">{esc(value)}</span>'
            elif key == "when":
                set_cell(box, value[:16])
            else:
                set_cell(box, value or ("(no name)" if key == "name" else ""))
        self.open.value = (f'<a href="{esc(job.http_url)}" target="_blank" rel="noopener noreferrer" '
                           f'title="Open the job\'s web UI in a new tab" class="jp-ApoloW-open">open ↗</a>'
                           if job.http_url and not job.finished else "")
        self.kill.layout.visibility = "visible" if writable and not job.finished else "hidden"
        self.box.layout.display = None


class JobsTable(ApoloWidget):
    """Your jobs and the jobs shared with you: ``JobsTable(all=False)`` (``all``: finished ones too).

    Traits: ``all``, ``status`` (a status or ""), ``owner`` (a user, "me" or "anyone"), ``search``
    (substring of name, id or tag), ``page`` (0-based), ``busy``, ``error``, ``message``, ``loaded``
    (every job of this listing arrived). ``jobs`` holds every job loaded, ``shown`` the jobs of the
    current page. Methods return futures: ``refresh()``, ``kill(job)`` (only with write on the job),
    ``logs(job, lines=50, follow=False)``, ``details(job)``; ``log_lines`` keeps the last lines read.
    ``refresh_interval`` seconds (0: off): the refresh period while the table is displayed.
    """

    all = Bool(False, help="Finished jobs too (like `apolo ps -a`).")
    status = Unicode("", help="Only this status ('' for any).")
    owner = Unicode(ANYONE, help="Only jobs of this user ('me', or 'anyone').")
    search = Unicode("", help="Only jobs whose name, id or a tag contains this.")
    page = Int(0, help="The page shown, 0-based.")
    loaded = Bool(False, help="True once the whole listing has arrived.")

    def __init__(self, all: bool = False, *, api: Apolo | None = None, page_size: int = PAGE_SIZE,
                 refresh_interval: float = 10.0, **kwargs: Any):
        super().__init__(api=api, **kwargs)
        self.page_size = page_size
        self.refresh_interval = refresh_interval
        self.jobs: list[Job] = []
        self.shown: list[Job] = []
        self.log_lines: list[str] = []
        self._filtered: list[Job] = []
        self._grants: list[Permission] = []
        self._generation = 0
        self._ticker: Future[None] | None = None
        self._logs_future: Future[None] | None = None
        self._load: Future[tuple[list[Job], list[Permission]]] | None = None
        self._ready = False  # trait links below fire observers: load once, at the end of __init__

        self.status_field = w.Dropdown(options=[("any status", ""),
                                                *((s, s) for s in ACTIVE_STATUSES + FINISHED_STATUSES)],
                                       value="", layout=w.Layout(width="140px"))
        self.owner_field = w.Dropdown(options=[ANYONE, "me"], value=ANYONE, layout=w.Layout(width="140px"))
        self.search_field = w.Text(placeholder="Search name, id or tag", continuous_update=True,
                                   layout=w.Layout(width="220px"))
        self.all_field = w.Checkbox(value=all, description="finished too", indent=False, layout=w.Layout(width="120px"))
        self.refresh_button = w.Button(icon="refresh", tooltip="Refresh now", layout=w.Layout(width="36px"))
        self.count = w.HTML("")
        self.count.add_class("jp-ApoloW-muted")
        head = w.HBox([cell(JOB_COLUMNS[key][0].title(), width) for key, width, _ in COLUMNS]
                      + [cell("", ACTIONS_WIDTH)], layout=w.Layout(width="100%"))
        for c in head.children:
            c.layout.flex = "0 0 auto"
        head.children[1].layout.flex = "1 1 0"
        head.children[1].layout.min_width = "80px"
        head.add_class("jp-ApoloW-head")
        shared = Shared()
        self.rows = [_Row(self, shared) for _ in range(page_size)]
        self.empty, self.prev_button, self.next_button, self.page_label = paging_controls()
        self.panel = w.VBox([])
        self.panel.add_class("jp-ApoloW-panel")

        w.link((self.status_field, "value"), (self, "status"))
        self.owner_field.observe(lambda c: setattr(self, "owner", c["new"]), names="value")
        w.link((self.search_field, "value"), (self, "search"))
        w.link((self.all_field, "value"), (self, "all"))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.prev_button.on_click(lambda _b: self._go_page(self.page - 1))
        self.next_button.on_click(lambda _b: self._go_page(self.page + 1))

        self.children = [
            style_tag(),
            w.HBox([w.HTML('<span class="jp-ApoloW-title">Jobs</span>'), self.count],
                   layout=w.Layout(align_items="center", justify_content="space-between")),
            w.HBox([self.status_field, self.owner_field, self.search_field, self.all_field, self.refresh_button],
                   layout=w.Layout(align_items="center", flex_flow="row wrap")),
            head, *(row.box for row in self.rows), self.empty,
            w.HBox([self.prev_button, self.page_label, self.next_button],
                   layout=w.Layout(align_items="center", justify_content="space-between", max_width="520px")),
            self.status_line, self.panel,
        ]
        self._view_count = 0  # ipywidgets counts the front-end views: refresh only while displayed
        self.when_ready(self._start)

    def _start(self) -> None:
        self._ready = True
        self.refresh()
        if self.refresh_interval > 0:
            self._start_ticker()

    # -- loading ----------------------------------------------------------------------------------

    def refresh(self):  # type: ignore[no-untyped-def]
        """Reload the jobs (active first, then finished with ``all``); returns the future. A load
        still running is cancelled (its results would be stale)."""
        if not self._ready:
            return None
        if self._load is not None:
            self._load.cancel()
        self._generation += 1
        generation, include_finished, size = self._generation, self.all, self.page_size
        self.loaded = False

        async def go(aio: AsyncApolo) -> tuple[list[Job], list[Permission]]:
            return await self._fetch(aio, generation, include_finished, size)

        def done(outcome: tuple[list[Job], list[Permission]]) -> None:
            if generation == self._generation:
                self._set_jobs(*outcome, complete=True)

        self._load = self.run(go, done, doing="list jobs")
        return self._load

    async def _fetch(self, aio: AsyncApolo, generation: int, include_finished: bool,
                     size: int) -> tuple[list[Job], list[Permission]]:
        grants = await aio.permissions.list("job:")
        jobs = [job async for job in aio.jobs.list(statuses=None, all_projects=True)]
        if not include_finished:
            return jobs, grants
        self._emit(generation, list(jobs), grants)  # active ones right away
        first_page = len(jobs) < size
        async for job in aio.jobs.list(statuses=FINISHED_STATUSES, all_projects=True, reverse=True):
            jobs.append(job)
            if first_page and len(jobs) >= size:
                first_page = False
                self._emit(generation, list(jobs), grants)
        return jobs, grants

    def _emit(self, generation: int, jobs: list[Job], grants: list[Permission]) -> None:
        if generation == self._generation:
            self._set_jobs(jobs, grants, complete=False)

    def _set_jobs(self, jobs: list[Job], grants: list[Permission], complete: bool) -> None:
        self.jobs = sorted(jobs, key=job_order)
        self._grants = grants
        owners = sorted(({job.owner for job in self.jobs} | {self.owner}) - {self.api.config.username, ANYONE, "me"})
        options = [ANYONE, "me", *owners]
        if list(self.owner_field.options) != options:
            current = self.owner
            self.owner_field.options = options
            self.owner_field.value = current if current in options else ANYONE
        self.loaded = complete
        self._apply_filters(keep_page=True)

    @observe("owner")
    def _owner_changed(self, change: Any) -> None:
        owner = change["new"] or ANYONE
        if owner not in self.owner_field.options:  # a user with no job loaded (yet): offer it anyway
            self.owner_field.options = [*self.owner_field.options, owner]
        self.owner_field.value = owner

    @observe("status", "owner", "search")
    def _filters_changed(self, change: Any) -> None:
        if self._ready:
            self._apply_filters(keep_page=False)

    @observe("all")
    def _all_changed(self, change: Any) -> None:
        self.refresh()

    def _apply_filters(self, keep_page: bool) -> None:
        me = self.api.config.username
        owner = me if self.owner == "me" else self.owner
        needle = self.search.strip().lower()

        def keep(job: Job) -> bool:
            if self.status and job.status != self.status:
                return False
            if owner != ANYONE and job.owner != owner:
                return False
            if needle and not (needle in (job.name or "").lower() or needle in job.id
                               or any(needle in t.lower() for t in job.tags)):
                return False
            return True

        self._filtered = [job for job in self.jobs if keep(job)]
        last = max(0, (len(self._filtered) - 1) // self.page_size)
        self._go_page(min(self.page, last) if keep_page else 0)

    def _go_page(self, page: int) -> None:
        last = max(0, (len(self._filtered) - 1) // self.page_size)
        page = max(0, min(page, last))
        self.page = page
        start = page * self.page_size
        self.shown = self._filtered[start:start + self.page_size]
        me = self.api.config.username
        for i, row in enumerate(self.rows):
            job = self.shown[i] if i < len(self.shown) else None
            row.show(job, job is not None and can_write(job, self._grants, me))
        total = len(self._filtered)
        more = "" if self.loaded else "+"
        self.count.value = f"{total:,}{more} job(s)" + (f" of {len(self.jobs):,}" if total != len(self.jobs) else "")
        self.page_label.value = f"{start + 1:,}–{start + len(self.shown):,} of {total:,}{more}" if self.shown else ""
        self.empty.value = ("No jobs match the filters." if self.jobs else
                            "No active jobs. Tick “finished too” to see finished ones." if not self.all else "No jobs.")
        self.empty.layout.display = None if not self.shown and (self.loaded or self.jobs) else "none"
        self.prev_button.disabled = page == 0
        self.next_button.disabled = page >= last

    # -- auto-refresh -----------------------------------------------------------------------------

    def _start_ticker(self) -> None:
        interval = self.refresh_interval

        async def tick(aio: AsyncApolo) -> None:
            while True:
                await asyncio.sleep(interval)
                if not self.comm or not (self._view_count or 0) or self.busy:
                    continue  # not displayed anywhere (or a load is running): nothing to refresh
                self._generation += 1
                generation = self._generation
                try:
                    jobs, grants = await self._fetch(aio, generation, self.all, self.page_size)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - shown in the widget; the next tick retries
                    self.fail(exc, "refresh the jobs")
                    continue
                if generation == self._generation:
                    self._set_jobs(jobs, grants, complete=True)

        try:
            self._ticker = self.api.submit(tick)
        except Exception as exc:  # noqa: BLE001
            self.fail(exc)

    # -- per-row actions --------------------------------------------------------------------------

    def _find(self, job: Job | str) -> Job | None:
        if isinstance(job, Job):
            return job
        return next((j for j in self.jobs if job in (j.id, j.name, j.uri)), None)

    def kill(self, job: Job | str):  # type: ignore[no-untyped-def]
        """Kill ``job`` (a ``Job``, id or name) without asking (the button asks first). Refused
        inline, nothing sent, unless I have write on it. Returns the future."""
        found = self._find(job)
        if found is None:
            self.fail(f"No job {job!r} in this table: refresh, or tick “finished too”.")
            return None
        if not can_write(found, self._grants, self.api.config.username):
            self.fail(f"You cannot kill {found.name or found.id}: that needs write on it, and it was shared with you "
                      f"at read. Ask {found.owner} to kill it or to share it with you at write.")
            return None

        def killed(job_id: str) -> None:
            self.panel.children = []
            self.succeed(f"Killed {found.name or job_id} ({job_id}).")
            self.refresh()

        return self.run(lambda aio: aio.jobs.kill(found.id), killed, doing="kill this job")

    def _ask_kill(self, job: Job) -> None:
        text = w.HTML(f"<b>Kill {esc(job.name or job.id)}</b> ({esc(job.id)}, {esc(job.status)})? "
                      "Its processes stop now.")
        yes = w.Button(description="Kill", button_style="danger", layout=w.Layout(width="auto"))
        no = w.Button(description="Cancel", layout=w.Layout(width="auto"))
        yes.on_click(lambda _b: self.kill(job))
        no.on_click(lambda _b: setattr(self.panel, "children", []))
        self.panel.children = [w.HBox([text, yes, no], layout=w.Layout(align_items="center", flex_flow="row wrap"))]

    def details(self, job: Job | str):  # type: ignore[no-untyped-def]
        """Fetch ``job`` fresh and show its status details (history, reason, exit code). Returns the future."""
        ref = job.id if isinstance(job, Job) else job

        def show(fresh: Job) -> None:
            record = Record(fresh, job_details(fresh), title="")
            close = w.Button(description="Close", icon="times", layout=w.Layout(width="auto", align_self="flex-start"))
            close.on_click(lambda _b: setattr(self.panel, "children", []))
            rows = "".join(f"<tr><th>{esc(label)}</th><td>{esc(fmt_cell(value))}</td></tr>"
                           for label, value in record.fields)
            body = w.HTML(f"<table>{rows}</table>")
            body.add_class("jp-ApoloW-details")
            self.panel.children = [w.HTML(f"<b>{esc(fresh.name or fresh.id)}</b>"), body, close]

        return self.run(lambda aio: aio.jobs.get(ref), show, doing="see this job")

    def _show_details(self, job: Job) -> None:
        self.details(job)

    def logs(self, job: Job | str, lines: int = 50, follow: bool = False):  # type: ignore[no-untyped-def]
        """Show the last ``lines`` log lines of ``job`` (``log_lines``); with ``follow`` keep
        appending while it runs (until the table closes or another log is opened). Returns the future."""
        if self._logs_future is not None:
            self._logs_future.cancel()
        ref = job.id if isinstance(job, Job) else job
        name = job.name or job.id if isinstance(job, Job) else job
        tail: collections.deque[str] = collections.deque(maxlen=lines)
        view = w.HTML('<pre class="jp-ApoloW-log">(reading the log…)</pre>')
        follow_box = w.Checkbox(value=follow, description="follow", indent=False, layout=w.Layout(width="90px"))
        close = w.Button(description="Close", icon="times", layout=w.Layout(width="auto"))

        def close_log(_b: w.Button) -> None:
            if self._logs_future:
                self._logs_future.cancel()
            self.panel.children = []

        close.on_click(close_log)
        follow_box.observe(lambda c: c["new"] and self.logs(ref, lines, True), names="value")
        self.panel.children = [w.HBox([w.HTML(f"<b>Log of {esc(name)}</b>"), follow_box, close],
                                      layout=w.Layout(align_items="center")), view]
        self.log_lines = []

        def draw(final: bool = False) -> None:
            self.log_lines = list(tail)
            text = "\n".join(tail) or ("(the log is empty)" if final else "(waiting for output…)")
            view.value = f'<pre class="jp-ApoloW-log">{esc(text)}</pre>'

        async def go(aio: AsyncApolo) -> None:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            partial = ""
            last_draw = 0.0
            stream = aio.jobs.logs(ref)  # an async generator: its own iterator, with aclose()
            try:
                while True:
                    try:
                        # without follow, a quiet second means we have the tail of a running job
                        chunk = await (stream.__anext__() if follow else asyncio.wait_for(stream.__anext__(), 1.5))
                    except (StopAsyncIteration, asyncio.TimeoutError):
                        break
                    partial += decoder.decode(chunk)
                    *complete, partial = partial.split("\n")
                    tail.extend(complete)
                    if time.monotonic() - last_draw > 0.2:
                        last_draw = time.monotonic()
                        draw()
            finally:
                await stream.aclose()
            if partial:
                tail.append(partial)

        self._logs_future = self.run(go, lambda _none: draw(final=True), doing="read the log")
        return self._logs_future

    def _open_share(self, job: Job) -> None:
        from .share import show_share_dialog

        show_share_dialog(self.panel, short_uri(job.uri, self.api.config) if job.uri else f"job:{job.id}", self.api)

    def close(self) -> None:
        """Stop the auto-refresh and any log stream, then close."""
        for future in (getattr(self, "_ticker", None), getattr(self, "_logs_future", None)):
            if future is not None:
                future.cancel()
        super().close()
