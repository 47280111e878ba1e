"""``jupyter apolo ...`` commands (jupyter finds ``jupyter-apolo`` on PATH).

- ``jupyter apolo platform serve --root DIR --port PORT``: serve the embedded platform.
- ``jupyter apolo platform token --root DIR USER``: create USER if missing, print a token.
- ``jupyter apolo lab``: the one-command experience (see ``jupyter_apolo.launcher``).
"""

from __future__ import annotations

import argparse
import logging
import sys

DEFAULT_PORT = 8780


def _platform_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("platform", help="the embedded Apolo-compatible platform")
    psub = p.add_subparsers(dest="platform_command", required=True)

    serve = psub.add_parser("serve", help="serve the platform until interrupted; prints the API URL")
    serve.add_argument("--root", required=True, help="directory holding the platform's data")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"TCP port (default {DEFAULT_PORT}; 0 = any free)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--cluster", default="default", help="cluster name (default: default)")
    serve.add_argument("--org", default="local", help="organisation name (default: local)")

    token = psub.add_parser("token", help="create USER if missing and print a bearer token for it")
    token.add_argument("--root", required=True, help="directory holding the platform's data")
    token.add_argument("user", help="user name (3-40 lower-case letters, digits, dashes)")
    token.add_argument("--lifetime", type=float, default=None, help="seconds until the token expires (default: never)")

    up = psub.add_parser("up", help="start (and on first run seed) the embedded platform the way `jupyter apolo lab` "
                         "does, write its credentials file, and serve until interrupted (for binder and scripts)")
    up.add_argument("--data-dir", default=None, help="default: ~/.local/share/jupyter-apolo")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")

    member = psub.add_parser("add-project-user", help="add USER to PROJECT with ROLE (creates the project if missing)")
    member.add_argument("--root", required=True)
    member.add_argument("project")
    member.add_argument("user")
    member.add_argument("role", nargs="?", default="writer", choices=["reader", "writer", "manager", "admin"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jupyter apolo", description="jupyter-apolo commands")
    sub = parser.add_subparsers(dest="command", required=True)
    _platform_parser(sub)
    lab = sub.add_parser("lab", help="open JupyterLab connected to Apolo "
                                     "(starts and seeds the embedded platform if no credentials are found)")
    lab.add_argument("--data-dir", default=None,
                     help="where the embedded platform and sample project live (default: ~/.local/share/jupyter-apolo)")
    lab.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"embedded platform port (default {DEFAULT_PORT})")
    lab.add_argument("--embedded", action="store_true",
                     help="use the embedded platform even if apolo credentials exist")
    lab.add_argument("--allow-root", action="store_true",
                     help="run as root without the warning (as root, --allow-root is always passed to jupyter lab)")
    lab.add_argument("lab_args", nargs=argparse.REMAINDER, help="arguments passed to jupyter lab (after --)")
    args = parser.parse_args(argv)

    if args.command == "platform":
        return _platform(args)
    from . import launcher

    lab_args = args.lab_args[1:] if args.lab_args[:1] == ["--"] else args.lab_args
    return launcher.main(data_dir=args.data_dir, port=args.port, force_embedded=args.embedded, lab_args=lab_args,
                         allow_root=args.allow_root)


def _lock_root(root: str) -> int | None:
    """An fd holding ``<root>/serve.lock`` (exclusive ``flock``, released when this process
    ends), or None when another platform process serves ``root``: two platforms over one SQLite
    database and one set of job folders would kill each other's jobs."""
    import fcntl
    import os

    os.makedirs(root, exist_ok=True)
    fd = os.open(os.path.join(root, "serve.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _platform(args: argparse.Namespace) -> int:
    if args.platform_command == "up":
        from . import launcher

        return launcher.serve_embedded(data_dir=args.data_dir, port=args.port)
    from .localplatform import Platform, PlatformError, serve
    from .localplatform.auth import mint

    if args.platform_command == "serve":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

        def ready(running) -> None:  # type: ignore[no-untyped-def]
            print(running.url, flush=True)
            print(f"jupyter-apolo platform serving {args.root} at {running.url} "
                  f"(cluster {args.cluster}, org {args.org}); jobs run as this OS user. Ctrl-C stops.",
                  file=sys.stderr, flush=True)

        lock = _lock_root(args.root)
        if lock is None:
            print(f"error: another platform already serves {args.root} (see {args.root}/serve.lock for its pid); "
                  "stop it first, or use another --root.", file=sys.stderr)
            return 1
        try:
            serve(args.root, args.host, args.port, cluster=args.cluster, org=args.org, on_ready=ready)
        except OSError as exc:
            print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}. "
                  "Pick another --port.", file=sys.stderr)
            return 1
        return 0

    platform = Platform(args.root)
    try:
        if args.platform_command == "token":
            platform.ensure_user(args.user)
            print(mint(platform.secret, args.user, lifetime=args.lifetime))
        elif args.platform_command == "add-project-user":
            if platform.project_owner(args.project) is None:
                platform.ensure_user(args.user)
                platform.create_project(args.project, owner=args.user)
            else:
                platform.add_project_user(args.project, args.user, args.role)
    except PlatformError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        platform.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
