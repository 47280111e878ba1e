"""``%apolo ls | cp | mkdir | rm | mv``: platform storage, as the apolo CLI's top-level storage
commands (reference §4.4). Storage URIs follow the CLI: ``storage:rel``, ``storage:/project/path``,
``storage://cluster/org/project/path``; quote ``#`` as ``%23`` and ``?`` as ``%3F``. Local paths
are relative to the kernel's working directory (``file:`` URIs are accepted too).

Unlike ``apolo cp``, ``%apolo cp`` never overwrites silently: an existing destination needs
``-f/--force``.
"""

from __future__ import annotations

import posixpath
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..client import NotFoundError, TransferProgress, short_uri
from ..client.storage import child_uri
from ..client.transfer import TargetExists
from ..client.uris import split_uri
from ..display import Message, Table, file_columns
from .errors import CommandError
from .parser import arg, command
from .progress import progress_bar

SUBCOMMANDS: dict = {}


class FileList(Table):
    """Storage entries (``jupyter_apolo.client.FileStatus``): a sequence, also indexed by name
    (``files["data.csv"]``; ``KeyError`` if absent). ``names`` lists the names."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for st in self.items:
                if st.name == key:
                    return st
            raise KeyError(f"no entry {key!r} in this listing")
        return self.items[key]

    def __contains__(self, key: Any) -> bool:
        return any(st.name == key for st in self.items) if isinstance(key, str) else key in self.items

    @property
    def names(self) -> list[str]:
        return [st.name for st in self.items]


def _not_found(uri: str) -> CommandError:
    return CommandError(f"cannot access {uri}: not found (or you lack read permission on it)")


@command(SUBCOMMANDS, "ls", "List storage, like `apolo ls [-l] [-d] [URI...]` (default: the project's root).")
@arg("uris", nargs="*", metavar="URI", help="storage URIs (default storage:)")
@arg("-l", action="store_true", dest="long", help="long format: type, permission, size, modification time")
@arg("-d", "--directory", action="store_true", help="the entries themselves, not directory contents")
@arg("-a", "--all", action="store_true", help="include names starting with '.'")
def ls(magics: Any, args: Any) -> FileList:
    api = magics.api
    items = []
    for uri in args.uris or ["storage:"]:
        try:
            if args.directory:
                items.append(api.storage.stat(uri))
            else:
                entries = api.storage.ls(uri)
                items.extend(sorted((e for e in entries if args.all or not e.name.startswith(".")),
                                    key=lambda e: e.name))
        except NotFoundError:
            raise _not_found(uri) from None
    many = args.directory or len(args.uris) > 1
    name = (lambda st: short_uri(st.uri, api.config)) if many else (lambda st: st.name)
    return FileList(items, file_columns(args.long, name), limit=magics.display_limit, empty="(empty)",
                    more_hint=magics.more_hint)


@command(SUBCOMMANDS, "browse", "Browse storage in a notebook: the storage browser widget (paging, download, upload, "
                                "share...). Without a widget front end: `%apolo ls -l URI`.")
@arg("uri", nargs="?", default="storage:", metavar="URI", help="the folder to open (default storage:)")
def browse(magics: Any, args: Any) -> Any:
    from .core import widgets_shown

    if widgets_shown(magics):
        from ..widgets import StorageBrowser

        return StorageBrowser(args.uri, api=magics.api, shortcuts=project_volumes(magics.api.config.project))
    return SUBCOMMANDS["ls"](magics, ["-l", args.uri])


def project_volumes(project: str | None) -> dict[str, str]:
    """``{volume id: storage URI}`` of the flow project holding the kernel's working directory
    (its ``live.yml`` storage volumes); empty outside a flow project or when it cannot be read."""
    from ..notebooks.project import ProjectError, load_project

    try:
        flow = load_project(Path.cwd(), default_project_name=project)
    except (ProjectError, OSError):
        return {}
    return {vid: vol.remote for vid, vol in sorted(flow.volumes.items()) if vol.remote.startswith("storage:")}


@command(SUBCOMMANDS, "mkdir", "Make storage folders, like `apolo mkdir [-p] URI...`.")
@arg("uris", nargs="+", metavar="URI")
@arg("-p", "--parents", action="store_true", help="make parents as needed; no error if it exists")
def mkdir(magics: Any, args: Any) -> Message:
    api = magics.api
    made = [api.storage.mkdir(uri, parents=args.parents, exist_ok=args.parents) for uri in args.uris]
    return Message("\n".join(f"Created {short_uri(u, api.config)}" for u in made), uris=made)


@command(SUBCOMMANDS, "rm", "Remove storage files and folders, like `apolo rm [-r] URI...`.")
@arg("uris", nargs="+", metavar="URI")
@arg("-r", "--recursive", action="store_true", help="remove folders and their contents")
def rm(magics: Any, args: Any) -> Message:
    api = magics.api
    lines, removed = [], []
    for uri in args.uris:
        canonical = api.storage.normalize(uri)
        try:
            st = api.storage.stat(canonical)
        except NotFoundError:
            raise _not_found(uri) from None
        if st.is_dir and not args.recursive:
            raise CommandError(f"{uri} is a folder: use `%apolo rm -r` to remove it with its contents")
        api.storage.rm(canonical, recursive=args.recursive)
        removed.append(canonical)
        lines.append(f"Removed {short_uri(canonical, api.config)}")
    return Message("\n".join(lines), uris=removed)


@command(SUBCOMMANDS, "mv", "Move or rename on storage, like `apolo mv SRC DST` (into DST if it is a folder).")
@arg("src", metavar="SRC")
@arg("dst", metavar="DST")
def mv(magics: Any, args: Any) -> Message:
    api = magics.api
    src, dst = api.storage.normalize(args.src), api.storage.normalize(args.dst)
    try:
        target = api.storage.stat(dst)
    except NotFoundError:
        target = None
    if target is not None and target.is_dir:
        dst = child_uri(dst, posixpath.basename(split_uri(src)[2].rstrip("/")))
        target = api.storage.stat_or_none(dst)
    if target is not None:
        raise CommandError(f"{short_uri(dst, api.config)} exists: remove it first (`%apolo rm`), nothing was moved")
    try:
        moved = api.storage.mv(src, dst)
    except NotFoundError:
        raise _not_found(args.src) from None
    return Message(f"Moved {short_uri(src, api.config)} -> {short_uri(moved, api.config)}", src=src, dst=moved)


@command(SUBCOMMANDS, "cp", "Copy between local files and storage, like `apolo cp [-r] SRC... DST`.\n"
                            "An existing destination is never overwritten unless -f is given.")
@arg("paths", nargs="+", metavar="SRC... DST", help="sources then the destination; one side storage:, the other local")
@arg("-r", "--recursive", action="store_true", help="copy folders with their contents")
@arg("-T", "--no-target-directory", action="store_true", help="copy SRC as DST itself, not into DST")
@arg("-f", "--force", action="store_true", help="overwrite existing destination files")
@arg("--no-progress", action="store_true", help="no progress bar (see ApoloMagics.progress)")
def cp(magics: Any, args: Any) -> Message:
    if len(args.paths) < 2:
        raise CommandError("give a source and a destination: %apolo cp [-r] SRC... DST")
    *sources, dest = args.paths
    if args.no_target_directory and len(sources) > 1:
        raise CommandError("-T takes one source")
    api = magics.api
    download = not _is_storage(dest)
    if any(_is_storage(s) == _is_storage(dest) for s in sources):
        raise CommandError("copy between storage and local paths: one side storage:..., the other a local path")
    show = progress_bar if (magics.progress and not args.no_progress) else None
    lines, files = [], 0
    for src in sources:
        with (show(f"{Path(src).name or src}") if show else nullcontext()) as callback:
            if download:
                target, n = _copy(api, src, _local(dest), args, callback)
                lines.append(f"Downloaded {src} -> {target}")
            else:
                target, n = _copy(api, _local(src), dest, args, callback)
                lines.append(f"Uploaded {src} -> {short_uri(target, api.config)}")
            files += n
    lines.append(f"{files} file(s) copied.")
    return Message("\n".join(lines), files=files)


def _copy(api: Any, src: Any, dst: Any, args: Any, callback: Any) -> tuple[Any, int]:
    """Plan then run one copy (``Transfer.resolve_copy``/``copy``), in the CLI's words on refusal."""
    try:
        plan = api.transfer.resolve_copy(src, dst, overwrite=args.force, into_dir=not args.no_target_directory)
    except NotFoundError:
        if isinstance(src, Path):
            raise CommandError(f"{src}: no such local file or folder") from None
        raise _not_found(src) from None
    except TargetExists as exc:
        shown = exc.describe(str(exc.target) if isinstance(exc.target, Path) else short_uri(exc.target, api.config))
        fix = "choose another destination" if exc.clash else "pass -f to overwrite it"
        raise CommandError(f"{shown}: {fix} (nothing was copied)") from None
    if plan.is_dir and not args.recursive:
        raise CommandError(f"{src} is a folder: use `%apolo cp -r`")
    last: list[TransferProgress] = []

    def track(progress: TransferProgress) -> None:
        last[:] = [progress]
        if callback:
            callback(progress)

    copied = api.transfer.copy(plan, progress=track)
    for skipped in last[0].skipped if last else []:  # hostile names, control paths, symlinks: never copied
        print(f"%apolo cp: skipped {skipped['path']}: {skipped['reason']}", file=sys.stderr)
    return plan.target, copied


def _is_storage(text: str) -> bool:
    return text.startswith("storage:")


def _local(text: str) -> Path:
    """A local path from ``text`` (a path or a ``file:`` URI), ``~`` expanded."""
    if text.startswith("file:"):
        return Path(unquote(urlparse(text).path))
    return Path(text).expanduser()
