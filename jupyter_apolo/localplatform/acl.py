"""Permission model of the embedded platform.

Mirrors platform-auth as described in ../shared/reference/apolo-platform.md §3:
actions ``deny < list < read < write < manage``; a grant on a URI covers every URI below it
by whole path segments (``storage://c/o/p/data`` covers ``.../data/x`` but not ``.../data2``);
ancestors of a granted node are visible at ``list``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

ACTIONS: tuple[str, ...] = ("deny", "list", "read", "write", "manage")
# What the project role ``<owner>/projects/<project>`` holds for each membership role of its owner
# (the legacy flow role gave write; never manage, so holding the role cannot re-share).
PROJECT_ROLE_ACTIONS = {"reader": "read", "writer": "write", "manager": "write", "admin": "write"}
_RANK = {name: rank for rank, name in enumerate(ACTIONS)}


def action_rank(action: str) -> int:
    """Rank of ``action`` in ``ACTIONS``; raises ``ValueError`` for an unknown action."""
    try:
        return _RANK[action]
    except KeyError:
        raise ValueError(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}") from None


def max_action(*actions: str | None) -> str | None:
    """The highest of ``actions`` (``None`` entries ignored), or ``None``."""
    present = [a for a in actions if a]
    return max(present, key=action_rank) if present else None


def split_uri(uri: str) -> tuple[str, list[str]]:
    """Split ``scheme://a/b/c`` into ``("scheme", ["a", "b", "c"])``.

    Empty segments are dropped, so ``storage://c/o/`` equals ``storage://c/o``.
    Raises ``ValueError`` when the URI has no ``scheme://`` part.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep or not scheme:
        raise ValueError(f"Invalid URI {uri!r}: expected scheme://path")
    return scheme, [seg for seg in rest.split("/") if seg]


def project_role(name: str) -> tuple[str, str] | None:
    """``(owner, project)`` for a project role name ``<owner>/projects/<project>``, else None."""
    parts = name.strip("/").split("/")
    return (parts[0], parts[2]) if len(parts) == 3 and parts[1] == "projects" and all(parts) else None


def project_role_grants(owner_role: str | None, schemes: Iterable[str], base: str) -> list[tuple[str, str]]:
    """The grants of a project role whose owner has membership role ``owner_role`` (None: not a
    member, no grants) in the project at ``base`` (``<cluster>/<org>/<project>``): one
    ``(<scheme>://<base>, action)`` per scheme, the action from ``PROJECT_ROLE_ACTIONS``.

    Mirrors reference §3.5: granting ``role://<owner>/projects/<project>`` to a user gives them
    the role's permissions (modelled as an ordinary role covering ``*://c/o/<project>``).
    """
    action = PROJECT_ROLE_ACTIONS.get(owner_role or "")
    return [(f"{scheme}://{base}", action) for scheme in schemes] if action else []


@dataclass
class _Node:
    action: str | None = None  # granted exactly here
    children: dict[str, "_Node"] = field(default_factory=dict)


class PermissionTree:
    """A principal's effective grants, for fast repeated checks within one request.

    Built once from ``(uri, action)`` pairs; ``action_for`` walks at most the URI's depth.
    """

    def __init__(self, grants: Iterable[tuple[str, str]] = ()):
        self._roots: dict[str, _Node] = {}
        for uri, action in grants:
            self.add(uri, action)

    def add(self, uri: str, action: str) -> None:
        """Record ``action`` on ``uri`` (keeps the higher of two grants on one node)."""
        action_rank(action)
        scheme, segs = split_uri(uri)
        node = self._roots.setdefault(scheme, _Node())
        for seg in segs:
            node = node.children.setdefault(seg, _Node())
        node.action = max_action(node.action, action)

    def action_for(self, uri: str) -> str:
        """Effective action on ``uri``: the highest grant on it or an ancestor; ``list`` when
        only a descendant is granted; ``deny`` otherwise. An explicit ``deny`` is a grant like
        any other and is overridden by a higher one on an ancestor (as in platform-auth)."""
        scheme, segs = split_uri(uri)
        node = self._roots.get(scheme)
        best: str | None = None
        if node is None:
            return "deny"
        best = node.action
        for seg in segs:
            node = node.children.get(seg)
            if node is None:
                return best or "deny"
            best = max_action(best, node.action)
        if best and best != "deny":
            return best
        return "list" if _has_grant_below(node) else (best or "deny")

    def allows(self, uri: str, action: str) -> bool:
        """True when the effective action on ``uri`` is at least ``action``."""
        return action_rank(self.action_for(uri)) >= action_rank(action)

    def visible_children(self, uri: str) -> set[str]:
        """Names of direct children of ``uri`` that lead to a grant (for ``list``-only dirs)."""
        scheme, segs = split_uri(uri)
        node = self._roots.get(scheme)
        for seg in segs:
            if node is None:
                return set()
            node = node.children.get(seg)
        if node is None:
            return set()
        return {name for name, child in node.children.items() if _has_grant(child)}

    def items(self) -> Iterator[tuple[str, str]]:
        """Every explicit ``(uri, action)`` held, in URI order."""
        for scheme, root in sorted(self._roots.items()):
            yield from _walk(f"{scheme}:/", root)


def _has_grant(node: _Node) -> bool:
    return (node.action not in (None, "deny")) or _has_grant_below(node)


def _has_grant_below(node: _Node) -> bool:
    return any(_has_grant(child) for child in node.children.values())


def _walk(prefix: str, node: _Node) -> Iterator[tuple[str, str]]:
    if node.action:
        yield prefix if prefix.count("/") > 1 else prefix + "/", node.action
    for name in sorted(node.children):
        yield from _walk(f"{prefix}/{name}", node.children[name])
