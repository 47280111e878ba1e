"""Git for the notebooks folder, through the git CLI (as jupyterlab-git does).

Status, diffs (notebooks through nbdime, other files ``git diff``), staging, commit with the identity from git config,
and push that never forces. Optional output clearing rewrites only the *staged* copy of a notebook (nbformat), so the
working tree keeps its outputs. Every failure raises :class:`GitError` carrying git's own output (hook messages too).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import nbformat

from ..client.errors import InvalidInput
from ..client.localfs import ConfinedDir
from .project import ProjectError, find_project_root

if TYPE_CHECKING:
    from .git_pull import PullResult


#: Seconds one git command may take (a fetch or push over a slow network included).
GIT_TIMEOUT = 300


class GitError(RuntimeError):
    """A git command failed or cannot run. ``.output``: git's stdout+stderr; ``.command``: argv; ``.fix``: what to
    do, when it is not in the message (the server sends it as ``fix``)."""

    def __init__(self, message: str, output: str = "", command: Sequence[str] = (), fix: str = ""):
        self.output, self.command, self.fix = output, list(command), fix
        super().__init__(message + (f"\n{fix}" if fix else "")
                         + (f"\n{output.strip()}" if output.strip() else ""))


@dataclass(frozen=True)
class FileStatus:
    """``git status --porcelain`` entry: ``path`` relative to the repo root (POSIX), ``index``/``worktree`` codes
    (``M`` modified, ``A`` added, ``D`` deleted, ``R`` renamed, ``?`` untracked, `` `` unchanged)."""

    path: str
    index: str
    worktree: str

    @property
    def staged(self) -> bool:
        return self.index not in (" ", "?")

    @property
    def untracked(self) -> bool:
        return self.index == "?"


@dataclass(frozen=True)
class Commit:
    """A created commit: full ``sha``, ``summary`` (first message line), committed ``files``, git's ``output``."""

    sha: str
    summary: str
    files: list[str]
    output: str


class GitRepo:
    """The git repository of the project containing ``path``. Raises :class:`GitError` when git is missing or there
    is no repository at or above the project.

    The repository is never discovered by git from ``path``: a teammate can put a ``.git/`` folder (whose
    ``config`` runs commands, e.g. ``core.fsmonitor``) into a synced notebooks folder. The search starts at the
    flow project's root (the folder holding ``.apolo/`` or ``.neuro/`` at or above ``path``; ``path`` itself when
    there is none) and goes up; every command then runs with that explicit ``--git-dir`` and ``--work-tree``.
    """

    def __init__(self, path: str | Path):
        path = Path(path).resolve()
        start = path if path.is_dir() else path.parent
        top = _repository_root(_project_root(start))
        if top is None:
            raise GitError(f"{path} is not inside a git repository: run `git init` in the project or clone it")
        try:  # at `top` itself (never below it): resolves a `.git` file (worktrees) to the real git dir
            git_dir = self._git(["rev-parse", "--absolute-git-dir"], cwd=top, git_dir=None).strip()
        except GitError as exc:
            raise GitError(f"{top / '.git'} is not a usable git repository", exc.output) from None
        self.root, self.git_dir = top, Path(git_dir)

    # -- plumbing -----------------------------------------------------------------------------------

    @staticmethod
    def _git(args: list[str], cwd: Path, input: bytes | None = None, check: bool = True, text: bool = True,  # type: ignore[no-untyped-def]
             git_dir: Path | None = None, timed: bool = True):
        env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_OPTIONAL_LOCKS="0",
                   GIT_CEILING_DIRECTORIES=str(cwd.parent))  # no discovery above the folder either
        argv = ["git"] + ([f"--git-dir={git_dir}", f"--work-tree={cwd}"] if git_dir else []) + args
        try:
            proc = subprocess.run(argv, cwd=cwd, input=input, capture_output=True, env=env,
                                  timeout=GIT_TIMEOUT if timed else None)
        except FileNotFoundError:
            raise GitError("git is not installed: install it (e.g. `apt-get install git`)") from None
        except subprocess.TimeoutExpired:  # e.g. a remote that never answers
            raise GitError(f"`git {' '.join(args[:2])}` did not finish in {GIT_TIMEOUT} s", "", argv) from None
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        if check and proc.returncode != 0:
            raise GitError(f"`git {' '.join(args[:2])}` failed (exit {proc.returncode}):", out, argv)
        return proc.stdout.decode("utf-8", "replace") if text else proc.stdout

    def git(self, *args: str, input: bytes | None = None, check: bool = True, text: bool = True,  # type: ignore[no-untyped-def]
            timed: bool = True):
        """Run ``git --git-dir=G --work-tree=ROOT ARGS`` in the repo root; returns stdout (str, or bytes with
        ``text=False``). ``timed``: stop it after ``GIT_TIMEOUT`` seconds (GitError); False for a local step that
        killing would leave half done (a merge)."""
        return self._git(list(args), self.root, input=input, check=check, text=text, git_dir=self.git_dir,
                         timed=timed)

    def rel(self, path: str | Path) -> str:
        """``path`` (absolute, or relative to the repo root) as a POSIX path relative to the root."""
        p = Path(path)
        p = p if p.is_absolute() else self.root / p
        try:
            return Path(os.path.abspath(p)).relative_to(self.root).as_posix()
        except ValueError:
            raise GitError(f"{path} is outside the repository {self.root}") from None

    # -- porcelain ----------------------------------------------------------------------------------

    def status(self, paths: Iterable[str | Path] = ()) -> list[FileStatus]:
        """Changed/untracked files under ``paths`` (default: the whole work tree), ignored files excluded."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *[self.rel(p) for p in paths])
        items, fields = [], out.split("\0")
        i = 0
        while i < len(fields) and fields[i]:
            code, path = fields[i][:2], fields[i][3:]
            i += 2 if code[0] in "RC" else 1  # renames carry the old path as the next field
            items.append(FileStatus(path, code[0], code[1]))
        return items

    def head_content(self, path: str | Path) -> bytes | None:
        """The file's bytes at HEAD, or None when it is new (or there is no commit yet)."""
        rel = self.rel(path)
        try:
            return self.git("show", f"HEAD:{rel}", text=False)
        except GitError:
            return None

    def diff(self, path: str | Path) -> dict:
        """Working tree vs HEAD for one file.

        Notebooks: ``{"kind": "notebook", "path", "base": <HEAD notebook JSON>, "diff": <nbdime diff>,
        "text": <readable>}``
        (the base/diff pair is what nbdime's web viewer renders); other files: ``{"kind": "text", "path", "text"}``
        from ``git diff``. A new file diffs against an empty notebook / nothing.
        """
        rel = self.rel(path)
        if not rel.endswith(".ipynb"):
            text = self.git("diff", "--no-color", "HEAD", "--", rel, check=False) if self._has_head() else ""
            if not text and (self.root / rel).is_file() and not self._tracked(rel):
                text = self.git("diff", "--no-color", "--no-index", "--", "/dev/null", rel, check=False)
            return {"kind": "text", "path": rel, "text": text}
        from nbdime import diff_notebooks
        from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

        base_bytes = self.head_content(rel)
        base = _notebook(base_bytes, f"{rel} at HEAD") if base_bytes else nbformat.v4.new_notebook()
        current = (_notebook((self.root / rel).read_bytes(), rel) if (self.root / rel).is_file()
                   else nbformat.v4.new_notebook())
        diff = diff_notebooks(base, current)
        out = _Collect()
        pretty_print_diff(base, diff, rel, PrettyPrintConfig(out=out))
        # The base as nbdime's diff saw it (each source one string: the diff's offsets count characters in it);
        # nbformat.writes would split sources into lines, which nbdime's diff widget rejects.
        return {"kind": "notebook", "path": rel, "base": json.loads(json.dumps(base)),
                "diff": json.loads(json.dumps(diff, default=dict)), "text": "".join(out.parts)}

    def stage(self, paths: Iterable[str | Path], clear_outputs: bool = False) -> list[str]:
        """``git add -A`` the given paths (deletions included). With ``clear_outputs``, staged notebooks get their
        outputs and execution counts removed in the index only. Returns the staged relative paths."""
        rels = [self.rel(p) for p in paths]
        if not rels:
            raise GitError("nothing to stage: name the files or folders to commit")
        for rel in rels:
            nested = _nested_repositories(self.root, rel)
            if nested:
                raise GitError(f"{nested[0]} is a repository (or control folder) inside the project, e.g. one a "
                               "teammate put on storage: it is never committed. Remove it, then commit again.")
        self.git("add", "-A", "--", *rels)
        staged = self.staged()
        if clear_outputs:
            for rel in staged:
                if rel.endswith(".ipynb") and (self.root / rel).is_file():
                    self._stage_cleared(rel)
        return staged

    def staged(self) -> list[str]:
        """Paths in the index that differ from HEAD."""
        args = ["diff", "--cached", "--name-only", "-z"] + (["HEAD"] if self._has_head() else [])
        return [p for p in self.git(*args).split("\0") if p]

    def _stage_cleared(self, rel: str) -> None:
        nb = nbformat.read(self.root / rel, as_version=nbformat.NO_CONVERT)
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
        blob = self.git("hash-object", "-w", "--stdin", input=(nbformat.writes(nb) + "\n").encode()).strip()
        mode = self.git("ls-files", "-s", "--", rel).split(" ", 1)[0] or "100644"
        self.git("update-index", "--cacheinfo", f"{mode},{blob},{rel}")

    def identity(self) -> tuple[str, str]:
        """``(name, email)`` from git config (or ``GIT_AUTHOR_NAME``/``GIT_AUTHOR_EMAIL``).
        Raises :class:`GitError` saying the commands to run when either is missing."""
        name = os.environ.get("GIT_AUTHOR_NAME") or self.git("config", "user.name", check=False).strip()
        email = os.environ.get("GIT_AUTHOR_EMAIL") or self.git("config", "user.email", check=False).strip()
        if not name or not email:
            missing = " and ".join(k for k, v in (("user.name", name), ("user.email", email)) if not v)
            raise GitError(f"git does not know who you are ({missing} not set). Run:\n"
                           '  git config --global user.name "Your Name"\n'
                           '  git config --global user.email "you@example.com"')
        return name, email

    def commit(self, message: str, paths: Iterable[str | Path] = (), clear_outputs: bool = False) -> Commit:
        """Stage ``paths`` (if any), then commit the index with ``message``.

        Raises :class:`GitError`: empty message, identity missing, nothing staged, or the commit failed
        (e.g. a pre-commit hook rejected it; its output is in the error).
        """
        if not message or not message.strip():
            raise GitError("a commit message is required: say what changed")
        self.identity()
        paths = list(paths)
        if paths:
            self.stage(paths, clear_outputs=clear_outputs)
        elif clear_outputs:
            for rel in self.staged():
                if rel.endswith(".ipynb") and (self.root / rel).is_file():
                    self._stage_cleared(rel)
        files = self.staged()
        if not files:
            raise GitError("nothing to commit: no staged changes (name the paths to commit)")
        try:
            output = self.git("commit", "-m", message)
        except GitError as exc:
            raise GitError("git commit failed (a hook may have rejected it):", exc.output, exc.command) from None
        sha = self.git("rev-parse", "HEAD").strip()
        return Commit(sha, message.strip().splitlines()[0], files, output)

    def push(self, remote: str | None = None, branch: str | None = None) -> str:
        """``git push`` the current branch, never forcing; sets the upstream on the first push.

        ``remote`` defaults to the branch's upstream remote, else ``origin``. Returns git's output.
        Raises :class:`GitError` (rejected non-fast-forward: pull and merge first; no remote configured).
        """
        branch = branch or self.git("symbolic-ref", "--short", "HEAD").strip()
        upstream = self.git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}", check=False).strip()
        remotes = self.git("remote").split()
        if remote is None:
            remote = upstream.split("/", 1)[0] if upstream and "/" in upstream else "origin"
        if remote not in remotes:
            raise GitError(f"no git remote {remote!r}: add one with `git remote add {remote} URL`")
        args = ["push", "--porcelain", *([] if upstream else ["--set-upstream"]), remote, f"HEAD:refs/heads/{branch}"]
        try:
            return self.git(*args)
        except GitError as exc:
            hint = (" The remote has commits you do not have: pull and merge them, then push again (never forced)."
                    if "rejected" in exc.output or "non-fast-forward" in exc.output else "")
            raise GitError(f"git push to {remote} failed.{hint}", exc.output, exc.command) from None

    def pull(self, remote: str | None = None, branch: str | None = None) -> PullResult:
        """``git fetch`` then fast-forward, or merge (never rebase or force) with nbdime's merge driver for
        notebooks, from ``<remote>/<branch>`` (default: the current branch's upstream). On a conflict the merge is
        aborted. Returns a :class:`PullResult`; raises :class:`GitError` naming the fix. See ``git_pull``."""
        from .git_pull import pull

        return pull(self, remote, branch)

    def _has_head(self) -> bool:
        return bool(self.git("rev-parse", "--verify", "-q", "HEAD", check=False).strip())

    def _tracked(self, rel: str) -> bool:
        return bool(self.git("ls-files", "--", rel).strip())


def _notebook(data: bytes, where: str) -> nbformat.NotebookNode:
    """``data`` read as a notebook (v4); ``InvalidInput`` naming ``where`` and the problem when it is not one (not
    JSON, or not shaped like a notebook, e.g. ``"cells": "nope"``). Lenient on what nbdime copes with (extra
    keys, cell ids in 4.4 files), unlike ``nbformat.validate``."""
    nb = None
    try:
        problem = _notebook_shape(json.loads(data.decode("utf-8")))  # the shape first: nbformat's errors are vaguer
        if problem is None:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except (ValueError, UnicodeDecodeError, nbformat.ValidationError, KeyError, TypeError, AttributeError) as exc:
        problem = getattr(exc, "message", None) or str(exc)
        problem = problem.splitlines()[0][:200] if problem else type(exc).__name__
    if problem or nb is None:
        raise InvalidInput(f"{where} is not a valid notebook ({problem}): fix or restore the file, then diff again")
    return nb


def _notebook_shape(nb: object) -> str | None:
    if not isinstance(nb, dict):
        return "the top level is not a JSON object"
    if not isinstance(nb.get("metadata", {}), dict):
        return '"metadata" is not an object'
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return '"cells" is not a list'
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return f"cell {i} has no cell_type"
        if not isinstance(cell.get("source", ""), (str, list)) or not isinstance(cell.get("metadata", {}), dict):
            return f"cell {i} has a malformed source or metadata"
        if "outputs" in cell and not isinstance(cell["outputs"], list):
            return f'cell {i}: "outputs" is not a list'
    return None


_REPO_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
             "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_CONFIG_PARAMETERS")


def _project_root(start: Path) -> Path:
    """The flow project root at or above ``start`` (where the repository search begins), else ``start``."""
    try:
        return find_project_root(start)
    except ProjectError:
        return start


def _repository_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.git`` (a folder, or a file naming one), else None."""
    for folder in (start, *start.parents):
        if os.path.lexists(folder / ".git"):
            return folder
    return None


def _nested_repositories(root: Path, rel: str) -> list[str]:
    """Control folders/files (``.git``, ``.hg``... see localfs) at or below ``rel`` in the work tree, which would
    make git stage an embedded repository and run its config; relative POSIX paths."""
    target = root / rel
    if rel in ("", ".") or not target.is_dir() or target.is_symlink():
        if rel in ("", "."):
            target = root
        else:
            return []
    found: list[str] = []
    prefix = "" if target == root else rel.rstrip("/") + "/"

    def control_dir(sub: str) -> bool:
        name = sub.rsplit("/", 1)[-1]
        if name in (".git", ".hg", ".svn"):
            if not (prefix == "" and sub == name):  # the repository's own .git at its root
                found.append(prefix + sub)
            return True
        return False

    scan = ConfinedDir(target).scan(control_dir, lambda sub: sub.rsplit("/", 1)[-1] != ".git")
    # a `.git` file (gitdir: ...) also makes a nested repository
    found += [prefix + f for f in scan.files if prefix or f != ".git"]
    return sorted(found)


class _Collect:
    """A ``write``-able sink for nbdime's pretty printer."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)
