"""``ApoloMagics``: the ``%apolo`` / ``%%apolo`` magic, its settings and the subcommand router.

The router splits the line like a shell (``shlex``), picks the subcommand and hands it the rest;
each subcommand module (``jobs``, ``sharing``, ``storage``, and the notebooks helper's
``notebooks``) registers ``handler(magics, argv) -> object`` in its ``SUBCOMMANDS``. Platform
errors (``jupyter_apolo.client.ApoloError``) print one line to stderr, no traceback; argument
errors raise IPython's ``UsageError``.
"""

from __future__ import annotations

import shlex
import sys
import threading
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Int, List, Unicode, observe

from ..client import Apolo, ApoloError, InvalidInput, resolve_config
from ..display import DEFAULT_JOB_COLUMNS
from .errors import CommandError, one_line
from .parser import HelpShown


@magics_class
class ApoloMagics(Magics):
    """The ``%apolo`` magics. Settings via ``%config ApoloMagics.<trait> = value``.

    ``url``/``token``/``cluster``/``org``/``project`` override what ``resolve_config`` finds
    (passed-config env, the apolo CLI's login, the embedded platform); empty means "not set".
    """

    url = Unicode("", help="Platform API base (ending in /api/v1); empty: from the apolo login.").tag(config=True)
    token = Unicode("", help="Bearer token for `url` (never shown); empty: from the apolo login.").tag(config=True)
    cluster = Unicode("", help="Cluster to work in; empty: the login's current cluster.").tag(config=True)
    org = Unicode("", help="Organisation to work in; empty: the login's current org.").tag(config=True)
    project = Unicode("", help="Project to work in; empty: the login's current project.").tag(config=True)
    ps_columns = List(Unicode(), default_value=DEFAULT_JOB_COLUMNS,
                      help="Columns of `%apolo ps`: any of id, name, status, when, created, image, owner, "
                           "project, preset, tags, command, uri, http_url, description.").tag(config=True)
    progress = Bool(True, help="Show a progress bar for `%apolo cp`.").tag(config=True)
    display_limit = Int(100, help="Rows rendered by result tables; "
                                  "results still hold every item (iterate them).").tag(config=True)
    raise_errors = Bool(False, help="Raise platform errors as exceptions "
                                    "instead of printing one line.").tag(config=True)

    #: How a capped result table tells the user to see the rest (``display.Table.more_hint``).
    more_hint = "iterate the result, or raise %config ApoloMagics.display_limit"

    def __init__(self, shell: Any = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        self._api: Apolo | None = None
        self._lock = threading.Lock()

    # -- settings ----------------------------------------------------------------------------

    @classmethod
    def class_get_trait_help(cls, trait, inst=None, helptext=None):  # type: ignore[no-untyped-def]
        # `%config ApoloMagics` prints current values: never the token's.
        return super().class_get_trait_help(trait, None if trait.name == "token" else inst, helptext)

    @observe("url", "token", "cluster", "org", "project")
    def _credentials_changed(self, change: Any) -> None:
        self.close()

    def config_overrides(self) -> dict[str, str]:
        """The non-empty credential traits, as keyword arguments for ``resolve_config``."""
        names = ("url", "token", "cluster", "org", "project")
        return {name: getattr(self, name) for name in names if getattr(self, name)}

    @property
    def api(self) -> Apolo:
        """The sync client for the current settings (opened on first use, reused after).

        Raises ``ConfigError`` (an ``ApoloError``) when no credentials are found.
        """
        with self._lock:
            if self._api is None:
                given = self.config_overrides()
                self._api = Apolo(resolve_config(url=given.get("url"), token=given.get("token"),
                                                 cluster=given.get("cluster"), org=given.get("org"),
                                                 project=given.get("project")))
            return self._api

    def close(self) -> None:
        """Close the client; the next command opens a new one with the current settings."""
        with self._lock:
            api, self._api = self._api, None
        if api is not None:
            api.close()

    # -- the magic ---------------------------------------------------------------------------

    @line_cell_magic
    def apolo(self, line: str, cell: str | None = None) -> object:
        """Work with the Apolo platform: ``%apolo <subcommand> [args]`` (``%apolo --help`` lists them).

        As a cell magic, each non-empty line of the cell (``#`` comments skipped) is one
        subcommand; the last result is returned. Subcommands mirror the apolo CLI: run, ps, status,
        logs, kill, share, revoke, acl, ls, cp, mkdir, rm, mv, whoami, notebooks, commit, push.
        """
        if cell is None:
            return self.run(line)
        result = self.run(line) if line.strip() else None
        for cell_line in cell.splitlines():
            if cell_line.strip() and not cell_line.lstrip().startswith("#"):
                result = self.run(cell_line)
        return result

    def run(self, line: str) -> object:
        """Run one ``%apolo`` command line; see ``apolo``. Raises ``UsageError`` for bad arguments."""
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%apolo: cannot split the line: {exc} (check the quotes)") from None
        if not argv or argv[0] in ("-h", "--help", "help"):
            print(self.usage())
            return None
        name, rest = argv[0], argv[1:]
        handler = subcommands().get(name)
        if handler is None:
            raise UsageError(f"%apolo: unknown subcommand {name!r}. Choose one of: "
                             f"{', '.join(sorted(subcommands()))} (`%apolo --help`).")
        try:
            return handler(self, rest)
        except HelpShown:
            return None
        except InvalidInput as exc:  # the client's verdict on a typed URI, action or user name
            raise UsageError(f"%apolo {name}: {one_line(exc)}") from None
        except (ApoloError, CommandError, OSError) as exc:
            if self.raise_errors:
                raise
            print(f"%apolo {name}: {one_line(exc)}", file=sys.stderr)
            return None
        except KeyboardInterrupt:
            print(f"%apolo {name}: interrupted", file=sys.stderr)
            return None

    def usage(self) -> str:
        """The subcommand list shown by ``%apolo --help``."""
        lines = ["Usage: %apolo <subcommand> [args]   (%apolo <subcommand> --help for details)", ""]
        for name, handler in sorted(subcommands().items()):
            summary = (getattr(handler, "help", None) or (handler.__doc__ or "")).strip().splitlines()
            lines.append(f"  {name:<10} {summary[0] if summary else ''}")
        lines += ["", "Settings: %config ApoloMagics (url, token, cluster, org, project, ps_columns, progress, ...)"]
        return "\n".join(lines)


def widgets_shown(magics: Any) -> bool:
    """Whether results can be widgets here: the shell is a kernel's (ipykernel's ZMQ shell, which
    every widget-capable front end talks to). A terminal IPython or a plain script gets text."""
    return getattr(getattr(magics, "shell", None), "kernel", None) is not None


def subcommands() -> dict[str, Any]:
    """Every subcommand: ours and the notebooks helper's, by name."""
    from . import flow, jobs, notebooks, sharing, storage

    merged: dict[str, Any] = {}
    for module in (jobs, sharing, storage, notebooks, flow):
        merged.update(getattr(module, "SUBCOMMANDS", {}))
    return merged
