"""What the last sync left identical on both sides: the base of the 3-way comparison.

One JSON file per synced volume plus an append-only journal: every finished transfer appends a line, so an
apply killed at any point resumes from what was recorded (a torn last line is ignored); :meth:`Manifest.compact`
folds the journal into the JSON atomically at the end of an apply.

Beside them, a content-addressed **store** (``<volume>.store/<sha256>``) keeps the last-synced bytes of notebooks:
the base of a cell-level 3-way merge when a notebook changed on both sides (``notebooks/merge.py``). Store files
are written atomically before the entry that names them; ``compact`` drops the ones no entry names any more.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

VERSION = 1
#: Largest file kept in the store as a merge base (bytes): bigger notebooks fall back to two whole copies.
STORE_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """A file as last synced: ``path`` (POSIX, relative to the volume), ``size`` (bytes), ``sha256`` (hex),
    ``remote_mtime`` (storage ``modificationTime``, epoch seconds), ``local_mtime_ns`` (local ``st_mtime_ns``),
    ``listed_at`` (epoch seconds when that remote status was read)."""

    path: str
    size: int
    sha256: str
    remote_mtime: int
    local_mtime_ns: int
    listed_at: int = 0  # epoch seconds when the remote status was read (see sync._remote_state)


class Manifest:
    """Entries keyed by path for one (``remote`` URI, local folder) pair, persisted at ``path``."""

    def __init__(self, path: Path, remote: str):
        self.path, self.remote = Path(path), remote
        self.journal = self.path.with_suffix(".journal")
        self.store = self.path.with_suffix(".store")
        self.entries: dict[str, Entry] = {}
        self._journal_file: TextIO | None = None

    @classmethod
    def load(cls, path: Path, remote: str) -> "Manifest":
        """Read ``path`` and replay its journal. A manifest written for another remote URI counts as empty
        (the volume was re-pointed: nothing is known to be in sync)."""
        manifest = cls(path, remote)
        if manifest.path.is_file():
            data = json.loads(manifest.path.read_text(encoding="utf-8"))
            if data.get("version") == VERSION and data.get("remote") == remote:
                manifest.entries = {e["path"]: Entry(**e) for e in data["files"]}
        if manifest.journal.is_file():
            for line in manifest.journal.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # torn last line of a killed apply
                    continue
                if record.get("remote") != remote:
                    continue
                if record["op"] == "set":
                    manifest.entries[record["entry"]["path"]] = Entry(**record["entry"])
                else:
                    manifest.entries.pop(record["path"], None)
        return manifest

    def record(self, entry: Entry) -> None:
        """Remember ``entry`` as in sync (journaled immediately)."""
        self.entries[entry.path] = entry
        self._append({"op": "set", "remote": self.remote, "entry": asdict(entry)})

    def forget(self, path: str) -> None:
        """Drop ``path`` (journaled immediately)."""
        if self.entries.pop(path, None) is not None:
            self._append({"op": "forget", "remote": self.remote, "path": path})

    def keep_base(self, sha256: str, data: bytes) -> None:
        """Keep ``data`` (whose hex sha256 is ``sha256``) as a merge base; call before :meth:`record` names it.
        Files over ``STORE_LIMIT`` bytes are not kept."""
        if len(data) > STORE_LIMIT:
            return
        target = self.store / sha256
        if target.is_file():
            return
        if not self.store.is_dir():
            self._ensure_dir()
            self.store.mkdir(exist_ok=True)
        atomic_write_bytes(target, data, fsync=False)  # a torn file is detected by its hash on read

    def base_content(self, sha256: str | None) -> bytes | None:
        """The kept bytes whose hex sha256 is ``sha256``, or None (never kept, too big, or damaged)."""
        if not sha256 or not all(c in "0123456789abcdef" for c in sha256):
            return None
        try:
            data = (self.store / sha256).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha256 else None

    def _append(self, record: dict) -> None:
        if self._journal_file is None:
            self._ensure_dir()
            self._journal_file = open(self.journal, "a", encoding="utf-8")
        self._journal_file.write(json.dumps(record) + "\n")
        self._journal_file.flush()  # survives a killed process; compact() fsyncs

    def compact(self) -> None:
        """Write all entries atomically (temp file, fsync, rename) and empty the journal."""
        if self._journal_file is not None:
            self._journal_file.close()
            self._journal_file = None
        self._ensure_dir()
        data = {"version": VERSION, "remote": self.remote,
                "files": [asdict(e) for _, e in sorted(self.entries.items())]}
        atomic_write_bytes(self.path, json.dumps(data, indent=0).encode())
        self.journal.unlink(missing_ok=True)
        self._prune_store()

    def _prune_store(self) -> None:
        if not self.store.is_dir():
            return
        named = {e.sha256 for e in self.entries.values()}
        for kept in self.store.iterdir():
            if kept.name not in named and not kept.is_symlink():
                kept.unlink(missing_ok=True)

    def _ensure_dir(self) -> None:
        folder = self.path.parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".gitignore").write_text("# jupyter-apolo sync state, not for git\n*\n")


def atomic_write_bytes(path: Path, data: bytes, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync (unless ``fsync=False``) and
    ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".apolo-partial")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
