"""The ``%apolo`` subcommand router's building blocks, in the style of jupysql: argparse parsers
that raise IPython's ``UsageError`` instead of exiting, and a small decorator registry.

A subcommand is declared as::

    @command(REGISTRY, "mkdir", "Make storage folders, like `apolo mkdir`.")
    @arg("-p", "--parents", action="store_true", help="...")
    @arg("uris", nargs="+", metavar="STORAGE_URI")
    def mkdir(magics, args): ...

and becomes ``REGISTRY["mkdir"]``: a handler ``(magics, argv: list[str]) -> object``, the same
shape ``jupyter_apolo.magics.notebooks.SUBCOMMANDS`` uses, so the router treats both alike.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from IPython.core.error import UsageError

Handler = Callable[[Any, list], object]


class HelpShown(Exception):
    """``--help`` was printed; the router returns nothing (no error, no SystemExit)."""


class MagicArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors raise ``UsageError`` (one line, no traceback) and whose
    ``--help`` raises ``HelpShown`` after printing, so a magic never calls ``sys.exit``."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(**kwargs)

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\nusage: {self.format_usage().partition('usage: ')[2].strip()}"
                         f"\nSee `{self.prog} --help`.")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        if status == 0:
            raise HelpShown()
        raise UsageError(message or f"{self.prog}: invalid arguments")


class Command:
    """One subcommand: its parser (built on demand) and the function run with the parsed args.

    Calling it with ``(magics, argv)`` parses ``argv`` (``UsageError`` on bad input) and returns
    what ``run(magics, namespace)`` returns.
    """

    def __init__(self, name: str, help: str, run: Callable[[Any, argparse.Namespace], object],
                 arguments: list[tuple[tuple, dict]]):
        self.name, self.help, self.run, self.arguments = name, help, run, arguments

    def parser(self) -> MagicArgumentParser:
        parser = MagicArgumentParser(prog=f"%apolo {self.name}", description=self.help,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
        for args, kwargs in self.arguments:
            parser.add_argument(*args, **kwargs)
        return parser

    def __call__(self, magics: Any, argv: list[str]) -> object:
        return self.run(magics, self.parser().parse_args(argv))


def arg(*args: Any, **kwargs: Any):
    """Declare one ``add_argument(*args, **kwargs)`` of the subcommand below it."""

    def deco(fn):
        fn.__dict__.setdefault("_apolo_args", []).insert(0, (args, kwargs))
        return fn

    return deco


def command_group(registry: dict[str, Handler], group: str, actions: dict[str, Handler], options: str,
                  help: str) -> None:
    """Register ``group`` in ``registry``: ``%apolo GROUP ACTION ...`` runs ``actions["GROUP ACTION"]``
    (registered with ``command``). ``options``: shown in the group's usage line (e.g. ``[--dry-run] [PATH]``);
    ``help``: the one-line summary ``%apolo --help`` lists. An unknown or missing action is a ``UsageError``
    naming the choices."""

    def run(magics: Any, argv: list[str]) -> object:
        names = sorted(name.split()[1] for name in actions)
        if argv[:1] in (["-h"], ["--help"]):
            print(f"usage: %apolo {group} {{{','.join(names)}}} {options}   (%apolo {group} ACTION --help)")
            return None
        handler = actions.get(f"{group} {argv[0]}") if argv else None
        if handler is None:
            given = f"unknown action {argv[0]!r}" if argv else "an action is required"
            raise UsageError(f"%apolo {group}: {given}; choose one of {', '.join(names)}")
        return handler(magics, argv[1:])

    run.help = help  # type: ignore[attr-defined]
    registry[group] = run


def command(registry: dict[str, Handler], name: str, help: str):
    """Register the decorated ``fn(magics, args)`` as subcommand ``name`` in ``registry``."""

    def deco(fn):
        registry[name] = Command(name, help, fn, fn.__dict__.get("_apolo_args", []))
        return fn

    return deco
