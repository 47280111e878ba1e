"""``%apolo share | revoke | acl``: permissions, as ``apolo share`` / ``apolo acl`` name them.

Unlike the CLI, which prints nothing on success (apolo-cli issue 2432), a share says what the
grantee can now do with the resource (reference §3.6, §6.6, §6.7).
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ..client import short_uri
from ..client.jobs import current_job
from ..client.permissions import ACTIONS
from ..display import Message, Table, share_lines
from .parser import arg, command

SUBCOMMANDS: dict = {}


@command(SUBCOMMANDS, "share", "Share a resource with a user or role, "
                               "like `apolo share URI USER {read|write|manage}`.\n"
                               "Inside a platform job `%apolo share USER ACTION` shares this job.\n"
                               "With no arguments (or --dialog [URI]) in a notebook: the share dialog (a widget), "
                               "for this job inside a platform job.")
@arg("words", nargs="*", metavar="[URI] USER ACTION",
     help="resource URI (job:ID, job:NAME, storage:PATH, ...), user or role, and read|write|manage")
@arg("--dialog", action="store_true", help="show the share dialog widget (optionally for URI)")
def share(magics: Any, args: Any) -> Any:
    from .core import widgets_shown

    if (args.dialog or not args.words) and widgets_shown(magics):
        from ..widgets import ShareDialog

        if len(args.words) > 1:
            raise UsageError("%apolo share --dialog [URI]: the dialog takes at most the resource URI")
        return ShareDialog(uri=args.words[0] if args.words else None, api=magics.api)
    if args.dialog or not args.words:
        raise UsageError("%apolo share: the following arguments are required: [URI] USER ACTION "
                         "(the share dialog, `%apolo share` alone or --dialog, needs a notebook with widgets)")
    uri, user, action = _uri_user(args.words, 3, "%apolo share [URI] USER {read|write|manage}")
    if action not in ACTIONS:
        raise UsageError(f"%apolo share: invalid action {action!r}: use one of 'read', 'write', 'manage'")
    api = magics.api
    result = api.permissions.share(uri, user, action)
    lines = share_lines(result, short_uri(result.uri, api.config))
    return Message("\n".join(lines), uri=result.uri, user=user, action=result.action, requested=action,
                   higher=result.higher)


@command(SUBCOMMANDS, "revoke", "Take back a user's permission on a resource, like `apolo acl revoke URI USER`.\n"
                                "Inside a platform job `%apolo revoke USER` revokes on this job.")
@arg("words", nargs="+", metavar="[URI] USER", help="resource URI and user or role")
def revoke(magics: Any, args: Any) -> Message:
    uri, user = _uri_user(args.words, 2, "%apolo revoke [URI] USER")
    api = magics.api
    api.permissions.revoke(uri, user)
    canonical = api.permissions.normalize(uri)
    return Message(f"Revoked {user}'s permission on {short_uri(canonical, api.config)}.", uri=canonical, user=user)


@command(SUBCOMMANDS, "acl", "What you can access (`apolo acl ls`), or with --shared what you shared with others.")
@arg("uri", nargs="?", metavar="URI", help="only under this URI (e.g. storage: or job:NAME)")
@arg("--shared", action="store_true", help="resources you shared, with whom")
@arg("--full-uri", action="store_true", help="full URIs (storage://cluster/org/project/...)")
@arg("-u", "--user", metavar="USER", help="another user or role (needs permission to see theirs)")
def acl(magics: Any, args: Any) -> Table:
    api = magics.api
    fetch = api.permissions.shared if args.shared else api.permissions.list
    perms = fetch(args.uri, user=args.user)
    show = (lambda p: p.uri) if args.full_uri else (lambda p: short_uri(p.uri, api.config))
    columns = [("URI", show), ("ACTION", lambda p: p.action)]
    if args.shared:
        columns.append(("USER", lambda p: p.user))
    return Table(perms, columns, limit=magics.display_limit, more_hint=magics.more_hint,
                 empty="Nothing shared." if args.shared else "No permissions.")


def _uri_user(words: list[str], full: int, usage: str) -> list[str]:
    """``words`` with the URI first: as typed when ``full`` long, else this job's URI prepended
    when inside a platform job (``NEURO_JOB_ID``). Raises ``UsageError`` otherwise."""
    if len(words) == full:
        return words
    if len(words) == full - 1:
        this = current_job()
        if this is not None:
            return [this.uri, *words]
        raise UsageError(f"{usage}: give the resource URI (e.g. job:ID or storage:PATH); "
                         "only inside a platform job does it default to this job")
    raise UsageError(f"usage: {usage}")
