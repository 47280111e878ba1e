"""What every jupyter-apolo widget shares: the client it talks through, its background work
(futures from ``Apolo.submit``, cancelled when the widget closes), one status line for the last
result or error, and the CSS (Jupyter's theme variables only, so light and dark themes both work).

Widget callbacks never wait on the platform: they ``start`` a call and return, so the kernel keeps
running cells. The done-callback runs on the client's loop thread and only sets traits (ipykernel
6+ sends those to the front end from any thread).
"""

from __future__ import annotations

import html
import threading
import time
from concurrent.futures import CancelledError, Future
from typing import Any, Awaitable, Callable, TypeVar

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle
from traitlets import Bool, Unicode

from ..client import (
    Apolo,
    ApoloError,
    AsyncApolo,
    AuthenticationError,
    AuthorizationError,
    ConfigError,
    PlatformTimeout,
    PlatformUnreachable,
    resolve_config,
)

T = TypeVar("T")
_default: "Future[Apolo] | None" = None
_default_lock = threading.Lock()


def default_api_future() -> "Future[Apolo]":
    """The process's shared client for widgets made without ``api=``: ``Apolo(resolve_config())``
    (passed config, ``apolo login``, or the embedded platform), opened in a worker thread on first
    use (opening asks the platform for its config: a widget must not wait on that). A failed
    opening (``ConfigError`` when no credentials are found, ``PlatformUnreachable``) is retried by
    the next caller."""
    global _default
    with _default_lock:
        if _default is None or (_default.done() and _default.exception() is not None):
            future: "Future[Apolo]" = Future()

            def open_client() -> None:
                try:
                    future.set_result(Apolo(resolve_config()))
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                    future.set_exception(exc)

            threading.Thread(target=open_client, name="jupyter-apolo-widgets-connect", daemon=True).start()
            _default = future
        return _default


def default_api() -> Apolo:
    """``default_api_future()``'s client, waiting for it (raises what opening raised)."""
    return default_api_future().result()


def describe_error(exc: BaseException, doing: str = "") -> str:
    """An error as one line naming the problem and the fix (never a traceback). ``doing``: what
    was attempted (``"share"``), used in the permission hint."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, PlatformTimeout):
        return f"The platform did not answer in time: {text}. Try again in a moment."
    if isinstance(exc, PlatformUnreachable):
        return f"Cannot reach the platform: {text}. Check the network or that the platform is up, then retry."
    if isinstance(exc, AuthenticationError):
        return f"{text} Log in again (`apolo login`), then reopen this widget."
    if isinstance(exc, AuthorizationError):
        need = "manage on it (ask its owner to share it with you at manage)" if doing in ("share", "revoke") \
            else "a higher permission on it (ask its owner)"
        return f"Not allowed: {text}. To {doing or 'do this'} you need {need}."
    if isinstance(exc, ConfigError):
        return text
    if isinstance(exc, OSError) and exc.filename:
        reason = exc.strerror or text
        return f"Cannot write {exc.filename} locally: {reason}. Choose another folder or name."
    return text


class Work:
    """The futures one widget started. ``start(future, then)`` calls ``then(result)`` when the
    future succeeds and ``failed(exc)`` when it raises; both on the completing thread. ``cancel()``
    cancels everything pending; ``wait(timeout)`` blocks until nothing is pending, callbacks
    included (for scripts and tests; widgets never call it)."""

    def __init__(self, on_busy: Callable[[bool], None]):
        self._pending: set[Future] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._on_busy = on_busy

    def start(self, future: "Future[T]", then: Callable[[T], None],
              failed: Callable[[BaseException], None]) -> "Future[T]":
        with self._lock:
            self._pending.add(future)
            busy_now = len(self._pending) == 1
        if busy_now:
            self._on_busy(True)

        def done(f: "Future[T]") -> None:
            try:
                if f.cancelled():
                    return
                exc = f.exception()
                if exc is not None:
                    failed(exc)
                else:
                    then(f.result())
            except CancelledError:
                pass
            except Exception as exc:  # noqa: BLE001 - a widget shows errors; a callback must not die silently
                failed(exc)
            finally:
                with self._lock:
                    self._pending.discard(f)
                    idle = not self._pending
                    if idle:
                        self._idle.notify_all()
                if idle:
                    self._on_busy(False)

        future.add_done_callback(done)
        return future

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def cancel(self) -> None:
        with self._lock:
            pending = list(self._pending)
        for f in pending:
            f.cancel()

    def wait(self, timeout: float = 60) -> None:
        """Block until no work is pending; ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"widget work still pending after {timeout} s")
                self._idle.wait(left)


CSS = """
<style>
.jp-ApoloW { font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1); background: var(--jp-layout-color1);
  border: var(--jp-border-width) solid var(--jp-border-color2); border-radius: 4px; padding: 8px 10px;
  max-width: 100%; box-sizing: border-box; overflow-x: auto; }
.jp-ApoloW code { white-space: nowrap; font-family: var(--jp-code-font-family); }
.jp-ApoloW-label .widget-html-content { text-align: right; padding-right: 8px; }
.jp-ApoloW-title { font-size: var(--jp-ui-font-size2); font-weight: 600; color: var(--jp-ui-font-color0); }
.jp-ApoloW-muted { color: var(--jp-ui-font-color2); }
.jp-ApoloW-status { min-height: 1.4em; line-height: 1.4em; }
.jp-ApoloW-status .jp-ApoloW-error { color: var(--jp-error-color1); }
.jp-ApoloW-status .jp-ApoloW-ok { color: var(--jp-success-color1); }
.jp-ApoloW-hint .widget-html-content, .jp-ApoloW-warn .widget-html-content,
.jp-ApoloW-status .widget-html-content { line-height: 1.45; white-space: normal; }
.jp-ApoloW-level .widget-toggle-button.mod-active { background: var(--jp-brand-color1);
  color: var(--jp-ui-inverse-font-color1); box-shadow: none; }
.jp-ApoloW-open a, a.jp-ApoloW-open { color: var(--jp-content-link-color); white-space: nowrap; }
.jp-ApoloW-warn { color: var(--jp-ui-font-color1); background: var(--jp-warn-color3);
  border-left: 3px solid var(--jp-warn-color1); padding: 4px 8px; border-radius: 2px; line-height: 1.4; }
.jp-ApoloW-hint { color: var(--jp-ui-font-color2); line-height: 1.4; }
.jp-ApoloW-row { border-bottom: var(--jp-border-width) solid var(--jp-border-color3); align-items: center; }
.jp-ApoloW-row:hover { background: var(--jp-layout-color2); }
.jp-ApoloW-head { border-bottom: var(--jp-border-width) solid var(--jp-border-color1); font-weight: 600;
  color: var(--jp-ui-font-color1); }
.jp-ApoloW-cell, .jp-ApoloW-cell .widget-label, .jp-ApoloW-cell .widget-html-content {
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.jp-ApoloW-mono, .jp-ApoloW-mono .widget-html-content, .jp-ApoloW-mono .widget-label {
  font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size); }
.jp-ApoloW-link button, button.jp-ApoloW-link { background: transparent; box-shadow: none;
  color: var(--jp-content-link-color); text-align: left; padding: 0 4px; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; justify-content: flex-start; }
.jp-ApoloW-link button:hover, button.jp-ApoloW-link:hover { text-decoration: underline;
  background: transparent; }
.jp-ApoloW-crumb { min-width: 0; }
.jp-ApoloW pre.jp-ApoloW-log { max-height: 16em; overflow: auto; margin: 4px 0;
  background: var(--jp-cell-editor-background); color: var(--jp-content-font-color1);
  border: var(--jp-border-width) solid var(--jp-cell-editor-border-color); padding: 4px 6px;
  font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size); white-space: pre-wrap; }
.jp-ApoloW-details .widget-html-content { line-height: 1.4; }
.jp-ApoloW-details th { text-align: left; font-weight: 600; padding: 1px 16px 1px 0; color: var(--jp-ui-font-color2);
  vertical-align: top; white-space: nowrap; }
.jp-ApoloW-details td { padding: 1px 0; font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size);
  word-break: break-all; }
.jp-ApoloW-badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: var(--jp-ui-font-size0);
  line-height: 1.6; border: 1px solid var(--jp-border-color1); color: var(--jp-ui-font-color1); }
.jp-ApoloW-badge.running { border-color: var(--jp-success-color1); color: var(--jp-success-color1); }
.jp-ApoloW-badge.failed { border-color: var(--jp-error-color1); color: var(--jp-error-color1); }
.jp-ApoloW-badge.pending, .jp-ApoloW-badge.suspended { border-color: var(--jp-warn-color1);
  color: var(--jp-warn-color1); }
</style>
"""


def esc(text: Any) -> str:
    """HTML-escape ``text`` (names on shared storage are hostile)."""
    return html.escape("" if text is None else str(text))


class Shared:
    """Layouts and styles shared by the rows of one table: identical rows then cost one widget model
    per cell instead of three (widget + layout + style), which is most of a page's first-draw time."""

    def __init__(self) -> None:
        self._layouts: dict[tuple, w.Layout] = {}
        self._styles: dict[type, Any] = {}

    def layout(self, **kwargs: str) -> w.Layout:
        key = tuple(sorted(kwargs.items()))
        if key not in self._layouts:
            self._layouts[key] = w.Layout(**kwargs)
        return self._layouts[key]

    def style(self, kind: type) -> Any:
        if kind not in self._styles:
            self._styles[kind] = kind()
        return self._styles[kind]


def cell(text: str, width: str, *, mono: bool = False, title: str | None = None, flex: str = "0 0 auto",
         shared: Shared | None = None) -> w.HTML:
    """A table cell of ``width`` (CSS): text escaped, ellipsised when too long, the full value as
    tooltip. ``shared``: reuse one layout and style per distinct cell shape (see ``Shared``)."""
    shape = dict(width=width, min_width=width if width.endswith("px") else "0", flex=flex)
    if shared is not None:
        box = w.HTML(_cell_html(text, title), layout=shared.layout(**shape), style=shared.style(HTMLStyle))
    else:
        box = w.HTML(_cell_html(text, title), layout=w.Layout(**shape))
    box.add_class("jp-ApoloW-cell")  # one class per call: the front end adds each as one token
    if mono:
        box.add_class("jp-ApoloW-mono")
    return box


def _cell_html(text: str, title: str | None = None) -> str:
    return f'<span title="{esc(title if title is not None else text)}">{esc(text)}</span>'


def set_cell(box: w.HTML, text: str, title: str | None = None) -> None:
    """Change a ``cell``'s text."""
    box.value = _cell_html(text, title)


class ApoloWidget(w.VBox):
    """Base of the widgets: ``api`` (an ``Apolo``; default ``default_api()``), ``busy`` (platform
    work pending), ``error`` (the last error, one line; "" when the last action succeeded),
    ``message`` (the last result, one line), ``wait(timeout)`` and ``close()`` (cancels its work)."""

    busy = Bool(False, help="True while a platform call of this widget is pending.")
    error = Unicode("", help="The last error as one line naming the fix; empty after a success.")
    message = Unicode("", help="The last result as one line.")

    def __init__(self, api: Apolo | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.add_class("jp-ApoloW")
        self._api = api
        self._connecting: "Future[Apolo] | None" = None
        self.work = Work(lambda busy: setattr(self, "busy", busy))
        if api is None:
            future = default_api_future()
            if future.done() and future.exception() is None:
                self._api = future.result()
            else:
                self._connecting = future
        self.status_line = w.HTML("")
        self.status_line.add_class("jp-ApoloW-status")
        self.observe(self._show_status, names=["error", "message"])

    @property
    def api(self) -> Apolo:
        """The client (waits for the default one if it is still opening; raises what opening raised)."""
        if self._api is None:
            self._api = (self._connecting or default_api_future()).result()
        return self._api

    def when_ready(self, start: Callable[[], None]) -> None:
        """Call ``start()`` (the widget's first loads) once the client is open: now, or from the
        opening thread when it finishes (``busy`` meanwhile; a failure becomes ``error``)."""
        if self._api is not None or self._connecting is None:
            start()
            return

        def opened(api: Apolo) -> None:
            self._api = api
            start()

        self.work.start(self._connecting, opened, lambda exc: self.fail(exc))

    def run(self, call: Callable[[AsyncApolo], Awaitable[T]], then: Callable[[T], None],
            doing: str = "", failed: Callable[[BaseException], None] | None = None) -> "Future[T] | None":
        """Start ``call(async_client)`` without blocking; ``then(result)`` on success; on error
        ``error`` gets one line (and ``failed(exc)`` runs if given). Returns the future (None when
        no client could be made: then ``error`` says why)."""
        try:
            future = self.api.submit(call)
        except ApoloError as exc:
            self.fail(exc, doing)
            return None

        def on_error(exc: BaseException) -> None:
            self.fail(exc, doing)
            if failed is not None:
                failed(exc)

        return self.work.start(future, then, on_error)

    def fail(self, exc: BaseException | str, doing: str = "") -> None:
        """Show ``exc`` (an exception or a sentence) as this widget's one-line error."""
        self.message = ""
        self.error = exc if isinstance(exc, str) else describe_error(exc, doing)

    def succeed(self, text: str) -> None:
        """Show ``text`` as the one-line result and clear the error."""
        self.error = ""
        self.message = text

    def _show_status(self, _change: Any = None) -> None:
        if self.error:
            self.status_line.value = f'<span class="jp-ApoloW-error">⚠ {esc(self.error)}</span>'
        elif self.message:
            self.status_line.value = f'<span class="jp-ApoloW-ok">{esc(self.message)}</span>'
        else:
            self.status_line.value = ""

    def wait(self, timeout: float = 60) -> "ApoloWidget":
        """Block until this widget's platform work is done (scripts and tests); returns self."""
        self.work.wait(timeout)
        return self

    def close(self) -> None:
        """Cancel this widget's pending platform work and close it in every front end."""
        work = getattr(self, "work", None)  # absent if __init__ failed early
        if work is not None:
            work.cancel()
        super().close()


def style_tag() -> w.HTML:
    """An (invisible) HTML widget carrying the widgets' CSS."""
    tag = w.HTML(CSS, layout=w.Layout(display="none"))
    return tag


def paging_controls() -> tuple[w.HTML, w.Button, w.Button, w.HTML]:
    """The controls every paged widget shows under its rows: the empty-state line (hidden until used),
    the Previous and Next buttons, and the page label."""
    empty = w.HTML("", layout=w.Layout(display="none"))
    empty.add_class("jp-ApoloW-muted")
    prev_button = w.Button(description="Previous", icon="chevron-left", layout=w.Layout(width="110px"))
    next_button = w.Button(description="Next", icon="chevron-right", layout=w.Layout(width="110px"))
    page_label = w.HTML("")
    page_label.add_class("jp-ApoloW-muted")
    return empty, prev_button, next_button, page_label
