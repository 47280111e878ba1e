"""The jupyter-server extension: thin handlers over ``jupyter_apolo.client`` under
``<base_url>apolo/``. The browser never holds a platform token; it is added here, upstream.

Routes (all ``@authenticated``; REST contract in each handler's docstring), one table, ``routes``:

- ``GET apolo/version``, ``GET apolo/context`` (``handlers.py``)
- ``GET apolo/jobs``, ``GET|DELETE apolo/jobs/<job>``, ``GET apolo/jobs/<job>/log`` (``jobs.py``)
- ``GET|POST|DELETE apolo/shares``: who has access, share, revoke (``shares.py``)
- ``POST|GET apolo/transfers``, ``GET|DELETE apolo/transfers/<id>``: storage <-> workspace copies
  with progress (``transfers.py``)
- ``apolo/drive/{list,new,uploads,download,copy,bookmarks}``: the Lab storage drive (``drive.py``)
- ``apolo/notebooks/{projects,plan,apply,status,diff,commit,push,pull}``: the notebooks workflow (``notebooks.py``)
- ``* apolo/api/v1/<path>`` -> ``{api}/<path>``; ``* apolo/storage/<org>/<project>/<path>`` ->
  ``{storage_url}/<org>/<project>/<path>`` (allow-listed, streamed; ``proxy.py``)

``ApoloExtension`` (a jupyter_server ``ExtensionApp``) owns the shared ``Connection`` and the running
transfers: at server shutdown it cancels the transfers and closes the platform connections.
"""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join

from ..kernel import add_to_kernel_specs
from . import drive, handlers, jobs, notebooks, proxy, shares, transfers
from .settings import ApoloServer, Connection


def routes(base_url: str, connection: Connection, transfer_tasks: transfers.Transfers,
           notebook_settings: notebooks.ApoloNotebooks) -> list[tuple[str, type, dict[str, Any]]]:
    """Every ``(pattern, handler, kwargs)`` of the extension, patterns relative to ``base_url`` (the
    ``ExtensionApp`` prefixes them; the proxy's ``prefix`` argument includes it)."""
    plain: dict[str, Any] = {"connection": connection}
    with_transfers = {**plain, "transfers": transfer_tasks}
    with_notebooks = {**plain, "notebooks": notebook_settings}
    ours: list[tuple[str, type, dict[str, Any]]] = [
        ("apolo/version", handlers.VersionHandler, plain),
        ("apolo/context", handlers.ContextHandler, plain),
        ("apolo/jobs", jobs.JobsHandler, plain),
        ("apolo/jobs/([^/]+)", jobs.JobHandler, plain),
        ("apolo/jobs/([^/]+)/log", jobs.JobLogHandler, plain),
        ("apolo/shares", shares.SharesHandler, plain),
        ("apolo/transfers", transfers.TransfersHandler, with_transfers),
        ("apolo/transfers/([^/]+)", transfers.TransferHandler, with_transfers),
    ]
    ours += drive.routes(plain, transfer_tasks)
    ours += [(f"apolo/notebooks/{name}", handler, with_notebooks) for name, handler in notebooks.HANDLERS.items()]
    for prefix, handler in (("apolo/api/v1/", proxy.ApiProxyHandler), ("apolo/storage/", proxy.StorageProxyHandler)):
        ours.append((re.escape(prefix) + ".*", handler, {**plain, "prefix": url_path_join(base_url, prefix)}))
    return ours


class ApoloExtension(ExtensionApp):
    """The jupyter-apolo server extension. Settings: ``c.ApoloServer.*`` (platform connection,
    proxy) and ``c.ApoloNotebooks.*`` (notebooks workflow)."""

    name = "jupyter_apolo"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        self.apolo = ApoloServer(parent=self)
        self.connection = Connection(self.apolo)
        self.transfers = transfers.Transfers()
        self.notebook_settings = notebooks.ApoloNotebooks(parent=self)
        if self.apolo.kernel_magics and not add_to_kernel_specs(self.serverapp.kernel_spec_manager):
            self.log.info("jupyter-apolo: remote kernels (gateway) do not get %apolo automatically")

    def initialize_handlers(self) -> None:
        base_url = self.serverapp.base_url
        self.handlers.extend(routes(base_url, self.connection, self.transfers, self.notebook_settings))
        self.log.info("jupyter-apolo server extension loaded at %sapolo/", base_url)

    async def stop_extension(self) -> None:
        """Cancel running transfers (no partial file stays), then close the platform connections."""
        await self.transfers.cancel_all()
        await self.connection.close()
