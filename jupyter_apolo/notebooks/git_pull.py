"""``git pull`` for the notebooks workflow: fetch, then fast-forward or a real merge, never rebase, never force.

The panel offers it when a push is rejected because the remote has a teammate's commits. Design:

1. ``git fetch <remote>``; the target is the branch's upstream (or ``<remote>/<branch>`` when named).
2. Already contained in HEAD -> nothing to do. HEAD behind it -> ``git merge --ff-only``.
3. Diverged -> ``git merge --no-edit --no-ff`` with nbdime's merge driver for ``*.ipynb`` (what
   ``nbdime config-git --enable`` sets: ``merge.jupyternotebook.driver = git-nbmergedriver merge %O %A %B %L %P``
   and ``*.ipynb merge=jupyternotebook``), given with ``-c`` and a ``core.attributesFile`` this module writes (the
   user's global attributes + that line), so nothing is written to the repository's config or ``.gitattributes``.
   Edits to different cells of one notebook merge; the same cell edited on both sides is a conflict.
4. A conflict -> ``git merge --abort`` (nothing half-applied), then :class:`GitError` naming the files.
   Local changes git would overwrite -> git refuses before touching anything; its message is passed on.

Every git command runs with the repository's explicit ``--git-dir``/``--work-tree`` (see :class:`GitRepo`).
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .git import GitError

if TYPE_CHECKING:
    from .git import GitRepo

UP_TO_DATE, FAST_FORWARD, MERGED = "up-to-date", "fast-forward", "merged"
#: nbdime's driver name (``nbdime config-git --enable`` uses it too), run by this interpreter so it is found
#: whatever PATH the Jupyter server has. Its log is quiet: a conflict is aborted anyway, and its validation
#: messages about the conflict-marked notebook it leaves would only confuse (git's CONFLICT lines say it all).
DRIVER = "jupyternotebook"
DRIVER_COMMAND = (f"{shlex.quote(sys.executable)} -m nbdime.vcs.git.mergedriver --log-level CRITICAL "
                  "merge %O %A %B %L %P")


@dataclass(frozen=True)
class PullResult:
    """What a pull did. ``outcome``: ``up-to-date``, ``fast-forward`` or ``merged``; ``upstream``: what was merged
    (``origin/main``); ``previous``/``head``: full shas before and after; ``files``: paths (relative to the repo
    root) the pull changed; ``output``: git's output (fetch and merge)."""

    outcome: str
    upstream: str
    previous: str
    head: str
    files: list[str] = field(default_factory=list)
    output: str = ""


def pull(repo: GitRepo, remote: str | None = None, branch: str | None = None) -> PullResult:
    """Fetch ``remote`` and bring the current branch up to date with ``<remote>/<branch>`` (default: the branch's
    upstream). Raises :class:`GitError` with the fix: not on a branch, no remote or upstream, a merge already in
    progress, local changes in the way (git's message), or a conflict (the merge is aborted first)."""
    current = repo.git("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    if not current:
        raise GitError("HEAD is not on a branch (detached): check out a branch in a terminal, then pull")
    remote, branch = _target(repo, current, remote, branch)
    if (repo.git_dir / "MERGE_HEAD").exists():
        raise GitError("a merge is already in progress in this repository",
                       fix="Finish it in a terminal (`git commit`) or undo it (`git merge --abort`), then pull again.")
    try:
        output = repo.git("fetch", "--no-recurse-submodules", remote)
    except GitError as exc:
        raise GitError(f"git fetch {remote} failed", exc.output or str(exc), exc.command,
                       fix="Check the remote's URL and your access (`git fetch` in a terminal says more).") from None
    upstream = f"{remote}/{branch}"
    target = repo.git("rev-parse", "--verify", "-q", f"refs/remotes/{upstream}^{{commit}}", check=False).strip()
    if not target:
        raise GitError(f"{remote} has no branch {branch!r} to pull",
                       fix="Push your branch first (Push commits sets the upstream), or name the remote branch.")
    previous = repo.git("rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    if previous and _is_ancestor(repo, target, previous):
        return PullResult(UP_TO_DATE, upstream, previous, previous, [], output)
    if not previous or _is_ancestor(repo, previous, target):
        try:
            output += repo.git("merge", "--ff-only", target)
        except GitError as exc:
            raise _refused(upstream, exc) from None
        outcome = FAST_FORWARD
    else:
        repo.identity()  # the merge commit needs an author: say how to set one before anything starts
        output += _merge(repo, upstream, target)
        outcome = MERGED
    head = repo.git("rev-parse", "HEAD").strip()
    changed = repo.git("diff", "--name-only", "-z", previous, head).split("\0") if previous else []
    return PullResult(outcome, upstream, previous, head, [p for p in changed if p], output)


def _target(repo: GitRepo, current: str, remote: str | None, branch: str | None) -> tuple[str, str]:
    """``(remote, remote branch)`` to pull: the arguments, else the branch's upstream. Raises :class:`GitError`
    naming the fix when there is no such remote or no upstream."""
    remotes = repo.git("remote").split()
    if remote is None and branch is None:
        up_remote = repo.git("config", "--get", f"branch.{current}.remote", check=False).strip()
        merge = repo.git("config", "--get", f"branch.{current}.merge", check=False).strip()
        if not up_remote or up_remote == "." or not merge.startswith("refs/heads/"):
            first = remotes[0] if remotes else "origin"
            fix = (f"Push the branch first (Push commits sets its upstream), or run "
                   f"`git branch --set-upstream-to={first}/{current}`." if remotes else
                   "Add a remote with `git remote add origin URL`, then push (Push commits sets the upstream).")
            raise GitError(f"branch {current!r} has no upstream to pull from", fix=fix)
        remote, branch = up_remote, merge[len("refs/heads/"):]
    remote = remote or "origin"
    if remote not in remotes:
        raise GitError(f"no git remote {remote!r}", fix=f"Add one with `git remote add {remote} URL`.")
    return remote, branch or current


def _merge(repo: GitRepo, upstream: str, target: str) -> str:
    """A real merge of ``target`` with nbdime's driver for notebooks; on a conflict, abort and raise."""
    with tempfile.TemporaryDirectory(prefix="jupyter-apolo-merge-") as scratch:
        attributes = Path(scratch) / "attributes"
        attributes.write_text(_global_attributes(repo) + f"\n*.ipynb merge={DRIVER}\n", encoding="utf-8")
        args = ["-c", f"merge.{DRIVER}.driver={DRIVER_COMMAND}", "-c", f"merge.{DRIVER}.name=nbdime notebook merge",
                "-c", f"core.attributesFile={attributes}",
                "merge", "--no-edit", "--no-ff", "-m", f"Merge {upstream}", target]
        try:  # local work, never killed half way (that would leave the index locked and files half merged)
            return repo.git(*args, timed=False)
        except GitError as exc:
            if not (repo.git_dir / "MERGE_HEAD").exists():  # git refused before starting: nothing changed
                raise _refused(upstream, exc) from None
            conflicted = [p for p in repo.git("diff", "--name-only", "-z", "--diff-filter=U").split("\0") if p]
            repo.git("merge", "--abort")
            if not conflicted:  # e.g. a pre-merge-commit hook refused, or no committer identity: git says why
                raise GitError(f"pull from {upstream} stopped: git could not finish the merge commit. The merge was "
                               "undone; nothing changed here.", exc.output, exc.command) from None
            names = ", ".join(conflicted[:5]) + (f" and {len(conflicted) - 5} more" if len(conflicted) > 5 else "")
            raise GitError(
                f"pull from {upstream} stopped: {names} changed in the same place on both sides "
                "(for notebooks: the same cell). The merge was undone; nothing changed here.",
                exc.output, exc.command,
                fix=f"Resolve it in a terminal: `git merge {upstream}`, then `nbdime mergetool` (notebooks) or edit "
                    "the marked files, `git add` them and `git commit`; then push.") from None


def _refused(upstream: str, exc: GitError) -> GitError:
    """git refused to start the merge; its message says why (usually local changes it would overwrite)."""
    if "would be overwritten" in exc.output:
        return GitError(f"pull from {upstream} refused: your uncommitted changes would be overwritten",
                        exc.output, exc.command,
                        fix="Commit them (Commit), or move them out of the way, then pull again.")
    return GitError(f"pull from {upstream} refused", exc.output, exc.command)


def _is_ancestor(repo: GitRepo, older: str, newer: str) -> bool:
    """Whether commit ``older`` is ``newer`` or one of its ancestors (nothing in ``older`` is missing from it)."""
    return not repo.git("rev-list", "-n", "1", f"{newer}..{older}").strip()


def _global_attributes(repo: GitRepo) -> str:
    """The user's global attributes file (``core.attributesFile``, else git's XDG default), which the ``-c``
    replaces for the merge: kept so their rules still apply."""
    configured = repo.git("config", "--path", "--get", "core.attributesFile", check=False).strip()
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    path = Path(configured) if configured else Path(xdg) / "git" / "attributes"
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
