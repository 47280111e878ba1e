"""Local files below a confined folder, reached without ever following a symbolic link, and the rules that
decide whether a storage name may become a local one.

Everything on shared storage is written by a teammate who may be hostile or careless, and a git checkout can
hold symlinks anyone committed. So below a confined root (a notebooks folder, a transfer's destination):

- every path is opened component by component from a folder file descriptor (``openat``-style ``dir_fd`` calls
  with ``O_NOFOLLOW``): a symlinked folder or file anywhere below the root raises :class:`SymlinkRefused`
  instead of being read through or written through, also when it appears between a check and the write;
- files are written to a temp file in their folder and renamed over the target (:class:`PendingFile`), never
  renamed over a symlink or a folder, and a "must not exist yet" target is created with ``link`` (no overwrite);
- :meth:`ConfinedDir.scan` lists regular files and reports symlinks and special files instead of following them;
- :func:`path_problem` says why a storage path must not be written locally: a control path (:data:`CONTROL_NAMES`,
  at any depth: ``.git``, ``.apolo``, ``.apoloignore``... which would let a teammate run code or re-point sync)
  or a name the local system cannot represent safely (not UTF-8, over 255 bytes, control characters such as a
  newline, bidirectional overrides that disguise a name, a leading ``-`` that reads as a command-line option).

The root itself is the caller's choice and is opened as given (its own ancestors may be symlinks). POSIX only
(Linux, macOS): it relies on ``dir_fd`` support and ``O_NOFOLLOW``/``O_DIRECTORY``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

#: Names that control a tool when they appear in a folder (version control, apolo-flow project config, the CLI's
#: ignore files and config, git's per-folder attribute/module files). Compared case-insensitively, as on the
#: case-insensitive file systems of macOS and Windows, after dropping what those systems ignore (see _fold).
CONTROL_NAMES = frozenset({
    ".git", ".hg", ".svn", ".bzr", "_darcs", "cvs",
    ".apolo", ".neuro", ".apoloignore", ".neuroignore", ".apolo.toml", ".neuro.toml",
    ".gitignore", ".gitattributes", ".gitmodules",
})
MAX_NAME_BYTES = 255  # NAME_MAX of Linux and macOS file systems
MAX_PATH_BYTES = 4000  # below PATH_MAX (4096): git, editors and shells open files by full path

# Code points that reorder or hide text (Trojan Source, CVE-2021-42574): a name showing "evil.ipynb" may be another.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What HFS+ ignores in names (git's is_hfs_dotgit list): ".g\u200cit" *is* ".git" there.
_HFS_IGNORED = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
_NTFS_SHORT_GIT = re.compile(r"git~\d+")  # the 8.3 short name of .git on NTFS (CVE-2014-9390)

_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
TEMP_SUFFIX = ".apolo-partial"


class SymlinkRefused(OSError):
    """A symbolic link (or a special file) where a confined path needs a folder or a regular file. ``.filename``:
    the path relative to the confined root; ``errno`` ``ELOOP``."""

    def __init__(self, rel: str, what: str = "a symbolic link"):
        super().__init__(errno.ELOOP, f"{display_name(rel)} is {what}: nothing is read or written through it", rel)
        self.rel, self.what = rel, what

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def display_name(path: str) -> str:
    """``path`` printable as text and JSON: undecodable bytes as ``\\xff``, control characters and bidi marks as
    ``\\n``/``\\u202e`` escapes (a log line or listing cannot be forged or reordered by a name)."""
    raw = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if not _hidden(c) else (repr(c)[1:-1] if ord(c) < 0x10000 else c) for c in raw)


def _hidden(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI


def _fold(name: str) -> str:
    """The name as a case-insensitive, HFS+/NTFS-normalising file system compares it."""
    return _HFS_IGNORED.sub("", name).rstrip(". ").casefold()


def is_control_name(name: str) -> bool:
    """Whether ``name`` (one path component) is a control name of :data:`CONTROL_NAMES`, in any disguise the
    file systems of Linux, macOS and Windows treat as the same name."""
    folded = _fold(name)
    return folded in CONTROL_NAMES or bool(_NTFS_SHORT_GIT.fullmatch(folded))


def name_problem(name: str) -> str | None:
    """Why ``name`` (one component, as decoded from storage or the local disk) cannot be a local file name
    here, in words; None when it can. Control names are :func:`is_control_name`'s business."""
    if name in ("", ".", ".."):
        return f"{name!r} is not a file name"
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        return "the name is not valid UTF-8"
    if "/" in name or "\\" in name:
        return "the name contains a path separator"
    if len(raw) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes ({len(raw)})"
    for c in ("" if name.isascii() and name.isprintable() else name):  # the common case needs no per-char look
        if unicodedata.category(c) == "Cc":
            return f"the name contains the control character U+{ord(c):04X}"
        if c in _BIDI:
            return f"the name contains the bidirectional control U+{ord(c):04X}, which disguises how it reads"
    if name.startswith("-"):
        return "the name starts with '-' and would read as a command-line option"
    return None


def path_problem(rel: str, root: str | os.PathLike[str] | None = None) -> str | None:
    """Why the ``/``-separated relative path ``rel`` must not be written or deleted below a confined folder
    (``root``: that folder, for the total length), in words naming the offending part; None when it may.
    Checks each component with :func:`is_control_name` and :func:`name_problem`."""
    parts = rel.split("/")
    for i, part in enumerate(parts):
        if is_control_name(part):
            where = "/".join(parts[: i + 1])
            return f"{display_name(where)} is a control path ({part.casefold()}): never written or deleted by sync"
        problem = name_problem(part)
        if problem:
            return problem
    total = len(os.fsencode(os.path.join(os.fspath(root or ""), rel)))
    if total > MAX_PATH_BYTES:
        return f"the path is longer than {MAX_PATH_BYTES} bytes ({total}): shorten its folders"
    return None


def split_rel(rel: str) -> list[str]:
    """``"a/b.ipynb"`` -> ``["a", "b.ipynb"]``. Raises ``ValueError`` for an absolute path, empty, ``.`` or ``..``
    components or NUL: a confined path names something strictly below its root."""
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise ValueError(f"{display_name(rel)!r} is not a relative path inside the folder")
    return parts


@dataclass
class Scan:
    """A confined folder walked without following links. ``files``: relative POSIX path -> ``lstat`` of each
    regular file; ``dirs``: folders walked (parents before children); ``symlinks``: paths of symbolic links (to
    files or folders, dangling too), never followed; ``special``: FIFOs, sockets and devices; ``pruned``: folders
    the caller's ``skip_dir`` left out."""

    files: dict[str, os.stat_result] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    symlinks: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)


class ConfinedDir:
    """File operations strictly below ``root`` (a folder; see the module docstring). Paths are relative POSIX
    strings (``"sub/a.ipynb"``). Every method raises :class:`SymlinkRefused` when a component below the root is
    a symlink, ``ValueError`` for a path that is not strictly below the root, and the usual ``OSError``\\ s."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    # -- folders -----------------------------------------------------------------------------------

    def open_dir(self, parts: list[str], create: bool = False) -> int:
        """A file descriptor (caller closes) of the folder ``parts`` below the root, each component opened with
        ``O_NOFOLLOW``; ``create`` makes missing folders (``mkdir -p``, mode 0777 & ~umask)."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        try:
            for i, part in enumerate(parts):
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        os.mkdir(part, dir_fd=fd)
                    except FileExistsError:  # made meanwhile (another file of the same folder): open it below
                        pass
                    child = self._open_child_dir(fd, parts[: i + 1])
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        raise self._refusal(fd, parts[: i + 1]) from None
                    raise
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _open_child_dir(self, fd: int, parts: list[str]) -> int:
        try:
            return os.open(parts[-1], _DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise self._refusal(fd, parts) from None
            raise

    @staticmethod
    def _refusal(parent_fd: int, parts: list[str]) -> OSError:
        rel = "/".join(parts)
        try:
            mode = os.stat(parts[-1], dir_fd=parent_fd, follow_symlinks=False).st_mode
        except OSError:
            return SymlinkRefused(rel)
        if stat.S_ISLNK(mode):
            return SymlinkRefused(rel)
        return NotADirectoryError(errno.ENOTDIR, "Not a directory", rel)

    def makedirs(self, rel: str) -> None:
        """Create the folder ``rel`` and its parents below the root, never through a symlink."""
        os.close(self.open_dir(split_rel(rel), create=True))

    # -- files -------------------------------------------------------------------------------------

    def lstat(self, rel: str) -> os.stat_result | None:
        """The ``lstat`` of ``rel`` (a symlink is described, not followed); None when it (or a parent) is missing."""
        *folder, name = split_rel(rel)
        try:
            fd = self.open_dir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        finally:
            os.close(fd)

    def open_read(self, rel: str) -> BinaryIO:
        """``rel`` opened for binary reading; it must be a regular file (a symlink or a FIFO raises
        :class:`SymlinkRefused`). ``FileNotFoundError`` when missing."""
        *folder, name = split_rel(rel)
        dir_fd = self.open_dir(folder)
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise SymlinkRefused(rel) from None
            raise
        finally:
            os.close(dir_fd)
        return _regular_file(fd, rel)

    def create_temp(self, rel: str) -> "PendingFile":
        """A new temp file beside ``rel`` (its folders created, never through a symlink) to write, then
        :meth:`PendingFile.publish`. Use as a context manager: an unpublished temp file is removed."""
        *folder, name = split_rel(rel)
        dir_fd = self.open_dir(folder, create=True)
        try:
            for n in range(100):
                # at most 255 bytes whatever the name's encoding: its first 180 bytes, then pid and counter
                tmp = os.fsdecode(b"." + os.fsencode(name)[:180] + f".{os.getpid()}-{n}{TEMP_SUFFIX}".encode())
                try:
                    fd = os.open(tmp, _TEMP_FLAGS, 0o666, dir_fd=dir_fd)
                    break
                except FileExistsError:
                    continue
            else:
                raise FileExistsError(errno.EEXIST, "no free temp name", rel)
        except BaseException:
            os.close(dir_fd)
            raise
        return PendingFile(dir_fd, "/".join(folder), name, tmp, os.fdopen(fd, "wb"))

    def unlink(self, rel: str, expect: os.stat_result | None = None) -> bool:
        """Delete the regular file ``rel`` if it is still as ``expect`` says (same size and ``st_mtime_ns``;
        None: any regular file). Returns False, deleting nothing, when it is missing, changed, a symlink or
        anything but a regular file."""
        *folder, name = split_rel(rel)
        try:
            fd = self.open_dir(folder)
        except (FileNotFoundError, NotADirectoryError, SymlinkRefused):
            return False
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or (expect is not None and not same_file_state(st, expect)):
                return False
            os.unlink(name, dir_fd=fd)
            return True
        except FileNotFoundError:
            return False
        finally:
            os.close(fd)

    # -- walking -----------------------------------------------------------------------------------

    def scan(self, skip_dir: Callable[[str], bool] = lambda rel: False,
             skip_file: Callable[[str], bool] = lambda rel: False) -> Scan:
        """The whole tree below the root as a :class:`Scan` (see :meth:`walk`; ``skip_dir`` folders are listed
        in ``pruned``, ``skip_file`` files left out). An absent root gives an empty scan."""
        found = Scan()
        lists = {"file": None, "dir": found.dirs, "symlink": found.symlinks, "special": found.special,
                 "pruned": found.pruned}
        for kind, rel, st_ in self.walk(skip_dir, skip_file):
            if kind == "file":
                found.files[rel] = st_  # type: ignore[assignment]
            else:
                lists[kind].append(rel)  # type: ignore[union-attr]
        return found

    def walk(self, skip_dir: Callable[[str], bool] = lambda rel: False,
             skip_file: Callable[[str], bool] = lambda rel: False) -> Iterator[tuple[str, str, os.stat_result]]:
        """Walk the tree below the root lazily, never following a link, in name order with each folder before
        its contents: ``(kind, rel, lstat)`` with kind ``file`` (regular), ``dir``, ``symlink`` (to anything,
        never entered), ``special`` (FIFO, socket, device) or ``pruned`` (a folder ``skip_dir(rel)`` left out).
        Files ``skip_file(rel)`` are left out. Nothing is yielded for an absent root."""
        try:
            root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        except (FileNotFoundError, NotADirectoryError):
            return
        yield from self._walk(root_fd, "", skip_dir, skip_file)

    def _walk(self, fd: int, prefix: str, skip_dir: Callable[[str], bool],
              skip_file: Callable[[str], bool]) -> Iterator[tuple[str, str, os.stat_result]]:
        try:
            with os.scandir(fd) as entries:
                listed = sorted(((e.name, e.stat(follow_symlinks=False)) for e in entries), key=lambda e: e[0])
            for name, st_ in listed:
                rel = prefix + name
                if stat.S_ISLNK(st_.st_mode):
                    yield "symlink", rel, st_
                elif stat.S_ISDIR(st_.st_mode):
                    if skip_dir(rel):
                        yield "pruned", rel, st_
                        continue
                    try:
                        child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:  # replaced by a link since the listing: report it, never follow
                        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                            yield "symlink", rel, st_
                            continue
                        raise
                    yield "dir", rel, st_
                    yield from self._walk(child, rel + "/", skip_dir, skip_file)
                elif stat.S_ISREG(st_.st_mode):
                    if not skip_file(rel):
                        yield "file", rel, st_
                else:
                    yield "special", rel, st_
        finally:
            os.close(fd)


class PendingFile:
    """A temp file being written in a confined folder, held open by file descriptor so that it is published in
    exactly the folder that was checked. ``file``: the binary file to write. Made by :meth:`ConfinedDir.create_temp`."""

    def __init__(self, dir_fd: int, folder: str, name: str, tmp: str, file: BinaryIO):
        self._dir_fd, self.folder, self.name, self._tmp, self.file = dir_fd, folder, name, tmp, file
        self._closed = False

    def _rel(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name

    @property
    def target(self) -> str:
        """The path this file was created for, relative to the confined root."""
        return self._rel(self.name)

    def lstat(self, name: str | None = None) -> os.stat_result | None:
        """The ``lstat`` of ``name`` (default: the target) in this folder, None when absent."""
        try:
            return os.stat(name or self.name, dir_fd=self._dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open_sibling(self, name: str | None = None) -> BinaryIO | None:
        """``name`` (default: the target) in this folder opened for reading; None when absent. A symlink or a
        special file raises :class:`SymlinkRefused`."""
        try:
            fd = os.open(name or self.name, _READ_FLAGS, dir_fd=self._dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise SymlinkRefused(self._rel(name or self.name)) from None
            raise
        return _regular_file(fd, self._rel(name or self.name))

    def publish(self, name: str | None = None, *, expect: os.stat_result | None | str = "any") -> os.stat_result | None:
        """Flush the temp file and give it the name ``name`` (default: the target) in its folder. ``expect``:
        ``"any"`` replaces a regular file or fills a free name; None requires the name to be free (created with
        ``link``, so nothing that appears meanwhile is overwritten); a stat requires the file there to still have
        that size and ``st_mtime_ns``. Returns the new file's ``lstat``, or None when the name is not as
        expected (the temp file is kept for another try). A symlink or folder in the way raises
        :class:`SymlinkRefused` / ``IsADirectoryError``: they are never replaced."""
        name = name or self.name
        if not self.file.closed:
            self.file.close()
        current = self.lstat(name)
        if current is not None and not stat.S_ISREG(current.st_mode):
            if stat.S_ISDIR(current.st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", self._rel(name))
            what = "a symbolic link" if stat.S_ISLNK(current.st_mode) else "a special file"
            raise SymlinkRefused(self._rel(name), what)
        if expect is None:
            if current is not None:
                return None
            try:
                os.link(self._tmp, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd, follow_symlinks=False)
            except FileExistsError:
                return None
            except OSError as exc:  # no hard links on this file system: check, then rename
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                os.replace(self._tmp, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
            else:
                os.unlink(self._tmp, dir_fd=self._dir_fd)
        else:
            if expect != "any" and (current is None or not same_file_state(current, expect)):  # type: ignore[arg-type]
                return None
            os.replace(self._tmp, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        placed = self.lstat(name)
        self._finish(unlink=False)
        return placed

    def discard(self) -> None:
        """Remove the temp file (if not published) and release the folder."""
        self._finish(unlink=True)

    def _finish(self, unlink: bool) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if not self.file.closed:
                self.file.close()
            if unlink:
                try:
                    os.unlink(self._tmp, dir_fd=self._dir_fd)
                except FileNotFoundError:
                    pass
        finally:
            os.close(self._dir_fd)

    def __enter__(self) -> "PendingFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def same_file_state(st: os.stat_result, expect: os.stat_result) -> bool:
    """Whether ``st`` is the regular file ``expect`` described (same size and ``st_mtime_ns``)."""
    return stat.S_ISREG(st.st_mode) and (st.st_size, st.st_mtime_ns) == (expect.st_size, expect.st_mtime_ns)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for binary reading when its last component is a regular file (not a symlink, not a FIFO
    or device); raises :class:`SymlinkRefused` otherwise, ``FileNotFoundError`` when missing. For a single file
    whose folder the caller already vouched for (e.g. a path checked against the Jupyter root)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise SymlinkRefused(os.fspath(path)) from None
        raise
    return _regular_file(fd, os.fspath(path))


def _regular_file(fd: int, rel: str) -> BinaryIO:
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise (IsADirectoryError(errno.EISDIR, "Is a directory", rel) if stat.S_ISDIR(st.st_mode)
                   else SymlinkRefused(rel, "a special file"))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def iter_parts(rel: str) -> Iterator[str]:
    """Each ancestor of ``rel`` and ``rel`` itself: ``"a/b/c"`` -> ``"a"``, ``"a/b"``, ``"a/b/c"``."""
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])
