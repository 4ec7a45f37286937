"""Threads, step keys, tool executions keyed by thread, runs, and a database from before them."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from reliant.db import Database, migrate
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import model_steps as model_steps_db
from reliant.db import projects as projects_db
from reliant.db import runs as runs_db
from reliant.db import threads as threads_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.chat import BlockType, ContentBlock, Role, ToolState, Usage
from reliant.domain.runs import PinnedText, RunOutcome, RunRecord
from tests.db.test_chat_tables import new_chat

BEFORE_WORKFLOWS = 9  # the schema version of a data dir written before workflows ran chats


def text(value: str) -> list[ContentBlock]:
    return [ContentBlock.of_text(value)]


async def test_rows_written_before_workflows_keep_working_after_the_migration(fresh_db: Database) -> None:
    db = fresh_db
    await migrate(db, up_to=BEFORE_WORKFLOWS)
    project = await db.fetchrow("INSERT INTO projects (name, daemon_id, path) VALUES ('p', 'd', '/p') RETURNING id")
    assert project is not None
    chat = await db.fetchrow(
        "INSERT INTO chats (project_id, model) VALUES (%s, 'scripted:demo') RETURNING id", (project["id"],)
    )
    assert chat is not None
    chat_id = str(chat["id"])
    await db.execute("INSERT INTO messages (chat_id, ordinal, role) VALUES (%s, 1, 'user')", (chat_id,))
    answer = await db.fetchrow(
        "INSERT INTO messages (chat_id, ordinal, role, turn) VALUES (%s, 2, 'assistant', 1) RETURNING id", (chat_id,)
    )
    await db.execute(
        "INSERT INTO tool_executions (chat_id, tool_call_id, turn, tool_name, state)"
        " VALUES (%s, 'call_1_0', 1, 'shell', 'executing')",
        (chat_id,),
    )
    await db.execute(
        "INSERT INTO approvals (chat_id, tool_call_id, turn, tool_name) VALUES (%s, 'call_1_0', 1, 'shell')", (chat_id,)
    )

    assert (await migrate(db))[:1] == [10]  # and the migrations after it

    main = await threads_db.main(db, chat_id)
    assert main is not None
    info = await chats_db.get(db, chat_id)
    assert info is not None and (info.workflow, info.workflow_inputs) == ("agent", {})
    stored = await messages_db.for_step(db, chat_id, messages_db.legacy_step(1), Role.ASSISTANT)
    assert stored is not None and answer is not None and stored.id == str(answer["id"])
    assert stored.thread_id == main.id and stored.turn == 1
    run = await tool_runs_db.get(db, chat_id, "call_1_0")
    assert run is not None and run.key == "call_1_0" and run.thread_id == main.id and run.state is ToolState.EXECUTING
    assert [m.id for m in await messages_db.thread_transcript(db, main.id)] == [
        m.id for m in await messages_db.transcript(db, chat_id)
    ]
    # The chat goes on the way it did (turn 2 by its legacy key), and the next step numbers after it.
    again, created = await messages_db.store_turn(db, chat_id, turn=2, role=Role.ASSISTANT, blocks=text("next"))
    assert created and again.step == "turn:2" and again.thread_id == main.id
    assert await model_steps_db.turn_for(db, chat_id, "run-1/main:agent#0") == 3
    queued = await messages_db.enqueue_user(db, chat_id, "more")
    assert queued.thread_id == main.id


async def test_step_keys_store_an_answer_once_and_hand_out_distinct_turns(migrated_db: Database) -> None:
    db = migrated_db
    chat = await new_chat(db)
    steps = [f"r/main:agent#{i}" for i in range(8)]
    turns = await asyncio.gather(*(model_steps_db.turn_for(db, chat, s) for s in steps + steps))
    assert sorted(set(turns)) == list(range(1, 9)) and turns[:8] == turns[8:]
    answers = await asyncio.gather(
        *(
            messages_db.store_turn(
                db, chat, turn=turns[0], step=steps[0], role=Role.ASSISTANT, blocks=text("once"), usage=Usage(3, 1)
            )
            for _ in range(4)
        )
    )
    assert sum(created for _, created in answers) == 1 and len({m.id for m, _ in answers}) == 1
    info = await chats_db.get(db, chat)
    assert info is not None and info.usage.input_tokens == 3
    assert await model_steps_db.step_of(db, chat, turns[3]) == steps[3]


async def test_a_fork_reads_its_parent_up_to_the_fork_then_its_own_and_compaction_cuts_before(
    migrated_db: Database,
) -> None:
    db = migrated_db
    chat = await new_chat(db)
    main = await threads_db.main(db, chat)
    assert main is not None

    async def say(thread: str, step: str, words: str) -> str:
        message, _ = await messages_db.store_turn(
            db, chat, turn=None, step=step, thread_id=thread, role=Role.USER, blocks=text(words)
        )
        return message.id

    a = await say(main.id, "a", "a")
    b = await say(main.id, "b", "b")
    fork = await threads_db.fork(db, chat, "run/fork", main.id)
    assert await threads_db.fork(db, chat, "run/fork", main.id) == fork, "idempotent by key"
    c = await say(main.id, "c", "c")  # the parent goes on: not the fork's
    d = await say(fork.id, "d", "d")
    other = await threads_db.ensure(db, chat, "run/reviewer")
    e = await say(other.id, "e", "e")

    def ids(messages: list) -> list[str]:
        return [m.id for m in messages]

    assert ids(await messages_db.thread_transcript(db, main.id)) == [a, b, c]
    assert ids(await messages_db.thread_transcript(db, fork.id)) == [a, b, d]
    assert ids(await messages_db.thread_transcript(db, other.id)) == [e]
    assert ids(await messages_db.transcript(db, chat)) == [a, b, c, d, e]

    async def ordinal(message_id: str) -> int:
        message = await messages_db.get(db, message_id)
        assert message is not None and message.ordinal is not None
        return message.ordinal

    # Compacting the parent after the fork leaves the fork as it was; compacting the fork replaces
    # what came before the message it keeps with the summary.
    main_summary = await say(main.id, "main-summary", "a, b and c")
    await threads_db.compact(db, main.id, summary_id=main_summary, keep_from=await ordinal(c))
    assert ids(await messages_db.thread_transcript(db, main.id)) == [main_summary, c]
    assert ids(await messages_db.thread_transcript(db, fork.id)) == [a, b, d]
    summary = await say(fork.id, "summary", "what happened so far")
    await threads_db.compact(db, fork.id, summary_id=summary, keep_from=await ordinal(d))
    f = await say(fork.id, "f", "f")
    assert ids(await messages_db.thread_transcript(db, fork.id)) == [summary, d, f]
    # A fork of a compacted thread reads its summary too.
    late = await threads_db.fork(db, chat, "run/late", fork.id)
    assert ids(await messages_db.thread_transcript(db, late.id)) == [summary, d, f]


async def test_a_transcript_read_again_is_the_same_as_read_afresh_even_after_postgres_lost_commits(
    migrated_db: Database,
) -> None:
    """Model calls read their thread's transcript again and again: the worker asks only for what came
    after its last read, which must never differ from reading it all (compaction, a rollback, and
    Postgres losing its newest commits in a crash included)."""
    db = migrated_db
    chat = await new_chat(db)
    main = await threads_db.main(db, chat)
    assert main is not None

    async def say(words: str) -> str:
        message, _ = await messages_db.store_turn(
            db, chat, turn=None, step=words, thread_id=main.id, role=Role.USER, blocks=text(words)
        )
        return message.id

    async def read() -> list[str]:
        return [m.id for m in await messages_db.thread_transcript(db, main.id)]

    a = await say("a")
    assert await read() == [a]
    b, c = await say("b"), await say("c")
    assert await read() == [a, b, c]
    summary = await say("summary")
    kept = await messages_db.get(db, c)
    assert kept is not None and kept.ordinal is not None
    await threads_db.compact(db, main.id, summary_id=summary, keep_from=kept.ordinal)
    assert await read() == [summary, c]
    d = await say("d")
    assert await read() == [summary, c, d], "the summary stands first, once"
    e = await say("e")
    assert await read() == [summary, c, d, e]

    # A crash after an asynchronous commit loses the newest messages; the next takes e's ordinal.
    await db.execute("DELETE FROM content_blocks WHERE message_id = %s", (e,))
    await db.execute("DELETE FROM messages WHERE id = %s", (e,))
    f = await say("f")
    assert await read() == [summary, c, d, f]

    # A transaction's own read of what it then rolls back leaves no trace.
    with pytest.raises(RuntimeError):
        async with db.tx() as tx:
            g, _ = await messages_db.store_turn(
                tx, chat, turn=None, step="g", thread_id=main.id, role=Role.USER, blocks=text("g")
            )
            assert [m.id for m in await messages_db.thread_transcript(tx, main.id)][-1] == g.id
            raise RuntimeError("roll back")
    assert await read() == [summary, c, d, f]
    h = await say("h")
    assert await read() == [summary, c, d, f, h]


async def test_transcripts_remembered_stay_under_their_bound_and_reads_stay_right(
    migrated_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = migrated_db
    monkeypatch.setattr(messages_db, "MAX_REMEMBERED_BYTES", 4_000)
    chats = [await new_chat(db) for _ in range(3)]
    threads = [await threads_db.main(db, chat) for chat in chats]
    written: list[list[str]] = [[], [], []]
    for round_ in range(4):
        for i, (chat, thread) in enumerate(zip(chats, threads, strict=True)):
            assert thread is not None
            message, _ = await messages_db.store_turn(
                db, chat, turn=None, step=f"s{round_}", thread_id=thread.id, role=Role.USER, blocks=text("x" * 500)
            )
            written[i].append(message.id)
            assert [m.id for m in await messages_db.thread_transcript(db, thread.id)] == written[i]
            assert messages_db._remembered_bytes <= 4_000


async def test_two_threads_may_call_tools_with_the_same_id(migrated_db: Database) -> None:
    db = migrated_db
    chat = await new_chat(db)
    main = await threads_db.main(db, chat)
    other = await threads_db.ensure(db, chat, "run/reviewer")
    assert main is not None
    call = tool_runs_db.PlannedCall("call_1_0", "shell", {"command": "true"}, False, 0)
    keyed = tool_runs_db.PlannedCall(
        "call_1_0", "view", {"path": "a"}, True, 0, key=tool_runs_db.call_key("call_1_0", other.id, main=False)
    )
    await tool_runs_db.plan(db, chat, 1, [call])
    await tool_runs_db.plan(db, chat, 2, [keyed], thread_id=other.id)
    runs = await tool_runs_db.for_chat(db, chat)
    assert {k: (r.tool_name, r.thread_id) for k, r in runs.items()} == {
        "call_1_0": ("shell", main.id),
        f"call_1_0@{other.id}": ("view", other.id),
    }
    # A model that numbers its calls from 0 again (its thread was compacted) gets keys of its own turn.
    assert await tool_runs_db.unused_keys(db, chat, 3, ["call_1_0", "call_1_1"]) == ["call_1_0@turn3", "call_1_1"]
    assert await tool_runs_db.unused_keys(db, chat, 1, ["call_1_0"]) == ["call_1_0"], "a retry keeps its own"
    await tool_runs_db.begin(db, chat, f"call_1_0@{other.id}")
    assert (await tool_runs_db.get(db, chat, "call_1_0")).state is ToolState.PENDING  # type: ignore[union-attr]
    assert sorted(await tool_runs_db.unanswered_threads(db, chat)) == sorted([main.id, other.id])
    await messages_db.store_turn(db, chat, turn=1, role=Role.TOOL, blocks=[ContentBlock(BlockType.TOOL_RESULT, "ok")])
    assert await tool_runs_db.unanswered_threads(db, chat) == [other.id]


async def test_a_run_keeps_the_definition_it_started_with(migrated_db: Database) -> None:
    db = migrated_db
    chat = await new_chat(db)
    main = await threads_db.main(db, chat)
    record = RunRecord(
        id=str(uuid.uuid4()),
        chat_id=chat,
        workflow="tdd",
        source="builtin/tdd.yaml",
        workflow_text=PinnedText("tdd", "builtin/tdd.yaml", "name: tdd\n"),
        presets=(PinnedText("implementer", "builtin/presets/implementer.yaml", "system: build\n"),),
        inputs={"task": "x"},
        thread_id=main.id if main else None,
    )
    assert await runs_db.create(db, record) and not await runs_db.create(db, record)
    assert await runs_db.finish(db, record.id, RunOutcome.DONE, outputs={"passed": True})
    assert not await runs_db.finish(db, record.id, RunOutcome.FAILED, error="late")
    [stored] = await runs_db.for_chat(db, chat)
    assert stored.workflow_text == record.workflow_text and stored.presets == record.presets
    assert (stored.status, stored.outputs, stored.inputs) == (RunOutcome.DONE, {"passed": True}, {"task": "x"})


async def test_a_chat_names_its_workflow(migrated_db: Database) -> None:
    project = await projects_db.create(migrated_db, name="p", daemon_id=f"d-{uuid.uuid4().hex[:6]}", path="/tmp/w")
    chat = await chats_db.create(
        migrated_db, project_id=project.id, model="scripted:demo", workflow="tdd", workflow_inputs={"task": "t"}
    )
    assert (chat.workflow, chat.workflow_inputs) == ("tdd", {"task": "t"})
    assert await threads_db.main(migrated_db, chat.id) is not None
    assert await chats_db.set_workflow(migrated_db, chat.id, "review", {"task": "u"})
    again = await chats_db.get(migrated_db, chat.id)
    assert again is not None and (again.workflow, again.workflow_inputs) == ("review", {"task": "u"})
