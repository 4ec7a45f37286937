"""What each chat last saw of each file, so a write never clobbers content the model has not read.

The file tools record a fingerprint of a file whenever a chat views, writes or edits it. Before
`write` or `edit` changes an existing file they compare the file on disk with that fingerprint: if
the chat never read the file, or someone changed it since, the change is refused.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1024 * 1024


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

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self.write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, Path], Fingerprint] = OrderedDict()

    def remember(self, chat_id: str, path: Path, fingerprint: Fingerprint) -> None:
        key = (chat_id, path)
        with self._lock:
            self._seen[key] = fingerprint
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)

    def last(self, chat_id: str, path: Path) -> Fingerprint | None:
        with self._lock:
            return self._seen.get((chat_id, path))

    def __len__(self) -> int:
        return len(self._seen)
