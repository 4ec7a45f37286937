"""What each chat last saw of each file, so a write never clobbers content the model has not read.

The file tools record a fingerprint of a file whenever a chat views, writes or edits it. Before
`write` or `edit` changes an existing file they compare the file on disk with that fingerprint: if
the chat never read the file, or someone changed it since, the change is refused.

Given a file (the daemon keeps it in its data dir), what the chats have read survives a restart of
the daemon: every fingerprint is appended to it as one JSON line, and it is loaded (and compacted to
one line per entry) at start. A line cut short by a crash is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
READS_FILE = "daemon-reads.jsonl"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    mtime_ns: int
    size: int
    sha256: str

    @classmethod
    def of(cls, data: bytes, st: os.stat_result) -> Fingerprint:
        """The fingerprint of `data`, just read from (or written to) a file whose fstat is `st`."""
        return cls(st.st_mtime_ns, len(data), hashlib.sha256(data).hexdigest())

    @classmethod
    def of_file(cls, path: Path) -> Fingerprint:
        """Hash a file without holding it in memory. Raises OSError."""
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return cls(st.st_mtime_ns, size, digest.hexdigest())

    def same_content(self, other: Fingerprint) -> bool:
        """Content equality; a touched but unchanged file still counts as the same."""
        return self.size == other.size and self.sha256 == other.sha256


class ReadTracker:
    """Fingerprints by (chat_id, resolved path), least recently used dropped beyond `max_entries`.

    Tools run in worker threads: the map has its own lock, and `write_lock` serializes every
    check-then-write so two concurrent edits of one file cannot both pass the check.
    """

    def __init__(self, max_entries: int = 10_000, path: Path | None = None) -> None:
        self.max_entries = max_entries
        self.write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, Path], Fingerprint] = OrderedDict()
        self._path = path
        self._log: IO[str] | None = None
        self._appended = 0
        if path is not None:
            self._load(path)

    def remember(self, chat_id: str, path: Path, fingerprint: Fingerprint) -> None:
        key = (chat_id, path)
        with self._lock:
            self._seen[key] = fingerprint
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            self._append(key, fingerprint)

    def last(self, chat_id: str, path: Path) -> Fingerprint | None:
        with self._lock:
            return self._seen.get((chat_id, path))

    def __len__(self) -> int:
        return len(self._seen)

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    # -- persistence (under self._lock, or before the tracker is shared) --------------------------

    def _load(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return  # created on the first read
        except OSError as exc:
            logger.warning("could not read %s (files read before this start are forgotten): %s", path, exc)
            return
        for line in lines:
            try:
                doc = json.loads(line)
                key = (str(doc["chat"]), Path(doc["path"]))
                fingerprint = Fingerprint(int(doc["mtime_ns"]), int(doc["size"]), str(doc["sha256"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
            self._seen[key] = fingerprint
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
        if len(lines) > len(self._seen):
            self._rewrite()

    def _rewrite(self) -> None:
        """Write one line per entry to a new file and swap it in; later reads are appended to it."""
        if self._path is None:
            return
        if self._log is not None:
            self._log.close()
            self._log = None
        fresh = self._path.with_name(self._path.name + ".new")
        try:
            fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(_line(key, fp) for key, fp in self._seen.items())
            fresh.replace(self._path)
        except OSError as exc:
            logger.warning("could not write %s (reads are kept in memory only): %s", self._path, exc)
            self._path = None
        self._appended = 0

    def _append(self, key: tuple[str, Path], fingerprint: Fingerprint) -> None:
        if self._path is None:
            return
        try:
            if self._log is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._log = os.fdopen(fd, "a", encoding="utf-8")
            self._log.write(_line(key, fingerprint))
            self._log.flush()  # in the OS's hands: survives a kill of this process
        except OSError as exc:
            logger.warning("could not record a read in %s (reads are kept in memory only): %s", self._path, exc)
            self._path = None
            if self._log is not None:
                self._log.close()
                self._log = None
            return
        self._appended += 1
        if self._appended > self.max_entries:  # the file holds at most twice what is kept
            self._rewrite()


def _line(key: tuple[str, Path], fingerprint: Fingerprint) -> str:
    chat_id, path = key
    doc = {
        "chat": chat_id,
        "path": str(path),
        "mtime_ns": fingerprint.mtime_ns,
        "size": fingerprint.size,
        "sha256": fingerprint.sha256,
    }
    return json.dumps(doc, separators=(",", ":")) + "\n"
