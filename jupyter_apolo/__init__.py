"""jupyter-apolo: the Apolo ML platform inside JupyterLab.

Entry points only: the jupyter-server extension, the prebuilt labextension's location and the
IPython extension (``%load_ext jupyter_apolo``).
"""

try:  # written by the hatch build from labextension/package.json (the one version source)
    from ._version import __version__
except ImportError:  # a source checkout that was never built or installed
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("jupyter-apolo")
    except PackageNotFoundError:
        __version__ = "0.0.0+unknown"


def _jupyter_server_extension_points() -> list[dict]:
    from .server import ApoloExtension

    return [{"module": "jupyter_apolo.server", "app": ApoloExtension}]


def _jupyter_labextension_paths() -> list[dict]:
    return [{"src": "labextension", "dest": "jupyter-apolo"}]


def load_ipython_extension(ipython) -> None:  # type: ignore[no-untyped-def]
    """Register the ``%apolo`` magics in ``ipython``."""
    from .magics import load_ipython_extension as load

    load(ipython)
