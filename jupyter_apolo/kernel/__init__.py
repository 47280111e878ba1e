"""Registering ``%apolo`` in every kernel a Jupyter server starts, without ``%load_ext``.

The switch is the server's, the work is the kernel's:

- The server extension (``jupyter_apolo.server``), when its setting enabling kernel magics is on,
  calls ``add_to_kernel_specs`` with the server's kernel spec manager: every Python kernel spec it
  hands out then carries ``kernel_env()`` in its ``env`` (the kernel spec env, which jupyter_client
  applies to that kernel's process only: the server's own environment, its terminals and other
  children are untouched). That sets ``JUPYTER_APOLO_MAGICS=1`` and points ``PYTHONSTARTUP`` at
  ``startup.py`` in this package (ipykernel runs ``$PYTHONSTARTUP`` at start,
  ``InteractiveShellApp.exec_PYTHONSTARTUP``), keeping any previous ``PYTHONSTARTUP`` in
  ``JUPYTER_APOLO_USER_PYTHONSTARTUP``.
- In the kernel, ``kernel_startup()`` loads the ``jupyter_apolo`` IPython extension (so a later
  ``%load_ext jupyter_apolo`` is a no-op), then runs the user's own startup file, if any.

Without a server (or to opt in per user), the IPython way works too: in
``~/.ipython/profile_default/ipython_kernel_config.py``
``c.InteractiveShellApp.extensions = ["jupyter_apolo"]``.
``JUPYTER_APOLO_MAGICS=0`` in a kernel spec's ``env`` turns the automatic loading off for it.

Imports nothing from IPython or Jupyter at module level (the server imports this module).
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any, Mapping

SWITCH = "JUPYTER_APOLO_MAGICS"
USER_STARTUP = "JUPYTER_APOLO_USER_PYTHONSTARTUP"
STARTUP_FILE = Path(__file__).with_name("startup.py")


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``JUPYTER_APOLO_MAGICS`` asks for the magics (``1``/``true``/``yes``/``on``)."""
    env = os.environ if environ is None else environ
    return env.get(SWITCH, "").strip().lower() in ("1", "true", "yes", "on")


def kernel_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables a Jupyter server sets for its kernels to get ``%apolo`` automatically.

    ``environ`` (default ``os.environ``) is the server's current environment: a user's own
    ``PYTHONSTARTUP`` there is kept in ``JUPYTER_APOLO_USER_PYTHONSTARTUP`` and still runs.
    Idempotent: applying it twice changes nothing.
    """
    env = os.environ if environ is None else environ
    updates = {SWITCH: "1", "PYTHONSTARTUP": str(STARTUP_FILE)}
    previous = env.get("PYTHONSTARTUP")
    if previous and Path(previous) != STARTUP_FILE:
        updates[USER_STARTUP] = previous
    return updates


def add_to_kernel_specs(kernel_spec_manager: Any, environ: Mapping[str, str] | None = None) -> bool:
    """Make ``kernel_spec_manager`` (a jupyter_client ``KernelSpecManager``) hand out every Python
    kernel spec with ``kernel_env`` merged into its ``env``, so the kernels started from them get
    ``%apolo``. A spec's own ``JUPYTER_APOLO_MAGICS`` wins (``"0"`` opts that kernel out) and its own
    ``PYTHONSTARTUP`` still runs. ``environ``: the server's environment (default ``os.environ``).

    Returns False, changing nothing, for a manager whose ``get_kernel_spec`` is a coroutine (remote
    kernels through a gateway: their environment is not ours to set). Idempotent.
    """
    original = kernel_spec_manager.get_kernel_spec
    if getattr(original, "jupyter_apolo", False):
        return True
    if inspect.iscoroutinefunction(original):
        return False

    def get_kernel_spec(kernel_name: str, *args: Any, **kwargs: Any) -> Any:
        spec = original(kernel_name, *args, **kwargs)
        if str(getattr(spec, "language", "")).lower() == "python":
            own = dict(spec.env or {})
            spec.env = {**own, **kernel_env({**(os.environ if environ is None else environ), **own})}
            if SWITCH in own:
                spec.env[SWITCH] = own[SWITCH]
        return spec

    get_kernel_spec.jupyter_apolo = True  # type: ignore[attr-defined]
    kernel_spec_manager.get_kernel_spec = get_kernel_spec
    return True


def kernel_startup() -> None:
    """Load the magics into the running IPython (if ``enabled()``), then run the user's own
    ``PYTHONSTARTUP`` file. Never raises: a failure prints one warning and the kernel starts."""
    try:
        from IPython import get_ipython

        ipython = get_ipython()
    except ImportError:
        ipython = None
    if ipython is not None and enabled():
        try:
            ipython.extension_manager.load_extension("jupyter_apolo")
        except Exception as exc:  # noqa: BLE001 - a kernel must start anyway
            print(f"jupyter-apolo: %apolo magics not loaded: {exc}", file=sys.stderr)
    user_file = os.environ.get(USER_STARTUP)
    if user_file and os.path.isfile(user_file):
        if ipython is not None:
            ipython.safe_execfile(user_file, ipython.user_ns)
        else:
            import __main__

            with open(user_file, encoding="utf-8") as f:
                exec(compile(f.read(), user_file, "exec"), __main__.__dict__)
