"""Job processes of the embedded platform: each job is a local subprocess of the OS user who
runs the platform (its own session and process group), with the environment the real platform
injects (reference §2.8) and its output captured to a log file.

What stands in for the container:

- **Image.** Recorded in the job, never pulled or used: the job's ``command`` (after its
  ``entrypoint``, both split with ``shlex``) runs on this machine. The platform's own Python
  environment comes first on ``PATH``, so ``python``/``apolo`` inside a job are the platform's.
- **Isolation.** Where bubblewrap can run (``sandbox.probe``), each job runs under ``bwrap``:
  volumes at their real ``dst_path`` (``:ro`` enforced), the platform root hidden, private
  ``/tmp`` and home (``jobs_root/<id>/tmp``, ``jobs_root/<id>/root``); see ``sandbox``. The
  next two points describe the fallback without it.
- **Filesystem.** Each job gets ``jobs_root/<id>/root/``, its sandbox "``/``". Every storage
  volume's ``dst_path`` appears there as a symlink to the storage folder
  (``storage_root/<org>/<project>/<path>`` for ``storage://<cluster>/<org>/<project>/<path>``;
  created when missing). ``read_only`` is recorded but not enforced (the process runs as the
  platform's OS user). The process runs with its cwd at ``working_dir`` mapped inside the
  sandbox (default: the sandbox root) and ``HOME`` at the sandbox root.
- **Path mapping.** Occurrences of a volume's ``dst_path`` (as a whole path prefix) in the
  command's arguments, in ``working_dir`` and in ``env`` values are rewritten to the sandbox
  path, longest ``dst_path`` first: ``cat /data/x`` with a volume at ``/data`` runs
  ``cat <root>/data/x``.
- **HTTP port.** A job with ``http.port`` P gets a free loopback port L: ``NEURO_JOB_HTTP_PORT=L``,
  ``--port=P``/``--port P`` arguments become L (``--ip=0.0.0.0`` becomes loopback).
  ``http_url``/``http_url_named`` are the job's
  host on the platform's own port (``http://<job-id>.jobs.localhost:<port>``), where
  ``job_proxy`` forwards to L for users with read on the job (``requires_auth``).
- **Logs.** stdout and stderr go, unbuffered by us, to ``jobs_root/<id>/output.log`` as raw
  bytes; ``output.idx`` records ``<offset> <epoch seconds>`` per chunk read, which gives
  ``since`` and ``timestamps`` for the log stream at chunk precision.
- **Life span.** ``max_run_time_minutes`` is enforced: the job is cancelled with reason
  ``LifeSpanEnded``. ``restart_policy`` is recorded, never applied.

A job's status moves pending -> running -> succeeded | failed | cancelled; each transition is
saved with ``Platform.save_job`` and appended to ``statuses`` (papi ``JobStatusItem``).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import fcntl
import json
import logging
import os
import pty
import re
import secrets
import shlex
import shutil
import signal
import socket
import sys
import termios
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

from . import acl, sandbox
from .state import Platform

log = logging.getLogger("jupyter_apolo.localplatform.jobs")

FINISHED = ("succeeded", "failed", "cancelled")
KILL_GRACE_SECONDS = 5.0
CHUNK = 64 * 1024
# Seconds in a "minute" of max_run_time_minutes; tests shorten it (env var read at startup).
SECONDS_PER_MINUTE = float(os.environ.get("JUPYTER_APOLO_PLATFORM_SECONDS_PER_MINUTE", "60"))
STOPPED_REASON = "PlatformStopped"
STOPPED_DESCRIPTION = "The platform stopped while the job was running; its processes were killed"
_HOST_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


def iso(dt: datetime) -> str:
    """``dt`` in UTC as fixed-width ISO 8601 with microseconds and offset, so stored
    timestamps sort and compare as strings (papi serialises timestamps with an offset)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def now_iso() -> str:
    """The current UTC time as ``iso`` formats it."""
    return iso(datetime.now(timezone.utc))


def parse_iso(value: str) -> datetime:
    """An ISO 8601 timestamp as an aware datetime (naive means UTC). Raises ``ValueError``."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def transition(job: dict[str, Any], status: str, reason: str | None = None, description: str | None = None,
               exit_code: int | None = None) -> dict[str, Any]:
    """Move ``job`` (the job JSON) to ``status`` in place: append to ``statuses``, update
    ``history`` (``started_at`` on leaving pending, ``finished_at``/``run_time_seconds``/
    ``exit_code`` on finishing; papi sets ``started_at`` even for jobs that never ran)."""
    at = now_iso()
    item: dict[str, Any] = {"status": status, "transition_time": at, "reason": reason, "description": description}
    if exit_code is not None:
        item["exit_code"] = exit_code
    job["status"] = status
    job.setdefault("statuses", []).append(item)
    history = job["history"]
    history.update(status=status, reason=reason, description=description)
    if status != "pending":
        history.setdefault("started_at", at)
    if status in FINISHED:
        history["finished_at"] = at
        history["run_time_seconds"] = run_time_seconds(job)
        if exit_code is not None:
            history["exit_code"] = exit_code
    return job


def run_time_seconds(job: dict[str, Any]) -> int:
    """Whole seconds between ``started_at`` and ``finished_at`` (or now); 0 before start."""
    history = job["history"]
    if "started_at" not in history:
        return 0
    end = parse_iso(history["finished_at"]) if "finished_at" in history else datetime.now(timezone.utc)
    return max(0, int((end - parse_iso(history["started_at"])).total_seconds()))


def storage_path(platform: Platform, uri: str) -> Path:
    """The folder behind ``storage://<cluster>/<org>/<project>/<path>`` on this platform.

    Raises ``ValueError`` naming the problem for another scheme or cluster, a URI without a
    project, or ``..`` segments.
    """
    scheme, segs = acl.split_uri(uri)
    if scheme != "storage":
        raise ValueError(f"Volume {uri!r} is not a storage URI: use storage://{platform.cluster}/<org>/<project>/<path>")
    if not segs or segs[0] != platform.cluster:
        raise ValueError(f"Volume {uri!r} is not on cluster {platform.cluster!r}")
    if len(segs) < 3:
        raise ValueError(f"Volume {uri!r} names no project: use storage://{platform.cluster}/<org>/<project>/<path>")
    if any(seg in (".", "..") for seg in segs):
        raise ValueError(f"Volume {uri!r} contains '.' or '..' segments")
    return platform.storage_root.joinpath(*segs[1:])


def job_dir(platform: Platform, job_id: str) -> Path:
    """``jobs_root/<id>``: the job's sandbox (``root/``), ``output.log``, ``output.idx``, ``pid``."""
    return platform.jobs_root / job_id


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def map_paths(text: str, mappings: list[tuple[str, str]]) -> str:
    """``text`` with each volume ``dst_path`` (a whole path prefix) replaced by its sandbox path;
    ``mappings`` is ``[(dst_path, sandbox_path)]``, longest ``dst_path`` first."""
    for dst, real in mappings:
        text = re.sub(rf"(?<![\w./-]){re.escape(dst)}(?=/|$|[^\w.-])", lambda _m, real=real: real, text)
    return text


_ALL_INTERFACES = ("0.0.0.0", "::", "*")
_EMPTY_JUPYTER_TOKEN = re.compile(r"--(NotebookApp|ServerApp|IdentityProvider)\.token=(''|\"\")?")


def map_port(argv: list[str], declared: int, local: int) -> list[str]:
    """``argv`` with ``--port=<declared>`` and ``--port <declared>`` changed to ``local``, and
    ``--ip``/``--host`` of all interfaces (``0.0.0.0``, ``::``, ``*``, as the flow template's
    Jupyter passes) changed to ``127.0.0.1``: the HTTP port is reached through the platform's
    auth, never from the network."""
    out = list(argv)
    for i, arg in enumerate(out):
        prev = out[i - 1] if i > 0 else ""
        if arg == f"--port={declared}":
            out[i] = f"--port={local}"
        elif arg == str(declared) and prev == "--port":
            out[i] = str(local)
        elif any(arg == f"{flag}={ip}" for flag in ("--ip", "--host") for ip in _ALL_INTERFACES):
            out[i] = arg.split("=", 1)[0] + "=127.0.0.1"
        elif arg in _ALL_INTERFACES and prev in ("--ip", "--host"):
            out[i] = "127.0.0.1"
    return out


def passed_config(token: str, cluster: str, url: str, org: str, project: str) -> str:
    """The ``NEURO_PASSED_CONFIG`` value: base64 of JSON ``{token, cluster, url, org_name,
    project_name}`` (sdk ``login_with_passed_config``, papi ``_setup_pass_config``)."""
    doc = {"token": token, "cluster": cluster, "url": url, "org_name": org, "project_name": project}
    return base64.b64encode(json.dumps(doc).encode()).decode()


@dataclass
class _Live:
    """A job this platform process runs: its subprocess once started, and why it is stopped."""

    job_id: str
    process: asyncio.subprocess.Process | None = None
    stop_reason: tuple[str, str, str] | None = None  # (status, reason, description)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # life span changed or kill requested
    terminal: int | None = None  # master fd of a ``tty`` job's pseudo-terminal (attach writes its stdin)


class Runner:
    """Starts, supervises and kills the job subprocesses of one ``Platform``.

    Used from the platform's event loop only.
    """

    def __init__(self, platform: Platform):
        self.platform = platform
        self.isolation = sandbox.probe()
        if self.isolation.enabled:
            log.info("job isolation: bubblewrap (%s)", self.isolation.detail)
        else:
            log.warning("job isolation: off, %s; jobs run as plain processes of this user (see README)",
                        self.isolation.detail)
        self.live: dict[str, _Live] = {}
        self.local_ports: dict[str, int] = {}  # job id -> loopback port its HTTP server listens on
        # job id -> the secret Jupyter token given to a Jupyter job started with an empty one
        # (``jupyter_token``); only the platform's job proxy sends it
        self.upstream_tokens: dict[str, str] = {}
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle hooks -----------------------------------------------------------------------

    def recover(self) -> int:
        """Fail every job left pending/running by a previous platform process (reason
        ``PlatformStopped``), killing its process group if it still runs. Returns how many."""
        stale = list(self.platform.iter_jobs("status IN ('pending', 'running', 'suspended')"))
        for job in stale:
            _kill_leftover(job_dir(self.platform, job["id"]), job["id"])
            self.platform.save_job(transition(job, "failed", STOPPED_REASON, STOPPED_DESCRIPTION))
        return len(stale)

    async def shutdown(self) -> None:
        """Kill every running job's process group and record it as failed (``PlatformStopped``)."""
        for live in list(self.live.values()):
            live.stop_reason = ("failed", STOPPED_REASON, STOPPED_DESCRIPTION)
            if live.process and live.process.returncode is None:
                _signal_group(live.process.pid, signal.SIGKILL)
            live.wake.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=KILL_GRACE_SECONDS)

    # -- operations ----------------------------------------------------------------------------

    def assign_http(self, job: dict[str, Any], request_host: str | None = None) -> None:
        """Give a job with ``container.http`` a loopback port and set ``http_url(_named)``: its
        host behind the platform's auth (``job_proxy.public_urls``) for a platform reached at
        ``request_host`` (``host:port``); without one, the bare loopback port (unprotected)."""
        if not job["container"].get("http"):
            return
        port = self.local_ports[job["id"]] = free_port()
        if request_host:
            from .job_proxy import public_urls

            url, named = public_urls(job, request_host)
        else:
            url = named = f"http://127.0.0.1:{port}"
        job["http_url"] = url
        if job.get("name") and named:
            job["http_url_named"] = named

    def start(self, job: dict[str, Any]) -> None:
        """Run the saved, pending ``job`` in the background. Failures to start (no such
        command, bad volume) make the job ``failed`` with reason ``ContainerCannotRun``."""
        live = self.live[job["id"]] = _Live(job["id"])
        task = asyncio.get_running_loop().create_task(self._run(live))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def kill(self, job_id: str, reason: str = "UserRequested", description: str | None = None) -> None:
        """Stop a live job: SIGTERM to its process group, SIGKILL after ``KILL_GRACE_SECONDS``;
        returns once it is recorded as ``cancelled``. No-op for a finished job."""
        live = self.live.get(job_id)
        if live is None:  # not run by this process (cannot happen after ``recover``): just record it
            job = self.platform.load_job(job_id)
            if job and job["status"] not in FINISHED:
                self._record(job_id, "cancelled", reason, description)
            return
        if live.stop_reason is None:
            live.stop_reason = ("cancelled", reason, description)
        live.wake.set()
        await live.done.wait()

    def life_span_changed(self, job_id: str) -> None:
        """Re-read ``max_run_time_minutes`` of a live job (after ``PUT .../max_run_time_minutes``)."""
        live = self.live.get(job_id)
        if live:
            live.wake.set()

    # -- supervision ---------------------------------------------------------------------------

    async def _run(self, live: _Live) -> None:
        try:
            await self._supervise(live)
        except Exception as exc:  # never leave a job "running" because of a bug here
            log.exception("job %s: supervisor failed", live.job_id)
            job = self.platform.load_job(live.job_id)
            if job and job["status"] not in FINISHED:
                self._record(live.job_id, "failed", "Error", f"Platform error: {exc}")
        finally:
            self.live.pop(live.job_id, None)
            self.local_ports.pop(live.job_id, None)
            self.upstream_tokens.pop(live.job_id, None)
            live.done.set()

    def _record(self, job_id: str, status: str, reason: str | None = None, description: str | None = None,
                exit_code: int | None = None) -> None:
        """Transition the freshly loaded job (no stale copy overwrites a concurrent update)."""
        job = self.platform.load_job(job_id)
        if job is not None:
            self.platform.save_job(transition(job, status, reason, description, exit_code))

    async def _supervise(self, live: _Live) -> None:
        job = self.platform.load_job(live.job_id)
        assert job is not None
        if live.stop_reason:  # killed before it started
            self._record(job["id"], *live.stop_reason)
            return
        directory = job_dir(self.platform, job["id"])
        try:
            argv, cwd, env = self._prepare(job, directory)
            if job["container"].get("tty"):  # `apolo run -t`: a terminal, fed by attach
                live.terminal, slave = pty.openpty()
                env.setdefault("TERM", "xterm-256color")
                try:
                    process = await asyncio.create_subprocess_exec(
                        *argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                        preexec_fn=_controlling_tty)
                finally:
                    os.close(slave)
            else:
                process = await asyncio.create_subprocess_exec(
                    *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                )
        except (OSError, ValueError) as exc:
            _close_terminal(live)
            (directory / "output.log").write_text(f"Cannot start the job's command: {exc}\n")
            self._record(job["id"], "failed", "ContainerCannotRun", str(exc), exit_code=127)
            return
        live.process = process
        (directory / "pid").write_text(str(process.pid))
        self._record(job["id"], "running")
        output = (_capture_terminal(live.terminal, directory) if live.terminal is not None
                  else _capture(process.stdout, directory))
        pump = asyncio.get_running_loop().create_task(output)
        code = await self._wait(live, process)
        _signal_group(process.pid, signal.SIGKILL)  # the job ends with its main process
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(pump, KILL_GRACE_SECONDS)
        _close_terminal(live)
        if live.stop_reason:
            status, reason, description = live.stop_reason
            self._record(job["id"], status, reason, description, exit_code=code)
        elif code == 0:
            self._record(job["id"], "succeeded", None, None, exit_code=0)
        else:
            self._record(job["id"], "failed", "Error", f"The command exited with {code}", exit_code=code)

    async def _wait(self, live: _Live, process: asyncio.subprocess.Process) -> int:
        """Wait for ``process``, enforcing the life span and kill requests; its exit code
        (negative signal number when killed, as k8s reports 128+N we keep the raw value)."""
        waiter = asyncio.ensure_future(process.wait())
        killed_at: float | None = None
        while not waiter.done():
            if live.stop_reason is None and self._life_span_left(live.job_id) <= 0:
                live.stop_reason = ("cancelled", "LifeSpanEnded", "The job was cancelled: its life span ended")
            if live.stop_reason and killed_at is None:
                killed_at = time.monotonic()
                _signal_group(process.pid, signal.SIGTERM)
            timeout = self._life_span_left(live.job_id)
            if killed_at is not None:
                timeout = killed_at + KILL_GRACE_SECONDS - time.monotonic()
                if timeout <= 0:
                    _signal_group(process.pid, signal.SIGKILL)
                    timeout = 1.0
            live.wake.clear()
            wake = asyncio.ensure_future(live.wake.wait())
            await asyncio.wait({waiter, wake}, timeout=min(timeout, 3600.0), return_when=asyncio.FIRST_COMPLETED)
            wake.cancel()
        return waiter.result()

    def _life_span_left(self, job_id: str) -> float:
        job = self.platform.load_job(job_id)
        minutes = job and job.get("max_run_time_minutes")
        if not minutes or "started_at" not in job["history"]:
            return float("inf")
        started = parse_iso(job["history"]["started_at"]).timestamp()
        return started + minutes * SECONDS_PER_MINUTE - time.time()

    def _prepare(self, job: dict[str, Any], directory: Path) -> tuple[list[str], Path, dict[str, str]]:
        """Build the sandbox; return ``(argv, cwd, env)``. Raises ``ValueError``/``OSError``."""
        container = job["container"]
        argv = shlex.split(container.get("entrypoint") or "") + shlex.split(container.get("command") or "")
        if not argv:
            raise ValueError("the job has no command")
        return self._in_sandbox(job, directory, argv)

    def exec_context(self, job: dict[str, Any], argv: list[str]) -> tuple[list[str], Path, dict[str, str]]:
        """``(argv, cwd, env)`` to run ``argv`` inside the running ``job`` as ``apolo exec`` does:
        its sandbox, working directory, environment and path mapping. Raises ``ValueError``."""
        if not argv:
            raise ValueError("no command given: use e.g. `apolo exec JOB -- bash`")
        inner = self._namespace_pid(job["id"])
        if inner is not None:  # enter the job's own namespaces: same files, its processes visible
            bwrapped, cwd, env = self._in_sandbox(job, job_dir(self.platform, job["id"]), argv)
            assert self.isolation.nsenter
            enter = [self.isolation.nsenter, "-t", str(inner), "-m", "-u", "-i", "-p", "--",
                     "/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", env["PWD"], *argv]
            return enter, cwd, env
        return self._in_sandbox(job, job_dir(self.platform, job["id"]), argv)

    def job_ptmx(self, job_id: str) -> str | None:
        """The ``ptmx`` of a job's own ``/dev`` (for an ``exec`` terminal that the job's tools can
        name), when ``exec`` enters its namespaces; else None."""
        inner = self._namespace_pid(job_id)
        return f"/proc/{inner}/root/dev/pts/ptmx" if inner is not None else None

    def _namespace_pid(self, job_id: str) -> int | None:
        """The host pid of the first process inside a bwrap'd job's namespaces (bwrap's child),
        when this platform may enter them (``isolation.nsenter``: root and nsenter); else None."""
        live = self.live.get(job_id)
        if not (self.isolation.nsenter and live and live.process and live.process.returncode is None):
            return None
        try:
            with open(f"/proc/{live.process.pid}/task/{live.process.pid}/children") as f:
                children = f.read().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def _in_sandbox(self, job: dict[str, Any], directory: Path,
                    argv: list[str]) -> tuple[list[str], Path, dict[str, str]]:
        if self.isolation.enabled:
            return self._in_bwrap(job, directory, argv)
        container = job["container"]
        root = directory / "root"
        root.mkdir(parents=True, exist_ok=True)
        mappings = []
        for volume in container.get("volumes", []):
            target = storage_path(self.platform, volume["src_storage_uri"])
            target.mkdir(parents=True, exist_ok=True)
            link = root / volume["dst_path"].strip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(target, target_is_directory=True)
            mappings.append(("/" + volume["dst_path"].strip("/"), str(link)))
        mappings.sort(key=lambda m: -len(m[0]))
        argv = [map_paths(arg, mappings) for arg in argv]
        http = container.get("http")
        local_port = self.local_ports.get(job["id"]) if http else None
        if http and local_port:
            argv = map_port(argv, int(http["port"]), local_port)
        argv, jupyter_env = self._jupyter_token(job, argv)
        cwd = root
        if container.get("working_dir"):
            cwd = Path(map_paths(container["working_dir"], mappings))
            if not cwd.is_relative_to(root):
                cwd = root / container["working_dir"].strip("/")
            cwd.mkdir(parents=True, exist_ok=True)
        env = {k: os.environ[k] for k in _HOST_ENV if k in os.environ}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
        env["HOME"], env["PWD"] = str(root), str(cwd)
        env.update({k: map_paths(str(v), mappings) for k, v in container.get("env", {}).items()})
        env.update(self._job_env(job, local_port))
        env.update(jupyter_env)
        return argv, cwd, env

    def _in_bwrap(self, job: dict[str, Any], directory: Path,
                  argv: list[str]) -> tuple[list[str], Path, dict[str, str]]:
        """``(argv, cwd, env)`` running ``argv`` under bubblewrap (``sandbox``): volumes at their
        real ``dst_path``, so no path mapping; ``cwd`` is the host folder bwrap starts from."""
        container = job["container"]
        directory.mkdir(parents=True, exist_ok=True)
        volumes = []
        for volume in container.get("volumes", []):
            target = storage_path(self.platform, volume["src_storage_uri"])
            target.mkdir(parents=True, exist_ok=True)
            volumes.append((target, volume["dst_path"], bool(volume.get("read_only"))))
        http = container.get("http")
        local_port = self.local_ports.get(job["id"]) if http else None
        if http and local_port:
            argv = map_port(argv, int(http["port"]), local_port)
        argv, jupyter_env = self._jupyter_token(job, argv)
        home = sandbox.home_path()
        inside_cwd = container.get("working_dir") or home
        _check_command(argv[0], volumes)
        argv = sandbox.bwrap_argv(self.isolation, job_id=job["id"], platform_root=self.platform.root,
                                  job_folder=directory, volumes=volumes, cwd=inside_cwd, argv=argv)
        env = {k: os.environ[k] for k in _HOST_ENV if k in os.environ and k != "TMPDIR"}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
        env["HOME"], env["PWD"] = home, inside_cwd
        env.update({k: str(v) for k, v in container.get("env", {}).items()})
        env.update(self._job_env(job, local_port))
        env.update(jupyter_env)
        return argv, directory, env

    def _jupyter_token(self, job: dict[str, Any], argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """For an HTTP job whose Jupyter is told to use no token (``--NotebookApp.token=`` and
        the like, as the flow template and the seeded job do): ``argv`` without that option and
        ``{"JUPYTER_TOKEN": <secret>}`` (the environment is private, argv is not), the secret kept
        in ``upstream_tokens`` for the job proxy. The server then answers only the platform's
        proxy, which admits users with read on the job. Otherwise ``(argv, {})``."""
        if not job["container"].get("http") or job["id"] not in self.local_ports:
            return argv, {}
        kept = [arg for arg in argv if not _EMPTY_JUPYTER_TOKEN.fullmatch(arg)]
        if len(kept) == len(argv):
            return argv, {}
        secret = self.upstream_tokens.setdefault(job["id"], secrets.token_hex(24))
        return kept, {"JUPYTER_TOKEN": secret}

    def _job_env(self, job: dict[str, Any], local_port: int | None) -> dict[str, str]:
        """The ``NEURO_JOB_*`` variables of reference §2.8."""
        env = {
            "NEURO_JOB_ID": job["id"],
            "NEURO_JOB_NAME": job.get("name") or "",
            "NEURO_JOB_OWNER": job["owner"],
            "NEURO_JOB_CLUSTER": job["cluster_name"],
            "NEURO_JOB_INTERNAL_HOSTNAME": job.get("internal_hostname") or "",
            "NEURO_JOB_INTERNAL_HOSTNAME_NAMED": job.get("internal_hostname_named") or "",
            "NEURO_JOB_HTTP_PORT": str(local_port) if local_port else "",
            "NEURO_JOB_HTTP_AUTH": "True" if job["container"].get("http", {}).get("requires_auth") else "",
        }
        if job.get("preset_name"):
            env["NEURO_JOB_PRESET"] = job["preset_name"]
        return env


def _check_command(command: str, volumes: list[tuple[Path, str, bool]]) -> None:
    """Raise ``FileNotFoundError`` (as exec would) when ``command`` cannot be found inside the
    sandbox: on ``PATH``, or as a path on the host's read-only view or under a volume."""
    if "/" not in command:
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
        if shutil.which(command, path=path):
            return
    else:
        for source, dst, _ in volumes:
            dst = "/" + dst.strip("/")
            if command == dst or command.startswith(dst + "/"):
                if (source / command[len(dst):].lstrip("/")).exists():
                    return
                break
        else:
            if not os.path.isabs(command) or os.path.exists(command):
                return
    raise FileNotFoundError(2, "No such file or directory", command)


def _controlling_tty() -> None:
    """In the child, after ``setsid``: make the pty on stdin its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _close_terminal(live: _Live) -> None:
    if live.terminal is not None:
        with contextlib.suppress(OSError):
            os.close(live.terminal)
        live.terminal = None


async def _capture_terminal(master: int, directory: Path) -> None:
    """Copy what a ``tty`` job writes to its terminal into ``output.log`` (``_capture``'s index)
    until every holder of the terminal has closed it (EIO)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(master)
        queue.put_nowait(data)

    os.set_blocking(master, False)
    loop.add_reader(master, readable)
    try:
        with open(directory / "output.log", "ab") as out, open(directory / "output.idx", "a") as idx:
            offset = out.tell()
            while chunk := await queue.get():
                out.write(chunk)
                out.flush()
                idx.write(f"{offset} {time.time():.6f}\n")
                idx.flush()
                offset += len(chunk)
    finally:
        loop.remove_reader(master)


async def _capture(stream: asyncio.StreamReader | None, directory: Path) -> None:
    """Copy ``stream`` to ``output.log`` chunk by chunk, indexing each chunk's offset and time."""
    if stream is None:
        return
    with open(directory / "output.log", "ab") as out, open(directory / "output.idx", "a") as idx:
        offset = out.tell()
        while chunk := await stream.read(CHUNK):
            out.write(chunk)
            out.flush()
            idx.write(f"{offset} {time.time():.6f}\n")
            idx.flush()
            offset += len(chunk)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _kill_leftover(directory: Path, job_id: str) -> None:
    """SIGKILL the process group recorded in ``directory/pid`` if its leader is still this job
    (its environment carries ``NEURO_JOB_ID=<job_id>``: a recycled pid is left alone)."""
    try:
        pid = int((directory / "pid").read_text())
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if f"NEURO_JOB_ID={job_id}".encode() in environ:
        _signal_group(pid, signal.SIGKILL)


class LogIndex:
    """``output.idx`` of a job, read incrementally: chunk offsets and their epoch times."""

    def __init__(self, path: Path):
        self.path, self._pos = path, 0
        self.offsets: list[int] = []
        self.times: list[float] = []

    def refresh(self) -> None:
        try:
            with open(self.path) as f:
                f.seek(self._pos)
                for line in f:
                    if not line.endswith("\n"):
                        break
                    self._pos += len(line)
                    offset, at = line.split()
                    self.offsets.append(int(offset))
                    self.times.append(float(at))
        except FileNotFoundError:
            pass

    def time_at(self, offset: int) -> float:
        i = bisect.bisect_right(self.offsets, offset) - 1
        return self.times[i] if i >= 0 else (self.times[0] if self.times else time.time())

    def offset_since(self, since: float) -> int | None:
        i = bisect.bisect_left(self.times, since)
        return self.offsets[i] if i < len(self.offsets) else None


async def follow_log(platform: Platform, job_id: str, *, since: datetime | None = None, timestamps: bool = False,
                     poll_seconds: float = 0.2, from_end: bool = False) -> AsyncIterator[bytes]:
    """The job's log as raw byte chunks, following it until the job is finished and its log
    drained (mon ``log_ws``). ``since``: only chunks written at or after it; ``timestamps``:
    each line prefixed with ``<ISO time> `` (chunk precision); ``from_end``: only what is
    written from now on (``attach``)."""
    directory = job_dir(platform, job_id)
    index = LogIndex(directory / "output.idx")
    offset = _size(directory / "output.log") if from_end else 0
    if since is not None:
        index.refresh()
        start = index.offset_since(since.timestamp())
        offset = start if start is not None else _size(directory / "output.log")
    at_line_start = True
    while True:
        job = platform.load_job(job_id)
        finished = job is None or job["status"] in FINISHED
        while raw := _read(directory / "output.log", offset):
            data = raw
            if timestamps:
                index.refresh()
                data, at_line_start = _stamp(raw, offset, index, at_line_start)
            offset += len(raw)
            yield data
        if finished:
            return
        await asyncio.sleep(poll_seconds)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(CHUNK)
    except FileNotFoundError:
        return b""


def _stamp(data: bytes, offset: int, index: LogIndex, at_line_start: bool) -> tuple[bytes, bool]:
    out = bytearray()
    pos = 0
    for line in data.splitlines(keepends=True):
        if at_line_start:
            stamp = datetime.fromtimestamp(index.time_at(offset + pos), timezone.utc).isoformat().replace("+00:00", "Z")
            out += stamp.encode() + b" "
        out += line
        pos += len(line)
        at_line_start = line.endswith(b"\n")
    return bytes(out), at_line_start
