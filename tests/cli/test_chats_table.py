"""`reliant chats`' ACTIVE column: how long ago a chat was last active, in the largest whole unit."""

from __future__ import annotations

import time

from reliant.cli.chats_table import ago


def test_last_activity_reads_in_the_largest_whole_unit_then_as_a_date() -> None:
    assert [ago(s) for s in (-3, 0, 59, 60, 3599, 3600, 86399, 86400, 6 * 86400 + 1)] == [
        "just now",  # a clock a little ahead is not "in the future"
        "just now",
        "just now",
        "1m ago",
        "59m ago",
        "1h ago",
        "23h ago",
        "1d ago",
        "6d ago",
    ]
    week = 7 * 86400
    assert ago(week) == time.strftime("%Y-%m-%d", time.localtime(time.time() - week))
