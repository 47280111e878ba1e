"""Users, roles and permissions: ``{api}/users/...`` (reference §3.1).

In ``{user}`` path segments a ``/`` is written ``:`` (``alice:roles:team``).
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from . import acl
from .base import BaseHandler
from .state import Platform, PlatformError

_PERMISSIONS_SHAPE = 'Expected a JSON list [{"uri": "<scheme>://...", "action": "read|write|manage"}]'


def _principal(segment: str) -> str:
    return unquote(segment).replace(":", "/")


class UserHandlerBase(BaseHandler):
    def target(self, segment: str, *, self_or_manager: bool = True) -> str:
        """The principal named in the URL; 404 if unknown; 403 unless it is the caller or a
        role the caller manages."""
        name = _principal(segment)
        if not self.platform.principal_kind(name):
            raise PlatformError(404, f'user "{name}" was not found')
        if (self_or_manager and name != self.user
                and not self.platform.tree(self.user).allows(f"role://{name}", "manage")):
            raise PlatformError(403, f"Not enough permissions to see the permissions of {name!r}")
        return name


class RolesHandler(UserHandlerBase):
    def post(self) -> None:
        body = self.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise PlatformError(400, 'Expected a JSON object {"name": "<user>/roles/<role>"}')
        self.platform.add_role(body["name"], by=self.user)
        self.write_json({"name": body["name"]}, 201)


class UserHandler(UserHandlerBase):
    def get(self, segment: str) -> None:
        name = self.target(segment, self_or_manager=False)
        self.write_json({"name": name})

    def delete(self, segment: str) -> None:
        self.platform.remove_role(_principal(segment), by=self.user)
        self.set_status(204)
        self.finish()


class PermissionsHandler(UserHandlerBase):
    def get(self, segment: str) -> None:
        name = self.target(segment)
        uri = self.get_query_argument("uri", None)
        tree = self.platform.tree(name)
        entries = [{"uri": u, "action": a} for u, a in tree.items() if a != "deny"]
        if uri:
            entries = _filter(entries, uri, tree)
        self.write_json(entries)

    def post(self, segment: str) -> None:
        """Grant every listed permission, all or none, in one transaction (``grant_many``)."""
        name = _principal(segment)
        body = permission_list(self.json_body())
        actions = self.platform.grant_many(name, [(p["uri"], p["action"]) for p in body], by=self.user)
        self.write_json([{"uri": p["uri"], "action": a} for p, a in zip(body, actions)], 201)

    def delete(self, segment: str) -> None:
        """Revoke the grant on each ``?uri=``, all or none (``revoke_many``)."""
        name = _principal(segment)
        uris = self.get_query_arguments("uri")
        if not uris:
            raise PlatformError(400, "Missing 'uri' query parameter")
        self.platform.revoke_many(name, uris, by=self.user)
        self.set_status(204)
        self.finish()


class SharedHandler(UserHandlerBase):
    def get(self, segment: str) -> None:
        name = self.target(segment)
        self.write_json(self.platform.shared_by(name, self.get_query_argument("uri", None)))


class CheckHandler(UserHandlerBase):
    def post(self, segment: str) -> None:
        name = self.target(segment)
        body = permission_list(self.json_body(), acl.ACTIONS)
        tree = self.platform.tree(name)
        missing = [p for p in body if not tree.allows(p["uri"], p["action"])]
        if missing:
            raise PlatformError(403, "Not enough permissions", missing=missing)
        self.write_json(body)


class SubrolesHandler(UserHandlerBase):
    def get(self, segment: str) -> None:
        name = self.target(segment)
        roles = sorted(
            uri[len("role://"):].strip("/")
            for uri, action in self.platform.effective_grants(name)
            if uri.startswith("role://") and self.platform.principal_kind(uri[len("role://"):].strip("/")) == "role"
        )
        self.write_json({"subroles": roles})


def permission_list(body: object, actions: tuple[str, ...] = ("read", "write", "manage")) -> list[dict]:
    """``body`` checked as ``[{"uri": "<scheme>://...", "action": <one of actions>}]``.
    Raises ``PlatformError(400)`` naming the first bad entry."""
    if not isinstance(body, list):
        raise PlatformError(400, _PERMISSIONS_SHAPE)
    for p in body:
        if not (isinstance(p, dict) and isinstance(p.get("uri"), str) and isinstance(p.get("action"), str)):
            raise PlatformError(400, f"{_PERMISSIONS_SHAPE}, not {json_excerpt(p)}")
        if p["action"] not in actions:
            raise PlatformError(400, f"Invalid action {p['action'][:40]!r}: use {', '.join(actions)}")
        parse_uri(p["uri"])
    return body


def parse_uri(uri: str) -> tuple[str, list[str]]:
    """``acl.split_uri``, with ``PlatformError(400)`` for a URI without ``scheme://``."""
    try:
        return acl.split_uri(uri)
    except ValueError:
        raise PlatformError(400, f"Invalid URI {uri[:100]!r}: expected <scheme>://<path>, "
                            "e.g. storage://<cluster>/<org>/<project>/<path>") from None


def json_excerpt(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _filter(entries: list[dict], uri: str, tree) -> list[dict]:
    if uri.endswith(":") and "//" not in uri:  # "storage:" = everything of that scheme
        return [e for e in entries if e["uri"].startswith(uri + "//")]
    scheme, segments = parse_uri(uri)
    if not segments:  # "storage://" = everything of that scheme too
        return [e for e in entries if e["uri"].startswith(f"{scheme}://")]
    prefix = f"{scheme}://" + "/".join(segments)
    below = [e for e in entries if e["uri"] == prefix or e["uri"].startswith(prefix + "/")]
    action = tree.action_for(prefix)
    if action not in ("deny", "list") and not any(e["uri"] == prefix for e in below):
        below.insert(0, {"uri": prefix, "action": action})  # echo the URI with its effective action
    return below


def routes(platform: Platform) -> list:
    kw = {"platform": platform}
    seg = r"([^/]+)"
    return [
        (r"/api/v1/users", RolesHandler, kw),
        (rf"/api/v1/users/{seg}/permissions/shared", SharedHandler, kw),
        (rf"/api/v1/users/{seg}/permissions/check", CheckHandler, kw),
        (rf"/api/v1/users/{seg}/permissions", PermissionsHandler, kw),
        (rf"/api/v1/users/{seg}/subroles", SubrolesHandler, kw),
        (rf"/api/v1/users/{seg}", UserHandler, kw),
    ]
