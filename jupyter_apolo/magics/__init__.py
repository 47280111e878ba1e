"""``%apolo``: IPython magics for the Apolo platform (``%load_ext jupyter_apolo``).

Modules: ``core`` (``ApoloMagics``: settings, router, error printing), ``parser`` (argparse that
raises ``UsageError``) and one module per command group (``jobs``, ``sharing``, ``storage``,
``notebooks``). Result objects and wording come from ``jupyter_apolo.display``; registering the
magics in every kernel a Jupyter server starts is ``jupyter_apolo.kernel``'s.
"""

from __future__ import annotations

from typing import Any

from .core import ApoloMagics

__all__ = ["ApoloMagics", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%apolo``/``%%apolo`` in ``ipython`` and make ``%config ApoloMagics`` work.

    Loading twice keeps one instance (IPython only calls this once per ``%load_ext``; the
    kernel startup hook may call it again).
    """
    if any(isinstance(c, ApoloMagics) for c in ipython.configurables):
        return
    magics = ApoloMagics(shell=ipython, parent=ipython)
    ipython.register_magics(magics)
    ipython.configurables.append(magics)


def unload_ipython_extension(ipython: Any) -> None:
    """Close the client of the registered ``ApoloMagics`` (``%unload_ext``)."""
    for c in list(ipython.configurables):
        if isinstance(c, ApoloMagics):
            c.close()
            ipython.configurables.remove(c)
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("apolo", None)
