"""``StorageBrowser``: browse platform storage from any notebook, page by page.

A folder's listing is streamed (``LISTSTATUS`` NDJSON) through a forward cursor that pulls one page
at a time: a folder of 100,000 entries shows its first page at once and the widget never holds more
than one page (memory stays flat). Going back re-opens the stream and skips (cheap: names only go by).
Within a page folders come first, then files, each by name (the platform streams in its own order;
ordering all 100,000 would need the whole listing in memory).

Actions on the selection: download into the Jupyter workspace (per-item and total progress, cancel,
never overwriting without asking), upload from the workspace, new folder, rename, delete (asks
first, with the number of files), share (a ``ShareDialog``), and show the storage URI to copy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import posixpath
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import ipywidgets as w
from ipywidgets.widgets.widget_bool import CheckboxStyle
from traitlets import Int, List, Unicode, observe

from ..client import Apolo, AsyncApolo, CopyPlan, FileStatus, InvalidInput, NotFoundError, TargetExists, short_uri
from ..client.storage import child_uri, parent_uri
from ..client.transfer import TransferProgress
from ..client.uris import split_uri
from ..display import human_size
from .base import ApoloWidget, Shared, cell, esc, paging_controls, set_cell, style_tag

PAGE_SIZE = 50


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report of a download or upload: ``item`` (the storage URI or local path being
    copied), bytes/files done and totals of that item, and ``all_bytes_done``/``all_bytes`` over
    the whole action (bytes)."""

    item: str
    bytes_done: int
    bytes_total: int | None
    files_done: int
    files_total: int | None
    all_bytes_done: int
    all_bytes: int


class Listing:
    """A forward cursor over one folder's streamed listing, on the client's loop: ``take(n)`` the
    next ``n`` entries whose name contains ``needle`` (case-insensitive), ``skip(n)``, ``close()``.
    ``exhausted`` once the stream ended; ``has_more`` whether another entry is waiting."""

    def __init__(self, entries: AsyncIterator[FileStatus], needle: str = ""):
        self._entries = entries
        self._needle = needle.lower()
        self._ahead: list[FileStatus] = []
        self.exhausted = False
        self.position = 0

    async def _next(self) -> FileStatus | None:
        if self._ahead:
            return self._ahead.pop()
        while not self.exhausted:
            try:
                entry = await self._entries.__anext__()
            except StopAsyncIteration:
                self.exhausted = True
                return None
            if not self._needle or self._needle in entry.name.lower():
                return entry
        return None

    async def take(self, n: int) -> list[FileStatus]:
        out: list[FileStatus] = []
        while len(out) < n and (entry := await self._next()) is not None:
            out.append(entry)
        self.position += len(out)
        return out

    async def skip(self, n: int) -> None:
        while n > 0 and await self._next() is not None:
            n -= 1
            self.position += 1

    async def has_more(self) -> bool:
        entry = await self._next()
        if entry is not None:
            self._ahead.append(entry)
        return entry is not None

    async def close(self) -> None:
        aclose = getattr(self._entries, "aclose", None)
        if aclose is not None:
            await aclose()


def page_order(entries: list[FileStatus]) -> list[FileStatus]:
    """Folders first, then the rest, each by name (case-insensitive)."""
    return sorted(entries, key=lambda st: (not st.is_dir, st.name.lower(), st.name))


def modified_text(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if epoch else ""


class _Row:
    """One reusable table row: select box, name (a link), size, modified."""

    def __init__(self, browser: "StorageBrowser", shared: Shared):
        self.entry: FileStatus | None = None
        self.check = w.Checkbox(value=False, indent=False, layout=shared.layout(width="28px", flex="0 0 auto"),
                                style=shared.style(CheckboxStyle))
        self.name = w.Button(description="", layout=shared.layout(flex="1 1 auto", width="auto", min_width="0"),
                             style=shared.style(w.ButtonStyle))
        self.name.add_class("jp-ApoloW-link")
        self.size = cell("", "96px", shared=shared)
        self.modified = cell("", "136px", shared=shared)
        self.box = w.HBox([self.check, self.name, self.size, self.modified],
                          layout=w.Layout(display="none", width="100%"))
        self.box.add_class("jp-ApoloW-row")
        self.check.observe(lambda _c: browser._checked(), names="value")
        self.name.on_click(lambda _b: browser._row_clicked(self))

    def show(self, entry: FileStatus | None, selected: bool) -> None:
        self.entry = entry
        if entry is None:
            self.box.layout.display = "none"
            return
        self.name.description = entry.name + ("/" if entry.is_dir else "")
        self.name.icon = "folder" if entry.is_dir else "file-o"
        self.name.tooltip = entry.name
        set_cell(self.size, "" if entry.is_dir else human_size(entry.size), f"{entry.size} bytes")
        set_cell(self.modified, modified_text(entry.modified))
        with self.check.hold_trait_notifications():
            self.check.value = selected
        self.box.layout.display = None


class StorageBrowser(ApoloWidget):
    """Browse platform storage: ``StorageBrowser(path="storage:")`` (any storage URI the CLI accepts).

    Traits: ``path`` (the folder shown; set it to navigate), ``selected`` (storage URIs, canonical),
    ``filter`` (name substring), ``page`` (0-based), ``busy``, ``error``, ``message``.
    ``on_select(callback)`` calls ``callback(selected)`` whenever the selection changes (like
    ipyfilechooser's ``register_callback``). Python methods mirror the buttons and return futures:
    ``download(dest=".", overwrite=False)``, ``upload(local, overwrite=False)``, ``mkdir(name)``,
    ``rename(new_name)``, ``delete()``, ``next_page()``, ``prev_page()``, ``refresh()``; ``entries``
    is the current page (``FileStatus``); ``progress_events`` the last transfer's ``ProgressEvent``s.
    ``workspace``: the local folder downloads go to and uploads come from (default: the kernel's
    working directory). ``shortcuts``: ``{label: storage URI}`` shown as buttons above the table
    (``%apolo browse`` passes the flow project's ``live.yml`` volumes).
    """

    path = Unicode("storage:", help="The storage folder shown (a storage URI, any CLI form).")
    selected = List(Unicode(), help="Selected entries as canonical storage URIs.")
    filter = Unicode("", help="Only names containing this (case-insensitive).")
    page = Int(0, help="The page shown, 0-based.")

    def __init__(self, path: str = "storage:", *, api: Apolo | None = None, page_size: int = PAGE_SIZE,
                 workspace: str | os.PathLike[str] = ".", shortcuts: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(api=api, **kwargs)
        self.page_size = page_size
        self.workspace = Path(workspace)
        self.entries: list[FileStatus] = []
        self.progress_events: list[ProgressEvent] = []
        self._callbacks: list[Callable[[list[str]], None]] = []
        self._listing: Listing | None = None
        self._listing_key: tuple[str, str] | None = None
        self._lock: asyncio.Lock | None = None
        self._generation = 0
        self._more = False
        self._transfer: Future[int] | None = None

        self.crumbs = w.HBox([], layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.filter_field = w.Text(placeholder="Filter by name", continuous_update=False,
                                   layout=w.Layout(width="220px"))
        self.up_button = w.Button(icon="arrow-up", tooltip="Parent folder", layout=w.Layout(width="36px"))
        self.refresh_button = w.Button(icon="refresh", tooltip="Reload this folder", layout=w.Layout(width="36px"))
        head = w.HBox([w.HTML("", layout=w.Layout(width="28px", flex="0 0 auto")),
                       cell("Name", "auto"), cell("Size", "96px"), cell("Modified (UTC)", "136px")],
                      layout=w.Layout(width="100%"))
        head.children[1].layout.flex = "1 1 auto"
        for c in head.children[2:]:
            c.layout.flex = "0 0 auto"
        head.add_class("jp-ApoloW-head")
        shared = Shared()
        self.rows = [_Row(self, shared) for _ in range(page_size)]
        self.empty, self.prev_button, self.next_button, self.page_label = paging_controls()

        def action(label: str, icon: str, tip: str, handler: Callable[[], Any], style: str = "") -> w.Button:
            button = w.Button(description=label, icon=icon, tooltip=tip, button_style=style,
                              layout=w.Layout(width="auto"))
            button.on_click(lambda _b: handler())
            return button

        self.download_button = action("Download", "download", "Download the selection into the workspace",
                                      self._ask_download, "primary")
        self.upload_button = action("Upload", "upload", "Upload a workspace file or folder here", self._ask_upload)
        self.mkdir_button = action("New folder", "folder", "Create a folder here", self._ask_mkdir)
        self.rename_button = action("Rename", "pencil", "Rename the selected entry", self._ask_rename)
        self.delete_button = action("Delete", "trash", "Delete the selection (asks first)", self._ask_delete)
        self.share_button = action("Share", "share-alt", "Share the selected entry (or this folder)", self._open_share)
        self.uri_button = action("Copy URI", "clipboard", "Show the storage URI to copy", self._show_uri)
        self.prompt = w.HBox([], layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.prompt.add_class("jp-ApoloW-prompt")
        for button, name in ((self.download_button, "download"), (self.upload_button, "upload"),
                             (self.mkdir_button, "mkdir"), (self.rename_button, "rename"),
                             (self.delete_button, "delete"), (self.share_button, "share"), (self.uri_button, "uri")):
            button.add_class(f"jp-ApoloW-{name}")  # stable hooks for browser tests
        self.progress_box = w.VBox([])
        self.share_box = w.VBox([])

        self.filter_field.observe(lambda c: setattr(self, "filter", c["new"]), names="value")
        self.up_button.on_click(lambda _b: self._go(parent_uri(self._canonical) if self._has_parent() else None))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.prev_button.on_click(lambda _b: self.prev_page())
        self.next_button.on_click(lambda _b: self.next_page())

        self.shortcuts = w.HBox([], layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.shortcuts.add_class("jp-ApoloW-shortcuts")
        if shortcuts:
            buttons = [w.HTML('<span class="jp-ApoloW-muted">Project volumes:</span>')]
            for label, uri in shortcuts.items():
                button = w.Button(description=label, icon="bookmark", tooltip=uri, layout=w.Layout(width="auto"))
                button.on_click(lambda _b, u=uri: setattr(self, "path", u))
                buttons.append(button)
            self.shortcuts.children = buttons
        self.children = [
            style_tag(),
            w.HBox([w.HTML('<span class="jp-ApoloW-title">Storage</span>&nbsp;'), self.crumbs],
                   layout=w.Layout(align_items="center", flex_flow="row wrap")),
            self.shortcuts,
            w.HBox([self.up_button, self.refresh_button, self.filter_field], layout=w.Layout(align_items="center")),
            head, *(row.box for row in self.rows), self.empty,
            w.HBox([self.prev_button, self.page_label, self.next_button],
                   layout=w.Layout(align_items="center", justify_content="space-between", max_width="520px")),
            w.HBox([self.download_button, self.upload_button, self.mkdir_button, self.rename_button,
                    self.delete_button, self.share_button, self.uri_button], layout=w.Layout(flex_flow="row wrap")),
            self.prompt, self.progress_box, self.status_line, self.share_box,
        ]
        self._canonical: str = ""
        self._started = False
        self._update_actions()
        self.path = path
        self.when_ready(self._start)

    def _start(self) -> None:
        self._started = True
        self._load_folder()

    # -- navigation -------------------------------------------------------------------------------

    @observe("path")
    def _path_changed(self, change: Any) -> None:
        if self._started:  # before that, _start loads it
            self._load_folder()

    @observe("filter")
    def _filter_changed(self, change: Any) -> None:
        if self.filter_field.value != change["new"]:
            self.filter_field.value = change["new"]
        self._show_page(0)

    def _load_folder(self) -> None:
        try:
            canonical = self.api.storage.normalize(self.path.strip() or "storage:")
        except InvalidInput as exc:
            self.fail(f"{exc} ({self.path!r} is not a storage URI; e.g. storage:data or storage:/project/data)")
            return
        except Exception as exc:  # noqa: BLE001 - no credentials etc.: one line, no traceback
            self.fail(exc)
            return
        self._canonical = canonical
        self.selected = []
        self.share_box.children = []
        self.prompt.children = []
        self._draw_crumbs()
        if self.filter:
            self.filter = ""  # a new folder starts unfiltered (the observer shows page 0)
        else:
            self._show_page(0)

    def _go(self, uri: str | None) -> None:
        if uri:
            self.path = short_uri(uri, self.api.config)

    def _has_parent(self) -> bool:
        return bool(self._canonical) and len(split_uri(self._canonical)[2].strip("/").split("/")) > (
            2 if self.api.config.org else 1)

    def _draw_crumbs(self) -> None:
        scheme, cluster, path = split_uri(self._canonical)
        parts = path.strip("/").split("/")
        root_depth = 2 if self.api.config.org else 1  # org/project is the project root
        crumbs = []
        base = f"{scheme}://{cluster}/" + "/".join(parts[:root_depth])
        top = w.Button(description=short_uri(base, self.api.config), tooltip=base,
                       layout=w.Layout(width="auto", max_width="240px"))
        top.add_class("jp-ApoloW-link")
        top.on_click(lambda _b, u=base: self._go(u))
        crumbs.append(top)
        uri = base
        for part in parts[root_depth:]:
            uri = child_uri(uri, part)
            crumbs.append(w.HTML('<span class="jp-ApoloW-muted">/</span>'))
            button = w.Button(description=part, tooltip=part, layout=w.Layout(width="auto", max_width="240px"))
            button.add_class("jp-ApoloW-link")
            button.add_class("jp-ApoloW-crumb")
            button.on_click(lambda _b, u=uri: self._go(u))
            crumbs.append(button)
        self.crumbs.children = crumbs

    def next_page(self):  # type: ignore[no-untyped-def]
        """Show the next page (if any); returns the future."""
        return self._show_page(self.page + 1) if self._more else None

    def prev_page(self):  # type: ignore[no-untyped-def]
        """Show the previous page (if any); returns the future."""
        return self._show_page(self.page - 1) if self.page > 0 else None

    def refresh(self):  # type: ignore[no-untyped-def]
        """Re-list this folder from the start of the current page; returns the future."""
        self._listing_key = None
        return self._show_page(self.page)

    def _show_page(self, page: int):  # type: ignore[no-untyped-def]
        self._generation += 1
        generation, uri, needle, size = self._generation, self._canonical, self.filter, self.page_size
        if not uri:
            return None

        async def go(aio: AsyncApolo) -> tuple[list[FileStatus], bool]:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                listing = self._listing
                key = (uri, needle)
                if listing is None or self._listing_key != key or listing.position != page * size:
                    if listing is not None:
                        await listing.close()
                    self._listing = listing = Listing(aio.storage.ls(uri), needle)
                    self._listing_key = key
                    await listing.skip(page * size)
                entries = await listing.take(size)
                more = await listing.has_more()
                return entries, more

        def shown(outcome: tuple[list[FileStatus], bool]) -> None:
            if generation != self._generation:
                return
            entries, more = outcome
            self.entries, self._more = page_order(entries), more
            self.page = page
            self._draw_rows()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, NotFoundError):
                self.fail(f"{short_uri(uri, self.api.config)}: not found, or you lack read on it. Check the path "
                          "(storage:PATH is in your project; storage:/PROJECT/PATH in another).")

        return self.run(go, shown, doing="list this folder", failed=failed)

    def _draw_rows(self) -> None:
        chosen = set(self.selected)
        for i, row in enumerate(self.rows):
            entry = self.entries[i] if i < len(self.entries) else None
            row.show(entry, entry is not None and entry.uri in chosen)
        first = self.page * self.page_size
        if self.entries:
            self.empty.layout.display = "none"
            end = first + len(self.entries)
            total = f"of {end}" if not self._more else "of more"
            self.page_label.value = f"{first + 1:,}–{end:,} {total}"
        else:
            self.empty.value = "No entries match the filter." if self.filter else "This folder is empty."
            self.empty.layout.display = None
            self.page_label.value = ""
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = not self._more

    def _row_clicked(self, row: _Row) -> None:
        if row.entry is None:
            return
        if row.entry.is_dir:
            self._go(row.entry.uri)
        else:
            row.check.value = not row.check.value

    def _checked(self) -> None:
        on_page = {row.entry.uri for row in self.rows if row.entry is not None}
        ticked = [row.entry.uri for row in self.rows if row.entry is not None and row.check.value]
        kept = [u for u in self.selected if u not in on_page]
        new = kept + ticked
        if new != list(self.selected):
            self.selected = new

    # -- selection --------------------------------------------------------------------------------

    def on_select(self, callback: Callable[[list[str]], None]) -> None:
        """Call ``callback(selected)`` (canonical storage URIs) whenever the selection changes."""
        self._callbacks.append(callback)

    @observe("selected")
    def _selected_changed(self, change: Any) -> None:
        chosen = set(change["new"])
        for row in self.rows:
            if row.entry is not None and row.check.value != (row.entry.uri in chosen):
                row.check.value = row.entry.uri in chosen
        self._update_actions()
        for callback in self._callbacks:
            try:
                callback(list(change["new"]))
            except Exception as exc:  # noqa: BLE001 - a user callback must not break the widget
                self.fail(f"on_select callback failed: {type(exc).__name__}: {exc}")

    def _update_actions(self) -> None:
        n = len(self.selected)
        self.download_button.disabled = n == 0
        self.delete_button.disabled = n == 0
        self.rename_button.disabled = n != 1
        self.download_button.description = f"Download ({n})" if n > 1 else "Download"

    def _targets(self) -> list[str]:
        if not self.selected:
            raise InvalidInput("Select one or more entries first (tick them, or click a file's name).")
        return list(self.selected)

    # -- download / upload ------------------------------------------------------------------------

    def download(self, dest: str | os.PathLike[str] | None = None, *, overwrite: bool = False):  # type: ignore[no-untyped-def]
        """Download the selection into local folder ``dest`` (default: the workspace, the kernel's
        working directory), each entry by name. Existing local files are never replaced unless
        ``overwrite``: the widget asks. Progress in ``progress_events`` and the bars; ``cancel()``
        stops it (no partial file stays). Returns the future of the number of files copied."""
        try:
            sources = self._targets()
        except InvalidInput as exc:
            self.fail(str(exc))
            return None
        target = Path(dest) if dest is not None else self.workspace
        return self._transfer_run([(src, target) for src in sources], overwrite, "download")

    def upload(self, local: str | os.PathLike[str], *, overwrite: bool = False):  # type: ignore[no-untyped-def]
        """Upload local file or folder ``local`` (relative to the workspace) into the folder shown;
        an existing entry is never replaced unless ``overwrite``. Returns the future."""
        source = Path(local)
        if not source.is_absolute():
            source = self.workspace / source
        return self._transfer_run([(source, self._canonical)], overwrite, "upload")

    def cancel(self) -> None:
        """Cancel the running download or upload (files already complete stay; none half-written)."""
        if self._transfer is not None and self._transfer.cancel():
            self._transfer = None
            self.succeed("Cancelled: files already complete stay, none is left half-written.")

    def _transfer_run(self, pairs: list[tuple[Any, Any]], overwrite: bool, kind: str):  # type: ignore[no-untyped-def]
        self.progress_events = []
        self.prompt.children = []
        bars: dict[str, tuple[w.IntProgress, w.HTML]] = {}
        total_bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="240px"))
        total_text = w.HTML("")
        cancel = w.Button(description="Cancel", icon="stop", layout=w.Layout(width="auto"))
        cancel.on_click(lambda _b: self.cancel())
        self.progress_box.children = [w.HBox([total_bar, total_text, cancel], layout=w.Layout(align_items="center"))]
        lock = threading.Lock()
        last_draw = [0.0]

        async def go(aio: AsyncApolo) -> int:
            plans: list[tuple[CopyPlan, int, int]] = []
            for src, dst in pairs:  # plan everything first: a refusal copies nothing
                plan = await aio.transfer.resolve_copy(src, dst, overwrite=overwrite, into_dir=True)
                if plan.is_dir and plan.direction == "download":
                    files, size = await aio.storage.usage(plan.source.uri)  # type: ignore[union-attr]
                elif plan.is_dir:
                    files, size = await asyncio.to_thread(_local_usage, Path(plan.source))  # type: ignore[arg-type]
                else:
                    files, size = 1, plan.size or 0
                plans.append((plan, files, size))
            all_bytes = sum(size for _, _, size in plans)
            total_bar.max = max(all_bytes, 1)
            rows = []
            for plan, files, size in plans:
                label = _label(plan)
                bar = w.IntProgress(value=0, min=0, max=max(size, 1), description="",
                                    layout=w.Layout(width="240px"))
                text = w.HTML(f"{esc(label)} <span class='jp-ApoloW-muted'>0/{files} files, "
                              f"{human_size(size)}</span>", layout=w.Layout(min_width="0", flex="1 1 auto"))
                text.add_class("jp-ApoloW-cell")
                bars[label] = (bar, text)
                rows.append(w.HBox([bar, text], layout=w.Layout(align_items="center", max_width="100%")))
            self.progress_box.children = [*self.progress_box.children, *rows]
            done_before = 0
            copied = 0
            for plan, files, size in plans:
                label = _label(plan)

                def report(p: TransferProgress, label: str = label, base: int = done_before, files: int = files,
                           size: int = size) -> None:
                    event = ProgressEvent(label, p.bytes_done, p.bytes_total if p.bytes_total is not None else size,
                                          p.files_done, p.files_total if p.files_total is not None else files,
                                          base + p.bytes_done, all_bytes)
                    with lock:
                        self.progress_events.append(event)
                        now = time.monotonic()
                        final = p.files_done >= files
                        if not final and now - last_draw[0] < 0.1:
                            return  # at most ~10 redraws a second: each is a message to the browser
                        last_draw[0] = now
                    bar, text = bars[label]
                    bar.value = min(p.bytes_done, bar.max)
                    now_on = "" if final or not p.current else f" · {Path(p.current).name}"
                    text.value = (f"{esc(label)} <span class='jp-ApoloW-muted'>{p.files_done}/{files} files, "
                                  f"{human_size(p.bytes_done)} of {human_size(size)}{esc(now_on)}</span>")
                    total_bar.value = min(base + p.bytes_done, total_bar.max)
                    total_text.value = f"<b>Total</b> {human_size(base + p.bytes_done)} of {human_size(all_bytes)}"

                copied += await aio.transfer.copy(plan, progress=report)
                done_before += size
                bar, _ = bars[label]
                bar.value, bar.bar_style = bar.max, "success"
            total_bar.value, total_bar.bar_style = total_bar.max, "success"
            total_text.value = f"<b>Total</b> {human_size(all_bytes)} of {human_size(all_bytes)}"
            return copied

        def finished(count: int) -> None:
            self._transfer = None
            cancel.layout.display = "none"
            if kind == "download":
                where = Path(pairs[0][1])
                shown = "the kernel's working folder" if where.resolve() == Path.cwd().resolve() else str(where)
                self.succeed(f"Downloaded {count} file(s) into {shown}.")
            else:
                self.succeed(f"Uploaded {count} file(s) into {short_uri(self._canonical, self.api.config)}.")
                self.refresh()

        def failed(exc: BaseException) -> None:
            self._transfer = None
            cancel.layout.display = "none"
            if not self.progress_events:
                self.progress_box.children = []  # nothing moved: no empty bars left behind
            if isinstance(exc, TargetExists):
                shown = exc.describe(str(exc.target) if isinstance(exc.target, Path)
                                     else short_uri(exc.target, self.api.config))
                if exc.clash:
                    self.fail(f"{shown}: choose another destination or rename it first; nothing was copied.")
                    return
                self.fail(f"{shown}: nothing was copied. Overwrite it, or choose another destination.")
                self._confirm(f"{shown}. Replace it?", "Overwrite",
                              lambda: self._transfer_run(pairs, True, kind))
            elif isinstance(exc, NotFoundError) and kind == "upload":
                self.fail(f"{pairs[0][0]}: no such local file or folder in the workspace; check the path.")

        future = self.run(go, finished, doing=kind, failed=failed)
        self._transfer = future
        return future

    # -- other actions ----------------------------------------------------------------------------

    def mkdir(self, name: str):  # type: ignore[no-untyped-def]
        """Create folder ``name`` in the folder shown (``apolo mkdir``); returns the future."""
        try:
            uri = child_uri(self._canonical, _plain_name(name))
        except InvalidInput as exc:
            self.fail(str(exc))
            return None

        def made(made_uri: str) -> None:
            self.succeed(f"Created {short_uri(made_uri, self.api.config)}.")
            self.prompt.children = []
            self.refresh()

        return self.run(lambda aio: aio.storage.mkdir(uri), made, doing="create a folder")

    def rename(self, new_name: str):  # type: ignore[no-untyped-def]
        """Rename the one selected entry to ``new_name`` in the same folder; refuses when that name
        exists (nothing is replaced). Returns the future."""
        try:
            if len(self.selected) != 1:
                raise InvalidInput("Select exactly one entry to rename.")
            src = self.selected[0]
            dst = child_uri(parent_uri(src), _plain_name(new_name))
        except InvalidInput as exc:
            self.fail(str(exc))
            return None

        async def go(aio: AsyncApolo) -> str:
            if await aio.storage.stat_or_none(dst) is not None:
                raise InvalidInput(f"{short_uri(dst, self.api.config)} exists: choose another name (nothing renamed).")
            await aio.storage.rename(src, dst)
            return dst

        def renamed(uri: str) -> None:
            self.prompt.children = []
            self.selected = []
            self.succeed(f"Renamed to {short_uri(uri, self.api.config)}.")
            self.refresh()

        return self.run(go, renamed, doing="rename")

    def delete(self):  # type: ignore[no-untyped-def]
        """Delete the selection (folders with their contents), without asking (the button asks
        first, with the number of files). Returns the future of the entries removed."""
        try:
            targets = self._targets()
        except InvalidInput as exc:
            self.fail(str(exc))
            return None

        async def go(aio: AsyncApolo) -> int:
            removed = 0
            for uri in targets:
                st = await aio.storage.stat(uri)
                removed += await aio.storage.rm(uri, recursive=st.is_dir)
            return removed

        def deleted(_count: int) -> None:
            self.prompt.children = []
            self.selected = []
            self.succeed(f"Deleted {len(targets)} entr{'y' if len(targets) == 1 else 'ies'}.")
            self.refresh()

        return self.run(go, deleted, doing="delete")

    # -- prompts ----------------------------------------------------------------------------------

    def _ask(self, label: str, placeholder: str, value: str, ok: str, then: Callable[[str], Any]) -> None:
        field = w.Text(value=value, placeholder=placeholder, description=label, layout=w.Layout(width="420px"),
                       style={"description_width": "auto"})
        go = w.Button(description=ok, button_style="primary", layout=w.Layout(width="auto"))
        no = w.Button(description="Cancel", layout=w.Layout(width="auto"))
        go.on_click(lambda _b: then(field.value.strip()))
        no.on_click(lambda _b: setattr(self.prompt, "children", []))
        self.prompt.children = [field, go, no]

    def _confirm(self, question: str, ok: str, then: Callable[[], Any]) -> None:
        text = w.HTML(f"<b>{esc(question)}</b>", layout=w.Layout(min_width="0"))
        go = w.Button(description=ok, button_style="danger", layout=w.Layout(width="auto"))
        no = w.Button(description="Cancel", layout=w.Layout(width="auto"))

        def dismiss(_b: w.Button) -> None:
            self.prompt.children = []

        def confirm(_b: w.Button) -> None:
            dismiss(_b)
            then()

        go.on_click(confirm)
        no.on_click(dismiss)
        self.prompt.children = [text, go, no]

    def _ask_download(self) -> None:
        self._ask("Download into", "a workspace folder", str(self.workspace), "Download",
                  lambda dest: self.download(dest or "."))

    def _ask_upload(self) -> None:
        self._ask("Upload", "a workspace file or folder, e.g. results/run1.csv", "", "Upload",
                  lambda local: self.upload(local) if local else self.fail("Type a workspace path to upload."))

    def _ask_mkdir(self) -> None:
        self._ask("New folder", "name", "", "Create", self.mkdir)

    def _ask_rename(self) -> None:
        if len(self.selected) != 1:
            self.fail("Select exactly one entry to rename.")
            return
        old = posixpath.basename(split_uri(self.selected[0])[2].rstrip("/"))
        self._ask("Rename to", "new name", old, "Rename", self.rename)

    def _ask_delete(self) -> None:
        try:
            targets = self._targets()
        except InvalidInput as exc:
            self.fail(str(exc))
            return

        async def count(aio: AsyncApolo) -> tuple[int, int]:
            files = size = 0
            for uri in targets:
                f, s = await aio.storage.usage(uri)
                files, size = files + f, size + s
            return files, size

        def counted(totals: tuple[int, int]) -> None:
            files, size = totals
            what = short_uri(targets[0], self.api.config) if len(targets) == 1 else f"{len(targets)} entries"
            self._confirm(f"Delete {what}: {files} file(s), {human_size(size)}? This cannot be undone.", "Delete",
                          self.delete)

        self.run(count, counted, doing="count what would be deleted")

    def _open_share(self) -> None:
        from .share import show_share_dialog

        uri = self.selected[0] if len(self.selected) == 1 else self._canonical
        show_share_dialog(self.share_box, short_uri(uri, self.api.config), self.api)

    def _show_uri(self) -> None:
        uris = self.selected or [self._canonical]
        shown = " ".join(short_uri(u, self.api.config) for u in uris)
        field = w.Text(value=shown, description="URI", layout=w.Layout(width="100%", max_width="640px"),
                       style={"description_width": "auto"})
        field.add_class("jp-ApoloW-mono")
        done = w.Button(description="Done", layout=w.Layout(width="auto"))
        done.on_click(lambda _b: setattr(self.prompt, "children", []))
        self.prompt.children = [field, done]
        self.succeed("Select the URI and copy it (Ctrl+C / ⌘C).")

    def close(self) -> None:
        """Cancel transfers and listings and close the widget (and its stream to the platform)."""
        listing, self._listing = self._listing, None
        super().close()
        if listing is not None:
            try:
                self.api.submit(lambda _aio: listing.close())
            except Exception:  # noqa: BLE001 - closing anyway
                pass


def _plain_name(name: str) -> str:
    """A single path segment typed by a person; ``InvalidInput`` naming the fix otherwise."""
    name = name.strip()
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise InvalidInput(f"Invalid name {name!r}: use a single name without '/' (not '.' or '..').")
    return name


def _label(plan: CopyPlan) -> str:
    return plan.source.name if isinstance(plan.source, FileStatus) else Path(plan.source).name


def _local_usage(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                files += 1
                size += path.stat().st_size
    return files, size
