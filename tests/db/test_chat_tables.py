"""The chat tables: ordinals, idempotent turns, tool runs and the update log's seqs."""

from __future__ import annotations

import asyncio
import uuid

from reliant.db import Database
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import projects as projects_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db import updates as updates_db
from reliant.domain.chat import BlockType, ContentBlock, Role, ToolState, Usage


async def new_chat(db: Database) -> str:
    project = await projects_db.create(db, name="p", daemon_id=f"d-{uuid.uuid4().hex[:6]}", path="/tmp/p")
    chat = await chats_db.create(db, project_id=project.id, model="scripted:demo")
    return chat.id


async def test_project_create_is_idempotent_per_daemon_and_path(migrated_db: Database) -> None:
    a = await projects_db.create(migrated_db, name="one", daemon_id="d-same", path="/srv/x")
    b = await projects_db.create(migrated_db, name="two", daemon_id="d-same", path="/srv/x")
    assert a.id == b.id and b.name == "one"


async def test_queued_messages_get_ordinals_only_when_admitted(migrated_db: Database) -> None:
    chat = await new_chat(migrated_db)
    first = await messages_db.enqueue_user(migrated_db, chat, "first")
    second = await messages_db.enqueue_user(migrated_db, chat, "second")
    assert first.ordinal is None and await messages_db.queued(migrated_db, chat) == [first.id, second.id]
    admitted, fresh = await messages_db.admit(migrated_db, chat, first.id)
    assert (admitted.ordinal, fresh) == (1, True)
    again, fresh = await messages_db.admit(migrated_db, chat, first.id)
    assert (again.ordinal, fresh) == (1, False)
    answer, stored = await messages_db.store_turn(
        migrated_db, chat, turn=1, role=Role.ASSISTANT, blocks=[ContentBlock.of_text("hi")], usage=Usage(10, 5)
    )
    assert (answer.ordinal, stored) == (2, True)
    assert [m.id for m in await messages_db.transcript(migrated_db, chat)] == [first.id, answer.id]
    info = await chats_db.get(migrated_db, chat)
    assert info is not None and info.queued == 1 and info.usage.input_tokens == 10


async def test_a_turn_is_stored_once_even_when_two_attempts_race(migrated_db: Database) -> None:
    chat = await new_chat(migrated_db)
    call = ContentBlock(BlockType.TOOL_CALL, tool_call_id="c1", tool_name="view", tool_input={"path": "a"})
    results = await asyncio.gather(
        *(
            messages_db.store_turn(migrated_db, chat, turn=7, role=Role.ASSISTANT, blocks=[call], usage=Usage(1, 1))
            for _ in range(5)
        )
    )
    assert sum(created for _, created in results) == 1
    assert len({m.id for m, _ in results}) == 1
    assert (await messages_db.for_turn(migrated_db, chat, 7, Role.ASSISTANT)).blocks[0].tool_input == {"path": "a"}
    info = await chats_db.get(migrated_db, chat)
    assert info is not None and info.usage.input_tokens == 1, "usage is counted once"


async def test_tool_runs_move_through_their_states(migrated_db: Database) -> None:
    chat = await new_chat(migrated_db)
    planned = [
        tool_runs_db.PlannedCall("a", "view", {"path": "x"}, True, 0),
        tool_runs_db.PlannedCall("b", "shell", {}, False, 1),
    ]
    await tool_runs_db.plan(migrated_db, chat, 3, planned)
    await tool_runs_db.plan(migrated_db, chat, 3, planned)  # idempotent
    assert [r.state for r in await tool_runs_db.for_turn(migrated_db, chat, 3)] == [ToolState.PENDING] * 2
    run = await tool_runs_db.begin(migrated_db, chat, "b")
    assert (run.state, run.attempts) == (ToolState.EXECUTING, 1)
    done = await tool_runs_db.finish(
        migrated_db, chat, "b", state=ToolState.COMPLETED, output="ok", data={"exit_code": 0}
    )
    assert done.output == "ok" and done.data == {"exit_code": 0}
    assert [r.tool_call_id for r in await tool_runs_db.unfinished(migrated_db, chat)] == ["a"]


async def test_update_seqs_are_contiguous_under_concurrent_writers(migrated_db: Database) -> None:
    chat = await new_chat(migrated_db)

    async def writer(n: int) -> list[int]:
        seqs = []
        for i in range(n):
            batch = await updates_db.append(migrated_db, chat, [("k", {"i": i}), ("k", {"i": i})])
            seqs += [u.seq for u in batch]
        return seqs

    results = await asyncio.gather(writer(20), writer(20), writer(20))
    everything = sorted(s for r in results for s in r)
    assert everything == list(range(1, 121))
    stored = await updates_db.since(migrated_db, chat, 0)
    assert [u.seq for u in stored] == everything
    info = await chats_db.get(migrated_db, chat)
    assert info is not None and info.last_seq == 120


async def test_a_nul_character_is_stored_as_a_replacement_character_in_text_and_jsonb_alike(
    migrated_db: Database,
) -> None:
    """Postgres refuses NUL in text and \\u0000 in jsonb; what a tool or model produced may hold one."""
    chat = await new_chat(migrated_db)
    literal = "a backslash and u0000, as written: \\u0000 and \\\\u0000"
    call = tool_runs_db.PlannedCall("t", "shell", {"command": "x\0y", "note": literal}, False, 0)
    await tool_runs_db.plan(migrated_db, chat, 1, [call])
    await tool_runs_db.begin(migrated_db, chat, "t")
    done = await tool_runs_db.finish(
        migrated_db, chat, "t", state=ToolState.COMPLETED, output="a\0b", error="\0", data={"k\0": ["\0\\\0"]}
    )
    assert done is not None
    assert (done.output, done.error, done.data) == ("a\ufffdb", "\ufffd", {"k\ufffd": ["\ufffd\\\ufffd"]})
    assert done.input == {"command": "x\ufffdy", "note": literal}
    block = ContentBlock(BlockType.TOOL_CALL, text="t\0", tool_call_id="t", tool_name="shell", tool_input=call.input)
    await messages_db.store_turn(migrated_db, chat, turn=1, role=Role.ASSISTANT, blocks=[block])
    [read] = (await messages_db.transcript(migrated_db, chat))[0].blocks
    assert (read.text, read.tool_input) == ("t\ufffd", {"command": "x\ufffdy", "note": literal})
    [update] = await updates_db.append(migrated_db, chat, [("tool_finished", {"output": "\0"})])
    assert update.payload == {"output": "\ufffd"}


async def test_messages_stored_by_transactions_that_first_wrote_rows_of_the_chat_wait_in_turn_never_deadlock(
    migrated_db: Database,
) -> None:
    """Sub-agents start side by side: each records its run (a row pointing at the chat) and stores
    its task in one transaction. The ordinal's lock must queue them, not deadlock them."""
    from reliant.db import threads as threads_db

    chat_id = await new_chat(migrated_db)
    both_wrote = asyncio.Barrier(2)

    async def child(n: int) -> int:
        async with migrated_db.tx() as tx:
            await threads_db.ensure(tx, chat_id, f"child-{n}")  # holds KEY SHARE on the chat's row
            await both_wrote.wait()
            message, _ = await messages_db.store_turn(
                tx, chat_id, turn=None, role=Role.USER, blocks=[ContentBlock.of_text(f"task {n}")], step=f"task-{n}"
            )
            return message.ordinal

    ordinals = await asyncio.wait_for(asyncio.gather(child(1), child(2)), 30)
    assert sorted(ordinals) == [1, 2]
