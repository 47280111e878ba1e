"""``%apolo run | ps | status | logs | kill | whoami``: jobs and identity, as the apolo CLI names them."""

from __future__ import annotations

import argparse
import codecs
import shlex
import sys
from typing import Any

from ..client import ApoloError, InvalidInput
from ..client.jobs import Volume, current_job, parse_life_span
from ..display import Message, Record, Table, job_columns, job_details
from .errors import CommandError, one_line
from .parser import arg, command

SUBCOMMANDS: dict = {}

class JobList(Table):
    """The jobs ``%apolo ps`` found: a sequence of ``jupyter_apolo.client.Job`` (``len``, iterate,
    ``[0]``), also indexed by job id or name (``jobs["job-..."]``, ``jobs["notebook"]``: the
    newest with that name). ``ids`` lists the ids. Raises ``KeyError`` for an unknown id/name."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for job in reversed(self.items):
                if job.id == key or job.name == key:
                    return job
            raise KeyError(f"no job {key!r} in this listing")
        return self.items[key]

    def __contains__(self, key: Any) -> bool:
        if isinstance(key, str):
            return any(job.id == key or job.name == key for job in self.items)
        return key in self.items

    @property
    def ids(self) -> list[str]:
        return [job.id for job in self.items]


@command(SUBCOMMANDS, "ps", "List jobs, like `apolo ps`: active jobs of the current project by default.")
@arg("-a", "--all", action="store_true", help="all statuses, finished ones too")
@arg("-s", "--status", action="append", default=[], metavar="STATUS",
     choices=["pending", "suspended", "running", "succeeded", "failed", "cancelled"],
     help="only jobs with this status (repeatable)")
@arg("-t", "--tag", action="append", default=[], metavar="TAG", help="only jobs carrying this tag (repeatable: all)")
@arg("-o", "--owner", action="append", default=[], metavar="OWNER",
     help="only jobs of this user; ME = you (repeatable)")
@arg("-n", "--name", help="only jobs with this name")
@arg("-p", "--project", action="append", default=None, metavar="PROJECT", help="jobs of this project (repeatable)")
@arg("--all-projects", action="store_true", help="jobs of every project you can see")
@arg("--since", metavar="DATE", help="created at or after this ISO 8601 time")
@arg("--until", metavar="DATE", help="created at or before this ISO 8601 time")
@arg("--recent-first", action="store_true", help="newest first")
@arg("--columns", metavar="COLS", help="comma-separated columns for this listing (default: ApoloMagics.ps_columns)")
@arg("--widget", action="store_true", help="in a notebook: the interactive jobs table (filters, logs, share, kill); "
                                           "elsewhere the text table")
def ps(magics: Any, args: Any) -> Any:
    from .core import widgets_shown

    if args.widget and widgets_shown(magics):
        from ..widgets import JobsTable

        table = JobsTable(all=args.all, api=magics.api)
        # the filters the table has: one status, one owner, a name or tag to search for
        table.status = args.status[0] if len(args.status) == 1 else ""
        table.owner = "me" if args.owner[:1] == ["ME"] else (args.owner[0] if args.owner else "anyone")
        table.search = args.name or (args.tag[0] if args.tag else "")
        return table
    try:
        columns = job_columns(args.columns.split(",") if args.columns else list(magics.ps_columns))
    except InvalidInput as exc:
        raise CommandError(f"{exc} (%config ApoloMagics.ps_columns = [...])") from None
    statuses: tuple | list | None = () if args.all else (args.status or None)
    jobs = magics.api.jobs.list(statuses=statuses, name=args.name, owners=args.owner, tags=args.tag,
                                since=args.since, until=args.until, projects=args.project,
                                all_projects=args.all_projects, reverse=args.recent_first)
    return JobList(jobs, columns, limit=magics.display_limit, empty="No jobs found.", more_hint=magics.more_hint)


def command_string(cmd: list[str]) -> str | None:
    """``-- CMD...`` as the job's command string, as cli ``job.py::_parse_cmd`` builds it: one
    argument as typed, several shell-quoted and joined."""
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    if not cmd:
        return None
    return cmd[0] if len(cmd) == 1 else " ".join(shlex.quote(part) for part in cmd)


@command(SUBCOMMANDS, "run", "Start a job, like `apolo run --detach [OPTIONS] IMAGE [-- CMD...]`; returns at once "
         "(follow it with %apolo logs JOB).")
@arg("-s", "--preset", help="resource preset (default: the cluster's first, as the CLI)")
@arg("-n", "--name", help="job name: 3-40 lowercase letters, digits and dashes")
@arg("--tag", action="append", default=[], metavar="TAG", help="tag the job (repeatable)")
@arg("-v", "--volume", action="append", default=[], metavar="STORAGE_URI:MOUNT[:ro|:rw]",
     help="mount storage, e.g. storage:data:/mnt/data:ro (repeatable)")
@arg("-e", "--env", action="append", default=[], metavar="VAR=VALUE", help="environment variable (repeatable)")
@arg("--http-port", type=int, default=80, metavar="PORT", help="the job's HTTP port (default 80)")
@arg("--no-http", action="store_true", help="no HTTP endpoint")
@arg("--no-http-auth", action="store_true", help="the HTTP endpoint needs no platform login")
@arg("--life-span", default="1d", metavar="TIME", help="run at most this long, e.g. 2h30m; 0 = no limit (default 1d)")
@arg("--pass-config", action="store_true", help="give the job your platform identity (NEURO_PASSED_CONFIG)")
@arg("--share", action="append", default=[], metavar="USER", help="give USER write on the job (repeatable)")
@arg("--description", help="a description shown by %apolo status")
@arg("--entrypoint", help="override the image's entrypoint")
@arg("-w", "--workdir", help="working directory inside the job")
@arg("--no-extshm", action="store_true", help="no extended /dev/shm")
@arg("image", metavar="IMAGE", help="a Docker image, e.g. ubuntu or python:3.11")
@arg("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...", help="the command to run")
def run(magics: Any, args: Any) -> Record:
    # InvalidInput (bad input, nothing started) becomes the router's one-line UsageError
    env = {}
    for item in args.env:
        var, sep, value = item.partition("=")
        if not sep or not var:
            raise InvalidInput(f"invalid --env {item!r}: use VAR=VALUE")
        env[var] = value
    volumes = [Volume.parse(spec) for spec in args.volume]
    life_span = parse_life_span(args.life_span)
    job = magics.api.jobs.run(
        args.image, command_string(args.cmd), preset=args.preset, name=args.name, tags=args.tag, volumes=volumes,
        env=env, http_port=None if args.no_http else args.http_port, http_auth=not args.no_http_auth,
        life_span_minutes=life_span, pass_config=args.pass_config, description=args.description,
        entrypoint=args.entrypoint, working_dir=args.workdir, extshm=not args.no_extshm, share_with=args.share)
    return Record(job, [("Job", job.id), ("Name", job.name), ("Status", job.status), ("Preset", job.preset_name),
                        ("Image", job.image), ("Command", job.command), ("Http URL", job.http_url),
                        ("Shared with", ", ".join(args.share)), ("Follow", f"%apolo logs {job.id}")],
                  title=f"Job {job.id}")


@command(SUBCOMMANDS, "status", "Show one job, like `apolo status JOB` (JOB: id, name or job URI).")
@arg("job", metavar="JOB", nargs="?", help="job id, name or URI (default: this job, inside a platform job)")
def status(magics: Any, args: Any) -> Record:
    job = magics.api.jobs.get(this_job(args.job))
    return Record(job, job_details(job), title=f"Job {job.id}")


@command(SUBCOMMANDS, "logs", "Print a job's log, like `apolo logs JOB`; follows a running job until it ends "
                              "(interrupt the kernel to stop).")
@arg("job", metavar="JOB", nargs="?", help="job id, name or URI (default: this job, inside a platform job)")
@arg("--since", metavar="DATE", help="only lines after this ISO 8601 time")
@arg("--timestamps", action="store_true", help="prefix each line with its time")
def logs(magics: Any, args: Any) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in magics.api.jobs.logs(this_job(args.job), since=args.since, timestamps=args.timestamps):
        sys.stdout.write(decoder.decode(chunk))
        sys.stdout.flush()
    sys.stdout.write(decoder.decode(b"", final=True))


@command(SUBCOMMANDS, "kill", "Kill jobs, like `apolo kill JOB...`; shows each id killed.")
@arg("jobs", metavar="JOB", nargs="+", help="job ids, names or URIs")
def kill(magics: Any, args: Any) -> Message | None:
    killed = []
    for ref in args.jobs:
        try:
            killed.append(magics.api.jobs.kill(ref))
        except ApoloError as exc:  # go on with the others, as `apolo kill` does
            print(f"%apolo kill: cannot kill {ref}: {one_line(exc)}", file=sys.stderr)
    return Message("\n".join(killed), ids=killed) if killed else None


@command(SUBCOMMANDS, "whoami", "Who and where you are on the platform: user, cluster, org, project, API URL.")
def whoami(magics: Any, args: Any) -> Record:
    cfg = magics.api.config
    return Record(cfg, [("User", cfg.username), ("Cluster", cfg.cluster), ("Org", cfg.org),
                        ("Project", cfg.project), ("API URL", cfg.url), ("Credentials from", cfg.source)])


def this_job(ref: str | None) -> str:
    """``ref``, or this job's id when running inside a platform job (``NEURO_JOB_ID``).

    Raises ``CommandError`` when neither is available.
    """
    if ref:
        return ref
    this = current_job()
    if this is None:
        raise CommandError("give a job (id, name or job: URI); outside a platform job there is no 'this job'")
    return this.id
