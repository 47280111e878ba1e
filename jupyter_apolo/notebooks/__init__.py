"""The "download notebooks, review, commit" workflow. Imports nothing from Jupyter server, tornado or IPython.

- ``project``: find the flow project (``.apolo/`` or ``.neuro/``), read ``live.yml`` volumes and ``project.yml``.
- ``ignore``: the project's cp-exclude / ignore-file rules, as the apolo CLI applies them.
- ``sync`` + ``manifest``: 3-way plan between storage and the working tree, then an atomic, resumable apply.
- ``remote``: a storage folder through ``jupyter_apolo.client``.
- ``git``: status, nbdime diffs, stage, commit, push (never forced) through the git CLI.
- ``workflow``: the above in one call each, for the magics and the server extension.
"""

from .git import Commit, GitError, GitRepo
from .project import ExpressionError, FlowProject, ProjectError, Volume, load_project
from .sync import PULL, PUSH, Change, Conflict, NotebookSync, Plan, Result
from .workflow import SyncSettings, open_sync

__all__ = [
    "PULL", "PUSH", "Change", "Commit", "Conflict", "ExpressionError", "FlowProject", "GitError", "GitRepo",
    "NotebookSync", "Plan", "ProjectError", "Result", "SyncSettings", "Volume", "load_project", "open_sync",
]
