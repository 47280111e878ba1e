"""The embedded Apolo-compatible platform: a single-machine implementation of the platform's
REST API (config, jobs, monitoring, permissions, storage) that the official ``apolo`` CLI
accepts. It shares no code with ``jupyter_apolo.client`` on purpose: the CLI is the referee.

Jobs run as local subprocesses of the OS user who runs the platform: it is a single-machine
platform, not a sandbox.
"""

from .app import RunningPlatform, make_app, serve, start
from .state import Platform, PlatformError

__all__ = ["Platform", "PlatformError", "RunningPlatform", "make_app", "serve", "start"]
