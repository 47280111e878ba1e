"""ipywidgets for the Apolo platform, in any Jupyter front end (Lab, Notebook 7, VS Code, ...):

- ``ShareDialog(uri=None)``: share a job, storage, an image or a role with a user, see who has
  access, revoke (``%apolo share`` with no arguments shows it for this job);
- ``StorageBrowser(path="storage:")``: browse storage page by page, download, upload, new folder,
  rename, delete, share (``%apolo browse [storage:PATH]``);
- ``JobsTable(all=False)``: your jobs and those shared with you, with filters, logs, web UI, share
  and kill (``%apolo ps --widget``).

Built on ``jupyter_apolo.client`` (every platform call through ``Apolo.submit``: the kernel never
waits; closing a widget cancels its work) and ``jupyter_apolo.display`` only.
"""

from .jobs import JobsTable
from .share import ShareDialog
from .storage import StorageBrowser

__all__ = ["JobsTable", "ShareDialog", "StorageBrowser"]
