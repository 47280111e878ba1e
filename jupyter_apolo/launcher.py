"""``jupyter apolo lab``: JupyterLab connected to Apolo in one command.

If apolo credentials are configured (``APOLO_PASSED_CONFIG``/``NEURO_PASSED_CONFIG`` or an
``apolo login``), JupyterLab simply starts with them. Otherwise the embedded platform starts
from ``<data-dir>/platform`` (seeded on first run with a sample project, see
``localplatform.seed``), its credentials go to ``<data-dir>/embedded.json`` (mode 0600, named
by ``JUPYTER_APOLO_EMBEDDED`` for the server extension and kernels), and JupyterLab opens on
``<data-dir>/workspace``. Running it again reuses the same data; quitting JupyterLab stops the
platform it started.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from .localplatform import Platform, seed
from .localplatform.auth import mint

EMBEDDED_ENV = "JUPYTER_APOLO_EMBEDDED"


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
            print(f"Notebook job {job_id} is running in project {seed.TEAM_PROJECT}.", file=sys.stderr)
        except Exception as exc:  # the sample job is a convenience, not a requirement
            print(f"warning: could not start the sample notebook job: {exc}", file=sys.stderr)
        self._write_credentials(token, cluster, org)

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
    """The started embedded platform, or None after printing why it could not start."""
    embedded = EmbeddedPlatform(Path(data_dir) if data_dir else default_data_dir(), port)
    try:
        embedded.start()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return embedded


def main(*, data_dir: str | None, port: int, force_embedded: bool, lab_args: list[str]) -> int:
    """Run JupyterLab with Apolo; returns JupyterLab's exit code (1 if the platform failed)."""
    env = dict(os.environ)
    embedded: EmbeddedPlatform | None = None
    config = None if force_embedded else _configured_platform()
    if config is not None:
        print(f"Connecting to {config.url} as {config.username} (credentials from {config.source}).", file=sys.stderr)
        root_args: list[str] = []
    else:
        embedded = _start_embedded(data_dir, port)
        if embedded is None:
            return 1
        env[EMBEDDED_ENV] = str(embedded.credentials)
        root_args = [f"--ServerApp.root_dir={embedded.workspace}"]
        print(f"Embedded Apolo platform at {embedded.url}, signed in as {embedded.user}; "
              f"data in {embedded.data_dir}.", file=sys.stderr)
    signal.signal(signal.SIGTERM, _interrupt)
    lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", *root_args, *lab_args], env=env)
    try:
        return lab.wait()
    except KeyboardInterrupt:
        lab.terminate()  # one Ctrl-C (or SIGTERM to us) stops Lab without its y/n prompt
        return lab.wait()
    finally:
        if embedded:
            embedded.stop()


def serve_embedded(*, data_dir: str | None, port: int) -> int:
    """Start the seeded embedded platform and keep it up until SIGINT/SIGTERM (no JupyterLab).

    Prints the credentials file's path for ``JUPYTER_APOLO_EMBEDDED``; returns 1 if it cannot start.
    """
    embedded = _start_embedded(data_dir, port)
    if embedded is None:
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


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the platform as cleanly as Ctrl-C
