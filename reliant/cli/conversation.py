"""`reliant chat`: send a message (or follow a chat) over ConnectRPC and draw its updates until
the turn ends (reliant.cli.render draws; reliant.cli.gates asks what the chat waits for)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TextIO

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf.json_format import MessageToDict
from rich.text import Text

from reliant.cli import ids, tool_lines
from reliant.cli.api import Api, CliError
from reliant.cli.gates import EXIT_GATE, Gates
from reliant.cli.render import Renderer
from reliant.cli.shown import printable
from reliant.cli.transcript import draw, turn_so_far
from reliant.wire.v1 import agent_pb2 as apb
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1 import control_pb2 as cpb
from reliant.wire.v1.agent_connect import AgentServiceClientSync
from reliant.wire.v1.chat_connect import ChatServiceClientSync

__all__ = ["EXIT_GATE", "Api", "CliError", "Gates", "Renderer"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PAUSED = 2

Confirm = Callable[[str], bool]  # a yes/no question in the terminal (No by default)


def find_or_create_project(api: Api, path: str, daemon_id: str = "") -> pb.Project:
    """The project at `path` (on `daemon_id`, when given), registered if it is not yet: on that
    daemon, else on the online daemon whose workspaces hold it."""
    wanted = os.path.realpath(path)
    with api.projects() as projects:
        for project in projects.list_projects(pb.ListProjectsRequest(), headers=api.headers).projects:
            if project.path == wanted and (not daemon_id or project.daemon_id == daemon_id):
                return project
        request = pb.CreateProjectRequest(path=wanted, daemon_id=daemon_id)
        return projects.create_project(request, headers=api.headers)


# The api sends a keepalive on an idle stream every 10 s (reliant.api.streaming.KEEPALIVE): one
# silent for this long has an api that stopped answering (a frozen process, a network gone quiet).
STREAM_SILENCE = 30.0
# What ends a stream that following reconnects after: the api restarting, or going silent.
RECONNECT_CODES = (Code.UNAVAILABLE, Code.UNKNOWN, Code.INTERNAL, Code.CANCELED, Code.DEADLINE_EXCEEDED)


class Drawer(Protocol):
    """What `follow` hands each update to (a Renderer, or one that keeps some updates from it)."""

    def update(self, kind: str, payload: dict[str, Any]) -> None: ...


def follow(
    api: Api,
    chat_id: str,
    since_seq: int,
    done: Callable[[str, dict[str, Any]], int | None],
    renderer: Drawer,
    *,
    reconnect_for: float = 60.0,
) -> int:
    """Stream the chat's updates from `since_seq` until `done` returns an exit code; reconnect
    (from the last seq seen) if the connection drops. The answer in progress has no seq: a
    reconnect replays it, and the renderer shows only what it had not shown."""
    last = since_seq
    gave_up_at: float | None = None
    while True:
        try:
            for update in _stream(api, chat_id, last):
                gave_up_at = None
                if update.seq:
                    last = update.seq
                payload = MessageToDict(update.payload)
                renderer.update(update.kind, payload)
                code = done(update.kind, payload)
                if code is not None:
                    return code
        except ConnectError as exc:
            if exc.code not in RECONNECT_CODES:
                raise CliError(exc.message) from None
        gave_up_at = gave_up_at or time.monotonic() + reconnect_for
        if time.monotonic() > gave_up_at:
            raise CliError(f"lost the connection to {api.url} and could not reconnect")
        time.sleep(0.5)


def _stream(api: Api, chat_id: str, since: int) -> Iterator[pb.ChatUpdate]:
    """The chat's updates from `since`; a stream silent for STREAM_SILENCE seconds ends in
    DEADLINE_EXCEEDED (the default transport would wait on a silent socket for ever)."""
    from pyqwest import SyncClient, SyncHTTPTransport

    # As the default transport, with the system's CAs (and SSL_CERT_FILE), plus a read timeout.
    with (
        SyncHTTPTransport(read_timeout=STREAM_SILENCE, tls_include_system_certs=True) as transport,
        ChatServiceClientSync(api.url, proto_json=True, http_client=SyncClient(transport)) as client,
    ):
        yield from client.stream_updates(pb.StreamUpdatesRequest(chat_id=chat_id, since_seq=since), headers=api.headers)


def run_chat(
    api: Api,
    *,
    message: str,
    chat_id: str,
    project: pb.Project | None,
    model: str,
    renderer: Renderer,
    mode: str = "",
    gates: Gates | None = None,
    confirm: Confirm | None = None,
    resume: bool = False,
    interrupt: bool = False,
) -> int:
    """Send `message` (or, without one, follow the chat's running turn) and draw the chat until the
    turn ends; returns the exit code. `confirm` asks the user (a terminal), e.g. to resume a pause;
    `resume` resumes a paused chat without asking (and refuses one that is not paused);
    `interrupt` stops the running turn and sends `message` in its place."""
    # Following a chat: its stored turn is read before its status, so a turn that ends in between
    # shows either in the status read next (idle) or in the stream that starts from this listing.
    so_far = turn_so_far(api, chat_id) if chat_id and not message else None
    with api.chats() as chats:
        if chat_id:
            chat = chats.get_chat(pb.GetChatRequest(id=chat_id), headers=api.headers)
        else:
            if project is None:
                raise CliError("a new chat needs a project")
            chat = chats.create_chat(pb.CreateChatRequest(project_id=project.id, model=model), headers=api.headers)
            renderer.note(f"chat {chat.id} ({chat.model}) in {project.path}")
        if mode and mode != chat.mode:
            chat = chats.set_mode(pb.SetModeRequest(chat_id=chat.id, mode=mode), headers=api.headers)
    short = ids.short_ids([chat.id])[chat.id]
    if resume and chat.status != "paused":
        raise CliError(f"chat {short} is {chat.status}, not paused: there is nothing to resume")
    if gates is not None:
        gates.chat_id = chat.id
        if gates.wait_for_gate and chat.pending_gates:
            renderer.note("the chat already waits for an answer: see `reliant approvals`")
            return EXIT_GATE
    if message:
        since, mine = _send(api, chat, message, model if chat_id else "", renderer, interrupt=interrupt), True
    else:
        if chat.status == "idle":  # its last turn, as it ended, and what to do next
            assert so_far is not None
            draw(renderer, so_far.messages)
            renderer.settle()
            renderer.note(
                f"chat {short} is idle: its last turn is over. Send it a message with"
                f" `reliant chat --chat {short} MESSAGE`, or read all of it with `reliant show {short}`"
            )
            return EXIT_OK
        if chat.status == "failed":
            renderer.note(Text(f"chat {short} failed: {chat.status_reason}", style="red"))
            return EXIT_FAILED
        assert so_far is not None
        draw(renderer, so_far.messages)
        _meet_agents(api, chat.id, renderer)
        since, mine = so_far.resume_seq, False
    paused = chat.status == "paused" and not interrupt
    if paused and not _resumed(api, chat, short, renderer, confirm, ask_first=not resume, waiting=bool(message)):
        return EXIT_PAUSED
    admitted = not mine
    if gates is not None and chat.status == "waiting":
        for kind, payload in gates.waiting():
            if (code := gates.on_update(kind, payload)) is not None:
                return code

    def done(kind: str, payload: dict[str, Any]) -> int | None:
        nonlocal admitted
        if gates is not None and (code := gates.on_update(kind, payload)) is not None:
            return code
        if kind == "message_created" and (payload.get("message") or {}).get("id") in renderer.skip_messages:
            admitted = True
        elif kind == "chat_status":
            status = payload.get("status")
            if status == "paused":
                return EXIT_PAUSED
            if status == "failed":
                return EXIT_FAILED
            if status == "idle" and admitted:
                return EXIT_OK
        return None

    code = follow(api, chat.id, since, done, renderer)
    renderer.settle()
    return code


def _meet_agents(api: Api, chat_id: str, renderer: Renderer) -> None:
    """Following a turn already running: the agents it spawned before are known, so their updates
    from here on show as their lives, not as the chat's own."""
    with AgentServiceClientSync(api.url, proto_json=True, timeout_ms=30_000) as agents:
        listed = agents.list_agents(apb.ListAgentsRequest(chat_id=chat_id), headers=api.headers).agents
    for agent in listed:
        renderer.scope.meet(MessageToDict(agent, preserving_proto_field_name=True))


def _send(api: Api, chat: pb.Chat, message: str, model: str, renderer: Renderer, *, interrupt: bool = False) -> int:
    """Send the user's message (in place of the running turn's, with `interrupt`); returns the seq to
    follow the chat from."""
    with api.chats() as chats:
        if interrupt:
            sent = chats.interrupt_chat(pb.InterruptChatRequest(chat_id=chat.id, text=message), headers=api.headers)
        else:
            sent = chats.send_message(
                pb.SendMessageRequest(chat_id=chat.id, text=message, model=model), headers=api.headers
            )
    renderer.skip_messages.add(sent.message_id)  # it is on the command line already
    for attached in sent.attachments:  # `@path` in the message: say what did not attach
        if attached.kind == "error":
            renderer.note(f"@{attached.path} not attached: {attached.error}")
        elif attached.truncated:
            renderer.note(f"@{attached.path} attached in part: it is longer than the limit")
    return chat.last_seq


def _resumed(
    api: Api,
    chat: pb.Chat,
    short: str,
    renderer: Renderer,
    confirm: Confirm | None,
    *,
    ask_first: bool,
    waiting: bool,
) -> bool:
    """A paused chat: say so and why and offer to resume it (unless not `ask_first`).
    True once resumed."""
    if ask_first:
        renderer.note(Text(f"chat {short} is paused: {chat.status_reason or 'paused by the user'}", style="yellow"))
        if confirm is None or not confirm("Resume it now?"):
            also = "; your message waits for it" if waiting else ""
            renderer.note(f"resume it with `reliant resume {short}`, or stop it with `reliant stop {short}`{also}")
            return False
    with api.chats() as chats:
        chats.resume_chat(pb.ResumeChatRequest(chat_id=chat.id), headers=api.headers)
    renderer.note(Text(f"resumed chat {short}", style="bright_black"))
    return True


def list_gates(api: Api, chat_id: str, out: TextIO) -> None:
    with api.approvals() as approvals, api.questions() as questions:
        waiting = approvals.list_pending_approvals(
            cpb.ListPendingApprovalsRequest(chat_id=chat_id), headers=api.headers
        )
        asked = questions.list_pending_questions(cpb.ListPendingQuestionsRequest(chat_id=chat_id), headers=api.headers)
    if not waiting.approvals and not asked.questions:
        out.write("nothing waits for an answer\n")
    gate_ids = ids.short_ids([a.id for a in waiting.approvals] + [q.id for q in asked.questions])
    chat_ids = ids.short_ids(sorted({a.chat_id for a in waiting.approvals} | {q.chat_id for q in asked.questions}))
    for a in waiting.approvals:
        title = printable(a.chat_title[:40])
        if a.kind == "node":  # a workflow's approval node: `reliant approvals choose ID CHOICE`
            out.write(f"approval {a.id}  chat {a.chat_id} ({title})\n")
            question, choices = printable(a.question), printable(" | ".join(a.choices))
            out.write(f"  ? {question}  [{choices}]  (workflow node {printable(a.node)})\n")
            continue
        asks = "".join(f"  {line}\n" for line in tool_lines.whole(a.tool_name, MessageToDict(a.input)))
        out.write(f"approval {gate_ids[a.id]}  chat {chat_ids[a.chat_id]} ({title}){_agent_of(a.agent)}\n{asks}")
    for q in asked.questions:
        title = printable(q.chat_title[:40])
        out.write(f"question {gate_ids[q.id]}  chat {chat_ids[q.chat_id]} ({title}){_agent_of(q.agent)}\n")
        for item in q.questions:
            choices = f"  [{printable(' | '.join(item.choices))}]" if item.choices else ""
            out.write(f"  ? {printable(item.question)}{choices}\n")


def _agent_of(tag: cpb.AgentTag) -> str:
    """Which sub-agent waits (its answer goes to that agent only); nothing for the chat's own."""
    if not tag.agent_id:
        return ""
    return f"  agent {printable(tag.name)} ({tag.agent_id[:8]}): {printable(tag.task[:60])}"


def answer_approval(
    api: Api, approval_id: str, *, approve: bool, scope: str = "", prefix: str = "", message: str = ""
) -> None:
    approval_id = ids.approval_id(api, approval_id)
    with api.approvals() as approvals:
        try:
            if approve:
                approvals.approve(
                    cpb.ApproveRequest(approval_id=approval_id, scope=scope, command_prefix=prefix), headers=api.headers
                )
            else:
                approvals.deny(cpb.DenyRequest(approval_id=approval_id, message=message), headers=api.headers)
        except ConnectError as exc:
            if exc.code != Code.INVALID_ARGUMENT:
                raise
            listed = approvals.list_pending_approvals(cpb.ListPendingApprovalsRequest(), headers=api.headers)
            node = next((a for a in listed.approvals if a.id == approval_id and a.kind == "node"), None)
            if node is None:
                raise
            raise CliError(
                f"approval {approval_id} is a workflow's question ({node.question}), not a tool call: answer it with"
                f" `reliant approvals choose {approval_id} CHOICE`, CHOICE one of {', '.join(node.choices)}"
            ) from None


def answer_question(api: Api, question_id: str, answers: list[str]) -> None:
    question_id = ids.question_id(api, question_id)
    with api.questions() as questions:
        questions.answer_question(
            cpb.AnswerQuestionRequest(question_id=question_id, answers=answers), headers=api.headers
        )
