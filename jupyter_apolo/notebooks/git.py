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
from typing import Iterable, Sequence

import nbformat


class GitError(RuntimeError):
    """A git command failed or cannot run. ``.output``: git's stdout+stderr; ``.command``: argv."""

    def __init__(self, message: str, output: str = "", command: Sequence[str] = ()):
        self.output, self.command = output, list(command)
        super().__init__(message + (f"\n{output.strip()}" if output.strip() else ""))


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
    """The git work tree containing ``path``. Raises :class:`GitError` when git is missing or ``path`` is not in one."""

    def __init__(self, path: str | Path):
        path = Path(path).resolve()
        cwd = path if path.is_dir() else path.parent
        try:
            top = self._git(["rev-parse", "--show-toplevel"], cwd=cwd).strip()
        except GitError as exc:
            raise GitError(f"{path} is not inside a git repository: run `git init` there or clone the project",
                           exc.output) from None
        self.root = Path(top)

    # -- plumbing -----------------------------------------------------------------------------------

    @staticmethod
    def _git(args: list[str], cwd: Path, input: bytes | None = None, check: bool = True, text: bool = True):  # type: ignore[no-untyped-def]
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env, timeout=300)
        except FileNotFoundError:
            raise GitError("git is not installed: install it (e.g. `apt-get install git`)") from None
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        if check and proc.returncode != 0:
            raise GitError(f"`git {' '.join(args[:2])}` failed (exit {proc.returncode}):", out, ["git", *args])
        return proc.stdout.decode("utf-8", "replace") if text else proc.stdout

    def git(self, *args: str, input: bytes | None = None, check: bool = True, text: bool = True):  # type: ignore[no-untyped-def]
        """Run ``git ARGS`` in the repo root; returns stdout (str, or bytes with ``text=False``)."""
        return self._git(list(args), self.root, input=input, check=check, text=text)

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

        Notebooks: ``{"kind": "notebook", "path", "base": <HEAD notebook JSON>, "diff": <nbdime diff>, "text": <readable>}``
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
        base = nbformat.reads(base_bytes.decode(), as_version=4) if base_bytes else nbformat.v4.new_notebook()
        current = (nbformat.read(self.root / rel, as_version=4) if (self.root / rel).is_file()
                   else nbformat.v4.new_notebook())
        diff = diff_notebooks(base, current)
        out = _Collect()
        pretty_print_diff(base, diff, rel, PrettyPrintConfig(out=out))
        return {"kind": "notebook", "path": rel, "base": json.loads(nbformat.writes(base)),
                "diff": json.loads(json.dumps(diff, default=dict)), "text": "".join(out.parts)}

    def stage(self, paths: Iterable[str | Path], clear_outputs: bool = False) -> list[str]:
        """``git add -A`` the given paths (deletions included). With ``clear_outputs``, staged notebooks get their
        outputs and execution counts removed in the index only. Returns the staged relative paths."""
        rels = [self.rel(p) for p in paths]
        if not rels:
            raise GitError("nothing to stage: name the files or folders to commit")
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
        args = ["push", "--porcelain"] + ([] if upstream else ["--set-upstream"]) + [remote, f"HEAD:refs/heads/{branch}"]
        try:
            return self.git(*args)
        except GitError as exc:
            hint = (" The remote has commits you do not have: pull and merge them, then push again (never forced)."
                    if "rejected" in exc.output or "non-fast-forward" in exc.output else "")
            raise GitError(f"git push to {remote} failed.{hint}", exc.output, exc.command) from None

    def _has_head(self) -> bool:
        return bool(self.git("rev-parse", "--verify", "-q", "HEAD", check=False).strip())

    def _tracked(self, rel: str) -> bool:
        return bool(self.git("ls-files", "--", rel).strip())


class _Collect:
    """A ``write``-able sink for nbdime's pretty printer."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)
