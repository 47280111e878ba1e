"""Monitoring websockets beside ``log_ws`` (reference §2.6; framing from apolo-sdk ``_jobs.py``):

- WS ``/{id}/attach?tty&stdin&stdout&stderr`` (write, subprotocol ``v2.channels.neu.ro``): binary
  frames ``<channel byte><payload>``; the job's output from now on on channel 1 (the embedded
  platform keeps stdout and stderr as one stream), then ``3 {"exit_code": N}`` once the job has
  finished, then close. A ``tty`` job (``apolo run -t``) runs on a pseudo-terminal: channel 0
  is its input and channel 4 resizes it; other jobs' stdin is ``/dev/null`` (input dropped).
  A job that is not running answers the handshake 404 (the CLI then waits for the job's end).
- WS ``/{id}/exec?cmd=...&tty&stdin&stdout&stderr`` (write): runs ``cmd`` (split like a shell)
  in the job's sandbox, working directory and environment; with ``tty=1`` on a pseudo-terminal
  (channel 4 ``{"height", "width"}`` resizes it); channel 0 is its stdin, 1/2 its stdout/stderr,
  3 its exit code. Closing the websocket kills what it started.
- WS ``/{id}/port_forward/{port}`` (write): raw bytes to and from ``port`` of the job (its
  HTTP port goes to the loopback port it really listens on).
- WS ``/{id}/top`` (read): a text frame per second ``{cpu, memory, memory_bytes, timestamp}``
  for the job's processes (cpu in cores, memory in MiB and bytes); closes when the job ends.
- Any other ``/{id}/<op>`` (``save``, ``kill``, ...): 501 with ``X-Error`` naming the operation.

Handshake errors carry ``X-Error`` (JSON ``{"error": ...}``), which the SDK prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import shlex
import signal
import struct
import termios
import time
from typing import Any

import psutil
from tornado import websocket

from . import jobs_api
from .base import BaseHandler
from .runner import FINISHED, follow_log
from .state import PlatformError

CHANNELS_PROTOCOL = "v2.channels.neu.ro"
STDIN, STDOUT, STDERR, EXIT, RESIZE = 0, 1, 2, 3, 4
TOP_INTERVAL_SECONDS = 1.0
_READ = 64 * 1024


class MonitorSocket(BaseHandler, websocket.WebSocketHandler):
    """A monitoring websocket: authenticated and authorised (``action``) before the upgrade;
    errors then carry ``X-Error``. ``needs_running``: a job that is not running is a 404."""

    action = "write"
    needs_running = True
    job: dict[str, Any]

    def prepare(self) -> None:
        super().prepare()
        self.job = jobs_api.resolve(self, self.path_args[0], self.action)
        if self.needs_running and self.job["status"] != "running":
            raise PlatformError(404, f"Job {self.job['id']} is {self.job['status']}, not running")

    def check_origin(self, origin: str) -> bool:  # bearer-token API: no cookies to protect
        return True

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, PlatformError):
            self.set_header("X-Error", json.dumps({"error": exc.message, **exc.extra}))
        super().write_error(status_code, **kwargs)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return CHANNELS_PROTOCOL if CHANNELS_PROTOCOL in subprotocols else None

    def flags(self) -> dict[str, bool]:
        """The ``tty``/``stdin``/``stdout``/``stderr`` query flags (``0``/``1``)."""
        out = {}
        for name in ("tty", "stdin", "stdout", "stderr"):
            value = self.get_query_argument(name, "0")
            if value not in ("0", "1", "true", "false", "True", "False"):
                raise PlatformError(400, f"Invalid {name}={value!r}: use 0 or 1")
            out[name] = value in ("1", "true", "True")
        if out["tty"] and out["stdout"] and out["stderr"]:
            raise PlatformError(400, "tty=1 cannot be combined with both stdout=1 and stderr=1: "
                                     "a terminal has one output")
        return out

    async def send(self, channel: int, data: bytes) -> None:
        """One frame on ``channel``; a closed socket ends quietly."""
        with contextlib.suppress(websocket.WebSocketClosedError):
            await self.write_message(bytes([channel]) + data, binary=True)


def _exit_code(job: dict[str, Any]) -> int:
    code = job["history"].get("exit_code")
    if code is None:
        return 0 if job["status"] == "succeeded" else 1
    return code


class AttachSocket(MonitorSocket):
    """``attach``: the job's output from now on, then its exit code."""

    _task: asyncio.Task | None = None

    def prepare(self) -> None:
        super().prepare()
        self.flags()

    def open(self, job_id: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._stream())

    async def _stream(self) -> None:
        async for chunk in follow_log(self.platform, self.job["id"], from_end=True):
            await self.send(STDOUT, chunk)
        job = self.platform.load_job(self.job["id"]) or self.job
        await self.send(EXIT, json.dumps({"exit_code": _exit_code(job)}).encode())
        self.close()

    def on_message(self, message: str | bytes) -> None:
        """Channel 0 (stdin) and 4 (resize) go to a ``tty`` job's terminal; other jobs' stdin is
        ``/dev/null``, so input to them is dropped."""
        live = jobs_api.runner_for(self.platform).live.get(self.job["id"])
        master = live.terminal if live else None
        if master is None or not isinstance(message, bytes) or not message:
            return
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if message[0] == STDIN:
                os.write(master, message[1:])
            elif message[0] == RESIZE:
                size = json.loads(message[1:])
                winsize = struct.pack("HHHH", int(size["height"]), int(size["width"]), 0, 0)
                fcntl.ioctl(master, termios.TIOCSWINSZ, winsize)

    def on_close(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()


class ExecSocket(MonitorSocket):
    """``exec``: a command in the job's sandbox, with or without a pseudo-terminal."""

    process: asyncio.subprocess.Process | None = None
    _master: int | None = None
    _task: asyncio.Task | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        super().prepare()
        self.opts = self.flags()
        cmd = self.get_query_argument("cmd", "")
        try:
            argv = shlex.split(cmd)
            runner = jobs_api.runner_for(self.platform)
            argv, cwd, env = runner.exec_context(self.job, argv)
            if self.opts["tty"]:
                self._master, slave = _open_pty(runner.job_ptmx(self.job["id"]))
                env.setdefault("TERM", "xterm-256color")
                try:
                    self.process = await asyncio.create_subprocess_exec(
                        *argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                        start_new_session=True, preexec_fn=_controlling_tty)
                finally:
                    os.close(slave)
                os.set_blocking(self._master, False)
            else:
                self.process = await asyncio.create_subprocess_exec(
                    *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE if self.opts["stderr"] else asyncio.subprocess.STDOUT,
                    start_new_session=True)
        except (OSError, ValueError) as exc:
            self._close_master()
            raise PlatformError(400, f"Cannot run {cmd!r} in job {self.job['id']}: {exc}") from None

    def open(self, job_id: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        assert self.process is not None
        if self._master is not None:
            await self._pump_tty()
        else:
            pumps = [self._pump(self.process.stdout, STDOUT)]
            if self.process.stderr is not None:
                pumps.append(self._pump(self.process.stderr, STDERR))
            await asyncio.gather(*pumps)
        code = await self.process.wait()
        await self.send(EXIT, json.dumps({"exit_code": code}).encode())
        self.close()

    async def _pump(self, stream: asyncio.StreamReader | None, channel: int) -> None:
        while stream is not None and (data := await stream.read(_READ)):
            await self.send(channel, data)

    async def _pump_tty(self) -> None:
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        assert self._master is not None
        loop.add_reader(self._master, ready.set)
        try:
            while True:
                await ready.wait()
                ready.clear()
                try:
                    data = os.read(self._master, _READ)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: every holder of the terminal has exited
                    return
                if not data:
                    return
                await self.send(STDOUT, data)
        finally:
            loop.remove_reader(self._master)

    async def on_message(self, message: str | bytes) -> None:
        if not isinstance(message, bytes) or not message or self.process is None:
            return
        channel, payload = message[0], message[1:]
        if channel == STDIN:
            if self._master is not None:
                with contextlib.suppress(OSError):
                    os.write(self._master, payload)
            elif self.process.stdin is not None and not self.process.stdin.is_closing():
                with contextlib.suppress(ConnectionError):
                    self.process.stdin.write(payload)
                    await self.process.stdin.drain()
        elif channel == RESIZE and self._master is not None:
            with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
                size = json.loads(payload)
                winsize = struct.pack("HHHH", int(size["height"]), int(size["width"]), 0, 0)
                fcntl.ioctl(self._master, termios.TIOCSWINSZ, winsize)

    def on_close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self._task and not self._task.done():
            asyncio.get_running_loop().call_later(5, self._task.cancel)
        asyncio.get_running_loop().call_later(1, self._close_master)

    def _close_master(self) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = None


_TIOCSPTLCK = 0x40045431  # linux <asm-generic/ioctls.h>: _IOW('T', 0x31, int)
_TIOCGPTPEER = 0x5441  # _IO('T', 0x41), Linux >= 4.13: open the slave of a master by fd


def _open_pty(ptmx: str | None) -> tuple[int, int]:
    """``(master, slave)`` of a new pseudo-terminal: from the job's own ``ptmx`` when given (so
    that ``tty`` inside the job's mount namespace names it ``/dev/pts/N``), else the host's."""
    if ptmx:
        master = -1
        try:
            master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY)
            fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
            return master, fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        except OSError:
            if master >= 0:
                os.close(master)
    return pty.openpty()


def _controlling_tty() -> None:
    """In the child, after ``setsid``: make the pty on stdin its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PortForwardSocket(MonitorSocket):
    """``port_forward/{port}``: raw bytes to and from a port of the job."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    _task: asyncio.Task | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        super().prepare()
        port = int(self.path_args[1])
        http = self.job["container"].get("http")
        local = jobs_api.runner_for(self.platform).local_ports.get(self.job["id"])
        target = local if http and local and http["port"] == port else port
        if not 1 <= target <= 65535:
            raise PlatformError(400, f"Invalid port {port}: use 1..65535")
        try:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError as exc:
            raise PlatformError(502, f"Nothing listens on port {port} of job {self.job['id']}: "
                                     f"{exc.strerror or exc}") from None

    def open(self, job_id: str, port: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._from_job())

    async def _from_job(self) -> None:
        with contextlib.suppress(ConnectionError, websocket.WebSocketClosedError):
            while data := await self.reader.read(_READ):
                await self.write_message(data, binary=True)
        self.close()

    async def on_message(self, message: str | bytes) -> None:
        with contextlib.suppress(ConnectionError):
            self.writer.write(message if isinstance(message, bytes) else message.encode())
            await self.writer.drain()

    def on_close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        if self._task and not self._task.done():
            self._task.cancel()


def _job_processes(pid: int, known: dict[int, psutil.Process]) -> list[psutil.Process]:
    """The job's process group leader and its descendants, reusing ``known`` objects so that
    ``cpu_percent`` measures since the previous call."""
    try:
        leader = known.get(pid) or psutil.Process(pid)
        found = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []
    out = []
    for proc in found:
        out.append(known.setdefault(proc.pid, proc))
    return out


def telemetry(pid: int, known: dict[int, psutil.Process]) -> dict[str, Any]:
    """``{cpu, memory, memory_bytes, timestamp}`` of the process tree under ``pid`` (mon ``top``)."""
    cpu = 0.0
    rss = 0
    for proc in _job_processes(pid, known):
        with contextlib.suppress(psutil.Error):
            cpu += proc.cpu_percent(None) / 100.0
            rss += proc.memory_info().rss
    return {"cpu": round(cpu, 3), "memory": round(rss / 2**20, 1), "memory_bytes": rss, "timestamp": time.time()}


class TopSocket(MonitorSocket):
    """``top``: CPU and memory of the job's processes once a second while it runs."""

    action = "read"
    needs_running = False
    _task: asyncio.Task | None = None

    def open(self, job_id: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._report())

    async def _report(self) -> None:
        known: dict[int, psutil.Process] = {}
        runner = jobs_api.runner_for(self.platform)
        with contextlib.suppress(websocket.WebSocketClosedError):
            while True:
                job = self.platform.load_job(self.job["id"])
                live = runner.live.get(self.job["id"])
                if job is None or job["status"] in FINISHED or live is None or live.process is None:
                    break
                await self.write_message(json.dumps(telemetry(live.process.pid, known)))
                await asyncio.sleep(TOP_INTERVAL_SECONDS)
        self.close()

    def on_close(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()


class UnsupportedSocket(MonitorSocket):
    """Monitoring operations the embedded platform does not offer: 501 with ``X-Error``."""

    needs_running = False

    def prepare(self) -> None:
        super().prepare()
        raise PlatformError(501, f"'{self.path_args[1]}' is not supported by the embedded platform "
                                 "(it has attach, exec, port-forward, top and logs)")


def routes(kw: dict[str, Any]) -> list:
    """The routes above (mounted by ``monitoring_api.routes`` after its literal ones)."""
    return [
        (r"/api/v1/monitoring/([^/]+)/attach", AttachSocket, kw),
        (r"/api/v1/monitoring/([^/]+)/exec", ExecSocket, kw),
        (r"/api/v1/monitoring/([^/]+)/port_forward/(\d+)", PortForwardSocket, kw),
        (r"/api/v1/monitoring/([^/]+)/top", TopSocket, kw),
        (r"/api/v1/monitoring/([^/]+)/(.+)", UnsupportedSocket, kw),
    ]
