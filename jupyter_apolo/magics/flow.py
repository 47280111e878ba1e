"""``%apolo flow ps | bakes``: the flow project of the kernel's working directory (or ``--path``),
as ``apolo-flow ps`` / ``apolo-flow bakes`` show it (reference §6.5).

The flow project is the folder holding ``.apolo/`` (or ``.neuro/``) with ``project.yml`` (``id``,
``project_name``) and ``live.yml`` (its ``jobs``). The platform side goes through
``jupyter_apolo.client.flow``; this module reads those two files, parses arguments and renders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from ..client import NotFoundError
from ..client.flow import Flow, FlowProject, LiveJobSpec, id2tag
from ..display import Table
from ..notebooks.project import CONFIG_DIRS, ProjectError, find_project_root
from .errors import CommandError
from .parser import arg, command, command_group

SUBCOMMANDS: dict = {}
_FLOW: dict = {}


def _on_platform(magics: Any, call: Callable[[Flow], Any]) -> Any:
    """``call(Flow(async client))`` run to completion on the client's loop; async iterators are
    collected into lists."""
    async def go(aio: Any) -> Any:
        result = call(Flow(aio))
        if hasattr(result, "__aiter__"):
            return [item async for item in result]
        return await result

    return magics.api.call(go)


@dataclass(frozen=True)
class LocalFlow:
    """What ``%apolo flow`` reads from disk: the flow id, its platform project, ``live.yml`` jobs."""

    root: Path
    live_yml: Path
    flow_id: str
    project_name: str
    jobs: dict[str, LiveJobSpec]


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CommandError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path} must be a YAML mapping at the top level")
    return data


def _first(folder: Path, *names: str) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def local_flow(path: str | None) -> LocalFlow:
    """The flow project containing ``path`` (default: the working directory).

    Raises ``CommandError`` (one line, naming the fix) outside a flow project, without
    ``project.yml`` or its ``id``/``project_name``, or without ``live.yml`` jobs.
    """
    try:
        root = find_project_root(path or os.getcwd())
    except ProjectError as exc:
        raise CommandError(str(exc)) from None
    config = next(root / n for n in CONFIG_DIRS if (root / n).is_dir())
    project_yml = _first(config, "project.yml", "project.yaml")
    if project_yml is None:
        raise CommandError(f"{config} has no project.yml: create it with 'id: <flow id>' and "
                           "'project_name: <platform project>' (apolo-flow would guess both)")
    project = _read(project_yml)
    flow_id, project_name = project.get("id"), project.get("project_name")
    if not isinstance(flow_id, str) or not isinstance(project_name, str) or "$[[" in flow_id + project_name:
        raise CommandError(f"{project_yml} needs plain 'id' and 'project_name' values "
                           f"(got id={flow_id!r}, project_name={project_name!r})")
    live_yml = _first(config, "live.yml", "live.yaml")
    if live_yml is None:
        raise CommandError(f"{config} has no live.yml: a flow project's live jobs are declared there")
    live = _read(live_yml)
    jobs = live.get("jobs") or {}
    if not isinstance(jobs, dict):
        raise CommandError(f"'jobs' in {live_yml} must be a mapping of job ids")
    defaults = live.get("defaults") or {}
    default_tags = {t for t in (defaults.get("tags") or []) if isinstance(t, str) and "$[[" not in t} \
        if isinstance(defaults, dict) else set()
    base = default_tags | {f"project:{id2tag(flow_id)}", f"flow:{id2tag(str(live.get('id') or 'live'))}"}
    specs = {}
    for job_id, spec in sorted(jobs.items()):
        spec = spec if isinstance(spec, dict) else {}
        # an action's multi is in the action file; every action job here (jupyter, ...) is multi
        multi = str(spec.get("multi", "action" in spec)).lower() == "true"
        specs[str(job_id)] = LiveJobSpec(str(job_id), frozenset(base | {f"job:{id2tag(str(job_id))}"}), multi)
    return LocalFlow(root, live_yml, flow_id, project_name, specs)


def _platform_project(magics: Any, local: LocalFlow) -> FlowProject | None:
    """The flow project on the platform, or None when no apolo-flow command created it yet;
    ``CommandError`` when ``project_name`` is not a project the user can see."""
    try:
        return _on_platform(magics, lambda flow: flow.project(local.flow_id, local.project_name))
    except NotFoundError:
        projects = sorted(p["name"] for p in magics.api.cluster_info().projects)
        if local.project_name not in projects:
            raise CommandError(
                f"unknown project {local.project_name!r} (project_name in {local.root.name}/project.yml): "
                f"yours are {', '.join(projects) or 'none'}; fix project_name or ask a manager to add you") from None
        return None


class FlowPs(Table):
    """``%apolo flow ps`` rows (``client.flow.LiveJobStatus``: ``.label``, ``.status``, ``.raw_id``,
    ``.when``, ``.job``); ``rows_as_tuples()`` gives ``(JOB, STATUS, RAW ID)`` as apolo-flow prints them."""

    def rows_as_tuples(self) -> list[tuple[str, str, str]]:
        return [(r.label, r.status, r.raw_id or "N/A") for r in self.items]


@command(_FLOW, "flow ps", "List the flow project's live jobs with status, raw id and when, like `apolo-flow ps`.")
@arg("job", nargs="?", metavar="JOB_ID", help="only this live.yml job")
@arg("--path", help="a folder inside the flow project (default: the kernel's working directory)")
def _ps(magics: Any, args: Any) -> FlowPs:
    local = local_flow(args.path)
    specs = local.jobs
    if args.job is not None:
        if args.job not in specs:
            raise CommandError(f"unknown live job {args.job!r}: {local.live_yml} declares "
                               f"{', '.join(specs) or 'no jobs'}")
        specs = {args.job: specs[args.job]}
    project = _platform_project(magics, local)
    if project is not None:  # what apolo-flow recorded wins (an action's tags and multi are known there)
        for live in _on_platform(magics, lambda flow: flow.live_jobs(project.id)):
            if live.yaml_id in specs:
                specs[live.yaml_id] = LiveJobSpec(live.yaml_id, live.tags, live.multi)
    rows = _on_platform(magics, lambda flow: flow.ps(list(specs.values()), local.project_name))
    columns = [("JOB", lambda r: r.label), ("STATUS", lambda r: r.status), ("RAW ID", lambda r: r.raw_id or "N/A"),
               ("WHEN", lambda r: r.when)]
    return FlowPs(rows, columns, title=f"flow {local.flow_id} in project {local.project_name}",
                  limit=magics.display_limit, empty="No live jobs.")


@command(_FLOW, "flow bakes", "List the flow project's bakes (batch runs) with their last attempt, "
                             "like `apolo-flow bakes`.")
@arg("--tag", action="append", default=[], metavar="TAG", help="only bakes with this tag (repeatable: all)")
@arg("--recent-first", action="store_true", help="newest first")
@arg("--path", help="a folder inside the flow project (default: the kernel's working directory)")
def _bakes(magics: Any, args: Any) -> Table:
    local = local_flow(args.path)
    project = _platform_project(magics, local)
    found = [] if project is None else _on_platform(
        magics, lambda flow: flow.bakes(project.id, tags=args.tag, recent_first=args.recent_first))
    bakes = [b for b in found if b.last_attempt]  # apolo-flow skips a bake without attempts as malformed
    columns = [("ID", lambda b: b.id), ("NAME", lambda b: b.name), ("BATCH", lambda b: b.batch),
               ("EXECUTOR", lambda b: b.last_attempt.executor_id), ("STATUS", lambda b: b.last_attempt.result),
               ("WHEN", lambda b: b.last_attempt.created_at)]
    return Table(bakes, columns, title=f"bakes of flow {local.flow_id} in project {local.project_name}",
                 limit=magics.display_limit, empty="No bakes.")


command_group(SUBCOMMANDS, "flow", _FLOW, "[--path DIR]",
              "The flow project's live jobs and bakes: ps, bakes (like apolo-flow).")
