"""The notebooks workflow in one call each, for the magics and the server: locate the project and its notebooks
volume, build the sync with the project's ignore rules and manifest, plan, apply.

Settings (:class:`SyncSettings`) can override the volume's ``remote``/``local`` (e.g. a job's own notebooks folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .ignore import project_filter
from .manifest import Manifest
from .project import NOTEBOOKS_VOLUME, FlowProject, ProjectError, load_project
from .remote import StorageFolder
from .sync import DEFAULT_CONCURRENCY, PULL, NotebookSync, Plan, Progress, Result


@dataclass(frozen=True)
class SyncSettings:
    """``remote``: storage URI overriding the volume's; ``local``: folder overriding the volume's (relative to the
    project root); ``volume``: the ``live.yml`` volume id; ``concurrency``: files in flight."""

    remote: str | None = None
    local: str | None = None
    volume: str = NOTEBOOKS_VOLUME
    concurrency: int = DEFAULT_CONCURRENCY


def manifest_path(project: FlowProject, volume: str) -> Path:
    """Where the sync state of ``volume`` lives: ``<.apolo|.neuro>/sync/<volume>.json`` (self-gitignored)."""
    return project.config_dir / "sync" / f"{volume}.json"


def open_sync(api, path: str | Path, settings: SyncSettings = SyncSettings()) -> tuple[FlowProject, NotebookSync]:  # type: ignore[no-untyped-def]
    """The project around ``path`` and a :class:`NotebookSync` of its notebooks volume.

    ``api``: an open ``AsyncApolo`` (its current project names ``$[[ project.project_name ]]`` when
    ``project.yml`` has none). Raises :class:`ProjectError` (no project, unknown volume, unevaluable
    expression, a non-storage volume) and ``ValueError`` for a malformed storage URI.
    """
    project = load_project(path, default_project_name=api.config.project)
    if settings.volume == NOTEBOOKS_VOLUME:
        volume = project.notebooks(remote=settings.remote, local=settings.local)
    else:
        volume = project.volume(settings.volume)
    if volume.local is None or not (volume.local == project.root or project.root in volume.local.parents):
        raise ProjectError(f"the local folder {volume.local} is outside the project {project.root}")
    _refuse_linked_folder(project.root, volume.local)
    remote = StorageFolder(api, volume.remote)
    manifest = Manifest.load(manifest_path(project, volume.id), remote.uri)
    flt = project_filter(project.root, volume.local)
    return project, NotebookSync(volume.local, remote, manifest, flt, concurrency=settings.concurrency)


def _refuse_linked_folder(root: Path, local: Path) -> None:
    """``ProjectError`` when a folder from the project ``root`` down to the volume's ``local`` folder is a symlink
    (a checkout can hold anyone's symlinks: ``notebooks -> ~/.ssh`` must not receive storage files)."""
    folder = root
    for part in local.relative_to(root).parts:
        folder = folder / part
        if folder.is_symlink():
            raise ProjectError(f"{folder} is a symbolic link (to {os.readlink(folder)}): sync never follows links. "
                               "Make it a real folder, or point the volume's 'local' at one.")


async def plan(api, path: str | Path, direction: str = PULL, settings: SyncSettings = SyncSettings()) -> Plan:  # type: ignore[no-untyped-def]
    """Plan a pull or push of the notebooks of the project around ``path`` (see ``NotebookSync.plan``)."""
    _, sync = open_sync(api, path, settings)
    return await sync.plan(direction)


async def sync(api, path: str | Path, direction: str = PULL, settings: SyncSettings = SyncSettings(), *,  # type: ignore[no-untyped-def]
               dry_run: bool = False, delete: bool | list[str] = False,
               progress: Progress | None = None) -> tuple[Plan, Result | None]:
    """Plan, then (unless ``dry_run``) apply. Returns ``(plan, result or None)``."""
    _, syncer = open_sync(api, path, settings)
    the_plan = await syncer.plan(direction)
    if dry_run:
        return the_plan, None
    return the_plan, await syncer.apply(the_plan, delete=delete, progress=progress)
