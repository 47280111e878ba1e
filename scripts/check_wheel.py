"""Build the release wheel as a new user would and check it installs ready to use.

    .venv/bin/python scripts/check_wheel.py [--full] [--keep]

1. Copies the working tree (tracked and untracked, not ignored) plus the labextension that
   ``scripts/setup.sh`` built (a development build) to a temp dir, and runs ``pip wheel
   --no-build-isolation`` there, as a user would run ``pip wheel .`` after setup:
   hatch-jupyter-builder must see the dev build and run ``jlpm install`` and ``jlpm build:prod``. ``node_modules`` is
   linked from ``labextension/`` so the install step is a check against yarn.lock, not a download.
2. Checks the wheel's files: the production labextension (no source maps, no ``build_log.json``),
   its ``install.json``, the server-extension config, and one version in Python and labextension.
3. Installs the wheel into a fresh venv (``--no-deps``; its dependencies come from this checkout's
   ``.venv`` through a ``.pth`` line, and ``pip check`` verifies they satisfy the wheel's
   requirements; ``--full`` installs them from the package index instead), then with Jupyter's
   user and environment paths pointing into the temp dir:
   ``jupyter labextension list`` must show ``jupyter-apolo <version> enabled OK (python,
   jupyter_apolo)`` from the fresh prefix, ``jupyter server extension list`` must show
   ``jupyter_apolo`` enabled and OK, and a JupyterLab started from the fresh venv must answer
   ``GET apolo/version`` with the wheel's version and serve the extension's ``remoteEntry``.

Prints one line per check and exits 1 when any fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
LABEXT = "share/jupyter/labextensions/jupyter-apolo"


class Checks:
    """Collects pass/fail lines."""

    def __init__(self) -> None:
        self.failed = 0

    def __call__(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f"\n     {detail}" if detail and not ok else ""), flush=True)
        self.failed += not ok
        return ok


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    # Never the checkout as cwd: `python -c`/`-m` would import jupyter_apolo from it, not the wheel.
    kw.setdefault("cwd", tempfile.gettempdir())
    return subprocess.run(cmd, text=True, capture_output=True, **kw)


def copy_checkout(dst: Path) -> None:
    """Copy what ``git ls-files`` lists (tracked + untracked, not ignored) and link node_modules."""
    listing = run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"], check=True)
    for rel in filter(None, listing.stdout.split("\0")):
        src = REPO / rel
        if src.is_file():  # deleted-but-tracked files are listed too
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    # The labextension built by scripts/setup.sh (a development build) comes along, as it would
    # for anyone running `pip wheel .` after setup: the release build must not ship it.
    built = REPO / "jupyter_apolo" / "labextension"
    if built.is_dir():
        shutil.copytree(built, dst / "jupyter_apolo" / "labextension", dirs_exist_ok=True)
    modules = REPO / "labextension" / "node_modules"
    if modules.is_dir():
        (dst / "labextension" / "node_modules").symlink_to(modules)


def build_wheel(src: Path, out: Path) -> Path:
    env = {**os.environ, "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}  # jlpm, jupyter-builder
    proc = run([str(VENV / "bin/python"), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                "-w", str(out), str(src)], env=env)
    if proc.returncode:
        sys.exit(f"pip wheel failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return next(out.glob("jupyter_apolo-*.whl"))


def check_contents(check: Checks, wheel: Path) -> str:
    """Check the wheel's files; return its version."""
    version = wheel.name.split("-")[1]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        data = f"jupyter_apolo-{version}.data/data/"
        ext = [n[len(data + LABEXT) + 1:] for n in names if n.startswith(data + LABEXT + "/")]
        check(bool(ext), "the wheel carries the labextension", f"no {LABEXT} in {wheel.name}")
        check("install.json" in ext, "the labextension has install.json")
        if "install.json" in ext:
            install = json.loads(zf.read(f"{data}{LABEXT}/install.json"))
            check(install.get("packageManager") == "python" and install.get("packageName") == "jupyter_apolo",
                  "install.json names pip and jupyter_apolo", str(install))
        dev = [n for n in ext if n.endswith(".map") or n == "build_log.json"]
        check(not dev and any(re.fullmatch(r"static/remoteEntry\.[0-9a-f]+\.js", n) for n in ext),
              "it is the production build (remoteEntry, no source maps, no build_log.json)", str(dev))
        server_config = f"{data}etc/jupyter/jupyter_server_config.d/jupyter_apolo.json"
        check(server_config in names and
              json.loads(zf.read(server_config))["ServerApp"]["jpserver_extensions"] == {"jupyter_apolo": True},
              "the server-extension config enables jupyter_apolo")
        labext_version = json.loads(zf.read(f"{data}{LABEXT}/package.json"))["version"]
        check(labext_version == version, "one version: wheel == labextension package.json",
              f"{version} != {labext_version}")
        written = zf.read("jupyter_apolo/_version.py").decode() if "jupyter_apolo/_version.py" in names else ""
        check(f"__version__ = VERSION = '{version}'" in written,
              "one version: jupyter_apolo/_version.py (generated) == wheel", written or "no _version.py")
    return version


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_installed(check: Checks, wheel: Path, version: str, tmp: Path, full: bool) -> None:
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin/python")
    pip = [str(VENV / "bin/python"), "-m", "pip", "--python", python]
    if not full:
        site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], check=True).stdout.strip()
        Path(site, "_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    proc = run([*pip, "install", "-q", *(["--no-deps"] if not full else []), str(wheel)])
    if not check(proc.returncode == 0, f"pip install {wheel.name} into a fresh venv", proc.stderr[-2000:]):
        return
    proc = run([*pip, "check"])
    check(proc.returncode == 0, "pip check: the wheel's requirements are met", proc.stdout[-2000:])
    where = run([python, "-c", "import jupyter_apolo; print(jupyter_apolo.__file__, jupyter_apolo.__version__)"])
    check(where.stdout.startswith(str(venv)) and where.stdout.split()[-1] == version,
          "jupyter_apolo imports from the fresh venv with the wheel's version", where.stdout + where.stderr)

    # Nothing from this machine's user or system Jupyter dirs: only the fresh prefix counts.
    home = tmp / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
    listing = run([python, "-m", "jupyterlab.labextensions", "list"], env=env)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    section = text.split(str(venv / LABEXT.rsplit("/", 1)[0]), 1)[-1]
    check(re.search(rf"jupyter-apolo v{re.escape(version)} enabled\s+OK \(python, jupyter_apolo\)", section) is not None,
          f"jupyter labextension list: jupyter-apolo v{version} enabled OK (python, jupyter_apolo)", text[-1500:])
    servers = run([python, "-m", "jupyter_server", "extension", "list"], env=env)
    text = re.sub(r"\x1b\[[0-9;]*m", "", servers.stdout + servers.stderr)
    check(re.search(r"jupyter_apolo enabled", text) is not None and re.search(r"jupyter_apolo\s+\S+\s+OK", text)
          is not None, "jupyter server extension list: jupyter_apolo enabled, OK", text[-1500:])

    port, token = free_port(), secrets.token_hex(8)
    (home / "work").mkdir(parents=True, exist_ok=True)
    cmd = [python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home / 'work'}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if not full:  # JupyterLab's own page assets live in the prefix that installed jupyterlab
        cmd.append(f"--LabApp.app_dir={VENV / 'share/jupyter/lab'}")
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "lab.log", "w")
    lab = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    base = f"http://127.0.0.1:{port}/"

    def get(path: str) -> tuple[int, str]:
        req = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except OSError:
            return 0, ""

    try:
        deadline = time.monotonic() + 60
        while get("api/status")[0] != 200:
            if lab.poll() is not None or time.monotonic() > deadline:
                check(False, "JupyterLab from the fresh venv starts", (tmp / "lab.log").read_text()[-2000:])
                return
            time.sleep(0.2)
        status, body = get("apolo/version")
        check(status == 200 and json.loads(body).get("version") == version,
              f"GET apolo/version from the fresh venv's server answers {version}", f"{status} {body[:200]}")
        status, page = get("lab")
        load = re.search(r'"name": "jupyter-apolo"[^}]*"load": "(static/remoteEntry\.[0-9a-f]+\.js)"', page) or \
            re.search(r'"load": "(static/remoteEntry\.[0-9a-f]+\.js)"[^}]*"name": "jupyter-apolo"', page)
        served = load is not None and get(f"lab/extensions/jupyter-apolo/{load.group(1)}")[0] == 200
        check(served, "the Lab page loads jupyter-apolo's remoteEntry and the server serves it",
              f"/lab answered {status}; federated entry {load and load.group(1)}")
    finally:
        lab.terminate()
        try:
            lab.wait(15)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="install the wheel's dependencies from the index too")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (printed)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jupyter-apolo-wheel-"))
    check = Checks()
    try:
        started = time.monotonic()
        (tmp / "src").mkdir()
        copy_checkout(tmp / "src")
        wheel = build_wheel(tmp / "src", tmp / "dist")
        print(f"built {wheel.name} in {time.monotonic() - started:.0f} s", flush=True)
        version = check_contents(check, wheel)
        check_installed(check, wheel, version, tmp, args.full)
        print(f"wheel check: {check.failed} failed, {time.monotonic() - started:.0f} s in all")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
