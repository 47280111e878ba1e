"""Permissions (ACL): share, revoke, what I can access, what I shared, roles (reference §3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, List  # List: `list` is a method name in Permissions
from urllib.parse import quote

from .errors import InvalidInput
from .uris import normalize_uri, short_uri

if TYPE_CHECKING:
    from .core import AsyncApolo

ACTIONS = ("read", "write", "manage")  # what the CLI grants (reference §3.2)
_ORDER = {"deny": 0, "list": 1, "read": 2, "write": 3, "manage": 4}


def action_rank(action: str) -> int:
    """Order of actions: deny < list < read < write < manage (authc ``check_action_allowed``)."""
    return _ORDER.get(action, -1)


@dataclass(frozen=True)
class Permission:
    """A permission: canonical ``uri`` and ``action``; ``user`` is the grantee in ``shared()`` results."""

    uri: str
    action: str
    user: str | None = None

    def short(self, scope) -> str:  # type: ignore[no-untyped-def]
        """The URI in the CLI's short display form (``acl ls`` without ``--full-uri``)."""
        return short_uri(self.uri, scope)


@dataclass(frozen=True)
class ShareResult:
    """What a share did: ``action`` is the grantee's effective action, ``requested`` the one asked;
    ``higher`` is True when the effective action is higher (the CLI warns
    ``User already has higher permission``). ``via``: when ``higher``, where that action comes from, in words
    (``your share of storage:/alice/data``, ``a role or membership in project awesome-team``); else empty."""

    uri: str
    user: str
    action: str
    requested: str
    via: str = ""

    @property
    def higher(self) -> bool:
        return action_rank(self.action) > action_rank(self.requested)


@dataclass(frozen=True)
class Grant:
    """Access to a resource given by one of my shares: ``user`` (a user or a role name),
    ``action``, ``uri`` (what was shared: the resource itself or an ancestor, e.g. its folder) and
    ``inherited`` (True when ``uri`` is an ancestor). ``is_role``: the grantee is a role."""

    user: str
    action: str
    uri: str
    inherited: bool

    @property
    def is_role(self) -> bool:
        return "/" in self.user  # roles are paths (alice/roles/team, cluster/org/project/...)


def covers(granted: str, uri: str) -> bool:
    """Whether a permission on ``granted`` applies to ``uri``: the same URI or an ancestor by whole
    path segments (authc ``ClientSubTreeViewRoot.allows``, reference §3.4). Both canonical."""
    granted = granted.rstrip("/")
    return uri == granted or uri.startswith(granted + "/")


def best_action(uri: str, permissions: Iterable[Permission]) -> str | None:
    """The strongest action ``permissions`` (e.g. ``Permissions.list()``) give on canonical ``uri``,
    or None (reference §3.4: a grant on a URI covers everything below it)."""
    found = [p.action for p in permissions if covers(p.uri, uri)]
    return max(found, key=action_rank) if found else None


def _project_of(uri: str, org: str | None) -> str | None:
    """The project of a canonical ``job:``/``storage:``/``image:`` URI (``scheme://cluster[/org]/project/...``)."""
    scheme, _, rest = uri.partition("://")
    parts = rest.split("/")[1:]  # after the cluster
    if org and parts[:1] == [org]:
        parts = parts[1:]
    return parts[0] if scheme in ("job", "storage", "image") and parts and parts[0] else None


def principal_segment(name: str) -> str:
    """A user or role name as a ``{api}/users/{name}`` path segment (``/`` -> ``:``, sdk ``_users.py``).

    Raises ``ValueError`` for names holding ``:`` or empty names.
    """
    if not name or ":" in name:
        raise InvalidInput(f"Invalid user or role name {name!r}: use a username or a role like 'alice/roles/team'")
    return quote(name.replace("/", ":"), safe=":@")


class Permissions:
    """``api.permissions``. URIs accept the CLI's forms (``storage:x``, ``job:name``, full URIs, ``role://...``)."""

    def __init__(self, api: "AsyncApolo"):
        self._api = api

    def normalize(self, uri: str) -> str:
        """The canonical URI for ``uri`` (share schemes only); ``ValueError`` with the CLI's message."""
        return normalize_uri(uri, self._api.config)

    async def share(self, uri: str, user: str, action: str) -> ShareResult:
        """Grant ``action`` (read/write/manage) on ``uri`` to ``user`` (``apolo share``).

        Raises ``ValueError`` for a bad action or URI (nothing sent), ``NotFoundError``
        (``user "x" was not found``), ``AuthorizationError`` without manage on ``uri``.
        """
        if action not in ACTIONS:
            raise InvalidInput(f"Invalid action {action!r}: use one of 'read', 'write', 'manage'")
        canonical = self.normalize(uri)
        resp = await self._api.request("POST", f"users/{principal_segment(user)}/permissions",
                                       json=[{"uri": canonical, "action": action}])
        got = (resp.json() or [{}])[0]
        result = ShareResult(uri=got.get("uri", canonical), user=user, action=got.get("action", action),
                             requested=action)
        if result.higher:
            result = ShareResult(result.uri, user, result.action, action, await self._why_higher(result))
        return result

    async def _why_higher(self, result: ShareResult) -> str:
        """Where ``result.user``'s higher action on ``result.uri`` comes from: my own earlier share (on the URI or
        an ancestor), else a role or project membership (the platform tells only them which)."""
        try:
            mine = [p for p in await self.shared() if p.user == result.user and covers(p.uri, result.uri)
                    and action_rank(p.action) >= action_rank(result.action)]
        except Exception:  # noqa: BLE001 - the wording must not fail the share that already happened
            mine = []
        if mine:
            return f"your share of {short_uri(mine[0].uri, self._api.config)}"
        project = _project_of(result.uri, self._api.config.org)
        return (f"a role or membership in project {project}" if project
                else "a role, a project membership or another manager's share")

    async def revoke(self, uri: str, user: str) -> None:
        """Remove ``user``'s grant on exactly ``uri`` (``apolo acl revoke``).

        Raises ``IllegalArgumentError`` ``Operation has no effect`` when there is none,
        ``NotFoundError`` for an unknown user, ``AuthorizationError`` without manage.
        """
        await self._api.request("DELETE", f"users/{principal_segment(user)}/permissions",
                                params={"uri": self.normalize(uri)})

    def _filter_param(self, uri: str | None) -> dict[str, str]:
        if not uri:
            return {}
        if re.fullmatch(r"[a-z]+:", uri):  # "storage:" = everything of that scheme (sent as typed)
            return {"uri": uri}
        return {"uri": self.normalize(uri)}

    async def list(self, uri: str | None = None, *, user: str | None = None) -> List[Permission]:
        """What ``user`` (default: me) can access, roles expanded (``apolo acl ls [URI] [-u USER]``),
        sorted by URI. ``uri``: only under it (``"storage:"`` = that whole scheme)."""
        resp = await self._api.request("GET", f"users/{principal_segment(user or self._api.config.username)}/permissions",
                                       params=self._filter_param(uri))
        return sorted((Permission(p["uri"], p["action"]) for p in resp.json()), key=lambda p: (p.uri, p.action))

    async def shared(self, uri: str | None = None, *, user: str | None = None) -> List[Permission]:
        """What ``user`` (default: me) shared with others (``apolo acl ls --shared [URI]``):
        ``Permission(uri, action, user=grantee)``; ``uri`` filters by prefix."""
        resp = await self._api.request("GET", f"users/{principal_segment(user or self._api.config.username)}/permissions/shared",
                                       params=self._filter_param(uri))
        return sorted((Permission(p["uri"], p["action"], p.get("user")) for p in resp.json()),
                      key=lambda p: (p.uri, p.action, p.user or ""))

    async def access(self, uri: str) -> List[Grant]:
        """Who I have given access to ``uri`` (any share scheme, the CLI's forms): my shares on it or
        on an ancestor (``apolo acl ls --shared`` filtered to what covers ``uri``), sorted by user.
        Access others have through their own roles or project membership is not listed: the
        platform shows it only to them. Raises ``InvalidInput`` for a bad URI."""
        canonical = self.normalize(uri)
        shared = await self.shared()
        grants = [Grant(p.user or "", p.action, p.uri, p.uri.rstrip("/") != canonical.rstrip("/"))
                  for p in shared if covers(p.uri, canonical)]
        return sorted(grants, key=lambda g: (g.user, -action_rank(g.action)))

    async def roles(self, user: str | None = None) -> List[str]:
        """Roles ``user`` (default: me) holds (``apolo acl list-roles``)."""
        resp = await self._api.request("GET", f"users/{principal_segment(user or self._api.config.username)}/subroles")
        return list(resp.json().get("subroles", []))

    async def add_role(self, name: str) -> None:
        """Create a role ``name`` (``apolo acl add-role alice/roles/team``)."""
        await self._api.request("POST", "users", json={"name": name})

    async def remove_role(self, name: str) -> None:
        """Delete the role ``name`` (``apolo acl remove-role``)."""
        await self._api.request("DELETE", f"users/{principal_segment(name)}")
