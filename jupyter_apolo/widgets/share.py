"""``ShareDialog``: share a resource (a job, storage, an image, a role) with a user or role, see who
has access, revoke. The widget twin of ``%apolo share`` / ``%apolo revoke`` (``apolo share``,
``apolo acl revoke``), driven the same from Python (``dlg.user = "alice"; dlg.share()``) or by clicks.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
from traitlets import Unicode, observe

from ..client import Access, Apolo, ApoloError, AsyncApolo, InvalidInput, Job, ShareResult, short_uri
from ..client.jobs import JOB_ID, current_job
from ..client.permissions import ACTIONS
from ..display import JUPYTER_JOB_WARNING, access_line, capabilities, higher_reason, project_of, share_lines
from .base import ApoloWidget, esc, style_tag

NO_JOB = ""  # the picker's "choose" entry


class UnknownUser(InvalidInput):
    """The user or role to share with does not exist on the platform (checked before any share)."""


def is_jupyter_job(job: Job) -> bool:
    """Whether ``job`` runs a Jupyter server (its command or image says so): read on it opens the
    notebook server and its kernels."""
    text = f"{job.command or ''} {job.image}".lower()
    return "jupyter" in text or "notebook" in text


class ShareDialog(ApoloWidget):
    """Share a resource with a user or role, at read, write or manage.

    ``uri``: any URI ``apolo share`` accepts (``job:ID``, ``job:NAME``, ``storage:PATH``, ``image:NAME``,
    ``role://...``); None: this job inside a platform job (``NEURO_JOB_ID``), else empty with a picker
    over your running jobs. ``api``: an ``Apolo`` (default: the shared ``default_api()``).

    Traits: ``uri``, ``user``, ``action`` (read|write|manage), ``busy``, ``error`` (one line),
    ``message``; ``access`` is the "who has access" list (``client.Access``). Methods: ``share()``
    and ``revoke(user)`` return a ``concurrent.futures.Future`` (the widget never blocks the kernel;
    ``dlg.wait()`` blocks a script until done). An unknown user is reported inline and nothing is sent.
    """

    uri = Unicode("", help="The resource to share, as the CLI accepts it (job:ID, storage:PATH, ...).")
    user = Unicode("", help="The user or role to share with (alice, alice/roles/team).")
    action = Unicode("read", help="read, write or manage.")

    def __init__(self, uri: str | None = None, *, api: Apolo | None = None, **kwargs: Any):
        super().__init__(api=api, **kwargs)
        self.access: list[Access] = []
        self._job: Job | None = None
        self._canonical = ""

        self.title = w.HTML('<span class="jp-ApoloW-title">Share</span>')
        self.picker = w.Dropdown(options=[("Loading your running jobs…", NO_JOB)], value=NO_JOB,
                                 description="Running job", layout=w.Layout(width="100%", max_width="640px"),
                                 style={"description_width": "90px"})
        self.uri_field = w.Text(placeholder="job:NAME, job:ID, storage:PATH, image:NAME, role://…",
                                description="Resource", continuous_update=False,
                                layout=w.Layout(width="100%", max_width="640px"), style={"description_width": "90px"})
        self.user_field = w.Text(placeholder="user or role, e.g. alice or alice/roles/team", description="With",
                                 continuous_update=False, layout=w.Layout(width="100%", max_width="420px"),
                                 style={"description_width": "90px"})
        self.user_hint = w.HTML("", layout=w.Layout(margin="0 0 0 98px"))
        self.user_hint.add_class("jp-ApoloW-status")
        self.level = w.ToggleButtons(options=list(ACTIONS), value="read",
                                     tooltips=["see it (and open a job's web UI)", "also change it",
                                               "also re-share it"],
                                     style={"button_width": "80px"})
        level_label = w.HTML("Level", layout=w.Layout(width="90px", flex="0 0 auto"))
        level_label.add_class("jp-ApoloW-label")
        self.explain = w.HTML("", layout=w.Layout(max_width="640px"))
        self.explain.add_class("jp-ApoloW-hint")
        self.warning = w.HTML("", layout=w.Layout(display="none", max_width="640px"))
        self.share_button = w.Button(description="Share", button_style="primary", icon="share-alt",
                                     tooltip="Grant the level above to the user")
        self.access_title = w.HTML('<b>Who has access</b> <span class="jp-ApoloW-muted">(shares you manage)</span>')
        self.access_box = w.VBox([])

        for widget, name in ((self.picker, "picker"), (self.uri_field, "uri"), (self.user_field, "user"),
                             (self.level, "level"), (self.share_button, "share"), (self.access_box, "access")):
            widget.add_class(f"jp-ApoloW-{name}")  # stable hooks for styling and browser tests
        w.link((self.uri_field, "value"), (self, "uri"))
        w.link((self.user_field, "value"), (self, "user"))
        w.link((self.level, "value"), (self, "action"))
        self.picker.observe(self._picked, names="value")
        self.share_button.on_click(lambda _b: self.share())
        self.observe(self._toggle_share_button, names="busy")

        this = current_job()
        self.picker.layout.display = "none" if (uri or this) else None
        self.children = [
            style_tag(), self.title, self.picker, self.uri_field, self.user_field, self.user_hint,
            w.HBox([level_label, self.level], layout=w.Layout(align_items="center")),
            self.explain, self.warning, w.HBox([self.share_button]), self.status_line, self.access_title,
            self.access_box,
        ]
        self._started = False
        self.uri = uri or (this.uri if this else "")
        self._explain()
        self.when_ready(lambda: self._start(pick=not uri and not this))

    def _start(self, pick: bool) -> None:
        self._started = True
        self._load_resource()
        if pick:
            self._load_running_jobs()

    # -- Python API -------------------------------------------------------------------------------

    def share(self):  # type: ignore[no-untyped-def]
        """Grant ``action`` on ``uri`` to ``user``: checks the user exists first (unknown: inline
        error, nothing sent), then shares and refreshes the access list. Returns the future of the
        ``ShareResult`` (None when the input is rejected before anything is sent; see ``error``)."""
        uri, user, action = self.uri.strip(), self.user.strip(), self.action
        try:
            canonical = self._normalize(uri)
            if not user:
                raise InvalidInput("Type the user (or role) to share with, e.g. alice.")
            if action not in ACTIONS:
                raise InvalidInput(f"Invalid level {action!r}: choose read, write or manage.")
        except InvalidInput as exc:
            self.fail(str(exc))
            return None
        except ApoloError as exc:
            self.fail(exc, "share")
            return None
        aliases = self._aliases()

        async def go(aio: AsyncApolo) -> tuple[ShareResult, list[Access]]:
            if not await aio.permissions.user_exists(user):
                raise UnknownUser(f'user "{user}" was not found: check the name (a platform user name, or a role '
                                  f'like alice/roles/team); nothing was shared.')
            result = await aio.permissions.share(canonical, user, action)
            return result, await aio.permissions.access(canonical, aliases=aliases)

        def shared(outcome: tuple[ShareResult, list[Access]]) -> None:
            result, rows = outcome
            self._set_access(rows)
            shown = self._short(result.uri)
            if result.higher:
                reason = higher_reason(result, rows, shown, self._short, self._project(result.uri))
                self.succeed(f"{user} already has {result.action} on {shown}; nothing lowered. {reason}")
            else:
                self.succeed(" ".join(share_lines(result, shown)[:1]))

        self.user_hint.value = ""
        return self.run(go, shared, doing="share", failed=self._user_failed)

    def revoke(self, user: str):  # type: ignore[no-untyped-def]
        """Take back ``user``'s grant on this resource (``apolo acl revoke``), with no question asked
        (the button asks first). A grant on a parent folder or through a role is explained, not
        revoked. Returns the future (None when rejected before sending; see ``error``)."""
        try:
            canonical = self._normalize(self.uri.strip())
        except InvalidInput as exc:
            self.fail(str(exc))
            return None
        mine = [a for a in self.access if a.user == user and not a.role]
        exact = [a for a in mine if a.granted_uri in (canonical, *self._aliases())]
        if mine and not exact:
            self.fail(f"{user}'s access comes from a share of {self._short(mine[0].granted_uri)}: revoke it there.")
            return None
        targets = [a.granted_uri for a in exact] or [canonical]
        aliases = self._aliases()

        async def go(aio: AsyncApolo) -> list[Access]:
            for target in targets:
                await aio.permissions.revoke(target, user)
            return await aio.permissions.access(canonical, aliases=aliases)

        def revoked(rows: list[Access]) -> None:
            self._set_access(rows)
            self.succeed(f"Revoked {user}'s access to {self._short(canonical)}.")

        return self.run(go, revoked, doing="revoke")

    def refresh(self):  # type: ignore[no-untyped-def]
        """Reload the resource's details and the access list; returns the future (None if no URI)."""
        return self._load_resource()

    # -- resource ---------------------------------------------------------------------------------

    def _normalize(self, uri: str) -> str:
        if not uri:
            raise InvalidInput("Choose a resource: pick a running job or type a URI such as job:NAME or storage:PATH.")
        return self.api.permissions.normalize(uri)

    def _short(self, uri: str) -> str:
        return short_uri(uri, self.api.config)

    def _project(self, uri: str) -> str | None:
        return project_of(uri, with_org=bool(self.api.config.org))

    def _aliases(self) -> list[str]:
        """Other URIs whose grants cover this resource: a job's name URI covers its runs."""
        job = self._job
        if job is None or not job.name:
            return []
        return [self.api.permissions.normalize(f"job:/{job.project}/{job.name}")]

    @observe("uri")
    def _uri_changed(self, change: Any) -> None:
        self._job = None
        if self._started:  # before that, _start loads it
            self._load_resource()

    @observe("action")
    def _action_changed(self, change: Any) -> None:
        self._explain()

    def _load_resource(self):  # type: ignore[no-untyped-def]
        self.access_box.children = []
        self.access = []
        uri = self.uri.strip()
        self._explain()
        if not uri:
            self._canonical = ""
            return None
        try:
            canonical = self._normalize(uri)
        except InvalidInput as exc:
            self.fail(f"{exc} ({uri!r} is not a URI the platform can share)")
            return None
        except ApoloError as exc:  # no credentials, platform down while opening the client
            self.fail(exc)
            return None
        self._canonical = canonical
        self.error = ""
        job_ref = canonical if canonical.startswith("job:") and self._names_one_job(canonical) else None

        async def go(aio: AsyncApolo) -> tuple[Job | None, list[Access]]:
            job = None
            if job_ref is not None:
                try:
                    job = await aio.jobs.get(job_ref)
                except Exception:  # noqa: BLE001 - a job not visible (yet) is still shareable by URI
                    job = None
            aliases = [aio.permissions.normalize(f"job:/{job.project}/{job.name}")] if job and job.name else []
            return job, await aio.permissions.access(canonical, aliases=aliases)

        def loaded(outcome: tuple[Job | None, list[Access]]) -> None:
            if self._canonical != canonical:
                return  # the resource changed meanwhile
            self._job, rows = outcome
            self._set_access(rows)
            self._explain()

        def failed(exc: BaseException) -> None:
            self.access_box.children = [w.HTML(f'<span class="jp-ApoloW-muted">Cannot list who has access: '
                                               f'{esc(self.error)}</span>')]
            self.error = ""

        return self.run(go, loaded, doing="see who has access to", failed=failed)

    def _explain(self) -> None:
        uri = self._canonical or self.uri.strip()
        scheme = uri.partition(":")[0] or "job"
        shown = self._short(self._canonical) if self._canonical else "it"
        title = f"Share <code>{esc(shown)}</code>" if self._canonical else "Share"
        if self._job is not None:
            detail = f'{esc(self._job.name or "unnamed job")}, {esc(self._job.status)}'
            title += f' <span class="jp-ApoloW-muted">({detail})</span>'
        self.title.value = f'<span class="jp-ApoloW-title">{title}</span>'
        action = self.action if self.action in ACTIONS else "read"
        who = self.user.strip() or "they"
        sentence = esc(capabilities(scheme, action)).replace("--pass-config", "<code>--pass-config</code>")
        self.explain.value = f"<b>{esc(action)}</b>: {esc(who)} can {sentence}."
        jupyter = self._job is not None and is_jupyter_job(self._job)
        self.warning.value = f'<div class="jp-ApoloW-warn">⚠ {esc(JUPYTER_JOB_WARNING)}</div>' if jupyter else ""
        self.warning.layout.display = None if jupyter else "none"

    # -- user check -------------------------------------------------------------------------------

    @observe("user")
    def _user_changed(self, change: Any) -> None:
        self._explain()
        name = change["new"].strip()
        self.user_hint.value = ""
        if not name:
            return
        try:
            from ..client.permissions import principal_segment

            principal_segment(name)
        except InvalidInput as exc:
            self._hint_error(str(exc))
            return

        def checked(exists: bool) -> None:
            if self.user.strip() != name:
                return
            if exists:
                self.user_hint.value = f'<span class="jp-ApoloW-ok">✓ {esc(name)} is a platform user or role</span>'
            else:
                self._hint_error(f'user "{name}" was not found: check the name')

        self.run(lambda aio: aio.permissions.user_exists(name), checked, doing="check the user")

    def _hint_error(self, text: str) -> None:
        self.user_hint.value = f'<span class="jp-ApoloW-error">⚠ {esc(text)}</span>'

    def _user_failed(self, exc: BaseException) -> None:
        if isinstance(exc, UnknownUser):
            self._hint_error(f'user "{self.user.strip()}" was not found: check the name')

    # -- the running-jobs picker ------------------------------------------------------------------

    def _load_running_jobs(self) -> None:
        async def go(aio: AsyncApolo) -> list[Job]:
            return [job async for job in aio.jobs.list(statuses=("running",), limit=500)]

        def loaded(jobs: list[Job]) -> None:
            # the id last: a narrow dropdown cuts its tail, not the name or the status
            options = [(f"{job.name or '(no name)'} · {job.status} · {job.id}", job.id) for job in jobs]
            first = ("Choose one of your running jobs…" if options else "No running jobs: type a URI below", NO_JOB)
            self.picker.options = [first, *options]

        def failed(_exc: BaseException) -> None:
            self.picker.options = [("Cannot list your jobs: type a URI below", NO_JOB)]

        self.run(go, loaded, doing="list your jobs", failed=failed)

    def _picked(self, change: Any) -> None:
        if change["new"]:
            self.uri = f"job:{change['new']}"

    # -- the access list --------------------------------------------------------------------------

    def _set_access(self, rows: list[Access]) -> None:
        self.access = rows
        if not rows:
            self.access_box.children = [w.HTML('<span class="jp-ApoloW-muted">Nobody yet, apart from the project\'s '
                                               'members.</span>')]
            return
        own = (self._canonical, *self._aliases())
        self.access_box.children = [self._access_row(a, a.granted_uri in own) for a in rows]

    def _access_row(self, access: Access, exact: bool) -> w.HBox:
        line = w.HTML(esc(access_line(access, self._short(access.granted_uri), exact)),
                      layout=w.Layout(flex="1 1 auto", min_width="0"))
        line.add_class("jp-ApoloW-cell")
        row = w.HBox([line], layout=w.Layout(width="100%", max_width="640px"))
        row.add_class("jp-ApoloW-row")
        row.add_class(f"jp-ApoloW-access-{access.user.replace('/', '-')}")
        if exact and not access.role:
            button = w.Button(description="Revoke", icon="times", tooltip=f"Take back {access.user}'s access",
                              layout=w.Layout(width="96px", flex="0 0 auto"))
            button.on_click(lambda _b: self._confirm_revoke(row, access))
            row.children = [line, button]
        return row

    def _confirm_revoke(self, row: w.HBox, access: Access) -> None:
        question = w.HTML(f"Revoke {esc(access.user)}'s {esc(access.action)} access?",
                          layout=w.Layout(flex="1 1 auto", min_width="0"))
        yes = w.Button(description="Revoke", button_style="danger", layout=w.Layout(width="96px", flex="0 0 auto"))
        no = w.Button(description="Cancel", layout=w.Layout(width="96px", flex="0 0 auto"))
        old = row.children
        yes.on_click(lambda _b: self.revoke(access.user))
        no.on_click(lambda _b: setattr(row, "children", old))
        row.children = [question, yes, no]

    def _toggle_share_button(self, change: Any) -> None:
        self.share_button.disabled = bool(change["new"])

    def _names_one_job(self, canonical: str) -> bool:
        """Whether a canonical job URI names one job (by id or name), not a whole project."""
        path = canonical.partition("://")[2].rstrip("/").split("/")
        return len(path) >= (4 if self.api.config.org else 3) or bool(JOB_ID.fullmatch(path[-1]))


def show_share_dialog(box: w.Box, uri: str, api: Apolo) -> ShareDialog:
    """Put a ``ShareDialog`` for ``uri`` (a short URI the CLI accepts) with a Close button into ``box``
    (a widget's panel); Close closes the dialog and empties ``box``. Returns the dialog."""
    dialog = ShareDialog(uri=uri, api=api)
    close = w.Button(description="Close", icon="times", layout=w.Layout(width="auto", align_self="flex-start"))

    def close_dialog(_b: w.Button) -> None:
        dialog.close()
        box.children = []

    close.on_click(close_dialog)
    box.children = [dialog, close]
    return dialog
