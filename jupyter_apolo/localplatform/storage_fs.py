"""File operations confined to the storage root that never follow a symbolic link.

Every operation walks down from the root one segment at a time, opening each directory with
``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's descriptor, and then acts on the last
name through ``dir_fd``. A symlink planted by a job (``data -> /etc``) or a folder swapped for
one while a request runs cannot lead outside the root: the walk fails with ``ELOOP``.
Segments must already be validated (``storage_paths``); errors are plain ``OSError``.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Iterator

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO a job left in storage must not hang the server.
FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
UPLOAD_PREFIX = ".apolo-upload-"  # in-progress CREATE bodies; hidden from listings
FILE_MODE, DIR_MODE = 0o600, 0o700  # storage is private to the platform's OS user, whatever the umask


def _refuse_symlink(exc: OSError, name: str) -> OSError:
    if exc.errno == errno.ELOOP:
        return OSError(errno.ELOOP, f"Refusing to follow the symbolic link {name!r}")
    return exc


def _write_all(fd: int, data: bytes | memoryview, offset: int | None = None) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        view = view[n:]
        if offset is not None:
            offset += n


class ConfinedFS:
    """The storage tree under ``root`` (an existing directory; symlinks above it are fine)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def open_dir(self, segments: list[str], *, create: bool = False) -> int:
        """A descriptor of the directory at ``segments`` (the caller closes it).

        ``create`` makes missing directories on the way (``mkdir -p``). Raises
        ``FileNotFoundError``; ``ENOTDIR`` "Predecessor is not a directory" when a segment is
        a file; ``ELOOP`` when a segment is a symbolic link.
        """
        fd = os.open(self.root, DIR_FLAGS)
        try:
            for seg in segments:
                if create:
                    try:
                        os.mkdir(seg, DIR_MODE, dir_fd=fd)
                    except FileExistsError:
                        pass
                try:
                    child = os.open(seg, DIR_FLAGS, dir_fd=fd)
                except NotADirectoryError:  # a file, or a symlink (O_NOFOLLOW + O_DIRECTORY)
                    if stat.S_ISLNK(os.stat(seg, dir_fd=fd, follow_symlinks=False).st_mode):
                        raise _refuse_symlink(OSError(errno.ELOOP, ""), seg) from None
                    raise OSError(errno.ENOTDIR, "Predecessor is not a directory") from None
                except OSError as exc:
                    raise _refuse_symlink(exc, seg) from None
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def lstat(self, segments: list[str]) -> os.stat_result:
        """``lstat`` of the entry at ``segments`` (a symlink is described, not followed)."""
        if not segments:
            return os.stat(self.root)
        parent = self.open_dir(segments[:-1])
        try:
            return os.stat(segments[-1], dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(parent)

    def link_target(self, segments: list[str]) -> str:
        """The target text of the symlink at ``segments`` (shown, never followed)."""
        parent = self.open_dir(segments[:-1])
        try:
            return os.readlink(segments[-1], dir_fd=parent)
        finally:
            os.close(parent)

    def open_file(self, segments: list[str], flags: int = os.O_RDONLY) -> int:
        """A descriptor of the regular file at ``segments`` opened with ``flags``.

        Raises ``FileNotFoundError``, ``IsADirectoryError`` ("Is a directory"), ``ELOOP`` for a
        symlink and ``EINVAL`` for other special files.
        """
        if not segments:
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        parent = self.open_dir(segments[:-1])
        try:
            fd = os.open(segments[-1], flags | FILE_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise _refuse_symlink(exc, segments[-1]) from None
        finally:
            os.close(parent)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory")
            raise OSError(errno.EINVAL, "Not a regular file")
        os.set_blocking(fd, True)
        return fd

    def iter_dir(self, segments: list[str]) -> "DirListing":
        """The entries of the directory at ``segments``, read lazily (see ``DirListing``).

        Raises at once (before any entry): ``FileNotFoundError``, ``ENOTDIR`` "Not a directory"
        when it is a file, ``ELOOP`` for a symlink.
        """
        try:
            return DirListing(self.open_dir(segments))
        except OSError as exc:
            if exc.errno == errno.ENOTDIR and segments and stat.S_ISREG(self.lstat(segments).st_mode):
                raise OSError(errno.ENOTDIR, "Not a directory") from None
            raise

    def mkdirs(self, segments: list[str]) -> None:
        """Create the directory at ``segments`` and its parents; fine if it exists.

        Raises ``EEXIST`` "File exists" when it is a file, ``ENOTDIR`` "Predecessor is not a
        directory" when a parent is one (platform-storage-api's messages).
        """
        try:
            os.close(self.open_dir(segments, create=True))
        except OSError as exc:
            if exc.errno == errno.ENOTDIR and segments and not stat.S_ISDIR(self.lstat(segments).st_mode):
                raise FileExistsError(errno.EEXIST, "File exists") from None
            raise

    def remove(self, segments: list[str], *, recursive: bool) -> Iterator[tuple[list[str], bool]]:
        """Delete the entry at ``segments``, yielding ``(segments, is_dir)`` for each entry removed
        (children before their folder), lazily, so callers can stream progress.

        A symlink is removed itself, never its target. Raises ``FileNotFoundError`` and
        ``EISDIR`` "Target is a directory" for a folder when not ``recursive``.
        """
        parent = self.open_dir(segments[:-1])
        try:
            name = segments[-1]
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=parent)
                yield segments, False
            elif not recursive:
                raise IsADirectoryError(errno.EISDIR, "Target is a directory")
            else:
                yield from self._remove_tree(parent, name, segments)
        finally:
            os.close(parent)

    def _remove_tree(self, parent: int, name: str, segments: list[str]) -> Iterator[tuple[list[str], bool]]:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
        try:
            with os.scandir(fd) as entries:
                for entry in entries:  # removing entries already read does not disturb the scan
                    if entry.is_dir(follow_symlinks=False):
                        yield from self._remove_tree(fd, entry.name, segments + [entry.name])
                    else:
                        os.unlink(entry.name, dir_fd=fd)
                        yield segments + [entry.name], False
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=parent)
        yield segments, True

    def rename(self, src: list[str], dst: list[str]) -> None:
        """Move ``src`` to ``dst`` with ``rename(2)`` semantics (replaces a file, or an empty
        folder with a folder). The destination's folder must exist (``FileNotFoundError``)."""
        src_dir = self.open_dir(src[:-1])
        try:
            dst_dir = self.open_dir(dst[:-1])
            try:
                os.rename(src[-1], dst[-1], src_dir_fd=src_dir, dst_dir_fd=dst_dir)
            finally:
                os.close(dst_dir)
        finally:
            os.close(src_dir)

    def disk_usage(self) -> dict[str, int]:
        """``{"total", "used", "free"}`` in bytes of the file system holding the root."""
        st = os.statvfs(self.root)
        return {
            "total": st.f_blocks * st.f_frsize,
            "used": (st.f_blocks - st.f_bfree) * st.f_frsize,
            "free": st.f_bavail * st.f_frsize,
        }

    def upload(self, segments: list[str]) -> "Upload":
        """Start a CREATE of the file at ``segments`` (parents are created). Raises ``EISDIR``
        "Destination is a directory" and as ``open_dir`` does."""
        return Upload(self, segments)


class DirListing:
    """Iterates ``(name, lstat_result, symlink_target_or_None)`` over one open directory,
    straight from ``os.scandir`` (never a list of the whole directory). Skips in-progress
    uploads and entries that vanish while being read. Close it (or use ``with``)."""

    def __init__(self, fd: int):
        self.fd = fd
        self._scan = os.scandir(fd)

    def __iter__(self) -> Iterator[tuple[str, os.stat_result, str | None]]:
        for entry in self._scan:
            if entry.name.startswith(UPLOAD_PREFIX):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                target = os.readlink(entry.name, dir_fd=self.fd) if stat.S_ISLNK(st.st_mode) else None
            except FileNotFoundError:
                continue
            yield entry.name, st, target

    def close(self) -> None:
        self._scan.close()
        os.close(self.fd)

    def __enter__(self) -> "DirListing":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Upload:
    """A CREATE in progress: the body goes to a hidden temp file in the destination folder
    and is renamed into place by ``commit``, so no partial file is ever visible."""

    def __init__(self, fs: ConfinedFS, segments: list[str]):
        if not segments:
            raise IsADirectoryError(errno.EISDIR, "Destination is a directory")
        self.name = segments[-1]
        self.dir_fd = fs.open_dir(segments[:-1], create=True)
        self.fd = -1
        try:
            try:
                if stat.S_ISDIR(os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False).st_mode):
                    raise IsADirectoryError(errno.EISDIR, "Destination is a directory")
            except FileNotFoundError:
                pass
            self.tmp = UPLOAD_PREFIX + secrets.token_hex(8)
            self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | FILE_FLAGS, FILE_MODE,
                              dir_fd=self.dir_fd)
        except BaseException:
            os.close(self.dir_fd)
            raise

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` to the temp file."""
        _write_all(self.fd, chunk)

    def commit(self) -> None:
        """Rename the temp file over the destination. Raises ``EISDIR`` "Destination is a
        directory" if a folder appeared there meanwhile (the temp file is then removed)."""
        try:
            os.close(self.fd)
            self.fd = -1
            os.rename(self.tmp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except IsADirectoryError:
            self.abort()
            raise IsADirectoryError(errno.EISDIR, "Destination is a directory") from None
        except BaseException:
            self.abort()
            raise
        os.close(self.dir_fd)
        self.dir_fd = -1

    def abort(self) -> None:
        """Drop the temp file (client went away or the request failed). Idempotent."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.dir_fd >= 0:
            try:
                os.unlink(self.tmp, dir_fd=self.dir_fd)
            except FileNotFoundError:
                pass
            os.close(self.dir_fd)
            self.dir_fd = -1


class Patch:
    """A WRITE in progress: the body is written into the existing regular file at
    ``segments`` from byte ``offset`` on (``pwrite``; a gap past the end reads as zeros)."""

    def __init__(self, fs: ConfinedFS, segments: list[str], offset: int):
        try:
            self.fd = fs.open_file(segments, os.O_WRONLY)
        except IsADirectoryError:
            raise IsADirectoryError(errno.EISDIR, "Destination is a directory") from None
        self.pos = offset
        self.written = 0

    def write(self, chunk: bytes) -> None:
        _write_all(self.fd, chunk, self.pos)
        self.pos += len(chunk)
        self.written += len(chunk)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    commit = abort = close
