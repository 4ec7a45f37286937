"""messages and content_blocks: the transcript.

A user message is stored at once with ordinal NULL (queued) and admitted into the transcript when
the workflow takes it. Messages a step writes (a model's answer, the tool results that answer it, a
node's message) are keyed by (chat, step, role), which makes storing them idempotent: a retried
activity finds the message its previous attempt stored. Every message belongs to a thread (the
chat's main thread unless a step says otherwise); `transcript` is the whole chat, as clients show
it, `thread_transcript` what a model working on one thread reads (threads.py).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from reliant.db import threads as threads_db
from reliant.db.chats import ADD_USAGE, add_usage, usage_params
from reliant.db.database import Database, Queries, Row, Tx
from reliant.domain.chat import MAIN_THREAD, BlockType, ContentBlock, Role, StoredMessage, Thread, Usage

_SELECT = (
    "SELECT m.id, m.chat_id, m.ordinal, m.role, m.model, m.turn, m.input_tokens, m.output_tokens,"
    " m.cache_read_tokens, m.cache_write_tokens, m.cost_usd, m.aborted, m.created_at, m.thread_id, m.step,"
    " m.stop_reason, m.output_limit,"
    " b.position, b.type, b.text, b.tool_call_id, b.tool_name, b.data"
    " FROM messages m LEFT JOIN content_blocks b ON b.message_id = m.id"
)
# The chat's main thread, for statements that store a message where no thread is named.
_MAIN = "(SELECT id FROM threads WHERE chat_id = %s AND key = '" + MAIN_THREAD + "')"


def legacy_step(turn: int) -> str:
    """The step key of a turn numbered the way chats numbered them before workflows."""
    return f"turn:{turn}"


def _block(row: Row) -> ContentBlock:
    data: dict[str, Any] = row["data"] or {}
    return ContentBlock(
        type=BlockType(row["type"]),
        text=row["text"],
        tool_call_id=row["tool_call_id"],
        tool_name=row["tool_name"],
        tool_input=data.get("input") or {},
        is_error=bool(data.get("is_error", False)),
        signature=data.get("signature", ""),
        media_type=data.get("media_type", ""),
        path=data.get("path", ""),
    )


def _block_data(block: ContentBlock) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if block.tool_input:
        data["input"] = block.tool_input
    if block.is_error:
        data["is_error"] = True
    if block.signature:
        data["signature"] = block.signature
    if block.media_type:
        data["media_type"] = block.media_type
    if block.path:
        data["path"] = block.path
    return data


def _messages(rows: list[Row]) -> list[StoredMessage]:
    out: list[StoredMessage] = []
    blocks: dict[str, list[ContentBlock]] = {}
    for row in rows:
        ident = str(row["id"])
        if ident not in blocks:
            blocks[ident] = []
            out.append(
                StoredMessage(
                    id=ident,
                    chat_id=str(row["chat_id"]),
                    ordinal=row["ordinal"],
                    role=Role(row["role"]),
                    model=row["model"],
                    blocks=(),
                    usage=Usage(
                        row["input_tokens"],
                        row["output_tokens"],
                        row["cache_read_tokens"],
                        row["cache_write_tokens"],
                    ),
                    cost_usd=float(row["cost_usd"]),
                    created_at=row["created_at"].timestamp(),
                    turn=row["turn"],
                    aborted=row["aborted"],
                    thread_id=str(row["thread_id"]),
                    step=row["step"] or "",
                    stop_reason=row["stop_reason"],
                    output_limit=row["output_limit"],
                )
            )
        if row["type"] is not None:
            blocks[ident].append(_block(row))
    return [dataclasses.replace(m, blocks=tuple(blocks[m.id])) for m in out]


# A message's blocks as unnest() takes them (_block_arrays: one array per column).
_BLOCK_ROWS = (
    "unnest(%(positions)s::integer[], %(types)s::text[], %(texts)s::text[], %(call_ids)s::text[],"
    " %(tool_names)s::text[], %(datas)s::jsonb[]) AS u(position, type, text, tool_call_id, tool_name, data)"
)


def _block_arrays(blocks: Sequence[ContentBlock]) -> dict[str, Any]:
    return {
        "positions": list(range(len(blocks))),
        "types": [b.type.value for b in blocks],
        "texts": [b.text for b in blocks],
        "call_ids": [b.tool_call_id for b in blocks],
        "tool_names": [b.tool_name for b in blocks],
        "datas": [Jsonb(_block_data(b)) for b in blocks],
    }


async def _insert_blocks(db: Queries, message_id: str, blocks: Sequence[ContentBlock]) -> None:
    if not blocks:
        return
    await db.execute(
        "INSERT INTO content_blocks (message_id, position, type, text, tool_call_id, tool_name, data)"
        f" SELECT %(message)s, u.position, u.type, u.text, u.tool_call_id, u.tool_name, u.data FROM {_BLOCK_ROWS}",
        {"message": message_id, **_block_arrays(blocks)},
    )


# The chat's next ordinal, in a statement that runs after _lock_ordinals (its snapshot, taken after
# the lock, sees every message the transactions it waited for stored).
_NEXT_ORDINAL = "(SELECT coalesce(max(ordinal), 0) + 1 FROM messages WHERE chat_id = %(chat)s)"


async def _lock_ordinals(tx: Tx, chat_id: str) -> None:
    """Lock the chat row: ordinals are assigned one at a time per chat (_NEXT_ORDINAL).

    NO KEY UPDATE: the lock the chat's own updates take. FOR UPDATE would also wait for every
    transaction that inserted a row pointing at the chat (their foreign key holds KEY SHARE on it),
    and two such transactions taking it deadlock."""
    await tx.execute("SELECT 1 FROM chats WHERE id = %s FOR NO KEY UPDATE", (chat_id,))


async def get(db: Queries, message_id: str) -> StoredMessage | None:
    found = _messages(await db.fetch(_SELECT + " WHERE m.id = %s ORDER BY b.position", (message_id,)))
    return found[0] if found else None


async def enqueue_user(db: Database, chat_id: str, text: str, attached: Sequence[ContentBlock] = ()) -> StoredMessage:
    """Queue a user message: its text (none when it is blank: an image alone), then what it
    attaches (files, images)."""
    async with db.tx() as tx:
        row = await tx.fetchrow(
            f"INSERT INTO messages (chat_id, role, thread_id) VALUES (%s, 'user', {_MAIN}) RETURNING id",
            (chat_id, chat_id),
        )
        assert row is not None
        said = [ContentBlock.of_text(text)] if text.strip() else []
        await _insert_blocks(tx, str(row["id"]), [*said, *attached])
    message = await get(db, str(row["id"]))
    assert message is not None
    return message


async def admit(db: Database | Tx, chat_id: str, message_id: str) -> tuple[StoredMessage, bool]:
    """Give a queued user message its place in the transcript; (message, True if just admitted)."""
    if not isinstance(db, Tx):
        async with db.tx() as tx:
            return await admit(tx, chat_id, message_id)
    await _lock_ordinals(db, chat_id)
    admitted = (
        await db.execute(
            f"UPDATE messages SET ordinal = {_NEXT_ORDINAL}, created_at = now()"
            " WHERE id = %(message)s AND chat_id = %(chat)s AND ordinal IS NULL",
            {"chat": chat_id, "message": message_id},
        )
        == 1
    )
    message = await get(db, message_id)
    if message is None:
        raise LookupError(f"message {message_id} of chat {chat_id} does not exist")
    return message, admitted


async def for_turn(db: Queries, chat_id: str, turn: int, role: Role) -> StoredMessage | None:
    found = _messages(
        await db.fetch(
            _SELECT + " WHERE m.chat_id = %s AND m.turn = %s AND m.role = %s ORDER BY b.position",
            (chat_id, turn, role.value),
        )
    )
    return found[0] if found else None


async def answer_awaiting_results(db: Queries, chat_id: str, turn: int) -> StoredMessage | None:
    """The turn's assistant message if it is still the last message of its thread (its tool
    results are what comes next); None otherwise."""
    found = _messages(
        await db.fetch(
            _SELECT + " WHERE m.chat_id = %s AND m.turn = %s AND m.role = %s AND NOT m.aborted"
            " AND m.ordinal IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages n WHERE n.thread_id = m.thread_id"
            " AND n.ordinal > m.ordinal AND NOT n.aborted) ORDER BY b.position",
            (chat_id, turn, Role.ASSISTANT.value),
        )
    )
    return found[0] if found else None


async def for_step(db: Queries, chat_id: str, step: str, role: Role) -> StoredMessage | None:
    found = _messages(
        await db.fetch(
            _SELECT + " WHERE m.chat_id = %s AND m.step = %s AND m.role = %s ORDER BY b.position",
            (chat_id, step, role.value),
        )
    )
    return found[0] if found else None


async def store_turn(
    db: Database | Tx,
    chat_id: str,
    *,
    turn: int | None,
    role: Role,
    blocks: Sequence[ContentBlock],
    model: str = "",
    usage: Usage = Usage(),  # noqa: B008 - frozen dataclass, safe as a default
    cost_usd: float = 0.0,
    stop_reason: str = "",
    output_limit: int = 0,
    step: str = "",
    thread_id: str = "",
) -> tuple[StoredMessage, bool]:
    """Store the message for (chat, step, role) once; (message, True if this call stored it).

    `step` defaults to the turn's legacy key (`turn:<n>`) and `thread_id` to the chat's main thread.
    `turn` may be None for a message no model call wrote (a workflow node's)."""
    if not isinstance(db, Tx):
        async with db.tx() as tx:
            return await store_turn(
                tx,
                chat_id,
                turn=turn,
                role=role,
                blocks=blocks,
                model=model,
                usage=usage,
                cost_usd=cost_usd,
                stop_reason=stop_reason,
                output_limit=output_limit,
                step=step,
                thread_id=thread_id,
            )
    step = step or legacy_step(turn or 0)
    await _lock_ordinals(db, chat_id)
    params = {
        "chat": chat_id,
        "role": role.value,
        "model": model,
        "turn": turn,
        "stop_reason": stop_reason,
        "output_limit": output_limit,
        "thread": thread_id or None,
        "step": step,
        **usage_params(usage, cost_usd),
        **(_block_arrays(blocks) if blocks else {}),
    }
    row = await db.fetchrow(_store_statement(bool(blocks), usage != Usage() or bool(cost_usd)), params)
    if row is None:
        existing = await for_step(db, chat_id, step, role)
        assert existing is not None
        return existing, False
    stored = StoredMessage(
        id=str(row["id"]),
        chat_id=chat_id,
        ordinal=row["ordinal"],
        role=role,
        model=model,
        blocks=tuple(blocks),
        usage=usage,
        cost_usd=cost_usd,
        created_at=row["created_at"].timestamp(),
        turn=turn,
        thread_id=str(row["thread_id"]),
        step=step,
        stop_reason=stop_reason,
        output_limit=output_limit,
    )
    return stored, True


def _store_statement(with_blocks: bool, with_usage: bool) -> str:
    """store_turn's one statement: the message (nothing if (chat, step, role) is stored already),
    its blocks and, with usage, the chat's totals, after _lock_ordinals."""
    parts = [
        "WITH m AS (INSERT INTO messages (chat_id, ordinal, role, model, turn, stop_reason, output_limit,"
        " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, thread_id, step)"
        f" VALUES (%(chat)s, {_NEXT_ORDINAL}, %(role)s, %(model)s, %(turn)s, %(stop_reason)s, %(output_limit)s,"
        " %(input_tokens)s, %(output_tokens)s, %(cache_read_tokens)s, %(cache_write_tokens)s, %(cost_usd)s,"
        " coalesce(%(thread)s::uuid, (SELECT id FROM threads WHERE chat_id = %(chat)s"
        f" AND key = '{MAIN_THREAD}')), %(step)s)"
        " ON CONFLICT (chat_id, step, role) WHERE step IS NOT NULL DO NOTHING"
        " RETURNING id, ordinal, created_at, thread_id)"
    ]
    if with_blocks:
        parts.append(
            ", b AS (INSERT INTO content_blocks (message_id, position, type, text, tool_call_id, tool_name, data)"
            f" SELECT m.id, u.position, u.type, u.text, u.tool_call_id, u.tool_name, u.data FROM m, {_BLOCK_ROWS})"
        )
    if with_usage:
        parts.append(f", t AS (UPDATE chats SET {ADD_USAGE} FROM m WHERE chats.id = %(chat)s)")
    parts.append(" SELECT id, ordinal, created_at, thread_id FROM m")
    return "".join(parts)


# A sub-agent's messages are those its run wrote: their steps start with its id and a slash.
_OF_AGENT = "m.step LIKE %s || '/%%'"
# (The chat's agents are read once, not per message: a hashed subplan.)
_OF_NO_AGENT = "split_part(coalesce(m.step, ''), '/', 1) NOT IN (SELECT a.id::text FROM agents a WHERE a.chat_id = %s)"


async def transcript(
    db: Database, chat_id: str, *, include_queued: bool = False, agent_id: str | None = None
) -> list[StoredMessage]:
    """The chat's messages as clients show them: every one (`agent_id` None), the chat's own without
    its sub-agents' (""), or one sub-agent's."""
    where = " AND NOT m.aborted" + ("" if include_queued else " AND m.ordinal IS NOT NULL")
    params: list[object] = [chat_id]
    if agent_id:
        where += f" AND {_OF_AGENT}"
        params.append(agent_id)
    elif agent_id is not None:
        where += f" AND {_OF_NO_AGENT}"
        params.append(chat_id)
    rows = await db.fetch(
        _SELECT + " WHERE m.chat_id = %s" + where + " ORDER BY m.ordinal NULLS LAST, m.created_at, b.position",
        params,
    )
    return _messages(rows)


async def thread_transcript(db: Queries, thread: str | Thread) -> list[StoredMessage]:
    """What a model working on the thread (its id, or the Thread) reads: its messages, its forks'
    parents' up to the fork points, from its last compaction on (threads.segments)."""
    parts = await threads_db.segments(db, thread)
    summary = next((p.summary_id for p in parts if p.summary_id), None)
    where: list[str] = ["m.id = %s"] if summary else []
    params: list[object] = [summary] if summary else []
    for part in parts:
        clause = "m.thread_id = %s"
        params.append(part.thread_id)
        if part.low is not None:
            clause += " AND m.ordinal >= %s"
            params.append(part.low)
        if part.high is not None:
            clause += " AND m.ordinal <= %s"
            params.append(part.high)
        where.append(f"({clause})")
    query = _SELECT + f" WHERE ({' OR '.join(where)}) AND m.ordinal IS NOT NULL AND NOT m.aborted"
    order = " ORDER BY m.ordinal, b.position"
    # Read outside any transaction only: one of a transaction may see what it then rolls back.
    key = (summary, tuple(parts)) if isinstance(db, Database) else None
    if key is not None and (remembered := _read.get(key)) is not None:
        known = remembered[0]
        # Only what came after the newest message read, and that one again: were it gone (Postgres
        # lost its last commits in a crash), the thread is read afresh. (The newest is not always
        # the last: a summary stands first.)
        newest = max(known, key=lambda m: m.ordinal or 0)
        after = _messages(await db.fetch(query + " AND m.ordinal >= %s" + order, [*params, newest.ordinal]))
        if after and after[0].id == newest.id:
            found = known + after[1:]
            _remember(key, found, known)
            return found
    found = _messages(await db.fetch(query + order, params))
    if summary:  # the summary stands first, for everything before the messages kept
        found = [m for m in found if m.id == summary] + [m for m in found if m.id != summary]
    if key is not None and found:
        _remember(key, found)
    return found


# Every model call reads its thread's transcript, which only grows: a message never changes once it
# has its ordinal, and a chat's ordinals become visible in order (each is taken under the chat's row
# lock, held until commit). So the transcripts read last are remembered (per thread and compaction,
# up to MAX_REMEMBERED_BYTES of text, the least recently read forgotten first) and the next read
# asks Postgres only for what came after.
MAX_REMEMBERED_BYTES = 32 * 2**20
_Key = tuple[str | None, tuple[threads_db.Segment, ...]]
_read: OrderedDict[_Key, tuple[list[StoredMessage], int]] = OrderedDict()
_remembered_bytes = 0


def _size(messages: Sequence[StoredMessage]) -> int:
    return sum(256 + len(b.text or "") + len(b.tool_input) * 64 for m in messages for b in m.blocks)


def _remember(key: _Key, found: list[StoredMessage], known: list[StoredMessage] | None = None) -> None:
    """Remember `found` as the thread's transcript (`known`: what was remembered, that it extends)."""
    global _remembered_bytes
    before = _read.pop(key, None)
    size = _size(found) if known is None or before is None else before[1] + _size(found[len(known) :])
    if before is not None:
        _remembered_bytes -= before[1]
    if size > MAX_REMEMBERED_BYTES:
        return
    _read[key] = (list(found), size)
    _remembered_bytes += size
    while _remembered_bytes > MAX_REMEMBERED_BYTES:
        _, (_, dropped) = _read.popitem(last=False)
        _remembered_bytes -= dropped


async def thread_end(db: Queries, chat_id: str) -> int:
    """The chat's highest ordinal so far (a fork made now sees every message up to it)."""
    row = await db.fetchrow("SELECT coalesce(max(ordinal), 0) AS n FROM messages WHERE chat_id = %s", (chat_id,))
    return int(row["n"]) if row else 0


async def queued(db: Database, chat_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT id FROM messages WHERE chat_id = %s AND ordinal IS NULL AND NOT aborted ORDER BY created_at",
        (chat_id,),
    )
    return [str(r["id"]) for r in rows]


async def queued_before(db: Database, before: datetime) -> list[tuple[str, str]]:
    """(chat id, message id) of every message still queued that was stored before `before`, oldest first."""
    rows = await db.fetch(
        "SELECT chat_id, id FROM messages WHERE ordinal IS NULL AND NOT aborted AND created_at < %s"
        " ORDER BY created_at",
        (before,),
    )
    return [(str(r["chat_id"]), str(r["id"])) for r in rows]


async def last_turn(db: Database, chat_id: str) -> int:
    """The highest turn stored for the chat (a new workflow run continues numbering after it)."""
    row = await db.fetchrow("SELECT coalesce(max(turn), 0) AS t FROM messages WHERE chat_id = %s", (chat_id,))
    return int(row["t"]) if row else 0


async def record_spent(
    db: Database, chat_id: str, *, step: str, thread_id: str, model: str, usage: Usage, cost_usd: float
) -> None:
    """What a model call spent that stored no answer (it ended in an error after its stream reported
    usage): an aborted assistant row under `step` (never part of a transcript; one per call, so the
    caller makes it unique), counted where every message's cost is (the chat's, its agents' and the
    project's spending), and added to the chat's totals."""
    async with db.tx() as tx:
        await tx.execute(
            "INSERT INTO messages (chat_id, role, model, aborted, step, thread_id,"
            " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd)"
            " VALUES (%s, 'assistant', %s, true, %s, %s, %s, %s, %s, %s, %s)",
            (
                chat_id,
                model,
                step,
                thread_id,
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.cache_write_tokens,
                cost_usd,
            ),
        )
        await add_usage(tx, chat_id, usage, cost_usd)


async def abort_turn(db: Database, chat_id: str, turn: int, step: str = "") -> bool:
    """Reserve (chat, step) for a cancelled LLM call so its answer is never stored.

    Takes the chat's lock like store_turn, so exactly one of the two wins. Returns False if the
    answer was stored first (the caller then settles its tool calls)."""
    async with db.tx() as tx:
        await tx.execute("SELECT 1 FROM chats WHERE id = %s FOR NO KEY UPDATE", (chat_id,))
        row = await tx.fetchrow(
            f"INSERT INTO messages (chat_id, role, turn, aborted, step, thread_id)"
            f" VALUES (%s, 'assistant', %s, true, %s, {_MAIN})"
            " ON CONFLICT (chat_id, step, role) WHERE step IS NOT NULL DO NOTHING RETURNING id",
            (chat_id, turn, step or legacy_step(turn), chat_id),
        )
        return row is not None
