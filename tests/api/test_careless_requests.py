"""Every RPC of every service, sent the requests a careless client makes — empty and malformed ids,
negative and extreme numbers, enormous strings, unknown names — one field at a time on top of a
request with real ids (so the call reaches the service, the workflow and the daemon): none gets a
5xx, `unknown` or `internal`, and none hangs."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from embedded.ports import free_port
from reliant.wire.v1 import chat_pb2, workspace_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient
from reliant.wire.v1.workspace_connect import TerminalServiceClient, WorktreeServiceClient
from tests.api.malformed import BYTES, INTS, STRINGS, methods, path_of, streaming
from tests.api.test_malformed_requests import SERVER_FAULTS, end_of_stream
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env

F = FieldDescriptor
HUGE = "x" * 1_100_000  # past NATS's 1 MB message limit, which daemon requests travel through
ANSWER_WITHIN = 45.0  # seconds: the slowest legitimate answer (an MCP restart, git) is well under
SHELL = {"name": "shell", "input": {"command": "echo careless >> effects"}}
ASK = {"name": "ask_user", "input": {"questions": [{"question": "Which?", "choices": ["a", "b"]}]}}


def careless_values(field: FieldDescriptor) -> Iterator[tuple[str, Any]]:
    if field.is_repeated and field.type in STRINGS:
        yield from [("no items", []), ("an empty item", [""]), ("a huge item", [HUGE]), ("many items", ["a"] * 10_000)]
    elif field.is_repeated and field.type == F.TYPE_MESSAGE:
        item = message_factory.GetMessageClass(field.message_type)
        yield from [("no items", []), ("an empty item", [item()]), ("many empty items", [item()] * 2000)]
    elif field.type in STRINGS:
        yield from [
            ("empty", ""),
            ("blank", "   "),
            ("not an id", "not-a-uuid"),
            ("an unknown UUID", str(uuid.uuid4())),
            ("a path out of the workspace", "../../../../etc/passwd"),
            ("an unknown name", "turbo"),
            ("non-ASCII", "é☃𝄞"),
            ("huge", HUGE),
        ]
    elif field.type in INTS:
        wide = field.type in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64)
        low, high = (-(2**63), 2**63 - 1) if wide else (-(2**31), 2**31 - 1)
        yield from [("zero", 0), ("minus one", -1), ("the lowest", low), ("the highest", high)]
    elif field.type in BYTES:
        yield from [("empty", b""), ("huge", b"\xff" * 1_100_000)]
    elif field.type == F.TYPE_BOOL:
        yield ("true", True)


@dataclass
class Baseline:
    """Real ids, so that a request with one careless field still reaches deep."""

    project_id: str
    chat_id: str
    terminal_id: str
    approval_id: str
    question_id: str
    worktree_id: str

    def request(self, method: MethodDescriptor) -> Message:
        message = message_factory.GetMessageClass(method.input_type)()
        values = {
            "project_id": self.project_id,
            "chat_id": self.chat_id,
            "terminal_id": self.terminal_id,
            "approval_id": self.approval_id,
            "question_id": self.question_id,
            "worktree_id": self.worktree_id,
            "id": self.project_id if method.name == "GetProject" else self.chat_id,
            "text": "hello",
            "path": "notes.txt",
            "to": "renamed.txt",
            "query": "hello",
            "name": "careless",
        }
        for name, value in values.items():
            if name in method.input_type.fields_by_name and not (method.name == "DeleteChat" and name == "id"):
                setattr(message, name, value)
        return message


def requests(baseline: Baseline) -> Iterator[tuple[MethodDescriptor, str, Message]]:
    for method in methods():
        for field in method.input_type.fields:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                continue  # a map (its keys and values are strings the RPC checks itself)
            for label, value in careless_values(field):
                message = baseline.request(method)
                message.ClearField(field.name)
                if field.is_repeated:
                    getattr(message, field.name).extend(value)
                else:
                    setattr(message, field.name, value)
                yield method, f"{field.name}: {label}", message


async def call(client: httpx.AsyncClient, env: AgentEnv, method: MethodDescriptor, message: Message) -> str:
    """What is wrong with the answer ("" if nothing): a server fault, or no answer in time."""
    url = f"http://127.0.0.1:{env.settings.api_port}{path_of(method)}"
    headers = {"authorization": f"Bearer {env.settings.api_token}"}
    data = message.SerializeToString()
    try:
        if not streaming(method):
            response = await client.post(url, content=data, headers={**headers, "content-type": "application/proto"})
            code = ""
            if response.status_code != 200:
                code = str(json.loads(response.content or b"{}").get("code", ""))
            bad = response.status_code >= 500 or code in SERVER_FAULTS
            return f"HTTP {response.status_code} {code} {response.text[:150]!r}" if bad else ""
        body = struct.pack(">BI", 0, len(data)) + data
        stream_headers = {**headers, "content-type": "application/connect+proto"}
        async with client.stream("POST", url, content=body, headers=stream_headers) as response:
            received = b""
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) >= 5 and len(received) >= 5 + struct.unpack(">I", received[1:5])[0]:
                    break  # one whole envelope: a message, or the end of the stream
            code, text = end_of_stream(received) if received[:1] == b"\x02" else ("", "")
            bad = response.status_code >= 500 or code in SERVER_FAULTS
            return f"HTTP {response.status_code} {code} {text[:150]!r}" if bad else ""
    except httpx.TimeoutException:
        return f"no answer within {ANSWER_WITHIN:.0f}s"


async def baseline(env: AgentEnv, url: str, headers: dict[str, str]) -> Baseline:
    """A project (a git repository with a worktree), a chat, a terminal, and a pending approval and
    question in chats of their own."""
    (env.workspace / "notes.txt").write_text("hello\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(env.workspace)]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "start"]):
        await (await asyncio.create_subprocess_exec(*git, *args)).wait()
    project = await env.chats.create_project(str(env.workspace), daemon_id=env.settings.daemon_id)
    chat = await env.chats.create_chat(project.id, env.script([{"text": "fine"}] * 50))
    gated = await env.chats.create_chat(project.id, env.script([{"tools": [SHELL]}, {"text": "done"}]))
    await env.chats.set_mode(gated.id, "manual")
    await env.chats.send(gated.id, "go")
    asking = await env.chats.create_chat(project.id, env.script([{"tools": [ASK]}, {"text": "noted"}]))
    await env.chats.send(asking.id, "go")
    async with TerminalServiceClient(url) as terminals, WorktreeServiceClient(url) as worktrees:
        terminal = await terminals.open_terminal(
            workspace_pb2.OpenTerminalRequest(project_id=project.id, command=["sleep", "600"]), headers=headers
        )
        worktree = await worktrees.create_worktree(
            workspace_pb2.CreateWorktreeRequest(project_id=project.id, name="careless"), headers=headers
        )
    approval = await env.pending_approval(gated.id)
    question = await eventually(lambda: env.gates.pending_questions(asking.id))
    return Baseline(project.id, chat.id, terminal.id, approval.id, question[0].id, worktree.id)


@pytest.mark.timeout(900)
async def test_careless_requests_get_no_server_error_and_never_hang(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        url = f"http://127.0.0.1:{env.settings.api_port}"
        headers = {"authorization": f"Bearer {env.settings.api_token}"}
        chat_id = (start := await baseline(env, url, headers)).chat_id
        cases = list(requests(start))
        assert {m.full_name for m, _, _ in cases} == {m.full_name for m in methods() if m.input_type.fields}
        failures: list[str] = []
        gate = asyncio.Semaphore(4)
        async with httpx.AsyncClient(timeout=ANSWER_WITHIN, limits=httpx.Limits(max_connections=4)) as client:

            async def check(method: MethodDescriptor, name: str, message: Message) -> None:
                async with gate:
                    problem = await call(client, env, method, message)
                if problem:
                    failures.append(f"{path_of(method)} [{name}]: {problem}")

            await asyncio.gather(*(check(*case) for case in cases))
        async with ChatServiceClient(url) as chats:  # and the api still answers
            assert (await chats.get_chat(chat_pb2.GetChatRequest(id=chat_id), headers=headers)).id == chat_id
    summary = "\n".join(sorted(failures)[:60])
    assert not failures, f"{len(failures)} of {len(cases)} careless requests went wrong:\n{summary}"
