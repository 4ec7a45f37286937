"""Upgrades keep running chats: chats made by the agent loop of the release before workflows (its
workflow code, verbatim in agent_before_workflows.py) — one waiting on an approval, one paused, one
idle — go on under the new worker: the approval is answered, the paused chat resumes, and each takes
its next message on the Chat workflow (handed over at that message). Their histories replay."""

from __future__ import annotations

from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Replayer

from reliant.db import messages as messages_db
from reliant.domain.chat import ChatInfo, Role
from reliant.domain.workflows import AGENT_WORKFLOW, SIGNAL_USER_MESSAGE, AgentInput, AgentState
from reliant.worker.chat_workflow import ChatWorkflow
from reliant.worker.role import WorkerRole
from reliant.worker.workflows import AgentWorkflow
from tests.conftest import Infra
from tests.support import RoleRunner, eventually
from tests.worker.agent_before_workflows import AgentBeforeWorkflows
from tests.worker.agent_env import AgentEnv, agent_env
from tests.worker.test_histories import BEFORE_WORKFLOWS, RECORD


async def send_the_old_way(env: AgentEnv, chat: ChatInfo, text: str) -> None:
    """What the api did then: queue the message and signal-with-start the Agent workflow."""
    message = await messages_db.enqueue_user(env.db, chat.id, text)
    turn = await messages_db.last_turn(env.db, chat.id)
    await env.client.start_workflow(
        AGENT_WORKFLOW,
        AgentInput(chat_id=chat.id, state=AgentState(turn=turn, mode=chat.mode.value)),
        id=f"chat-{chat.id}",
        task_queue=env.settings.temporal_task_queue,
        start_signal=SIGNAL_USER_MESSAGE,
        start_signal_args=[message.id],
    )


async def workflow_types(client: Client, chat_id: str) -> list[str]:
    """The workflow type of each run of the chat's workflow, oldest first."""
    found = [(e.start_time, e.workflow_type) async for e in client.list_workflows(f"WorkflowId = 'chat-{chat_id}'")]
    return [kind for _, kind in sorted(found)]


async def test_chats_of_the_release_before_workflows_go_on_after_the_upgrade(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, workflows=[AgentBeforeWorkflows]) as env:
        shell = {"name": "shell", "input": {"command": "echo approved >> effects.log"}}
        slow = {"name": "shell", "input": {"command": "echo slow >> effects.log; sleep 2"}}
        waiting = await env.new_chat(env.script([{"tools": [shell]}, {"text": "ran it"}, {"text": "on the engine"}]))
        await env.chats.set_mode(waiting.id, "manual")
        waiting = await env.chats.chat(waiting.id)
        paused = await env.new_chat(env.script([{"tools": [slow]}, {"text": "resumed"}, {"text": "on the engine"}]))
        idle = await env.new_chat(env.script([{"text": "first answer"}, {"text": "on the engine"}]))

        await send_the_old_way(env, waiting, "run the command")
        pending = await env.pending_approval(waiting.id)
        await send_the_old_way(env, paused, "be slow")
        await eventually(lambda: (env.workspace / "effects.log").exists() or None, timeout=30)
        await env.chats.pause(paused.id)
        await env.status(paused.id, "paused")
        await send_the_old_way(env, idle, "hello")
        await env.finished(idle.id)
        for chat in (waiting, paused, idle):
            assert await workflow_types(env.client, chat.id) == [AGENT_WORKFLOW]
        if RECORD:  # the histories a data dir of that release holds, for test_histories.py
            BEFORE_WORKFLOWS.mkdir(exist_ok=True)
            for name, chat in (("waiting", waiting), ("paused", paused), ("idle", idle)):
                history = await env.client.get_workflow_handle(f"chat-{chat.id}").fetch_history()
                (BEFORE_WORKFLOWS / f"{name}.json").write_text(history.to_json())

        # The upgrade: the old worker stops, the new one (every workflow of this release) takes over.
        await env.worker.stop()
        async with RoleRunner(WorkerRole(env.settings)):
            await env.gates.approve(pending.id)
            await env.finished(waiting.id)
            await env.chats.resume(paused.id)
            await env.finished(paused.id)
            assert (env.workspace / "effects.log").read_text().split() == ["slow", "approved"]

            for chat in (waiting, paused, idle):
                await env.chats.send(chat.id, "and now?")
                await env.finished(chat.id)
                transcript = await messages_db.transcript(env.db, chat.id)
                assert transcript[-1].role is Role.ASSISTANT and transcript[-1].text() == "on the engine"
                assert [m.text() for m in transcript if m.role is Role.USER][-1] == "and now?"
                assert await workflow_types(env.client, chat.id) == [AGENT_WORKFLOW, "Chat"], "handed over"
                kinds = [u.kind for u in await env.updates(chat.id)]
                assert kinds.count("run_started") == 1 and kinds.count("run_finished") == 1
                seqs = [u.seq for u in await env.updates(chat.id)]
                assert seqs == list(range(1, len(seqs) + 1))

            # Every run's history, the old ones included, replays with this release's code.
            replayer = Replayer(workflows=[AgentWorkflow, ChatWorkflow], data_converter=env.client.data_converter)
            for chat in (waiting, paused, idle):
                async for execution in env.client.list_workflows(f"WorkflowId = 'chat-{chat.id}'"):
                    handle = env.client.get_workflow_handle(execution.id, run_id=execution.run_id)
                    history = await handle.fetch_history()
                    failed = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                    assert not [e for e in history.events if e.event_type == failed], execution.workflow_type
                    await replayer.replay_workflow(history)
