"""``jupyter apolo lab``: JupyterLab connected to Apolo in one command.

If apolo credentials are configured (``APOLO_PASSED_CONFIG``/``NEURO_PASSED_CONFIG`` or an
``apolo login``), JupyterLab simply starts with them. Otherwise the embedded platform starts
from ``<data-dir>/platform`` (seeded on first run with a sample project, see
``localplatform.seed``), its credentials go to ``<data-dir>/embedded.json`` (mode 0600, named
by ``JUPYTER_APOLO_EMBEDDED`` for the server extension and kernels), and JupyterLab opens on
``<data-dir>/workspace``. Running it again reuses the same data; quitting JupyterLab stops the
platform it started.

One platform per data directory: the launcher that starts it holds ``<data-dir>/launcher.lock``
(``flock``) while it runs. A second ``jupyter apolo lab`` on the same data directory opens its Lab
on that running platform (and leaves it running when it quits); ``jupyter apolo platform up``
refuses with the command to use. A launch whose JupyterLab fails to start (or that is interrupted
while starting) removes the notebook job it started, so aborted launches leave nothing behind.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .localplatform import Platform, seed
from .localplatform.auth import mint

EMBEDDED_ENV = "JUPYTER_APOLO_EMBEDDED"
LOCK_NAME = "launcher.lock"
REUSE_WAIT_SECONDS = 90.0  # how long a second launcher waits for the first one's platform to answer


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/jupyter-apolo`` (default ``~/.local/share/jupyter-apolo``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "jupyter-apolo"


def local_username() -> str:
    """The OS user's name as a platform user name (``user`` when it cannot be one)."""
    name = re.sub(r"[^a-z0-9-]+", "-", getpass.getuser().lower()).strip("-")
    return name if re.fullmatch(r"[a-z](?:-?[a-z0-9]){2,39}", name) else "user"


def _configured_platform():  # type: ignore[no-untyped-def]
    """The real platform configured for this user, or None (embedded ones don't count)."""
    from .client import ConfigError, resolve_config

    try:
        config = resolve_config(environ={k: v for k, v in os.environ.items() if k != EMBEDDED_ENV})
    except ConfigError:
        return None
    return None if config.source == "embedded" else config


class EmbeddedPlatform:
    """The embedded platform process the launcher owns, with its seeded sample project."""

    def __init__(self, data_dir: Path, port: int):
        self.data_dir = data_dir
        self.root = data_dir / "platform"
        self.workspace = data_dir / "workspace"
        self.credentials = data_dir / "embedded.json"
        self.user = local_username()
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.started_job: str | None = None  # the notebook job this launch created, if any

    def start(self) -> None:
        """Seed on first run, start serving, start the notebook job, write the credentials.

        Raises ``RuntimeError`` with the fix when the platform cannot start (e.g. port in use).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        first_run = not (self.data_dir / ".seeded").exists()
        platform = Platform(self.root)
        try:
            if first_run:
                seed.seed_platform(platform, self.user)
            else:
                platform.ensure_user(self.user)
            token = mint(platform.secret, self.user)
            cluster, org = platform.cluster, platform.org
        finally:
            platform.close()
        if first_run:
            seed.seed_workspace(self.workspace)
            (self.data_dir / ".seeded").write_text("")
        log = open(self.data_dir / "platform.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_apolo.cli", "platform", "serve", "--root", str(self.root),
             "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=log, text=True,
        )
        line = self.proc.stdout.readline().strip() if self.proc.stdout else ""
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(
                f"The embedded platform did not start (see {self.data_dir / 'platform.log'}). "
                f"If port {self.port} is in use, pass --port with a free one."
            )
        self.url = line
        try:
            job_id = seed.ensure_notebook_job(self.url, token, cluster, org)
            self.started_job = job_id  # a fresh platform process runs no earlier job: this launch made it
            print(f"Notebook job {job_id} is running in project {seed.TEAM_PROJECT}{self._job_url(job_id, token)}.",
                  file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - the sample job is a convenience, not a requirement
            print(f"warning: could not start the sample notebook job: {exc}", file=sys.stderr)
        self._write_credentials(token, cluster, org)

    def _job_url(self, job_id: str, token: str) -> str:
        """`` at <http_url>`` of the job (behind the platform's auth), or "" if unknown."""
        try:
            r = httpx.get(f"{self.url}/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            url = r.json().get("http_url_named") or r.json().get("http_url")
        except (httpx.HTTPError, ValueError):
            return ""
        return f" at {url}" if url else ""

    def _write_credentials(self, token: str, cluster: str, org: str) -> None:
        doc = {"url": self.url, "token": token, "cluster": cluster, "org": org,
               "project": seed.TEAM_PROJECT, "user": self.user}
        tmp = self.credentials.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        tmp.replace(self.credentials)

    def stop(self) -> None:
        """Stop the platform process (its jobs are stopped with it)."""
        if self.proc:
            stop_process(self.proc, 15)
        self.proc = None

    def discard_started_job(self) -> None:
        """After an aborted launch: remove the notebook job this launch created (its record and
        its folder), so the project's job list does not collect one failed job per attempt.

        Call after ``stop`` (the platform process must not be running). No-op without a job.
        """
        if not self.started_job:
            return
        platform = Platform(self.root)
        try:  # the platform offers no API to forget a job: this is the launcher's own clean-up
            with platform.db:
                platform.db.execute("DELETE FROM jobs WHERE id = ?", (self.started_job,))
            shutil.rmtree(platform.jobs_root / self.started_job, ignore_errors=True)
        finally:
            platform.close()
        print(f"Removed notebook job {self.started_job} of the aborted launch.", file=sys.stderr)
        self.started_job = None


class LauncherLock:
    """``<data-dir>/launcher.lock``: an exclusive ``flock`` held by the launcher whose platform
    serves that data directory, released when its process ends (even if killed).

    ``acquire()`` returns False (without blocking) when another launcher holds it; ``holder``
    is then that launcher's pid as written in the file (or None if unreadable).
    """

    def __init__(self, data_dir: Path):
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    @property
    def holder(self) -> int | None:
        try:
            return int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def running_platform(data_dir: Path, lock: LauncherLock, wait: float = REUSE_WAIT_SECONDS) -> dict | None:
    """The credentials (``embedded.json`` content) of the platform another launcher runs on
    ``data_dir``, once its API accepts them; None if the holder quits or it does not answer
    within ``wait`` seconds (the first launcher may still be starting)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            creds = json.loads((data_dir / "embedded.json").read_text())
            r = httpx.get(f"{creds['url']}/config", headers={"Authorization": f"Bearer {creds['token']}"}, timeout=5)
            if r.status_code == 200 and r.json().get("authorized"):
                return creds
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            pass
        if lock.acquire():  # the other launcher quit meanwhile
            lock.release()
            return None
        time.sleep(0.5)
    return None


def stop_process(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM ``proc`` if it still runs, SIGKILL after ``grace`` seconds, and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start_embedded(data_dir: str | None, port: int) -> EmbeddedPlatform | None:
    """The started embedded platform, or None after printing why it could not start. An
    interrupt while starting stops what was started and removes its notebook job."""
    embedded = EmbeddedPlatform(Path(data_dir) if data_dir else default_data_dir(), port)
    try:
        embedded.start()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    except BaseException:
        embedded.stop()
        embedded.discard_started_job()
        raise
    return embedded


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _root_args(lab_args: list[str], allow_root: bool) -> list[str]:
    """``--allow-root`` for Jupyter when we run as root (Jupyter refuses otherwise), with a warning."""
    if not _is_root() or any(a == "--allow-root" or a.startswith("--allow-root=")
                             or a.startswith("--ServerApp.allow_root")
                             for a in lab_args):
        return []
    if not allow_root:
        print("warning: running as root: passing --allow-root to JupyterLab (kernels and jobs run as root).",
              file=sys.stderr)
    return ["--allow-root"]


def main(*, data_dir: str | None, port: int, force_embedded: bool, lab_args: list[str],
         allow_root: bool = False) -> int:
    """Run JupyterLab with Apolo; returns JupyterLab's exit code (1 if the platform failed).

    As root, ``--allow-root`` is passed to JupyterLab (with a warning unless ``allow_root``).
    On the embedded platform: see the module docstring for the data-dir lock and reuse; when
    JupyterLab exits with an error, the notebook job this launch started is removed.
    """
    env = dict(os.environ)
    embedded: EmbeddedPlatform | None = None
    lock: LauncherLock | None = None
    config = None if force_embedded else _configured_platform()
    lab_args = [*_root_args(lab_args, allow_root), *lab_args]
    if config is not None:
        print(f"Connecting to {config.url} as {config.username} (credentials from {config.source}).", file=sys.stderr)
        root_args: list[str] = []
    else:
        directory = Path(data_dir) if data_dir else default_data_dir()
        lock = LauncherLock(directory)
        if lock.acquire():
            embedded = _start_embedded(str(directory), port)
            if embedded is None:
                lock.release()
                return 1
            credentials, url, user = embedded.credentials, embedded.url, embedded.user
            print(f"Embedded Apolo platform at {url}, signed in as {user}; data in {directory}.", file=sys.stderr)
        else:
            holder = lock.holder
            creds = running_platform(directory, lock)
            if creds is None:
                print(f"error: another jupyter apolo (pid {holder}) holds {directory} but its platform does not "
                      f"answer. Stop it (kill {holder}) or use another --data-dir.", file=sys.stderr)
                return 1
            credentials = directory / "embedded.json"
            print(f"Reusing the embedded Apolo platform at {creds['url']} started by jupyter apolo pid {holder} "
                  f"on {directory}; it stops when that one quits.", file=sys.stderr)
        env[EMBEDDED_ENV] = str(credentials)
        root_args = [f"--ServerApp.root_dir={directory / 'workspace'}"]
    signal.signal(signal.SIGTERM, _interrupt)
    code = 1
    try:
        lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", *root_args, *lab_args], env=env)
        try:
            code = lab.wait()
        except KeyboardInterrupt:
            lab.terminate()  # one Ctrl-C (or SIGTERM to us) stops Lab without its y/n prompt
            code = lab.wait()
            code = 0 if code in (-signal.SIGTERM, -signal.SIGINT) else code  # a requested stop, not a failure
        return code
    finally:
        if embedded:
            embedded.stop()
            if code not in (0, -signal.SIGTERM, -signal.SIGINT):
                embedded.discard_started_job()
        if lock:
            lock.release()


def serve_embedded(*, data_dir: str | None, port: int) -> int:
    """Start the seeded embedded platform and keep it up until SIGINT/SIGTERM (no JupyterLab).

    Prints the credentials file's path for ``JUPYTER_APOLO_EMBEDDED``; returns 1 if it cannot
    start, or if another launcher already serves this data directory (naming the export to use).
    """
    directory = Path(data_dir) if data_dir else default_data_dir()
    lock = LauncherLock(directory)
    if not lock.acquire():
        print(f"error: the embedded platform of {directory} is already running (jupyter apolo pid {lock.holder}). "
              f"Use it with: export {EMBEDDED_ENV}={directory / 'embedded.json'}", file=sys.stderr)
        return 1
    embedded = _start_embedded(str(directory), port)
    if embedded is None:
        lock.release()
        return 1
    print(f"export {EMBEDDED_ENV}={embedded.credentials}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        assert embedded.proc is not None
        return embedded.proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        embedded.stop()
        lock.release()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the platform as cleanly as Ctrl-C
