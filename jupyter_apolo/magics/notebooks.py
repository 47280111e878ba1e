"""``%apolo notebooks status|pull|push``, ``%apolo commit``, ``%apolo push``, ``%apolo pull``.

Owned by the notebooks work; the ``%apolo`` router merges ``SUBCOMMANDS`` into its own.
Each value is ``handler(magics, argv: list[str]) -> object`` (the object is displayed/returned).
The work happens in ``jupyter_apolo.notebooks``; this module parses arguments and renders results.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ..client import InvalidInput
from ..notebooks import GitError, GitRepo, ProjectError, load_project, workflow
from ..notebooks.sync import PULL, PUSH, Plan, Result
from .parser import arg, command, command_group

SUBCOMMANDS: dict = {}
_NOTEBOOKS: dict = {}


class SyncReport:
    """A plan (``--dry-run`` / ``status``) or an applied sync, for display. ``.plan``, ``.result`` (None for a
    dry run) hold the full objects."""

    def __init__(self, plan: Plan, result: Result | None, title: str, git: list | None = None):
        self.plan, self.result, self.title = plan, result, title
        self.git = git  # git status entries of the notebooks folder (status only; None outside a repository)

    def lines(self) -> list[str]:
        plan, result = self.plan, self.result
        out = [f"{self.title}: {plan.local_root} <-> {plan.remote}"]
        if result is None:
            for c in plan.changes:
                out.append(f"  {c.action:<13} {c.path}  ({c.reason})")
            for c in plan.elsewhere:
                other = "push" if plan.direction == PULL else "pull"
                out.append(f"  {'(' + other + ')':<13} {c.path}  ({c.reason})")
            if not plan.changes:
                out.append("  nothing to do")
        else:
            merged = getattr(result, "merged", [])  # notebooks changed on both sides, merged cell by cell
            for name, paths in (("downloaded", result.downloaded), ("uploaded", result.uploaded),
                                ("merged", merged), ("deleted", result.deleted)):
                out += [f"  {name:<13} {p}" for p in paths]
            for c in result.conflicts:
                kept = f"storage version kept as {c.kept_as}" if c.kept_as else "kept"
                marked = getattr(c, "merge_as", None)
                kept += f", merge with conflict markers in {marked}" if marked else ""
                out.append(f"  CONFLICT      {c.path}  ({c.reason}; {kept})")
            out += [f"  proposed      delete {p}  (run again with --delete to apply)"
                    for p in result.proposed_deletions]
            if not (result.transferred or merged or result.deleted or result.conflicts or result.proposed_deletions):
                out.append("  already in sync")
        skipped = plan.skipped + (result.skipped if result is not None else [])
        out += [f"  skipped       {s.path}  ({s.side}: {s.reason})" for s in skipped]
        out.append(f"  {plan.unchanged} unchanged")
        if self.git is not None:
            folder = f"{plan.local_root.name}/"
            out.append(f"git: {len(self.git)} uncommitted change(s) in {folder} (%apolo commit -m MESSAGE commits them)"
                       if self.git else f"git: clean (nothing to commit in {folder})")
            out += [f"  {(s.index + s.worktree).strip():<3} {s.path}" for s in self.git]
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        first, *rest = self.lines()
        items = "".join(f"<li><code>{html.escape(line.strip())}</code></li>" for line in rest)
        return f"<p>{html.escape(first)}</p><ul class='jp-apolo-sync'>{items}</ul>"


class TextResult:
    """Plain text output (git messages, diffs) with an HTML ``<pre>`` view; ``.data`` holds the structured value."""

    def __init__(self, text: str, data: Any = None):
        self.text, self.data = text, data

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


def _sync(magics: Any, args: Any, direction: str, dry_run: bool) -> SyncReport:
    path = args.path or os.getcwd()
    settings = workflow.SyncSettings(remote=args.remote, local=args.local)
    progress = _Progress(magics) if not dry_run else None
    try:
        plan, result = magics.api.call(lambda aio: workflow.sync(
            aio, path, direction, settings, dry_run=dry_run, delete=args.delete if not dry_run else False,
            progress=progress.update if progress else None))
    except (ProjectError, InvalidInput) as exc:
        raise UsageError(f"%apolo notebooks {direction}: {exc}") from None
    finally:
        if progress:
            progress.close()
    verb = {PULL: "pull", PUSH: "push"}[direction]
    return SyncReport(plan, result, f"notebooks {verb}{' (dry run)' if dry_run else ''}")


class _Progress:
    """A tqdm bar over the steps of an apply (only shown when ``ApoloMagics.progress`` is on)."""

    def __init__(self, magics: Any):
        self.bar = None
        self.enabled = bool(getattr(magics, "progress", True))

    def update(self, event: dict) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=event["total"], unit="file", desc="notebooks")
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _sync_args(fn):  # type: ignore[no-untyped-def]
    for a in reversed([
        arg("path", nargs="?", help="a folder inside the flow project (default: the kernel's working directory)"),
        arg("--dry-run", action="store_true", help="show the plan, change nothing"),
        arg("--delete", action="store_true", help="also apply the proposed deletions"),
        arg("--remote", help="storage URI overriding the notebooks volume's remote"),
        arg("--local", help="folder overriding the notebooks volume's local (relative to the project root)"),
    ]):
        fn = a(fn)
    return fn


@command(_NOTEBOOKS, "notebooks status", "Show what a pull would do, local changes a push would send, and the "
                                         "git status of the notebooks folder (no changes made).")
@_sync_args
def _status(magics: Any, args: Any) -> SyncReport:
    report = _sync(magics, args, PULL, dry_run=True)
    try:
        report.git = GitRepo(report.plan.local_root.parent).status([report.plan.local_root])
    except GitError:
        pass  # not a git checkout: the sync part stands alone
    return report


@command(_NOTEBOOKS, "notebooks pull",
         "Download the notebooks volume into the project: only changed files; notebooks changed on both sides "
         "merge cell by cell, true conflicts keep both versions; deletions are proposed (--delete applies them).")
@_sync_args
def _pull(magics: Any, args: Any) -> SyncReport:
    return _sync(magics, args, PULL, dry_run=args.dry_run)


@command(_NOTEBOOKS, "notebooks push",
         "Upload local notebook changes to the notebooks volume (the same plan, the other way).")
@_sync_args
def _push(magics: Any, args: Any) -> SyncReport:
    return _sync(magics, args, PUSH, dry_run=args.dry_run)


command_group(SUBCOMMANDS, "notebooks", _NOTEBOOKS, "[--dry-run] [PATH]",
              "Sync the notebooks volume with the project: status, pull, push (--dry-run).")


@command(SUBCOMMANDS, "commit", "Commit notebooks with git: %apolo commit -m MESSAGE [PATH ...] "
                                "(paths are staged first; without paths, what is staged, else the changes in the "
                                "flow project's notebooks folder; identity from git config).")
@arg("-m", "--message", required=True, help="the commit message")
@arg("--clear-outputs", action="store_true", help="commit notebooks without outputs (the working tree keeps them)")
@arg("paths", nargs="*", metavar="PATH",
     help="files or folders to stage and commit (default: what is staged, else the notebooks folder's changes)")
def _commit(magics: Any, args: Any) -> TextResult:
    try:
        paths = [os.path.abspath(p) for p in args.paths]
        if not paths:
            try:
                staged = GitRepo(os.getcwd()).staged()
            except GitError:
                staged = []
            if not staged:  # nothing staged: what `%apolo notebooks pull` brought, as the sample README says
                paths = [str(_notebooks_folder(os.getcwd()))]
        repo = GitRepo(paths[0] if paths else os.getcwd())
        done = repo.commit(args.message, paths, clear_outputs=args.clear_outputs)
    except (GitError, ProjectError) as exc:
        raise UsageError(f"%apolo commit: {exc}") from None
    files = "\n".join(f"  {f}" for f in done.files)
    return TextResult(f"[{done.sha[:10]}] {done.summary}\n{files}", done)


def _notebooks_folder(cwd: str) -> Path:
    """The notebooks volume's local folder of the flow project around ``cwd`` (what ``%apolo notebooks pull``
    fills). Raises :class:`ProjectError` outside a flow project: then the paths must be named."""
    try:
        project = load_project(cwd, default_project_name="-")  # only the local folder is read, not the remote
        local = project.notebooks().local
        if local is None:
            raise ProjectError(f"the notebooks volume of {project.root} has no 'local' folder")
        return local
    except ProjectError as exc:
        raise ProjectError(f"{exc}; or name the files to commit: %apolo commit -m MESSAGE PATH ...") from None


@command(SUBCOMMANDS, "push", "Push the current git branch (never forced; sets the upstream on the first push).")
@arg("remote", nargs="?", help="git remote (default: the upstream's, else origin)")
def _git_push(magics: Any, args: Any) -> TextResult:
    try:
        output = GitRepo(os.getcwd()).push(args.remote)
    except GitError as exc:
        raise UsageError(f"%apolo push: {exc}") from None
    return TextResult(output.strip() or "pushed", output)



@command(SUBCOMMANDS, "pull", "Pull the current git branch: fast-forward, or merge with notebooks merged cell by cell "
         "(never rebased or forced; a conflicting merge is undone).")
@arg("remote", nargs="?", help="git remote (default: the branch's upstream)")
def _git_pull(magics: Any, args: Any) -> TextResult:
    try:
        done = GitRepo(os.getcwd()).pull(args.remote)
    except GitError as exc:
        raise UsageError(f"%apolo pull: {exc}") from None
    changed = f": {len(done.files)} file(s) changed" if done.files else ""
    text = {
        "up-to-date": f"Already up to date with {done.upstream}.",
        "fast-forward": f"Fast-forwarded to {done.upstream} ({done.head[:7]}){changed}.",
        "merged": f"Merged {done.upstream} ({done.head[:7]}){changed}. Share the merge with %apolo push.",
    }.get(done.outcome, done.outcome)
    return TextResult(text, done)
