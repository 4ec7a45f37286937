"""The read-set kept in the daemon's data dir: what a chat has read survives a restart."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from reliant.daemon.tools.reads import READS_FILE, Fingerprint, ReadTracker


def fingerprint(n: int) -> Fingerprint:
    return Fingerprint(mtime_ns=n, size=n, sha256=f"{n:064x}")


def test_reads_come_back_in_a_new_tracker_and_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "data" / READS_FILE
    first = ReadTracker(path=path)
    first.remember("c1", Path("/w/a.txt"), fingerprint(1))
    first.remember("c1", Path("/w/a.txt"), fingerprint(2))  # read again: the later one counts
    first.remember("c2", Path("/w/b.txt"), fingerprint(3))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with path.open("a") as f:
        f.write('{"chat": "c3", "path": "/w/c.t')  # killed in the middle of a write
    again = ReadTracker(path=path)
    assert again.last("c1", Path("/w/a.txt")) == fingerprint(2)
    assert again.last("c2", Path("/w/b.txt")) == fingerprint(3)
    assert again.last("c3", Path("/w/c.txt")) is None
    first.close()
    assert len(path.read_text().splitlines()) == 2, "compacted to one line per entry at start"
    again.remember("c3", Path("/w/c.txt"), fingerprint(4))
    again.close()
    assert ReadTracker(path=path).last("c3", Path("/w/c.txt")) == fingerprint(4)


def test_the_file_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / READS_FILE
    tracker = ReadTracker(max_entries=3, path=path)
    for n in range(20):
        tracker.remember("c", Path(f"/w/{n}"), fingerprint(n))
    tracker.close()
    assert len(path.read_text().splitlines()) <= 2 * 3 + 1
    reloaded = ReadTracker(max_entries=3, path=path)
    assert len(reloaded) == 3 and reloaded.last("c", Path("/w/19")) == fingerprint(19)


def test_an_unwritable_data_dir_keeps_reads_in_memory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    tracker = ReadTracker(path=blocker / READS_FILE)
    tracker.remember("c", Path("/w/a"), fingerprint(1))
    assert tracker.last("c", Path("/w/a")) == fingerprint(1)
    assert "kept in memory only" in caplog.text


def test_without_a_file_nothing_is_written(tmp_path: Path) -> None:
    tracker = ReadTracker()
    tracker.remember("c", Path("/w/a"), fingerprint(1))
    assert list(tmp_path.iterdir()) == []
