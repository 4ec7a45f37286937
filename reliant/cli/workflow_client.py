"""What `reliant workflow list|show|run` and `reliant chat --workflow` do against a running reliant:
list and show definitions (WorkflowService), type `--input key=value` by the definition's declared
inputs, start a chat on a workflow, and draw a run's progress (its nodes) and its approval nodes in
the terminal beside the chat's own lines."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from connectrpc.errors import ConnectError
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from rich.text import Text

from reliant.cli.agent_scope import one_line, value_text
from reliant.cli.api import Api, CliError
from reliant.cli.gates import EXIT_GATE, LOST_RACE, Gates, StillPending
from reliant.cli.keyboard import Keyboard
from reliant.cli.render import MARK, Renderer, agent_tag
from reliant.cli.shown import revealing
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1 import control_pb2 as cpb
from reliant.wire.v1 import workflow_pb2 as wpb
from reliant.wire.v1.workflow_connect import WorkflowServiceClientSync

TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")


def workflows(api: Api) -> WorkflowServiceClientSync:
    return WorkflowServiceClientSync(api.url, proto_json=True, timeout_ms=30_000)


def get(api: Api, name: str, project_id: str = "") -> wpb.Workflow:
    with workflows(api) as client:
        return client.get_workflow(wpb.GetWorkflowRequest(project_id=project_id, name=name), headers=api.headers)


# -- inputs ----------------------------------------------------------------------------------------


def _default(spec: wpb.WorkflowInput) -> Any:
    return MessageToDict(spec).get("default") if spec.HasField("default") else None


def typed_inputs(flow: wpb.Workflow, pairs: Iterable[str]) -> dict[str, Any]:
    """`--input key=value` typed by the workflow's declared inputs; a CliError names the input, the
    value and the type it needed. Inputs left out keep their defaults (the api says which are missing)."""
    specs = {i.name: i for i in flow.inputs}
    known = ", ".join(specs) or "none"
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f"--input takes key=value, not {pair!r}")
        spec = specs.get(key)
        if spec is None:
            raise CliError(f"--input {key}: workflow {flow.name} has no input {key!r} (its inputs: {known})")
        values[key] = _typed(spec, text)
    missing = [s for s in flow.inputs if s.required and s.name not in values]
    if missing:
        first = missing[0]
        about = f" ({first.description})" if first.description else ""
        raise CliError(f"--input {first.name}=… is required by workflow {flow.name}{about}")
    return values


def _typed(spec: wpb.WorkflowInput, text: str) -> Any:
    def wrong(expected: str) -> CliError:
        return CliError(f"--input {spec.name}={text}: {spec.name} is {expected}")

    if spec.type == "integer":
        try:
            return int(text)
        except ValueError:
            raise wrong("an integer") from None
    if spec.type == "number":
        try:
            number = float(text)
        except ValueError:
            raise wrong("a number") from None
        if not math.isfinite(number):
            raise wrong("a finite number")
        return number
    if spec.type == "boolean":
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise wrong("true or false")
    if spec.type == "enum" and text not in spec.values:
        raise wrong(f"one of {', '.join(spec.values)}")
    return text


def create_chat(
    api: Api, project: pb.Project, flow: wpb.Workflow, inputs: Mapping[str, Any], model: str = ""
) -> pb.Chat:
    request = pb.CreateChatRequest(project_id=project.id, model=model, workflow=flow.name)
    if inputs:
        given = Struct()
        given.update(dict(inputs))
        request.inputs.CopyFrom(given)
    with api.chats() as chats:
        return chats.create_chat(request, headers=api.headers)


def first_message(flow: wpb.Workflow, inputs: Mapping[str, Any]) -> str:
    """What starts a run when the user gave no message: the `task` input when there is one."""
    task = inputs.get("task")
    if isinstance(task, str) and task.strip():
        return task
    return f"Run the {flow.name} workflow."


# -- list and show ---------------------------------------------------------------------------------


def input_line(spec: wpb.WorkflowInput) -> str:
    kind = f"{spec.type} ({' | '.join(spec.values)})" if spec.type == "enum" else spec.type
    need = "required" if spec.required else f"default {value_text(_default(spec))}"
    about = f"  {spec.description}" if spec.description else ""
    return f"{spec.name}: {kind}, {need}{about}"


def print_list(listed: wpb.ListWorkflowsResponse, out: TextIO) -> None:
    with revealing(out) as out:
        width = max((len(w.name) for w in listed.workflows), default=4)
        for w in listed.workflows:
            where = "builtin" if w.origin == "builtin" else w.source
            state = ""
            if not w.used:
                state = "  (shadowed by the project's file)"
            elif w.shadows:
                state = f"  (shadows {w.shadows})"
            out.write(f"{w.name:<{width}}  {where}{state}\n")
            if w.description:
                out.write(f"{'':<{width}}  {w.description}\n")
            if w.inputs:
                shown = ", ".join(i.name + ("*" if i.required else "") for i in w.inputs)
                out.write(f"{'':<{width}}  inputs: {shown}\n")
            if w.problems:
                out.write(
                    f"{'':<{width}}  cannot run: {w.error}"
                    + (f" (+{w.problems - 1} more)" if w.problems > 1 else "")
                    + "\n"
                )
        if any(i.required for w in listed.workflows for i in w.inputs):
            out.write("(* required input)\n")
        if listed.note:
            out.write(f"note: {listed.note}\n")
        for problem in listed.problems:
            out.write(f"problem: {problem}\n")


def _tree(nodes: Iterable[wpb.WorkflowNode], out: TextIO, prefix: str = "") -> None:
    items = list(nodes)
    for i, node in enumerate(items):
        last = i == len(items) - 1
        branch = f"[{node.branch}] " if node.branch else ""
        entry = "▸ " if node.entry else ""
        detail = f"  {node.detail}" if node.detail else ""
        preset = f"  (preset {node.preset})" if node.preset else ""
        nxt = f"  → {' | '.join(node.next)}" if node.next else ""
        out.write(f"{prefix}{'└─' if last else '├─'} {entry}{branch}{node.id} · {node.kind}{preset}{detail}{nxt}\n")
        _tree(node.children, out, prefix + ("   " if last else "│  "))


def print_show(flow: wpb.Workflow, out: TextIO, *, source: bool = True) -> None:
    with revealing(out) as out:
        out.write(f"{flow.name}  ({'builtin' if flow.origin == 'builtin' else flow.source})\n")
        if flow.description:
            out.write(f"{flow.description}\n")
        if flow.note:
            out.write(f"note: {flow.note}\n")
        out.write("\ninputs:\n" if flow.inputs else "\ninputs: none\n")
        for spec in flow.inputs:
            out.write(f"  {input_line(spec)}\n")
        if flow.outputs:
            out.write("outputs:\n")
            for output in flow.outputs:
                out.write(f"  {output.name} = {output.expression}\n")
        out.write("nodes:\n")
        _tree(flow.nodes, out, "  ")
        for problem in flow.problems:
            out.write(f"problem: {problem.source}:{problem.line}:{problem.column}: {problem.message}\n")
        if source:
            out.write(f"\n--- {flow.source}\n{flow.text}")
            if not flow.text.endswith("\n"):
                out.write("\n")


# -- a run in the terminal -------------------------------------------------------------------------

NODE_MARKS = {"running": "◦", "done": "✓", "failed": "✗", "skipped": "-", "cancelled": "■"}


def node_line(kind: str, payload: Mapping[str, Any]) -> str:
    """One line about a run's progress ("" for what is not worth a line)."""
    if kind == "run_started":
        parent = f" for node {payload.get('node')}" if payload.get("parent_run_id") else ""
        note = f" ({payload.get('note')})" if payload.get("note") else ""
        return f"▶ workflow {payload.get('workflow', '')}{parent} · {payload.get('source', '')}{note}"
    if kind == "run_finished":
        status = str(payload.get("status", ""))
        outputs = payload.get("outputs") or {}
        shown = (
            ", ".join(f"{k}={one_line(value_text(v), 60)}" for k, v in outputs.items())
            if isinstance(outputs, dict)
            else ""
        )
        error = f": {payload.get('error')}" if payload.get("error") else ""
        return f"■ workflow {status}{error}" + (f" · {shown}" if shown else "")
    if kind == "node_state":
        status = str(payload.get("status", ""))
        mark = NODE_MARKS.get(status)
        if mark is None:
            return ""
        what = f"{payload.get('instance') or payload.get('path')} · {payload.get('kind', '')}"
        if payload.get("kind") == "loop" and status == "running":
            return f"  ↻ {what} · iteration {int(payload.get('iteration') or 0) + 1}"
        error = f": {payload.get('error')}" if payload.get("error") else ""
        return f"  {mark} {what}{'' if status == 'running' else ' · ' + status}{error}"
    return ""


class RunRenderer(Renderer):
    """A chat's renderer that also draws its runs: each node as it starts and ends, loop iterations,
    the run's start and its outputs; an approval node's question and the choice made. The built-in
    `agent` workflow (every plain chat's) is the familiar loop: its runs draw no lines of their own,
    nor does a run whose start this renderer did not see (a chat followed mid-run)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown_runs: set[str] = set()

    def _on_run_started(self, payload: Mapping[str, Any], at: float) -> None:
        plain = payload.get("workflow") == "agent" and str(payload.get("source", "")).startswith("builtin/")
        if not plain:
            self._shown_runs.add(str(payload.get("run_id", "")))
        self._node_line("run_started", payload)

    def _on_node_state(self, payload: Mapping[str, Any], at: float) -> None:
        self._node_line("node_state", payload)

    def _on_run_finished(self, payload: Mapping[str, Any], at: float) -> None:
        self._node_line("run_finished", payload)

    def _node_line(self, kind: str, payload: Mapping[str, Any]) -> None:
        if str(payload.get("run_id", "")) not in self._shown_runs:
            return
        text = node_line(kind, payload)
        if text:
            self.line(text)

    def _on_approval_requested(self, payload: Mapping[str, Any], at: float) -> None:
        if payload.get("kind") != "node":
            super()._on_approval_requested(payload, at)
        elif not self.live:  # following, the prompt (NodeGates) shows it
            choices = " | ".join(map(str, payload.get("choices") or []))
            self.line(Text(f"? {payload.get('question', '')}  [{choices}]{agent_tag(payload)}"))

    def _on_approval_resolved(self, payload: Mapping[str, Any], at: float) -> None:
        if payload.get("status") != "answered":
            super()._on_approval_resolved(payload, at)
            return
        where = " elsewhere" if self.live and str(payload.get("approval_id", "")) not in self.answered_here else ""
        note = f" ({payload.get('message')})" if payload.get("message") else ""
        self.line(Text(f"  → chose{where}: {payload.get('choice', '')}{note}", style="green"))


class NodeGates(Gates):
    """The chat's gates, and a workflow's `approval` nodes: the question and its choices, taken (with
    a note) in a terminal, or how to answer (`reliant approvals choose`) and, with --wait-for-gate,
    exit 3. A question answered elsewhere meanwhile stops being asked."""

    def on_update(self, kind: str, payload: Mapping[str, Any]) -> int | None:
        if kind != "approval_requested" or payload.get("kind") != "node":
            return super().on_update(kind, payload)
        approval_id = str(payload.get("approval_id", ""))
        if approval_id in self.handled:
            return None
        self.handled.add(approval_id)
        choices = [str(c) for c in payload.get("choices") or []]
        question = str(payload.get("question", ""))
        agent = self.renderer.scope.agents.get(str(payload.get("run_id", "")))  # a sub-agent's run asks
        if agent is not None:
            question += f" (agent {agent.name})"
        if self.wait_for_gate or self.keyboard is None or not self.interactive:
            self.renderer.note(
                f"the workflow asks: {question} [{' | '.join(choices)}]: "
                f"reliant approvals choose {approval_id} CHOICE [-m NOTE]"
            )
            return EXIT_GATE if self.wait_for_gate else None
        self._choose(self.keyboard, approval_id, question, choices)
        return None

    def waiting(self) -> list[tuple[str, dict[str, Any]]]:
        """What the chat waits for now; an approval node's with its question and choices."""
        found = super().waiting()
        with self.api.approvals() as approvals:
            listed = approvals.list_pending_approvals(
                cpb.ListPendingApprovalsRequest(chat_id=self.chat_id), headers=self.api.headers
            )
        nodes = {a.id: a for a in listed.approvals if a.kind == "node"}
        for kind, payload in found:
            node = nodes.get(str(payload.get("approval_id", ""))) if kind == "approval_requested" else None
            if node is not None:
                payload |= {"kind": "node", "question": node.question, "choices": list(node.choices)}
        return found

    def _choose(self, keyboard: Keyboard, approval_id: str, question: str, choices: list[str]) -> None:
        r = self.renderer
        pending = StillPending(self._pending_approvals, approval_id)
        keyboard.discard()
        r.line(Text(f"? {question}", style="bold yellow"))
        for i, choice in enumerate(choices, 1):
            r.line(f"  {i}. {choice}")
        while True:
            r.prompt(Text(f"  {MARK} ", style="yellow"))
            reply = keyboard.line(pending.answered_elsewhere)
            r.at_line_start = True  # the line was echoed with its Enter
            if reply is None:
                r.end_prompt()  # answered elsewhere: the approval_resolved update says how
                return
            reply = reply.strip()
            if reply.isdigit() and 1 <= int(reply) <= len(choices):
                reply = choices[int(reply) - 1]
            if reply in choices:
                break
            r.line(Text(f"  one of: {', '.join(choices)} (or its number)", style="yellow"))
        r.prompt(Text("  a note for the workflow (optional): ", style="yellow"))
        note = keyboard.line(pending.answered_elsewhere)
        r.at_line_start = True
        if note is None:
            r.end_prompt()
            return
        r.answered_here.add(approval_id)
        try:
            choose(self.api, approval_id, reply, note.strip())
        except ConnectError as exc:
            if exc.code not in LOST_RACE:
                raise
            r.answered_here.discard(approval_id)  # another answer came first: it stands


def choose(api: Api, approval_id: str, choice: str, note: str = "") -> None:
    with api.approvals() as approvals:
        approvals.choose(cpb.ChooseRequest(approval_id=approval_id, choice=choice, note=note), headers=api.headers)
