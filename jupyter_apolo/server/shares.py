"""Sharing for the Lab Share dialog: who has access, share, revoke; URIs normalised here with the
client's CLI rules (the browser never parses a job or storage URI).

REST (all ``@authenticated``; mutations need XSRF like every Jupyter API; JSON errors ``{"error", ...}``):

- ``GET apolo/shares?uri=URI`` -> ``{"uri", "short", "kind", "levels": {"read", "write", "manage"}, "adds": {...},
  "grants": [{"user", "action", "uri", "inherited", "role", "via_role"}]}``: the resource (``kind``: its
  scheme; ``levels``: the sentence of what each level lets a teammate do with it; ``adds``: what each level
  adds over the one below, "also ...") and who has access to it
  through grants I can see: on it or on an ancestor (``inherited``; ``uri`` is what was granted), to a
  role (``role``), or as a holder of a role that has access (``via_role``: that role).
- ``GET apolo/shares?shared_with_me=1`` -> ``{"permissions": [{"uri", "short", "action"}]}``: what I
  can access that is not in my own project (``apolo acl ls``, roles expanded), without the grants
  every account carries (``user://me``, ``role://me``, ``cluster://<cluster>/access``).
- ``GET apolo/shares?shared_by_me=1`` -> ``{"permissions": [{"uri", "short", "action", "user"}]}``
  (``apolo acl ls --shared``).
- ``POST apolo/shares`` ``{"uri", "user", "action"}`` -> 201 ``{"uri", "short", "user", "action",
  "requested", "higher", "message"}`` (``apolo share``; ``higher``: the user already had more, nothing
  lowered). 404 unknown user, 403 without manage on the resource, 400 bad URI or action.
- ``DELETE apolo/shares`` ``{"uri", "user"}`` (or the same as query arguments) -> 204
  (``apolo acl revoke``); 400 ``Operation has no effect`` when there was nothing to revoke.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..client import AsyncApolo, short_uri
from ..client.permissions import ACTIONS
from ..display import capabilities, capability_steps, share_lines
from .base import ApoloHandler, JSONError


class SharesHandler(ApoloHandler):
    """``apolo/shares`` (module docstring)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        api = await self.connection.client()
        if self.get_query_argument("shared_with_me", "") == "1":
            own = "/".join(["/", api.config.cluster or "", *([api.config.org] if api.config.org else []),
                            api.config.project or ""])
            mine = await api.permissions.list()
            self.write_json({"permissions": [
                {"uri": p.uri, "short": short_uri(p.uri, api.config), "action": p.action}
                for p in mine if not _under(p.uri, own) and not _membership(p.uri, api.config.username)]})
            return
        if self.get_query_argument("shared_by_me", "") == "1":
            shared = await api.permissions.shared()
            self.write_json({"permissions": [
                {"uri": p.uri, "short": short_uri(p.uri, api.config), "action": p.action, "user": p.user}
                for p in shared]})
            return
        uri = self.get_query_argument("uri", "")
        if not uri:
            raise JSONError(400, "Give ?uri=URI (job:ID, job:NAME, storage:PATH, ...), ?shared_with_me=1 or "
                                 "?shared_by_me=1.")
        self.write_json(await _resource(api, uri))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        uri, user, action = (body.get(k) for k in ("uri", "user", "action"))
        _require_text(uri=uri, user=user)
        if action not in ACTIONS:
            raise JSONError(400, f"Invalid action {action!r}: use one of 'read', 'write', 'manage'.")
        api = await self.connection.client()
        result = await api.permissions.share(uri, user, action)
        short = short_uri(result.uri, api.config)
        self.write_json({"uri": result.uri, "short": short, "user": user, "action": result.action,
                         "requested": action, "higher": result.higher,
                         "message": " ".join(share_lines(result, short))}, status=201)

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        body = self.json_body() if self.request.body else {}
        uri = body.get("uri") or self.get_query_argument("uri", "")
        user = body.get("user") or self.get_query_argument("user", "")
        _require_text(uri=uri, user=user)
        api = await self.connection.client()
        await api.permissions.revoke(uri, user)
        self.set_status(204)
        self.finish()


async def _resource(api: AsyncApolo, uri: str) -> dict:
    canonical = api.permissions.normalize(uri)
    grants = await api.permissions.access(canonical)
    kind = canonical.split(":", 1)[0]
    return {
        "uri": canonical, "short": short_uri(canonical, api.config), "kind": kind,
        "levels": {action: capabilities(kind, action) for action in ACTIONS},
        "adds": capability_steps(kind),
        "grants": [{"user": g.user, "action": g.action, "uri": g.granted_uri,
                    "inherited": g.granted_uri.rstrip("/") != canonical.rstrip("/"), "role": g.is_role,
                    "via_role": g.role} for g in grants],
    }


def _under(uri: str, scope: str) -> bool:
    """Whether ``uri`` lies in the project ``scope`` (``//cluster/org/project``) of any scheme."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    return rest == scope or rest.startswith(scope + "/")


def _membership(uri: str, me: str) -> bool:
    """Whether ``uri`` is one of the grants every account carries rather than something a teammate
    shared: my own ``user://me`` / ``role://me``, and ``cluster://<cluster>/access`` (being in the
    cluster). ``apolo acl ls`` lists them too; "Shared with me" leaves them out."""
    scheme, _, rest = uri.partition("://")
    if scheme in ("user", "role"):
        return rest.split("/", 1)[0] == me
    return scheme == "cluster" and rest.count("/") == 1 and rest.endswith("/access")


def _require_text(**fields: object) -> None:
    missing = [name for name, value in fields.items() if not (isinstance(value, str) and value.strip())]
    if missing:
        raise JSONError(400, f"Missing {' and '.join(missing)}: send a JSON body "
                             '{"uri": "job:ID or storage:PATH", "user": "USER or ROLE", '
                             '"action": "read|write|manage"}.')
