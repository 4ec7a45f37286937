"""`reliant chat` and `reliant chats`: talk to a running reliant over ConnectRPC and render the
update stream in the terminal."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf.json_format import MessageToDict

from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1 import control_pb2 as cpb
from reliant.wire.v1.chat_connect import ChatServiceClientSync, ProjectServiceClientSync
from reliant.wire.v1.control_connect import ApprovalServiceClientSync, QuestionServiceClientSync

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PAUSED = 2
EXIT_GATE = 3  # --wait-for-gate: an approval or a question waits for an answer


class CliError(Exception):
    """A one-line error for the user; the CLI prints it and exits 1."""


@dataclass
class Api:
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def chats(self) -> ChatServiceClientSync:
        return ChatServiceClientSync(self.url, proto_json=True, timeout_ms=30_000)

    def projects(self) -> ProjectServiceClientSync:
        return ProjectServiceClientSync(self.url, proto_json=True, timeout_ms=30_000)

    def approvals(self) -> ApprovalServiceClientSync:
        return ApprovalServiceClientSync(self.url, proto_json=True, timeout_ms=30_000)

    def questions(self) -> QuestionServiceClientSync:
        return QuestionServiceClientSync(self.url, proto_json=True, timeout_ms=30_000)


def _summary(tool: str, args: dict[str, Any]) -> str:
    """One line saying what a tool call does."""
    for key in ("command", "path", "pattern", "url", "query"):
        if key in args:
            text = str(args[key]).replace("\n", " ")
            return f"{tool} {text[:100]}"
    return tool


def find_or_create_project(api: Api, path: str) -> pb.Project:
    wanted = os.path.realpath(path)
    with api.projects() as projects:
        for project in projects.list_projects(pb.ListProjectsRequest(), headers=api.headers).projects:
            if project.path == wanted:
                return project
        return projects.create_project(pb.CreateProjectRequest(path=wanted), headers=api.headers)


@dataclass
class StreamedText:
    """The text of the answers being streamed, put together from their deltas. A delta replayed
    after a reconnect (told by message_id, index and offset) adds nothing; one that comes after a
    gap is left out, and the stored message (message_completed) supplies whatever was missed."""

    texts: dict[tuple[str, int], str] = field(default_factory=dict)  # (message_id, index) -> text
    latest: dict[int, str] = field(default_factory=dict)  # turn -> message_id of its latest attempt

    def started(self, payload: dict[str, Any]) -> None:
        self.latest[int(payload.get("turn", 0))] = str(payload.get("message_id", ""))

    def delta(self, payload: dict[str, Any]) -> str:
        """The part of the delta's text not seen yet."""
        key = (str(payload.get("message_id", "")), int(payload.get("index", 0)))
        have = self.texts.get(key, "")
        text = str(payload.get("text", ""))
        offset = int(payload.get("offset", len(have)))
        if offset > len(have):
            return ""  # a gap: the stored message fills it in
        new = text[len(have) - offset :]
        self.texts[key] = have + new
        return new

    def rest(self, message: dict[str, Any]) -> str:
        """What the stored message has beyond the text already shown for its turn."""
        message_id = self.latest.pop(int(message.get("turn") or 0), "")
        out = []
        for index, block in enumerate(message.get("blocks") or []):
            if block.get("type") != "text":
                continue
            shown = self.texts.pop((message_id, index), "")
            text = str(block.get("text", ""))
            if text.startswith(shown):
                out.append(text[len(shown) :])
        return "".join(out)


@dataclass
class Renderer:
    """Prints updates as they stream: text as it arrives, one line per tool call."""

    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    color: bool = field(default_factory=sys.stdout.isatty)
    at_line_start: bool = True
    streamed: StreamedText = field(default_factory=StreamedText)

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.color else text

    def _newline(self) -> None:
        if not self.at_line_start:
            self.out.write("\n")
            self.at_line_start = True

    def write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.at_line_start = text.endswith("\n")
            self.out.flush()

    def update(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "message_started":
            self.streamed.started(payload)
        elif kind == "block_delta" and payload.get("type") == "text":
            self.write(self.streamed.delta(payload))
        elif kind == "tool_started":
            self._newline()
            self.write(f"● {_summary(str(payload.get('tool_name')), dict(payload.get('input') or {}))}\n")
        elif kind == "tool_finished":
            status = payload.get("status", "")
            seconds = float(payload.get("duration_ms", 0)) / 1000
            exit_code = (payload.get("data") or {}).get("exit_code")
            detail = f" exit {int(exit_code)}" if exit_code is not None else ""
            problem = f": {payload.get('error')}" if payload.get("error") else ""
            self.write(self._dim(f"  └ {status}{detail} ({seconds:.2f}s){problem}") + "\n")
            if exit_code not in (None, 0):  # a failing command: its last lines say why
                tail = str(payload.get("output", "")).rstrip().splitlines()[-6:]
                self.write("".join(self._dim(f"    {line[:200]}") + "\n" for line in tail))
        elif kind == "retry_wait":
            self._newline()
            self.err.write(f"waiting {float(payload.get('seconds', 0)):.0f}s: {payload.get('reason', '')}\n")
        elif kind == "message_aborted":
            self._newline()
            self.write(self._dim(f"({payload.get('reason') or 'stopped'})") + "\n")
        elif kind == "message_completed":
            self.write(self.streamed.rest(dict(payload.get("message") or {})))
            self._newline()
        elif kind == "error":
            self._newline()
            self.err.write(f"error: {payload.get('message', '')}\n")


def follow(
    api: Api,
    chat_id: str,
    since_seq: int,
    done: Callable[[str, dict[str, Any]], int | None],
    renderer: Renderer,
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
            if exc.code not in (Code.UNAVAILABLE, Code.UNKNOWN, Code.INTERNAL, Code.CANCELED):
                raise CliError(exc.message) from None
        gave_up_at = gave_up_at or time.monotonic() + reconnect_for
        if time.monotonic() > gave_up_at:
            raise CliError(f"lost the connection to {api.url} and could not reconnect")
        time.sleep(0.5)


def _stream(api: Api, chat_id: str, since: int) -> Iterator[pb.ChatUpdate]:
    with ChatServiceClientSync(api.url, proto_json=True) as client:
        yield from client.stream_updates(pb.StreamUpdatesRequest(chat_id=chat_id, since_seq=since), headers=api.headers)


@dataclass
class Gates:
    """What `reliant chat` does when the chat waits for the user: ask in the terminal, or exit 3
    (--wait-for-gate) so a script can answer with `reliant approvals` / `reliant answer`."""

    api: Api
    renderer: Renderer
    interactive: bool
    wait_for_gate: bool
    read: Callable[[str], str] = input

    def on_update(self, kind: str, payload: dict[str, Any]) -> int | None:
        if kind not in ("approval_requested", "question_asked"):
            return None
        self.renderer.write("\n" if not self.renderer.at_line_start else "")
        if kind == "approval_requested":
            summary = _summary(str(payload.get("tool_name")), dict(payload.get("input") or {}))
            hint = f"reliant approvals approve {payload.get('approval_id')}"
            if self.wait_for_gate or not self.interactive:
                self.renderer.err.write(f"waiting for approval of {summary}: {hint} (or deny)\n")
                return EXIT_GATE if self.wait_for_gate else None
            self._ask_approval(str(payload.get("approval_id")), summary, payload)
        else:
            hint = f"reliant answer {payload.get('question_id')} ANSWER..."
            if self.wait_for_gate or not self.interactive:
                self.renderer.err.write(f"the model asks a question: {hint}\n")
                return EXIT_GATE if self.wait_for_gate else None
            self._ask_question(str(payload.get("question_id")), list(payload.get("questions") or []))
        return None

    def _ask_approval(self, approval_id: str, summary: str, payload: dict[str, Any]) -> None:
        self.renderer.write(f"? allow {summary}\n")
        if payload.get("tool_name") == "edit":
            tool_input = dict(payload.get("input") or {})
            self.renderer.write(f"  - {tool_input.get('old_string', '')}\n  + {tool_input.get('new_string', '')}\n")
        while True:
            choice = self.read("  [y]es, [a]lways in this chat, [p]roject-wide, [n]o: ").strip().lower()
            with self.api.approvals() as approvals:
                if choice in ("y", "yes", "a", "p"):
                    scope = {"a": "chat", "p": "project"}.get(choice, "")
                    approvals.approve(
                        cpb.ApproveRequest(approval_id=approval_id, scope=scope), headers=self.api.headers
                    )
                    return
                if choice in ("n", "no"):
                    why = self.read("  tell the model why (optional): ")
                    approvals.deny(cpb.DenyRequest(approval_id=approval_id, message=why), headers=self.api.headers)
                    return

    def _ask_question(self, question_id: str, questions: list[dict[str, Any]]) -> None:
        answers = []
        for item in questions:
            self.renderer.write(f"? {item.get('question', '')}\n")
            choices = [str(c) for c in item.get("choices") or []]
            for i, choice in enumerate(choices, 1):
                self.renderer.write(f"  {i}. {choice}\n")
            reply = self.read("  > ").strip()
            if reply.isdigit() and 1 <= int(reply) <= len(choices):
                reply = choices[int(reply) - 1]
            answers.append(reply)
        with self.api.questions() as client:
            client.answer_question(
                cpb.AnswerQuestionRequest(question_id=question_id, answers=answers), headers=self.api.headers
            )


def pending_gates(api: Api, chat_id: str) -> int:
    with api.approvals() as approvals, api.questions() as questions:
        waiting = approvals.list_pending_approvals(
            cpb.ListPendingApprovalsRequest(chat_id=chat_id), headers=api.headers
        )
        asked = questions.list_pending_questions(cpb.ListPendingQuestionsRequest(chat_id=chat_id), headers=api.headers)
    return len(waiting.approvals) + len(asked.questions)


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
) -> int:
    with api.chats() as chats:
        if chat_id:
            chat = chats.get_chat(pb.GetChatRequest(id=chat_id), headers=api.headers)
        else:
            if project is None:
                raise CliError("a new chat needs a project")
            chat = chats.create_chat(pb.CreateChatRequest(project_id=project.id, model=model), headers=api.headers)
            renderer.err.write(f"chat {chat.id} ({chat.model}) in {project.path}\n")
        if mode and mode != chat.mode:
            chat = chats.set_mode(pb.SetModeRequest(chat_id=chat.id, mode=mode), headers=api.headers)
        if gates is not None and gates.wait_for_gate and chat.pending_gates:
            renderer.err.write("the chat already waits for an answer: see `reliant approvals`\n")
            return EXIT_GATE
        if not message:  # follow the chat until its turn ends
            if chat.status == "idle":
                return EXIT_OK
            mine = ""
        else:
            sent = chats.send_message(
                pb.SendMessageRequest(chat_id=chat.id, text=message, model=model if chat_id else ""),
                headers=api.headers,
            )
            mine = sent.message_id
            for attached in sent.attachments:  # `@path` in the message: say what did not attach
                if attached.kind == "error":
                    renderer.err.write(f"@{attached.path} not attached: {attached.error}\n")
                elif attached.truncated:
                    renderer.err.write(f"@{attached.path} attached in part: it is longer than the limit\n")
    admitted = not mine

    def done(kind: str, payload: dict[str, Any]) -> int | None:
        nonlocal admitted
        if gates is not None and (code := gates.on_update(kind, payload)) is not None:
            return code
        if kind == "message_created" and (payload.get("message") or {}).get("id") == mine:
            admitted = True
        elif kind == "chat_status":
            status, reason = payload.get("status"), payload.get("reason", "")
            if status == "paused":
                renderer.err.write(f"\npaused: {reason}\n")
                return EXIT_PAUSED
            if status == "failed":
                renderer.err.write(f"\nfailed: {reason}\n")
                return EXIT_FAILED
            if status == "idle" and admitted:
                if reason:
                    renderer.err.write(f"\n{reason}\n")
                return EXIT_OK
        return None

    return follow(api, chat.id, chat.last_seq, done, renderer)


def list_chats(api: Api, out: TextIO) -> None:
    with api.chats() as chats:
        listed = chats.list_chats(pb.ListChatsRequest(), headers=api.headers).chats
    if not listed:
        out.write("no chats yet: start one with `reliant chat MESSAGE`\n")
        return
    for chat in listed:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(chat.updated_unix))
        out.write(
            f"{chat.id}  {chat.status:<7} {when}  ${chat.usage.cost_usd:.4f}  {chat.model:<24} {chat.title[:60]}\n"
        )


def list_gates(api: Api, chat_id: str, out: TextIO) -> None:
    with api.approvals() as approvals, api.questions() as questions:
        waiting = approvals.list_pending_approvals(
            cpb.ListPendingApprovalsRequest(chat_id=chat_id), headers=api.headers
        )
        asked = questions.list_pending_questions(cpb.ListPendingQuestionsRequest(chat_id=chat_id), headers=api.headers)
    if not waiting.approvals and not asked.questions:
        out.write("nothing waits for an answer\n")
    for a in waiting.approvals:
        tool_input = MessageToDict(a.input)
        out.write(f"approval {a.id}  chat {a.chat_id} ({a.chat_title[:40]})\n  {_summary(a.tool_name, tool_input)}\n")
    for q in asked.questions:
        out.write(f"question {q.id}  chat {q.chat_id} ({q.chat_title[:40]})\n")
        for item in q.questions:
            choices = f"  [{' | '.join(item.choices)}]" if item.choices else ""
            out.write(f"  ? {item.question}{choices}\n")


def answer_approval(
    api: Api, approval_id: str, *, approve: bool, scope: str = "", prefix: str = "", message: str = ""
) -> None:
    with api.approvals() as approvals:
        if approve:
            approvals.approve(
                cpb.ApproveRequest(approval_id=approval_id, scope=scope, command_prefix=prefix), headers=api.headers
            )
        else:
            approvals.deny(cpb.DenyRequest(approval_id=approval_id, message=message), headers=api.headers)


def answer_question(api: Api, question_id: str, answers: list[str]) -> None:
    with api.questions() as questions:
        questions.answer_question(
            cpb.AnswerQuestionRequest(question_id=question_id, answers=answers), headers=api.headers
        )
