"""Permissions (ACL): share, revoke, what I can access, what I shared, roles (reference §3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, List  # List: `list` is a method name in Permissions
from urllib.parse import quote

from .errors import InvalidInput, NotFoundError
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
class Access:
    """One principal's access to a resource, as far as the caller's shares show it (``Permissions.access``).

    ``user``: the grantee (a user, or a role such as ``alice/roles/team``); ``action``: what the grant
    gives; ``granted_uri``: the canonical URI the grant is on (the resource itself, a parent folder,
    the job's name URI, or ``role://...`` for access through a role); ``role``: the role the access
    comes through (None when granted to ``user`` directly).
    """

    user: str
    action: str
    granted_uri: str
    role: str | None = None

    @property
    def is_role(self) -> bool:
        """The grantee is a role (role names hold a ``/``, user names cannot)."""
        return "/" in self.user


def covers(granted: str, uri: str) -> bool:
    """Whether a grant on canonical URI ``granted`` applies to canonical ``uri``: the same URI or a
    parent by whole path segments (platform-auth's prefix inheritance, reference §3.4)."""
    granted = granted.rstrip("/")
    return uri.rstrip("/") == granted or uri.startswith(granted + "/")


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
        user_segment = principal_segment(user or self._api.config.username)
        resp = await self._api.request("GET", f"users/{user_segment}/permissions",
                                       params=self._filter_param(uri))
        return sorted((Permission(p["uri"], p["action"]) for p in resp.json()), key=lambda p: (p.uri, p.action))

    async def shared(self, uri: str | None = None, *, user: str | None = None) -> List[Permission]:
        """What ``user`` (default: me) shared with others (``apolo acl ls --shared [URI]``):
        ``Permission(uri, action, user=grantee)``; ``uri`` filters by prefix."""
        user_segment = principal_segment(user or self._api.config.username)
        resp = await self._api.request("GET", f"users/{user_segment}/permissions/shared",
                                       params=self._filter_param(uri))
        return sorted((Permission(p["uri"], p["action"], p.get("user")) for p in resp.json()),
                      key=lambda p: (p.uri, p.action, p.user or ""))

    async def user_exists(self, name: str) -> bool:
        """Whether the platform knows user or role ``name`` (``GET {api}/users/{name}``, which
        platform-auth answers 404 ``user "x" was not found`` for an unknown one). Sends nothing
        that changes state. Raises ``InvalidInput`` for a malformed name."""
        try:
            await self._api.request("GET", f"users/{principal_segment(name)}")
        except NotFoundError:
            return False
        return True

    async def access(self, uri: str, *, aliases: Iterable[str] = ()) -> List[Access]:
        """Who has access to ``uri`` through grants the caller can see: the platform's
        ``GET users/{me}/permissions/shared`` (every grant on resources I manage), kept where the
        granted URI covers ``uri`` or one of ``aliases`` (e.g. a job's name URI, which covers its
        runs), plus the users holding a role that has such access. Sorted by user.

        Project membership is not an ACL grant and is not listed (the platform has no API for it).
        Raises ``InvalidInput`` for a bad URI, ``NotFoundError``/``AuthorizationError`` as ``shared``.
        """
        targets = [self.normalize(uri), *(self.normalize(a) for a in aliases)]
        grants = await self.shared()
        direct = [Access(p.user or "", p.action, p.uri) for p in grants
                  if p.user and any(covers(p.uri, t) for t in targets)]
        roles = {a.user: a for a in direct if a.is_role}
        through_roles = [Access(p.user, roles[name].action, roles[name].granted_uri, role=name)
                         for p in grants if p.user and p.uri.startswith("role://")
                         and (name := p.uri[len("role://"):].strip("/")) in roles
                         and action_rank(p.action) >= action_rank("read")]
        return sorted(direct + through_roles, key=lambda a: (a.user, a.role or "", a.granted_uri))

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
