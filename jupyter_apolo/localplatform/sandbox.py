"""Job isolation with bubblewrap (``bwrap``, Debian/Ubuntu package ``bubblewrap``).

With isolation on, each job (and each ``apolo exec`` in it) runs under ``bwrap`` in its own
mount, PID, IPC and UTS namespaces:

- ``/`` is a fresh tmpfs holding the host's top-level directories bind-mounted **read-only**
  (``/usr``, ``/etc``, ``/opt``, ...), a private ``/dev`` and ``/proc``;
- the platform's root (database, token-signing key, every project's storage, other jobs) is
  not there: it is covered by an empty tmpfs (or lies under a private ``/tmp`` or home);
- ``/tmp`` is the job's own folder (``jobs/<id>/tmp``) and the home (``$HOME``, the platform
  user's home path) is the job's own folder (``jobs/<id>/root``); the Python environment the
  platform runs from stays visible, read-only, even when it lives under that home;
- each volume is bind-mounted at its ``dst_path`` (``/project/notebooks``, ...), read-only
  when ``read_only``; the hostname and ``/etc/hostname`` are the job id.

The network is shared with the host (jobs reach the platform's API and serve their HTTP port
on loopback, behind the platform's auth). Where ``bwrap`` is missing or cannot create namespaces
(user namespaces disabled, a restrictive container), ``probe`` says why, the platform logs it in
one line at start-up and shows it in ``GET /config`` (``job_isolation``), and jobs run as plain
subprocesses as before (``runner`` module docstring).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_NOT_BOUND = {"proc", "dev", "tmp"}


@dataclass(frozen=True)
class Isolation:
    """How jobs are isolated: ``mode`` ``"bubblewrap"`` or ``"none"``; ``detail`` says why."""

    mode: str
    detail: str
    bwrap: str = ""
    nsenter: str = ""  # set when ``apolo exec`` can enter a job's namespaces (root and util-linux nsenter)

    @property
    def enabled(self) -> bool:
        return self.mode == "bubblewrap"

    def as_json(self) -> dict[str, str]:
        return {"mode": self.mode, "detail": self.detail}


def probe() -> Isolation:
    """Whether ``bwrap`` can run jobs here (runs it once, ~10 ms). Setting the environment
    variable ``JUPYTER_APOLO_NO_BWRAP=1`` turns isolation off on purpose."""
    if os.environ.get("JUPYTER_APOLO_NO_BWRAP"):
        return Isolation("none", "turned off by JUPYTER_APOLO_NO_BWRAP")
    path = shutil.which("bwrap")
    if not path:
        return Isolation("none", "bwrap is not installed (apt-get install bubblewrap)")
    try:
        done = subprocess.run([path, *_namespaces("probe"), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                               "--tmpfs", "/tmp", "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation("none", f"bwrap cannot run: {exc}")
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return Isolation("none", f"bwrap cannot create namespaces here ({reason})")
    nsenter = shutil.which("nsenter") if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    return Isolation("bubblewrap", f"jobs run under {path} in their own mount, PID and IPC namespaces", path,
                     nsenter or "")


def _namespaces(hostname: str) -> list[str]:
    return ["--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", hostname]


def home_path() -> str:
    """The home directory path jobs see (the platform user's, made private per job)."""
    home = os.path.expanduser("~")
    return home if home not in ("", "/") else "/home/job"


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _python_paths() -> list[Path]:
    """Folders the platform's Python needs (prefixes and import paths), outermost first."""
    found = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, *sys.path) if p and os.path.isdir(p)}
    keep = [p for p in found if not any(other != p and _under(p, other) for other in found)]
    return sorted(keep, key=lambda p: len(p.parts))


def _expose(folder: Path, missing: list[Path], top: bool = False) -> list[str]:
    """bwrap arguments showing the host's ``folder`` read-only: one bind for the whole folder,
    or, when a path in ``missing`` must be created below it, its entries one by one on tmpfs."""
    if not top and not any(_under(m, folder) and m != folder for m in missing):
        return ["--ro-bind", str(folder), str(folder)]
    args = [] if top else ["--dir", str(folder)]
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return args
    for entry in entries:
        source = folder / entry
        if top and entry in _NOT_BOUND:
            continue
        if source.is_symlink():
            args += ["--symlink", os.readlink(source), str(source)]
        elif source.is_dir():
            args += _expose(source, missing)
        elif source.exists():
            args += ["--ro-bind", str(source), str(source)]
    return args


def bwrap_argv(isolation: Isolation, *, job_id: str, platform_root: Path, job_folder: Path,
               volumes: list[tuple[Path, str, bool]], cwd: str, argv: list[str]) -> list[str]:
    """The ``bwrap`` command line running ``argv`` isolated as the module docstring describes.

    ``volumes``: ``(host folder, dst_path, read_only)``; ``cwd``: the working directory inside.
    Creates ``job_folder/{root,tmp,hostname}``. Raises ``OSError`` when those cannot be made.
    """
    home, tmp = job_folder / "root", job_folder / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    hostname = job_folder / "hostname"
    hostname.write_text(job_id + "\n")
    inside_home = Path(home_path())
    # mount points missing on the host must be made on tmpfs, not inside a read-only bind
    private = (Path("/tmp"), inside_home)
    missing = [Path("/" + p.strip("/")) for p in [cwd, *(v[1] for v in volumes)]]
    missing = [p for p in missing if not p.exists() and not any(_under(p, d) for d in private)]
    args = [isolation.bwrap, *_namespaces(job_id), "--tmpfs", "/"]
    args += _expose(Path("/"), missing, top=True)
    args += ["--dev", "/dev", "--proc", "/proc", "--bind", str(tmp), "/tmp"]
    hidden = _under(platform_root, Path("/tmp")) or _under(platform_root, inside_home)
    if not hidden:
        args += ["--tmpfs", str(platform_root)]
    args += ["--bind", str(home), str(inside_home)]
    for path in _python_paths():  # the platform's own Python, when the private home or /tmp hides it
        if (_under(path, inside_home) or _under(path, Path("/tmp"))) and not _under(path, platform_root):
            if _under(path, inside_home):  # made here (0700 under the umask), not by bwrap (0755)
                (home / path.relative_to(inside_home)).mkdir(parents=True, exist_ok=True)
            args += ["--ro-bind", str(path), str(path)]
    args += ["--ro-bind", str(hostname), "/etc/hostname"]
    for source, dst, read_only in sorted(volumes, key=lambda v: len(Path(v[1]).parts)):
        args += ["--ro-bind" if read_only else "--bind", str(source), "/" + dst.strip("/")]
    args += ["--dir", cwd, "--chdir", cwd, "--", *argv]
    return args
