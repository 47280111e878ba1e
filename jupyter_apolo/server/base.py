"""The one base handler of the server extension: authentication, local paths, JSON bodies and errors.

Every jupyter-apolo handler derives from ``ApoloHandler``:

- jupyter_server authentication (each verb is ``@web.authenticated`` and ``@authorized`` on the
  resource ``apolo``) and XSRF for cookie-authenticated mutations (``JupyterHandler.prepare``);
- ``local_path(rel)``: the one confinement rule for workspace paths (relative to the contents
  manager's root, what the Lab file browser shows), never leaving it, also not through a symlink;
  error messages name such paths the same way (``shown_text``), never as the server's absolute paths;
- ``json_body()``: the request body as a JSON object, or a 400 naming the problem;
- one error map (``error_answer``): the client's ``ApoloError`` kinds, the notebooks workflow's
  ``ProjectError``/``GitError`` and ``JSONError`` become ``{"error": message, ...}`` with a status.
  Unexpected exceptions answer 500 without details (the traceback goes to the server log).
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..client import (
    ApoloError,
    ConfigError,
    InvalidInput,
    NotFoundError,
    PlatformTimeout,
    PlatformUnreachable,
    TargetExists,
)
from ..notebooks import GitError, ProjectError
from .settings import Connection

AUTH_RESOURCE = "apolo"

#: What the 503 answer adds to the client's error (which already lists the commands to run).
CONFIG_FIX = ("After `apolo login`, press refresh; no restart is needed. A server can also be configured with "
              "c.ApoloServer.url and c.ApoloServer.token_file.")

#: Longest workspace path accepted, in characters (Linux PATH_MAX is 4096 bytes).
MAX_PATH = 4096
#: Longest name in a workspace path, in bytes (NAME_MAX of Linux and macOS file systems).
MAX_NAME_BYTES = 255


class JSONError(web.HTTPError):
    """An answer ``{"error": message, **extra}`` with ``status`` (``extra``: e.g. ``fix``, ``output``)."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(status, reason=None)
        self.message, self.extra = message, extra


def error_answer(exc: BaseException) -> JSONError | None:
    """The JSON answer for an exception the extension expects, or None for an unexpected one.

    ``ConfigError`` 503 with a fix; ``PlatformTimeout`` 504; ``PlatformUnreachable`` 502;
    ``InvalidInput`` and ``ProjectError`` 400; ``TargetExists`` and ``GitError`` 409 (git's output
    kept in ``output``, its ``fix`` too); any other ``ApoloError`` its status with the platform's message verbatim,
    plus ``missing``/``errno`` when known.
    """
    if isinstance(exc, JSONError):
        return exc
    if isinstance(exc, ConfigError):
        return JSONError(503, exc.message, fix=CONFIG_FIX)
    if isinstance(exc, PlatformTimeout):
        return JSONError(504, exc.message)
    if isinstance(exc, PlatformUnreachable):
        return JSONError(502, exc.message)
    if isinstance(exc, InvalidInput):
        return JSONError(400, exc.message)
    if isinstance(exc, NotFoundError):  # also the platform's 400 "no such job"
        return JSONError(404, exc.message)
    if isinstance(exc, TargetExists):
        return JSONError(409, exc.message, fix="Pass overwrite: true to replace it, or choose another destination.")
    if isinstance(exc, ApoloError):
        extra: dict[str, Any] = {}
        if getattr(exc, "missing", None):
            extra["missing"] = exc.missing  # type: ignore[attr-defined]
        if getattr(exc, "errno", None) is not None:  # symbolic, as the platform sends it (§4.3)
            extra["errno"] = errno.errorcode.get(exc.errno, exc.errno)  # type: ignore[attr-defined]
        return JSONError(exc.status or 500, exc.message, **extra)
    if isinstance(exc, ProjectError):
        return JSONError(400, str(exc))
    if isinstance(exc, GitError):
        return JSONError(409, str(exc).splitlines()[0], output=exc.output, **({"fix": exc.fix} if exc.fix else {}))
    return None


class ApoloHandler(APIHandler):
    """Base of every jupyter-apolo handler. ``self.connection``: the shared ``Connection``;
    handler-specific dependencies arrive as ``initialize`` keyword arguments (the route table's)."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, connection: Connection, **dependencies: Any) -> None:
        self.connection = connection
        for name, value in dependencies.items():
            setattr(self, name, value)

    # -- input ------------------------------------------------------------------------------------

    @property
    def workspace_root(self) -> Path:
        """The contents manager's root directory (what the Lab file browser shows), resolved."""
        root = getattr(self.contents_manager, "root_dir", None) or self.settings.get("server_root_dir") or os.getcwd()
        return Path(root).expanduser().resolve()

    def local_path(self, rel: str | None) -> Path:
        """The resolved local path of workspace path ``rel`` (``a/b.ipynb``; a leading ``/`` is
        allowed, as in the contents API; empty or None: the root). Raises ``JSONError(400)`` for a
        NUL or backslash, a ``..`` segment, an over-long path or name, or a path leaving the root (also
        through a symlink)."""
        rel = rel or ""
        if "\x00" in rel or "\\" in rel or len(rel) > MAX_PATH:
            raise JSONError(400, f"Invalid workspace path {rel[:80]!r}: use '/'-separated names without NUL or "
                                 f"backslash, at most {MAX_PATH} characters.")
        parts = PurePosixPath(rel.strip("/")).parts
        long_name = next((p for p in parts if len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES), None)
        if long_name is not None:
            size = len(long_name.encode("utf-8", "surrogatepass"))
            raise JSONError(400, f"Invalid workspace path {rel[:80]!r}: the name {long_name[:40]!r}... is too "
                                 f"long ({size} bytes; at most {MAX_NAME_BYTES}).")
        if ".." in parts:
            raise JSONError(400, f"Invalid workspace path {rel!r}: '..' is not allowed; "
                                 "give a path inside the workspace.")
        root = self.workspace_root
        path = Path(os.path.realpath(root.joinpath(*parts)))
        if path != root and root not in path.parents:
            raise JSONError(400, f"Invalid workspace path {rel!r}: it leads outside the workspace.")
        return path

    def shown_path(self, path: Path) -> str:
        """``path`` as the file browser shows it: relative to the workspace root, '/'-separated."""
        return path.relative_to(self.workspace_root).as_posix()

    def shown_text(self, text: str) -> str:
        """``text`` (an error message) with the server's absolute workspace paths shown as the file browser names
        them: ``/srv/root/work/x`` -> ``work/x``, the root itself -> ``the Jupyter root``."""
        root = str(self.workspace_root).rstrip("/")
        if not root:
            return text
        pattern = re.escape(root) + r"(/|(?=[\s:;,'\")\]]|$))"  # the root, not a sibling such as /srv/root2
        return re.sub(pattern, lambda m: "" if m.group(1) == "/" else "the Jupyter root", text)

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object (an empty body is ``{}``). Raises ``JSONError(400)``."""
        try:
            data = json.loads(self.request.body or b"{}")
        except (ValueError, RecursionError):
            raise JSONError(400, "The request body must be JSON.") from None
        if not isinstance(data, dict):
            raise JSONError(400, "The request body must be a JSON object.")
        return data

    # -- output -----------------------------------------------------------------------------------

    def write_json(self, data: Any, status: int = 200) -> None:
        """Finish with ``data`` as JSON and ``status``."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        answer = error_answer(kwargs.get("exc_info", (None, None, None))[1])
        super().send_error(answer.status_code if answer is not None else status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        answer = error_answer(exc)
        if answer is not None:
            body = {"error": self.shown_text(answer.message), **answer.extra}
            if isinstance(body.get("fix"), str):
                body["fix"] = self.shown_text(body["fix"])
        elif isinstance(exc, web.HTTPError):
            body = {"error": exc.log_message or self._reason}
        else:
            body = {"error": "Internal error in the jupyter-apolo server extension; see the server log."}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        if error_answer(value) is not None:
            self.log.info("apolo: %s %s -> %s", self.request.method, self.request.path, str(value)[:300])
            return  # an answer, not a fault; messages never carry tokens
        super().log_exception(typ, value, tb)
