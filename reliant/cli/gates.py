"""What `reliant chat` does when the chat waits for the user: ask in the terminal, or exit 3
(--wait-for-gate) so a script can answer with `reliant approvals` / `reliant answer`.

A question asked here never goes stale: while it waits for a key, the chat's pending approvals (or
questions) are checked, and once the same one is answered elsewhere (the web UI, `reliant approvals
approve`) the question goes away, the stream goes on and says how it was answered. An answer that
loses the race to another client is not an error either: the other answer stands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf.json_format import MessageToDict
from rich.text import Text

from reliant.cli import tool_lines
from reliant.cli.api import Api
from reliant.cli.keyboard import Keyboard
from reliant.cli.render import MARK, Renderer
from reliant.wire.v1 import control_pb2 as cpb

EXIT_GATE = 3  # --wait-for-gate: an approval or a question waits for an answer
CHECK_EVERY = 0.5  # seconds between checks that a question shown here is still pending
LOST_RACE = (Code.FAILED_PRECONDITION, Code.NOT_FOUND)


@dataclass
class StillPending:
    """Whether a gate is still waiting, checked at most every CHECK_EVERY seconds."""

    lookup: Callable[[], set[str]]  # the ids of what is pending now
    gate_id: str
    checked_at: float = 0.0
    answered: bool = False

    def answered_elsewhere(self) -> bool:
        now = time.monotonic()
        if not self.answered and now - self.checked_at >= CHECK_EVERY:
            self.checked_at = now
            try:
                self.answered = self.gate_id not in self.lookup()
            except ConnectError:
                pass  # the api is unreachable this instant: keep asking
        return self.answered


@dataclass
class Gates:
    api: Api
    renderer: Renderer
    interactive: bool
    wait_for_gate: bool
    keyboard: Keyboard | None = None
    chat_id: str = ""
    handled: set[str] = field(default_factory=set)  # gates asked (or answered) already

    def on_update(self, kind: str, payload: Mapping[str, Any]) -> int | None:
        if kind in ("approval_resolved", "question_answered"):
            self.handled.add(str(payload.get("approval_id") or payload.get("question_id") or ""))
            return None
        if kind not in ("approval_requested", "question_asked"):
            return None
        gate_id = str(payload.get("approval_id") or payload.get("question_id") or "")
        if gate_id in self.handled:
            return None
        self.handled.add(gate_id)
        if kind == "approval_requested":
            summary = tool_lines.summary(str(payload.get("tool_name")), dict(payload.get("input") or {}))
            agent = payload.get("agent")
            if isinstance(agent, Mapping):  # a sub-agent waits: the answer goes to it
                summary += f" (agent {agent.get('name')})"
            if self.wait_for_gate or self.keyboard is None or not self.interactive:
                hint = f"reliant approvals approve {gate_id}"
                self.renderer.note(f"waiting for approval of {summary}: {hint} (or deny)")
                return EXIT_GATE if self.wait_for_gate else None
            self._ask_approval(self.keyboard, gate_id, payload)
        else:
            if self.wait_for_gate or self.keyboard is None or not self.interactive:
                self.renderer.note(f"the model asks a question: reliant answer {gate_id} ANSWER...")
                return EXIT_GATE if self.wait_for_gate else None
            self._ask_question(self.keyboard, gate_id, list(payload.get("questions") or []))
        return None

    def waiting(self) -> list[tuple[str, dict[str, Any]]]:
        """What the chat waits for now, as the updates that asked it (to ask when following starts)."""
        with self.api.approvals() as approvals, self.api.questions() as questions:
            listed = approvals.list_pending_approvals(
                cpb.ListPendingApprovalsRequest(chat_id=self.chat_id), headers=self.api.headers
            )
            asked = questions.list_pending_questions(
                cpb.ListPendingQuestionsRequest(chat_id=self.chat_id), headers=self.api.headers
            )
        found: list[tuple[str, dict[str, Any]]] = [
            (
                "approval_requested",
                {
                    "approval_id": a.id,
                    "tool_call_id": a.tool_call_id,
                    "tool_name": a.tool_name,
                    "input": MessageToDict(a.input),
                    **_agent(a.agent),
                },
            )
            for a in listed.approvals
        ]
        found += [
            (
                "question_asked",
                {
                    "question_id": q.id,
                    "tool_call_id": q.tool_call_id,
                    "questions": [{"question": i.question, "choices": list(i.choices)} for i in q.questions],
                    **_agent(q.agent),
                },
            )
            for q in asked.questions
        ]
        return found

    def confirm(self, question: str) -> bool:
        """A yes/no question (No unless `y` is pressed)."""
        if self.keyboard is None:
            return False
        self.keyboard.discard()
        self.renderer.prompt(Text(f"? {question} [y/N] ", style="bold yellow"))
        yes = self.keyboard.key(lambda: False) == "y"
        self.renderer.end_prompt(Text(f"? {question} {'yes' if yes else 'no'}", style="bright_black"))
        return yes

    # -- approvals ----------------------------------------------------------------------------------

    def _pending_approvals(self) -> set[str]:
        with self.api.approvals() as approvals:
            listed = approvals.list_pending_approvals(
                cpb.ListPendingApprovalsRequest(chat_id=self.chat_id), headers=self.api.headers
            )
        return {a.id for a in listed.approvals}

    def _ask_approval(self, keyboard: Keyboard, approval_id: str, payload: Mapping[str, Any]) -> None:
        r = self.renderer
        tool, tool_input = str(payload.get("tool_name")), dict(payload.get("input") or {})
        first, *more = tool_lines.whole(tool, tool_input)  # uncut: what is approved is what is shown
        name, _, rest = first.partition(" ")
        r.line(Text("? allow ", style="bold yellow") + Text(name, style="bold") + Text(f" {rest}" if rest else ""))
        for line in more:
            r.line(Text(line))
        for text in tool_lines.edit_preview(tool, tool_input):
            r.line(text)
        pending = StillPending(self._pending_approvals, approval_id)
        keyboard.discard()
        r.prompt(Text(f"  [y]es, [a]lways in this chat, [p]roject-wide, [n]o {MARK} ", style="yellow"))
        while True:
            key = keyboard.key(pending.answered_elsewhere)
            if key is None:
                r.end_prompt()  # answered elsewhere: the approval_resolved update says how
                return
            if key in ("y", "a", "p"):
                scope = {"a": "chat", "p": "project"}.get(key, "")
                r.end_prompt(
                    Text(
                        {
                            "y": f"  {MARK} yes",
                            "a": f"  {MARK} always, in this chat",
                            "p": f"  {MARK} always, in this project",
                        }[key],
                        style="bright_black",
                    )
                )
                self._answer(approval_id, cpb.ApproveRequest(approval_id=approval_id, scope=scope))
                return
            if key == "n":
                r.end_prompt(Text(f"  {MARK} no", style="bright_black"))
                r.prompt(Text("  tell the model why (optional): ", style="yellow"))
                why = keyboard.line(pending.answered_elsewhere)
                r.at_line_start = True  # the line was echoed with its Enter
                if why is None:
                    r.end_prompt()
                    return
                self._answer(approval_id, cpb.DenyRequest(approval_id=approval_id, message=why))
                return

    def _answer(self, approval_id: str, request: cpb.ApproveRequest | cpb.DenyRequest) -> None:
        self.renderer.answered_here.add(approval_id)
        try:
            with self.api.approvals() as approvals:
                if isinstance(request, cpb.ApproveRequest):
                    approvals.approve(request, headers=self.api.headers)
                else:
                    approvals.deny(request, headers=self.api.headers)
        except ConnectError as exc:
            if exc.code not in LOST_RACE:
                raise
            self.renderer.answered_here.discard(approval_id)  # another answer came first: it stands

    # -- questions ----------------------------------------------------------------------------------

    def _pending_questions(self) -> set[str]:
        with self.api.questions() as questions:
            listed = questions.list_pending_questions(
                cpb.ListPendingQuestionsRequest(chat_id=self.chat_id), headers=self.api.headers
            )
        return {q.id for q in listed.questions}

    def _ask_question(self, keyboard: Keyboard, question_id: str, questions: list[Mapping[str, Any]]) -> None:
        r = self.renderer
        pending = StillPending(self._pending_questions, question_id)
        answers = []
        keyboard.discard()
        for item in questions:
            r.line(Text(f"? {item.get('question', '')}", style="bold yellow"))
            choices = [str(c) for c in item.get("choices") or []]
            for i, choice in enumerate(choices, 1):
                r.line(f"  {i}. {choice}")
            r.prompt(Text(f"  {MARK} ", style="yellow"))
            reply = keyboard.line(pending.answered_elsewhere)
            r.at_line_start = True
            if reply is None:
                r.end_prompt()
                return
            reply = reply.strip()
            if reply.isdigit() and 1 <= int(reply) <= len(choices):
                reply = choices[int(reply) - 1]
            answers.append(reply)
        r.answered_here.add(question_id)
        try:
            with self.api.questions() as client:
                client.answer_question(
                    cpb.AnswerQuestionRequest(question_id=question_id, answers=answers), headers=self.api.headers
                )
        except ConnectError as exc:
            if exc.code not in LOST_RACE:
                raise
            r.answered_here.discard(question_id)


def _agent(tag: cpb.AgentTag) -> dict[str, Any]:
    """A listed gate's sub-agent as the update that asked it names it (nothing for the chat's own)."""
    return {"agent": {"agent_id": tag.agent_id, "name": tag.name, "task": tag.task}} if tag.agent_id else {}
