"""Platform URIs the way the apolo CLI reads and prints them.

``normalize_uri`` mirrors apolo-sdk 26.9.0 ``_url_utils.uri_from_cli`` / ``_normalize_uri``
(reference §3.3): ``storage:rel`` -> ``storage://c/o/p/rel``, ``storage:/p2/x`` ->
``storage://c/o/p2/x``, ``storage:`` -> ``storage://c/o/p``; full URIs kept; query, fragment,
user, password and port rejected with the SDK's messages. Canonical URIs are percent-encoded
like yarl prints them (``a b`` -> ``a%20b``). ``short_uri`` mirrors the CLI's ``uri_formatter``
(reference §6.8). ``storage_path`` gives the decoded path a storage URI names.
"""

from __future__ import annotations

import re
from typing import Iterable, NamedTuple, Protocol
from urllib.parse import quote, unquote

from .errors import InvalidInput

CLUSTER_SCHEMES = ("storage", "image", "job", "secret", "disk", "blob", "flow")  # sdk _url_utils
SHARE_SCHEMES = ("storage", "image", "job", "blob", "role", "secret", "disk", "flow")  # cli utils.SHARE_SCHEMES
_PATH_SAFE = "/@:!$&'()*+,;=~"  # yarl's path quoting: unreserved + sub-delims + ":@"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.S)


class Scope(NamedTuple):
    """The current cluster, org and project used to complete relative URIs."""

    cluster: str
    org: str | None
    project: str


class _HasScope(Protocol):
    """Anything with the current scope as attributes, e.g. an ``ApoloConfig`` (None = not known yet)."""

    @property
    def cluster(self) -> str | None: ...
    @property
    def org(self) -> str | None: ...
    @property
    def project(self) -> str | None: ...


ScopeLike = Scope | tuple | _HasScope  # an ApoloConfig, a Scope or (cluster, org, project)


def _scope(scope: ScopeLike) -> Scope:
    if isinstance(scope, tuple):
        return Scope(*scope)
    cluster, org, project = scope.cluster, scope.org, scope.project
    if not cluster or not project:
        raise InvalidInput("The current cluster/project is not known yet: open the client first (AsyncApolo) "
                         "or pass cluster and project explicitly.")
    return Scope(cluster, org, project)


def quote_path(path: str) -> str:
    """Percent-encode a decoded path for a URI or URL (``/`` kept, ``%``, ``#``, ``?``, space encoded). A name
    listed by storage that is not UTF-8 arrives with surrogate escapes (as Python's ``os.fsdecode`` gives it)
    and is encoded back to its original bytes (``\udcff`` -> ``%FF``)."""
    return quote(path, safe=_PATH_SAFE, errors="surrogateescape")


def normalize_uri(text: str, scope: ScopeLike, *, allowed_schemes: Iterable[str] = SHARE_SCHEMES) -> str:
    """The canonical, percent-encoded URI for ``text`` typed as the apolo CLI accepts it.

    ``scope``: an ``ApoloConfig``, a ``Scope`` or ``(cluster, org, project)``.
    ``allowed_schemes``: the schemes accepted here (the CLI's share schemes by default).
    Raises ``ValueError`` with the CLI's message for a missing/unknown scheme, ``?``/``#``,
    user/password/port, ``~``, a relative ``role:``, or an ``image:`` with a tag.
    """
    allowed = tuple(allowed_schemes)
    m = _SCHEME.fullmatch(text)
    if not m or len(m.group(1)) == 1:  # "C:/path" is a Windows path in the SDK, not a scheme
        raise InvalidInput(f"URI Scheme not specified. Please specify one of {', '.join(allowed)}.")
    scheme, rest = m.group(1).lower(), m.group(2)
    if allowed and scheme not in allowed:
        names = ", ".join(f"'{s}:'" for s in allowed)
        raise InvalidInput(f"Invalid scheme '{scheme}:' (only {names} {'are' if len(allowed) > 1 else 'is'} allowed)")
    if "#" in text:
        raise InvalidInput(f"Fragment part is not allowed in {scheme} URI. Use '%23' to quote '#' in path.")
    if "?" in text:
        raise InvalidInput(f"Query part is not allowed in {scheme} URI. Use '%3F' to quote '?' in path.")
    host = ""
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        path = slash + path
        userinfo, at, hostport = host.rpartition("@")
        if at:
            if ":" in userinfo:
                raise InvalidInput(f"Password is not allowed in {scheme} URI")
            raise InvalidInput(f"User is not allowed in {scheme} URI.")
        if ":" in hostport:
            raise InvalidInput(f"Port is not allowed in {scheme} URI")
        host = unquote(hostport).lower()
    else:
        path = rest
    path = unquote(path, errors="surrogateescape")  # non-UTF-8 bytes survive the round trip (quote_path)
    if (host or path.lstrip("/")).startswith("~"):
        raise InvalidInput(f"Cannot expand user for {text}")
    if not host:
        if scheme not in CLUSTER_SCHEMES:
            raise InvalidInput(f"Absolute URI is required for scheme {scheme}")
        s = _scope(scope)
        host = s.cluster
        if path.startswith("/"):
            path = path.lstrip("/")
        else:
            path = f"{s.project}/{path}" if path else s.project
        if s.org is not None:
            path = f"{s.org}/{path}"
        path = "/" + path
    if scheme == "image" and ":" in path:
        raise InvalidInput("tag is not allowed")
    return f"{scheme}://{host}{quote_path(path)}"


def split_uri(uri: str) -> tuple[str, str, str]:
    """``(scheme, host, decoded_path)`` of a canonical URI
    (``storage://c/o/p/a%20b`` -> ``("storage", "c", "/o/p/a b")``).
    Bytes that are not UTF-8 decode to surrogate escapes (``%FF`` -> ``\udcff``), as ``os.fsdecode`` gives them, so
    a name a teammate wrote with such bytes stays that name (never becomes U+FFFD, i.e. another file)."""
    scheme, _, rest = uri.partition("://")
    host, slash, path = rest.partition("/")
    return scheme, host, unquote(slash + path, errors="surrogateescape")


def short_uri(uri: str, scope: ScopeLike) -> str:
    """The CLI's short display form (cli ``formatters.utils.uri_formatter``, used by ``acl ls``).

    ``storage://c/o/p/x`` -> ``storage:x``; another project of the same org -> ``storage:/p2/x``;
    another cluster or org, or a non-cluster scheme -> unchanged.
    """
    s = _scope(scope)
    scheme, host, path = split_uri(uri)
    if scheme not in CLUSTER_SCHEMES or host != s.cluster or "://" not in uri:
        return uri
    path = path.lstrip("/")
    if s.org:
        org, _, path = path.partition("/")
        if org != s.org:
            return uri
    project, _, rest = path.partition("/")
    short = rest.lstrip("/") if project == s.project else "/" + path
    return f"{scheme}:{quote_path(short)}"


def storage_path(uri: str) -> str:
    """The decoded path (``/o/p/dir/file``) a canonical ``storage://`` URI names."""
    scheme, _, path = split_uri(uri)
    if scheme != "storage":
        raise InvalidInput(f"Invalid storage scheme '{scheme}:' (only 'storage:' is allowed)")
    return path or "/"
