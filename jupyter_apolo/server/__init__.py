"""The jupyter-server extension: thin handlers over ``jupyter_apolo.client`` under
``<base_url>apolo/``. The browser never holds a platform token; it is added here, upstream.

Routes (all ``@authenticated``; REST contract in each handler's docstring):

- ``GET apolo/version``, ``GET apolo/context``
- ``POST|GET apolo/transfers``, ``GET|DELETE apolo/transfers/<id>``: storage <-> workspace copies
  with progress (see ``transfers.py``)
- ``* apolo/api/v1/<path>`` -> ``{api}/<path>``; ``* apolo/storage/<org>/<project>/<path>`` ->
  ``{storage_url}/<org>/<project>/<path>`` (allow-listed, streamed; see ``proxy.py``)
"""

from __future__ import annotations

import os
import re

from jupyter_server.utils import url_path_join

from ..magics.autoload import kernel_env
from . import handlers, notebooks, proxy
from .settings import ApoloServer, Connection
from .transfers import TransferHandler, Transfers, TransfersHandler


def route_table(base_url: str, connection: Connection, transfers: Transfers) -> list[tuple]:
    """Every ``(pattern, handler, kwargs)`` of the extension under ``base_url``."""
    plain = {"connection": connection}
    with_transfers = {"connection": connection, "transfers": transfers}
    ours = [
        (r"apolo/version", handlers.VersionHandler, plain),
        (r"apolo/context", handlers.ContextHandler, plain),
        (r"apolo/transfers", TransfersHandler, with_transfers),
        (r"apolo/transfers/([^/]+)", TransferHandler, with_transfers),
    ]
    table = [(url_path_join(base_url, pattern), handler, kw) for pattern, handler, kw in ours]
    for prefix, handler in (("apolo/api/v1/", proxy.ApiProxyHandler), ("apolo/storage/", proxy.StorageProxyHandler)):
        full = url_path_join(base_url, prefix)
        table.append((re.escape(full) + ".*", handler, {"connection": connection, "prefix": full}))
    return table


def _load_jupyter_server_extension(serverapp) -> None:  # type: ignore[no-untyped-def]
    """Register the routes on ``serverapp.web_app`` (called by jupyter_server)."""
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    settings = ApoloServer(parent=serverapp)
    if settings.kernel_magics:  # kernels inherit the server's environment (see magics/autoload.py)
        os.environ.update(kernel_env())
    connection = Connection(settings)
    web_app.settings["jupyter_apolo.connection"] = connection
    table = route_table(base_url, connection, Transfers(serverapp.root_dir))
    table.extend(notebooks.routes(base_url, web_app.settings))
    web_app.add_handlers(".*$", table)
    serverapp.log.info("jupyter-apolo server extension loaded at %sapolo/", base_url)
