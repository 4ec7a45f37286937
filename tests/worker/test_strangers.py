"""A local user without the codec key, armed with the `temporal` CLI against reliant's Temporal
(which has no authentication): cannot approve, change a chat's mode, stop or pause it, cannot read
what its history holds, and leaves nothing stuck behind."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from embedded.temporal import default_binary
from reliant.clients.codec import CodecKey
from reliant.db import messages as messages_db
from reliant.domain.workflows import AGENT_WORKFLOW, SIGNAL_USER_MESSAGE, AgentInput, AgentState
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import agent_env


@dataclass
class Ran:
    returncode: int
    output: str


async def temporal_cli(infra: Infra, *args: str) -> Ran:
    """The `temporal` CLI as any local user would run it: no key, no credentials."""
    proc = await asyncio.create_subprocess_exec(
        str(default_binary()),
        *args,
        "--address",
        infra.temporal_address,
        "--namespace",
        "reliant",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(errors="replace"))


def readable(output: str) -> str:
    """The CLI's output with every base64 field decoded too, so plaintext shows however it is shown."""
    decoded = []
    for blob in re.findall(r'"([A-Za-z0-9+/=]{8,})"', output):
        try:
            decoded.append(base64.b64decode(blob, validate=True).decode("utf-8", "replace"))
        except ValueError:
            continue
    return output + "\n" + "\n".join(decoded)


async def settled(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    """The history once a workflow task has completed after its last signal: what the stranger sent
    has been processed."""

    async def done() -> list[Any] | None:
        events = [e async for e in handle.fetch_history_events()]
        signals = [e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
        tasks = [e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
        return events if tasks and (not signals or tasks[-1] > signals[-1]) else None

    return await eventually(done, timeout=20)


async def test_without_the_key_nobody_approves_switches_mode_stops_or_reads(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path) as env:
        shell = {"name": "shell", "input": {"command": "echo approved-and-ran >> out"}}
        chat = await env.new_chat(env.script([{"tools": [shell]}, {"text": "done"}]))
        await env.chats.set_mode(chat.id, "manual")
        sent = await env.chats.send(chat.id, "run the secret-plan command")
        pending = await env.pending_approval(chat.id)
        workflow_id = f"chat-{chat.id}"
        handle = env.client.get_workflow_handle(workflow_id)

        target = ("--workflow-id", workflow_id)
        answer = json.dumps({"tool_call_id": pending.tool_call_id, "decision": "approve"})
        update = await temporal_cli(
            infra, "workflow", "update", "execute", *target, "--name", "answer_approval", "--input", answer
        )
        assert update.returncode != 0, update.output
        bare = await temporal_cli(infra, "workflow", "update", "execute", *target, "--name", "answer_approval")
        assert bare.returncode != 0, bare.output
        signals = [["set_mode", "--input", '"auto"'], ["cancel"], ["pause"], ["cancel", "--input", '""']]
        signals += [["user_message"], ["interrupt"], ["set_mode"], ["resume", "--input", '"a"', "--input", '"b"']]
        for name, *given in signals:
            signalled = await temporal_cli(infra, "workflow", "signal", *target, "--name", name, *given)
            assert signalled.returncode == 0, signalled.output  # Temporal takes it; the workflow does not
        events = await settled(handle)

        state = await handle.query("state")
        assert state["mode"] == "manual" and not state["cancelling"] and not state["paused"]
        assert state["waiting_approvals"] == [pending.tool_call_id]
        assert [a.id for a in await env.gates.pending_approvals(chat.id)] == [pending.id]
        assert not (env.workspace / "out").exists()
        failed = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert not failed, "a foreign payload must not fail the workflow task (it would retry forever)"

        # The chat goes on: reliant itself still approves, and the tool runs once.
        await env.gates.approve(pending.id)
        await env.finished(chat.id)
        assert (env.workspace / "out").read_text() == "approved-and-ran\n"

        # Its history, read without the key, holds none of the chat's contents.
        shown = await temporal_cli(infra, "workflow", "show", *target, "--output", "json")
        assert shown.returncode == 0, shown.output
        assert "answer_approval" in shown.output and "binary/encrypted" in readable(shown.output)
        text = readable(shown.output)
        contents = [sent.message.id, pending.tool_call_id, "secret-plan", "approved-and-ran", '"approve"', "manual"]
        for secret in [*contents, str(env.workspace)]:
            assert secret not in text, secret


async def test_a_workflow_started_with_a_foreign_input_fails_at_once_and_the_chat_still_answers(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path) as env:
        chat = await env.new_chat(env.script([{"text": "hello from the real chat"}]))
        forged = json.dumps({"chat_id": chat.id, "state": {"mode": "auto"}})
        started = await temporal_cli(
            infra,
            "workflow",
            "start",
            "--type",
            AGENT_WORKFLOW,
            "--task-queue",
            env.settings.temporal_task_queue,
            "--workflow-id",
            f"chat-{chat.id}",
            "--input",
            forged,
        )
        assert started.returncode == 0, started.output
        handle = env.client.get_workflow_handle(f"chat-{chat.id}")

        async def failed() -> bool:
            return (await handle.describe()).status == WorkflowExecutionStatus.FAILED

        await eventually(failed, timeout=20)
        await env.chats.send(chat.id, "hi")
        await env.finished(chat.id)
        assert "hello from the real chat" in json.dumps([u.payload for u in await env.updates(chat.id)])


async def test_runs_started_before_the_key_go_on_and_only_they_take_plaintext(
    infra: Infra, tmp_path: Path, fresh_database_url: str
) -> None:
    """An upgrade: a data dir whose Temporal holds a chat started without the codec, waiting for a
    worker. The worker with the new key finishes it; a plaintext run started after the key fails."""
    queue = f"legacy-{uuid.uuid4().hex[:8]}"
    plain = await Client.connect(infra.temporal_address, namespace="reliant")
    key_file = tmp_path / "codec_key"
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    before = {"temporal_task_queue": f"{queue}-setup", "database_url": fresh_database_url}
    async with agent_env(infra, tmp_path / "before", **before) as setup:
        old_chat = await setup.new_chat(
            setup.script([{"text": "answered the old run"}, {"text": "and the new one"}], in_project=True)
        )
        new_chat = await setup.new_chat(setup.script([{"text": "never"}], in_project=True))
        old_message = await messages_db.enqueue_user(setup.db, old_chat.id, "from before the upgrade")
        new_message = await messages_db.enqueue_user(setup.db, new_chat.id, "after the upgrade")
        # As a release from before any key: it remembered none (the setup's own key is the tests').
        await setup.db.execute("DELETE FROM codec_key")

    async def start_plain(chat_id: str, message_id: str) -> WorkflowHandle[Any, Any]:
        return await plain.start_workflow(
            AGENT_WORKFLOW,
            AgentInput(chat_id=chat_id, state=AgentState(turn=0, mode="auto")),
            id=f"chat-{chat_id}",
            task_queue=queue,
            start_signal=SIGNAL_USER_MESSAGE,
            start_signal_args=[message_id],
        )

    await start_plain(old_chat.id, old_message.id)  # as reliant did before payloads were sealed
    await asyncio.sleep(0.01)
    key_file.write_text(CodecKey(CodecKey.generate().key, legacy_before=time.time()).to_text())
    await asyncio.sleep(0.01)
    late = await start_plain(new_chat.id, new_message.id)

    after = {"temporal_task_queue": queue, "daemon_id": setup.settings.daemon_id, "database_url": fresh_database_url}
    async with agent_env(infra, tmp_path / "after", codec_key="", codec_key_file=str(key_file), **after) as env:
        await env.finished(old_chat.id)
        # A message sent now is sealed, and the old run, plaintext and sealed mixed, takes it too.
        await env.chats.send(old_chat.id, "and now?")
        await env.finished(old_chat.id)
        said = json.dumps([u.payload for u in await env.updates(old_chat.id)])
        assert "answered the old run" in said and "and the new one" in said
        history = await env.client.get_workflow_handle(f"chat-{old_chat.id}").fetch_history()
        assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]

        async def failed() -> bool:
            return (await late.describe()).status == WorkflowExecutionStatus.FAILED

        await eventually(failed, timeout=20)
        assert "never" not in json.dumps([u.payload for u in await env.updates(new_chat.id)])
