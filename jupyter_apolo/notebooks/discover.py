"""Find the flow projects in a Jupyter workspace, for the Notebooks panel's "which project?" question.

A flow project is a folder holding ``.apolo/`` or ``.neuro/`` (as ``apolo-flow`` finds it). The search walks the
workspace breadth-first to ``max_depth`` levels, never follows symlinks, never enters hidden folders (a teammate's
``.git`` or a synced ``.ipynb_checkpoints``), ``node_modules`` or a project's own subfolders, and stops after
``limit`` projects, so it stays cheap on a big home folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .project import CONFIG_DIRS, ProjectError, load_project

_SKIPPED = {"node_modules", "__pycache__", "site-packages"}


@dataclass(frozen=True)
class FoundProject:
    """A flow project: ``path`` and its notebooks folder ``notebooks`` (None when the project has no notebooks
    volume with a local folder), both POSIX and relative to the searched root (``""`` is the root itself)."""

    path: str
    notebooks: str | None


def find_projects(root: Path, max_depth: int = 3, limit: int = 50) -> list[FoundProject]:
    """Flow projects at or below ``root`` (a folder), sorted by path. ``max_depth``: folder levels below ``root``
    searched; ``limit``: most projects returned. Unreadable folders are passed over."""
    root = Path(root)
    found: list[FoundProject] = []
    level = [root]
    for depth in range(max_depth + 1):
        below: list[Path] = []
        for folder in level:
            if _is_project(folder):
                found.append(_describe(root, folder))
                if len(found) >= limit:
                    return sorted(found, key=lambda p: p.path)
                continue  # a project's subfolders are its own
            if depth < max_depth:
                below += _subfolders(folder)
        level = below
    return sorted(found, key=lambda p: p.path)


def _is_project(folder: Path) -> bool:
    return any(not os.path.islink(folder / name) and (folder / name).is_dir() for name in CONFIG_DIRS)


def _subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries
                          if e.is_dir(follow_symlinks=False) and not e.name.startswith(".") and e.name not in _SKIPPED)
    except OSError:
        return []


def _describe(root: Path, folder: Path) -> FoundProject:
    rel = folder.relative_to(root).as_posix()
    rel = "" if rel == "." else rel
    notebooks: str | None = None
    try:
        local = load_project(folder, default_project_name="-").notebooks().local
        if local is not None and (local == folder.resolve() or folder.resolve() in local.parents):
            inside = local.relative_to(folder.resolve()).as_posix()
            notebooks = "/".join(p for p in (rel, "" if inside == "." else inside) if p)
    except (ProjectError, ValueError, OSError):
        pass  # listed anyway: the panel says what is wrong when it plans
    return FoundProject(rel, notebooks)
