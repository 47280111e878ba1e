"""Users, roles and permissions: ``{api}/users/...`` (reference §3.1).

In ``{user}`` path segments a ``/`` is written ``:`` (``alice:roles:team``).
"""

from __future__ import annotations

from urllib.parse import unquote

from .base import BaseHandler
from .state import Platform, PlatformError


def _principal(segment: str) -> str:
    return unquote(segment).replace(":", "/")


class UserHandlerBase(BaseHandler):
    def target(self, segment: str, *, self_or_manager: bool = True) -> str:
        """The principal named in the URL; 404 if unknown; 403 unless it is the caller or a
        role the caller manages."""
        name = _principal(segment)
        if not self.platform.principal_kind(name):
            raise PlatformError(404, f'user "{name}" was not found')
        if self_or_manager and name != self.user and not self.platform.tree(self.user).allows(f"role://{name}", "manage"):
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
        name = _principal(segment)
        body = self.json_body()
        if not isinstance(body, list) or not all(
            isinstance(p, dict) and isinstance(p.get("uri"), str) and isinstance(p.get("action"), str) for p in body
        ):
            raise PlatformError(400, 'Expected a JSON list [{"uri": ..., "action": ...}]')
        # validate all first: no half-applied share
        for p in body:
            if not self.platform.principal_kind(name):
                raise PlatformError(404, f'user "{name}" was not found')
            if p["action"] not in ("read", "write", "manage"):
                raise PlatformError(400, f"Invalid action {p['action']!r}: use read, write or manage")
            if not self.platform.tree(self.user).allows(p["uri"], "manage"):
                raise PlatformError(403, f"Not enough permissions: manage on {p['uri']} is required",
                                    missing=[{"uri": p["uri"], "action": "manage"}])
        result = [
            {"uri": p["uri"], "action": self.platform.grant(name, p["uri"], p["action"], by=self.user)} for p in body
        ]
        self.write_json(result, 201)

    def delete(self, segment: str) -> None:
        name = _principal(segment)
        uris = self.get_query_arguments("uri")
        if not uris:
            raise PlatformError(400, "Missing 'uri' query parameter")
        for uri in uris:
            self.platform.revoke(name, uri, by=self.user)
        self.set_status(204)
        self.finish()


class SharedHandler(UserHandlerBase):
    def get(self, segment: str) -> None:
        name = self.target(segment)
        self.write_json(self.platform.shared_by(name, self.get_query_argument("uri", None)))


class CheckHandler(UserHandlerBase):
    def post(self, segment: str) -> None:
        name = self.target(segment)
        body = self.json_body()
        if not isinstance(body, list):
            raise PlatformError(400, 'Expected a JSON list [{"uri": ..., "action": ...}]')
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


def _filter(entries: list[dict], uri: str, tree) -> list[dict]:
    if uri.endswith(":") and "//" not in uri:  # "storage:" = everything of that scheme
        return [e for e in entries if e["uri"].startswith(uri + "//")]
    prefix = uri.rstrip("/")
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
