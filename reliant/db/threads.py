"""threads: a chat's conversations. Every chat has its main thread (made with the chat); a run makes
threads of its own by key, new (empty) or forked (its parent's messages up to now, then its own).

What a thread reads (`segments`): its own messages, then, going up its forks, each parent's messages
up to the ordinal it was forked at; a compaction replaces everything before `start_ordinal` with
its summary (a message of its own, `summary_id`).
"""

from __future__ import annotations

from dataclasses import dataclass

from reliant.db.database import Queries, Row
from reliant.domain.chat import MAIN_THREAD, Thread

_COLUMNS = "id, chat_id, key, parent_id, fork_ordinal, start_ordinal, summary_id"
MAX_DEPTH = 64  # forks of forks: far more than any workflow makes (a guard against a cycle, not a limit)


def _thread(row: Row) -> Thread:
    return Thread(
        id=str(row["id"]),
        chat_id=str(row["chat_id"]),
        key=row["key"],
        parent_id=str(row["parent_id"]) if row["parent_id"] is not None else None,
        fork_ordinal=row["fork_ordinal"],
        start_ordinal=row["start_ordinal"],
        summary_id=str(row["summary_id"]) if row["summary_id"] is not None else None,
    )


async def create_main(db: Queries, chat_id: str) -> Thread:
    """The chat's main thread (made if missing)."""
    return await ensure(db, chat_id, MAIN_THREAD)


async def main(db: Queries, chat_id: str) -> Thread | None:
    return await by_key(db, chat_id, MAIN_THREAD)


async def by_key(db: Queries, chat_id: str, key: str) -> Thread | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM threads WHERE chat_id = %s AND key = %s", (chat_id, key))
    return _thread(row) if row else None


async def get(db: Queries, thread_id: str) -> Thread | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM threads WHERE id = %s", (thread_id,))
    return _thread(row) if row else None


async def ensure(db: Queries, chat_id: str, key: str) -> Thread:
    """The chat's thread called `key`, made empty if it does not exist yet (idempotent)."""
    row = await db.fetchrow(
        "INSERT INTO threads (chat_id, key) VALUES (%s, %s)"
        f" ON CONFLICT (chat_id, key) DO NOTHING RETURNING {_COLUMNS}",
        (chat_id, key),
    )
    if row is not None:
        return _thread(row)
    found = await by_key(db, chat_id, key)
    assert found is not None
    return found


async def fork(db: Queries, chat_id: str, key: str, parent_id: str, *, before_answer: bool = False) -> Thread:
    """A thread that reads as `parent_id` does now, then diverges (idempotent by key: a second call
    returns the fork made first, at the point it was made). `before_answer`: as it read before its
    latest answer — a sub-agent forked by the call that spawns it must not read that call, which has
    no result yet (a model's provider refuses a tool call without its result)."""
    existing = await by_key(db, chat_id, key)
    if existing is not None:
        return existing
    point = "(SELECT coalesce(max(ordinal), 0) FROM messages WHERE chat_id = %s)"
    args: tuple[str, ...] = (chat_id,)
    if before_answer:
        point = (
            "(SELECT coalesce(max(ordinal) - 1, 0) FROM messages"
            " WHERE chat_id = %s AND thread_id = %s AND role = 'assistant')"
        )
        args = (chat_id, parent_id)
    row = await db.fetchrow(
        f"INSERT INTO threads (chat_id, key, parent_id, fork_ordinal) SELECT %s, %s, %s, {point}"
        f" ON CONFLICT (chat_id, key) DO NOTHING RETURNING {_COLUMNS}",
        (chat_id, key, parent_id, *args),
    )
    if row is not None:
        return _thread(row)
    found = await by_key(db, chat_id, key)
    assert found is not None
    return found


async def compact(db: Queries, thread_id: str, *, summary_id: str, keep_from: int) -> None:
    """The thread reads as the summary, then its messages from ordinal `keep_from` on."""
    await db.execute(
        "UPDATE threads SET start_ordinal = %s, summary_id = %s WHERE id = %s", (keep_from, summary_id, thread_id)
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """Messages of one thread with ordinals in [low, high] (None: unbounded), after `summary_id`
    (the compaction that cut it at `low`)."""

    thread_id: str
    low: int | None
    high: int | None
    summary_id: str | None = None


async def segments(db: Queries, thread: str | Thread) -> list[Segment]:
    """What the thread reads, innermost (its own messages) first. Given the Thread itself, a thread
    that is no fork costs no query."""
    if isinstance(thread, Thread) and thread.parent_id is None:
        start = thread.start_ordinal
        return [Segment(thread.id, start, None, thread.summary_id if start is not None else None)]
    thread_id = thread if isinstance(thread, str) else thread.id
    rows = await db.fetch(
        "WITH RECURSIVE chain AS ("
        f" SELECT {_COLUMNS}, 0 AS depth FROM threads WHERE id = %s"
        f" UNION ALL SELECT {', '.join('t.' + c.strip() for c in _COLUMNS.split(','))}, chain.depth + 1"
        " FROM threads t JOIN chain ON t.id = chain.parent_id WHERE chain.depth < %s"
        f") SELECT {_COLUMNS} FROM chain ORDER BY depth",
        (thread_id, MAX_DEPTH),
    )
    chain = [_thread(r) for r in rows]
    out: list[Segment] = []
    high: int | None = None
    for link in chain:
        start = link.start_ordinal
        if start is not None and high is not None and start > high:
            start = None  # compacted after the fork point: the fork keeps what it saw
        out.append(Segment(link.id, start, high, link.summary_id if start is not None else None))
        if start is not None:
            break  # the summary stands for everything before it
        if link.fork_ordinal is None:
            break
        high = link.fork_ordinal if high is None else min(high, link.fork_ordinal)
    return out
