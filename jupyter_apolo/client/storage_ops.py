"""Which storage operation the platform runs for a request: the platform's own rule, in one place.

platform-storage-api (aiohttp) reads the operation like this (``StorageHandler._parse_operation``,
reference §4.1):

- the value of the query key ``op`` (the key spelled exactly ``op``: ``?OP=`` is an unrelated
  parameter), upper-cased;
- plus every query key that, upper-cased, names an operation (``?liststatus`` alone means
  LISTSTATUS);
- more than one of these is 400 "Ambiguous operations"; none means the method's default
  (GET/HEAD OPEN, PUT CREATE, PATCH WRITE, POST RENAME, DELETE DELETE).

Keys and values are compared after percent-decoding (``o%70`` is ``op``, ``+`` is a space), as
aiohttp's ``request.query`` gives them. Where the real platform and the embedded one could
disagree (a repeated ``op``: the real one takes the first, the embedded one refuses; an operation
key given twice in different cases, ``?liststatus&LISTSTATUS``: the real one sees one op, the
embedded one two; a key that only upper-cases to an op through a non-ASCII letter such as ``ſ``),
``storage_operation`` refuses rather than guess, so the allow-list is always checked on the op the platform runs.
``tests/server/test_proxy_hostile.py`` ties this rule to ``localplatform/storage_api.py``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from .errors import InvalidInput

#: Every operation name the platform knows (a bare key with one of these names selects it).
KNOWN_OPS = frozenset({"CREATE", "OPEN", "LISTSTATUS", "GETFILESTATUS", "MKDIRS", "DELETE", "RENAME",
                       "WRITE", "GETDISKUSAGE", "WEBSOCKET", "WEBSOCKET_READ", "WEBSOCKET_WRITE"})
#: The operation a method means when the query names none (reference §4.1, ★ column).
DEFAULT_OP = {"GET": "OPEN", "HEAD": "OPEN", "PUT": "CREATE", "PATCH": "WRITE", "POST": "RENAME", "DELETE": "DELETE"}


class AmbiguousOperation(InvalidInput):
    """The query names its operation in a way the platform reads differently from a person, or
    names more than one (an ``InvalidInput``: answered 400). The message says what to write instead."""


def query_pairs(query: str) -> list[tuple[str, str]]:
    """``query`` (the raw query string, still percent-encoded) as aiohttp's ``request.query`` reads
    it: ``[(key, value), ...]`` in order, split on ``&`` only, ``+`` as space, UTF-8 decoded, blank
    values kept."""
    return parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace")


def storage_operation(method: str, query: str) -> str:
    """The operation the platform runs for ``method`` (``GET``...) with raw ``query``: an upper-case
    name such as ``LISTSTATUS`` (possibly one it does not know, e.g. ``FOO`` for ``?op=foo``,
    which the platform refuses; "" for a method with no default).

    Raises ``AmbiguousOperation`` for two operation names (``?op=OPEN&LISTSTATUS``, ``?op=a&op=b``,
    ``?open&OPEN``),
    a key that is ``op`` in another case (``?OP=``: the platform ignores it and runs the method's
    default), and a non-ASCII key or ``op`` value that upper-cases to an operation name.
    """
    named: list[str] = []
    bare: list[str] = []
    for key, value in query_pairs(query):
        if key == "op":
            if not value.isascii() and value.upper() in KNOWN_OPS:
                raise AmbiguousOperation(f"Ambiguous operation ?op={value!r}: write the operation name in ASCII.")
            named.append(value.upper())
            continue
        folded = key.upper()
        if folded == "OP" or (not key.isascii() and folded in KNOWN_OPS):
            raise AmbiguousOperation(f"Ambiguous operation: the platform reads only the key 'op' in lower case and "
                                     f"operation names in ASCII, so it would not read {key!r} as you meant; "
                                     "write ?op=NAME.")
        if folded in KNOWN_OPS:
            bare.append(folded)
    ops = named + bare
    if len(ops) > 1:
        raise AmbiguousOperation(f"Ambiguous operations ({', '.join(ops)}): name exactly one, e.g. ?op=LISTSTATUS.")
    return ops[0] if ops else DEFAULT_OP.get(method.upper(), "")


__all__ = ["AmbiguousOperation", "DEFAULT_OP", "KNOWN_OPS", "query_pairs", "storage_operation"]
