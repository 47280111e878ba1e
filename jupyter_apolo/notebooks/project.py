"""Find an apolo-flow project and read its volumes, the way ``apolo-flow`` does.

A flow project is the folder holding ``.apolo/`` (apolo-flow >= 24.12.1 prefers it) or ``.neuro/``.
``live.yml`` (or ``live.yaml``) declares volumes ``{remote, mount, local, read_only}``; ``project.yml``
gives ``id`` (``$[[ flow.project_id ]]``) and ``project_name`` (``$[[ project.project_name ]]``).
Mirrors apolo-flow 26.7 (reference §6.1, §6.2). Only plain context references are evaluated
(``flow.*``, ``project.*``); anything else raises :class:`ExpressionError` naming it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CONFIG_DIRS = (".apolo", ".neuro")
NOTEBOOKS_VOLUME = "notebooks"


class ProjectError(ValueError):
    """The flow project is missing or malformed; the message says what to fix."""


class ExpressionError(ProjectError):
    """A ``$[[ ]]`` / ``${{ }}`` expression this module cannot evaluate (``.expression``, ``.where``)."""

    def __init__(self, expression: str, where: str, reason: str):
        self.expression, self.where = expression, where
        super().__init__(f"cannot evaluate {expression!r} in {where}: {reason}")


@dataclass(frozen=True)
class Volume:
    """One ``live.yml`` volume, expressions evaluated.

    ``remote``: storage URI as written after evaluation (e.g. ``storage:/awesome-team/awesome_project/notebooks``);
    ``local``: absolute local folder or None when the volume has no ``local``.
    """

    id: str
    remote: str
    mount: str
    local: Path | None
    read_only: bool = False


@dataclass(frozen=True)
class FlowProject:
    """A flow project on disk: ``root`` (folder with the config dir), ``config_dir``, ids and volumes."""

    root: Path
    config_dir: Path
    project_id: str
    project_name: str | None
    volumes: dict[str, Volume] = field(default_factory=dict)
    broken: dict[str, ProjectError] = field(default_factory=dict, repr=False)  # volume id -> why unusable

    def volume(self, volume_id: str = NOTEBOOKS_VOLUME) -> Volume:
        """The volume ``volume_id``; :class:`ProjectError` listing the valid ids when unknown or without ``local``."""
        if volume_id in self.broken:
            raise self.broken[volume_id]
        vol = self.volumes.get(volume_id)
        if vol is None:
            known = ", ".join(sorted(self.volumes)) or "none"
            raise ProjectError(f"Unknown volume {volume_id!r} in {self.config_dir / 'live.yml'} (volumes: {known})")
        if vol.local is None:
            raise ProjectError(f"Volume {volume_id!r} has no 'local' in {self.config_dir / 'live.yml'}: "
                               f"add e.g. 'local: {volume_id}'")
        if not vol.remote.startswith("storage:"):
            raise ProjectError(f"Volume {volume_id!r} is {vol.remote!r}: only storage: volumes can be synced")
        return vol

    def notebooks(self, remote: str | None = None, local: str | Path | None = None) -> Volume:
        """The notebooks volume, with optional settings overrides for ``remote`` (storage URI) and ``local``
        (path, relative to ``root`` or absolute). Without a ``notebooks`` volume both overrides are required."""
        if remote and local is not None:
            return Volume(NOTEBOOKS_VOLUME, remote, "/project/notebooks", _local_path(self.root, local))
        vol = self.volume(NOTEBOOKS_VOLUME)
        return Volume(vol.id, remote or vol.remote, vol.mount,
                      _local_path(self.root, local) if local is not None else vol.local, vol.read_only)


def find_project_root(start: str | Path) -> Path:
    """The nearest folder at or above ``start`` holding ``.apolo/`` or ``.neuro/``.

    Raises :class:`ProjectError` when there is none (as ``apolo-flow``: "not a flow project").
    """
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if any((folder / name).is_dir() for name in CONFIG_DIRS):
            return folder
    raise ProjectError(f"{start} is not inside an apolo-flow project: no .apolo/ or .neuro/ folder here or above "
                       "(create one with the project template, or pass the project path)")


def load_project(start: str | Path, *, default_project_name: str | None = None) -> FlowProject:
    """Read the flow project containing ``start``.

    ``default_project_name``: used when ``project.yml`` has no ``project_name`` (apolo-flow falls back to
    the CLI's current project). Raises :class:`ProjectError` / :class:`ExpressionError`.
    """
    root = find_project_root(start)
    config_dir = next(root / n for n in CONFIG_DIRS if (root / n).is_dir())
    project_yml = _read_yaml(_first_existing(config_dir, "project.yml", "project.yaml")) or {}
    project_id = str(project_yml.get("id") or root.name.replace("-", "_"))
    project_name = project_yml.get("project_name") or default_project_name
    live_path = _first_existing(config_dir, "live.yml", "live.yaml")
    live = _read_yaml(live_path) or {}
    contexts = {
        "flow": {"project_id": project_id, "workspace": str(root), "flow_id": str(live.get("id") or "live"),
                 "title": str(live.get("title") or live.get("id") or "live")},
        "project": {"id": project_id, "project_id": project_id,
                    **({"project_name": str(project_name)} if project_name else {})},
    }
    volumes, broken = {}, {}
    for vid, spec in (live.get("volumes") or {}).items():
        where = f"{live_path}: volumes.{vid}"
        if not isinstance(spec, dict) or "remote" not in spec or "mount" not in spec:
            broken[vid] = ProjectError(f"{where} needs 'remote' and 'mount'")
            continue
        local = spec.get("local")
        try:
            volumes[vid] = _volume(vid, spec, local, root, contexts, where)
        except ProjectError as exc:  # reported when this volume is used, not for every volume
            broken[vid] = exc
    return FlowProject(root, config_dir, project_id, str(project_name) if project_name else None, volumes, broken)


def _volume(vid: str, spec: dict, local: object, root: Path, contexts: dict, where: str) -> Volume:
    return Volume(
        id=vid,
        remote=evaluate(str(spec["remote"]), contexts, f"{where}.remote"),
        mount=evaluate(str(spec["mount"]), contexts, f"{where}.mount"),
        local=_local_path(root, evaluate(str(local), contexts, f"{where}.local")) if local is not None else None,
        read_only=bool(spec.get("read_only", spec.get("read-only", False))),
    )


def _local_path(root: Path, local: str | Path) -> Path:
    """``local`` (relative to ``root``, or absolute) with ``..`` folded lexically. Symlinks are *not* resolved:
    ``workflow.open_sync`` refuses a volume reached through one instead of following it."""
    return Path(os.path.normpath(root / local))


_EXPR = re.compile(r"\$\[\[(.*?)\]\]|\$\{\{(.*?)\}\}", re.S)
_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*")


def evaluate(text: str, contexts: dict, where: str) -> str:
    """Replace every ``$[[ ctx.name ]]`` / ``${{ ctx.name }}`` in ``text`` from ``contexts``.

    Raises :class:`ExpressionError` for function calls, operators, unknown contexts or missing names.
    """
    def substitute(match: re.Match) -> str:
        expr = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
        if not _REF.fullmatch(expr):
            raise ExpressionError(match.group(0), where,
                                  "only context references such as flow.project_id are supported")
        value: object = contexts
        for part in expr.split("."):
            if not isinstance(value, dict) or part not in value:
                hint = ("set project_name in project.yml" if expr == "project.project_name"
                        else f"known: {', '.join(f'{c}.{k}' for c in contexts for k in contexts[c])}")
                raise ExpressionError(match.group(0), where, f"{expr} is not defined ({hint})")
            value = value[part]
        return str(value)

    return _EXPR.sub(substitute, text)


def _first_existing(folder: Path, *names: str) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return folder / names[0]


def _read_yaml(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path} is not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ProjectError(f"{path} must be a mapping at the top level")
    return data
