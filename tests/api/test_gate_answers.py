"""Answers to approvals and questions, as a careless client sends them over ConnectRPC to a real
worker: one too large for the chat's workflow to hold is refused naming the field, and the chat still
takes a proper answer and goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from embedded.ports import free_port
from reliant.domain.chat import Approval, ChatInfo
from reliant.wire.v1 import control_pb2 as cpb
from reliant.wire.v1.control_connect import ApprovalServiceClient, QuestionServiceClient
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env

SHELL = {"name": "shell", "input": {"command": "echo answered >> effects"}}
ASK = {"name": "ask_user", "input": {"questions": [{"question": "Which?", "choices": ["a", "b"]}]}}
HUGE = "x" * 3_000_000  # past the 2 MB of payloads a workflow task may write


def api(env: AgentEnv) -> tuple[str, dict[str, str]]:
    """The api's URL and the headers that sign a request in."""
    return f"http://127.0.0.1:{env.settings.api_port}", {"authorization": f"Bearer {env.settings.api_token}"}


async def waiting_shell(env: AgentEnv, project_id: str) -> tuple[ChatInfo, Approval]:
    """A manual-mode chat of the project whose SHELL call waits for the user's approval."""
    gated = await env.chats.create_chat(project_id, env.script([{"tools": [SHELL]}, {"text": "done"}]))
    await env.chats.set_mode(gated.id, "manual")
    await env.chats.send(gated.id, "go")
    return gated, await env.pending_approval(gated.id)


@pytest.mark.timeout(180)
async def test_an_answer_too_large_for_the_workflow_is_refused_and_the_chat_goes_on(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        url, headers = api(env)
        project = await env.chats.create_project(str(env.workspace), daemon_id=env.settings.daemon_id)
        asking = await env.chats.create_chat(project.id, env.script([{"tools": [ASK]}, {"text": "noted"}]))
        await env.chats.send(asking.id, "go")
        gated, approval = await waiting_shell(env, project.id)
        [question] = await eventually(lambda: env.gates.pending_questions(asking.id), timeout=30)

        async with QuestionServiceClient(url) as questions, ApprovalServiceClient(url) as approvals:
            with pytest.raises(ConnectError) as refused:
                request = cpb.AnswerQuestionRequest(question_id=question.id, answers=[HUGE])
                await questions.answer_question(request, headers=headers)
            assert refused.value.code == Code.INVALID_ARGUMENT and "answers[0]" in refused.value.message
            with pytest.raises(ConnectError) as refused:
                request = cpb.ApproveRequest(approval_id=approval.id, scope="prefix", command_prefix=HUGE)
                await approvals.approve(request, headers=headers)
            assert refused.value.code == Code.INVALID_ARGUMENT and "command_prefix" in refused.value.message

            await questions.answer_question(
                cpb.AnswerQuestionRequest(question_id=question.id, answers=["a"]), headers=headers
            )
            await approvals.approve(cpb.ApproveRequest(approval_id=approval.id), headers=headers)
        await env.finished(asking.id, timeout=30)
        await env.finished(gated.id, timeout=30)
        assert (env.workspace / "effects").read_text() == "answered\n"


@pytest.mark.timeout(180)
async def test_a_prefix_approval_allows_only_commands_that_start_as_the_approved_one(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        url, headers = api(env)
        project = await env.chats.create_project(str(env.workspace), daemon_id=env.settings.daemon_id)
        gated, approval = await waiting_shell(env, project.id)

        async with ApprovalServiceClient(url) as approvals:
            for prefix, said in (
                ("rm -rf", "is not the start of the command 'echo answered >> effects'"),
                ("ech", "is not the start of the command"),  # a policy of it would not cover `echo`
                (" ", ""),
            ):
                with pytest.raises(ConnectError) as refused:
                    request = cpb.ApproveRequest(approval_id=approval.id, scope="prefix", command_prefix=prefix)
                    await approvals.approve(request, headers=headers)
                assert refused.value.code == Code.INVALID_ARGUMENT, refused.value
                assert "command_prefix" in refused.value.message and said in refused.value.message
            assert [a.id for a in await env.gates.pending_approvals(gated.id)] == [approval.id], "still waiting"
            stored = "SELECT 1 FROM approval_policies WHERE project_id = %s"
            assert not await env.db.fetch(stored, (project.id,)), "no policy was stored"

            request = cpb.ApproveRequest(approval_id=approval.id, scope="prefix", command_prefix="echo ")
            await approvals.approve(request, headers=headers)
        await env.finished(gated.id, timeout=30)
        assert (env.workspace / "effects").read_text() == "answered\n"
        [policy] = await env.db.fetch(
            "SELECT tool_name, command_prefix FROM approval_policies WHERE project_id = %s", (project.id,)
        )
        assert (policy["tool_name"], policy["command_prefix"]) == ("shell", "echo")
