"""The project's copy-exclusion rules, as the apolo CLI applies them (reference §6.1, §6.4).

Sources, in the CLI's order (sdk ``_file_filter.py``, cli ``storage.py::calc_filters``):
``[storage] cp-exclude`` in ``.apolo.toml`` (else ``.neuro.toml``) at the project root, then the ignore files
named by ``cp-exclude-from-files`` (default ``.apoloignore``, ``.neuroignore``) found in the sync root's parent
folders and inside the tree. The last matching rule wins; ``!pattern`` re-includes. Patterns without ``/`` match
at any depth; directories are matched with a trailing ``/``. We apply the rules in both directions (the CLI
applies ignore files only on upload) and always skip ``.ipynb_checkpoints`` and ``.gitkeep`` (git's placeholder
for an empty folder: it belongs to the checkout, never to storage).
"""

from __future__ import annotations

import re

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .project import ProjectError

DEFAULT_IGNORE_FILES = (".apoloignore", ".neuroignore")
ALWAYS_EXCLUDED = (".ipynb_checkpoints", ".gitkeep")


@dataclass
class Rule:
    exclude: bool
    prefix: str  # the rule applies to paths under this prefix (folder of the ignore file, relative to the sync root)
    prefix2: str  # prepended before matching (sync root relative to the ignore file's folder)
    match: Callable[[str], object]  # a compiled pattern's fullmatch: truthy when the path matches


@dataclass
class FileFilter:
    """Ordered include/exclude rules; :meth:`excluded` answers for a path relative to the sync root."""

    rules: list[Rule] = field(default_factory=list)

    def add(self, pattern: str, prefix: str = "", prefix2: str = "") -> None:
        """Add one gitignore-style line (``!`` re-includes); blank lines and ``#`` comments are skipped."""
        pattern = pattern.rstrip("\r")
        if not pattern.strip() or pattern.startswith("#"):
            return
        pattern = pattern.rstrip(" ")
        exclude = not pattern.startswith("!")
        pattern = pattern if exclude else pattern[1:]
        pattern = "**/" + pattern if "/" not in pattern.rstrip("/") else pattern.lstrip("/")
        self.rules.append(Rule(exclude, prefix, prefix2, re.compile(_translate(pattern), re.DOTALL).fullmatch))

    def add_file(self, path: Path, prefix: str = "", prefix2: str = "") -> None:
        for line in path.read_bytes().decode("utf-8-sig").split("\n"):
            self.add(line, prefix, prefix2)

    def excluded(self, rel_path: str, is_dir: bool = False) -> bool:
        """Whether ``rel_path`` (POSIX, relative to the sync root) is excluded; checks every parent folder too."""
        parts = rel_path.split("/")
        for i in range(1, len(parts) + 1):
            last = i == len(parts)
            candidate = "/".join(parts[:i]) + ("" if last and not is_dir else "/")
            if parts[i - 1] in ALWAYS_EXCLUDED or self._excludes(candidate):
                return True
        return False

    def _excludes(self, path: str) -> bool:
        for rule in reversed(self.rules):
            if path.startswith(rule.prefix) and rule.match(rule.prefix2 + path[len(rule.prefix):]):
                return rule.exclude
        return False


def project_filter(project_root: Path, sync_root: Path) -> FileFilter:
    """Rules for syncing ``sync_root`` (a folder inside ``project_root``): cp-exclude plus ignore files
    in ``sync_root``'s parents up to ``project_root`` and inside ``sync_root``.

    Raises ``ProjectError`` naming the file when the TOML is invalid.
    """
    flt = FileFilter()
    section = _storage_section(project_root)
    for pattern in section.get("cp-exclude", ()):
        flt.add(str(pattern))
    names = [str(n) for n in section.get("cp-exclude-from-files", DEFAULT_IGNORE_FILES)]
    sync_root, project_root = sync_root.resolve(), project_root.resolve()
    parents = [p for p in reversed(sync_root.parents) if p == project_root or project_root in p.parents]
    for folder in parents:
        prefix2 = sync_root.relative_to(folder).as_posix() + "/"
        for name in names:
            if (folder / name).is_file():
                flt.add_file(folder / name, "", prefix2)
    if sync_root.is_dir():
        for name in names:
            for found in sorted(sync_root.rglob(name)):
                if found.is_file():
                    rel = found.parent.relative_to(sync_root).as_posix()
                    flt.add_file(found, "" if rel == "." else rel + "/")
    return flt


def _storage_section(project_root: Path) -> dict:
    for name in (".apolo.toml", ".neuro.toml"):
        path = project_root / name
        if path.is_file():
            try:
                return tomllib.loads(path.read_text(encoding="utf-8")).get("storage", {})
            except tomllib.TOMLDecodeError as exc:
                raise ProjectError(f"{path} is not valid TOML: {exc}") from None
    return {}


def _translate(pat: str) -> str:
    """Shell pattern -> regex, the CLI's rules (``**`` spans folders, ``*`` does not cross ``/``)."""
    i, n, res = 0, len(pat), ""
    while i < n:
        c = pat[i]
        i += 1
        if c == "*":
            if (not res or res[-1] == "/") and i < n and pat[i] == "*" and (i + 1 == n or pat[i + 1] == "/"):
                if i + 1 == n:
                    return res + ".*"
                res += "(?:.+/)?"
                i += 2
            else:
                res += "[^/]*"
        elif c == "?":
            res += "[^/]"
        elif c == "[":
            j = i + (1 if i < n and pat[i] == "!" else 0)
            j += 1 if j < n and pat[j] == "]" else 0
            while j < n and pat[j] != "]":
                j += 1
            if j >= n:
                res += "\\["
            else:
                stuff = pat[i:j].replace("\\", r"\\")
                i = j + 1
                stuff = "^" + stuff[1:] if stuff[0] == "!" else ("\\" + stuff if stuff[0] in "^[" else stuff)
                res += f"[{stuff}](?<!/)"
        else:
            if c == "\\" and i < n:
                c, i = pat[i], i + 1
            res += re.escape(c)
    return res if pat.endswith("/") else res + "/?"
