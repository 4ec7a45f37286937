"""Workflow definitions and runs -> protobuf messages of the WorkflowService."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.struct_pb2 import NULL_VALUE, Struct, Value

from reliant.domain.runs import RunRecord
from reliant.engine import Definition, Problem
from reliant.engine.definition import (
    AgentNode,
    ApprovalNode,
    CallLlmNode,
    CompactNode,
    ExecuteToolsNode,
    Graph,
    InputSpec,
    LoopNode,
    Node,
    ParallelNode,
    RunNode,
    SaveMessageNode,
    WorkflowNode,
    WorktreeNode,
)
from reliant.engine.expressions import Template
from reliant.engine.layout import join_path
from reliant.wire.v1 import workflow_pb2 as pb

MAX_DETAIL = 200


def struct(value: Mapping[str, Any]) -> Struct:
    out = Struct()
    out.update(dict(value))
    return out


def _value(value: Any) -> Value:
    out = Value()
    if value is None:
        out.null_value = NULL_VALUE
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int | float):
        out.number_value = float(value)
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, Mapping):
        out.struct_value.update(dict(value))
    else:
        out.list_value.extend(list(value))
    return out


def workflow_input(spec: InputSpec) -> pb.WorkflowInput:
    out = pb.WorkflowInput(
        name=spec.name,
        type=spec.type.value,
        description=spec.description,
        required=spec.required,
        values=list(spec.values),
    )
    if not spec.required:
        out.default.CopyFrom(_value(spec.default))
    return out


def problem(p: Problem) -> pb.WorkflowProblem:
    return pb.WorkflowProblem(source=p.at.source, line=p.at.line, column=p.at.column, message=p.message)


def _text(value: Template | str | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Template):
        return value.text
    return str(value)


def _line(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= MAX_DETAIL else one[: MAX_DETAIL - 1] + "…"


def detail(node: Node) -> str:
    """One line about what a node does."""
    if isinstance(node, RunNode):
        return _line(_text(node.command))
    if isinstance(node, ApprovalNode):
        return _line(f"{_text(node.question)} [{' | '.join(node.choices)}]")
    if isinstance(node, WorkflowNode):
        mode = f" (thread {node.thread.value})" if node.thread is not None else ""
        if not node.fans_out:
            return f"runs {node.workflow}{mode}"
        times = f"{_text(node.count)} times" if node.count is not None else "once"
        where = ", each in a worktree of its own" if node.worktree else ""
        return _line(f"runs {node.workflow} {times} side by side{where}{mode}")
    if isinstance(node, WorktreeNode):
        return _line(f"{_text(node.action)} the worktrees of {_text(node.of)}")
    if isinstance(node, LoopNode):
        condition = f" while {node.condition.source}" if node.condition is not None else ""
        return _line(f"at most {_text(node.max_iterations)} times{condition}")
    if isinstance(node, ParallelNode):
        join = f"{node.n} of them" if node.join.value == "n" else node.join.value
        return f"{len(node.branches)} branches, join {join}"
    if isinstance(node, AgentNode | CallLlmNode):
        prompt = _text(node.prompt)
        return _line(prompt) if prompt else ("answers the thread" if isinstance(node, AgentNode) else "")
    if isinstance(node, ExecuteToolsNode):
        return f"runs the tool calls of {node.source}"
    if isinstance(node, CompactNode):
        return f"summarises the thread past {_text(node.threshold)} tokens"
    if isinstance(node, SaveMessageNode):
        return _line(f"{node.role}: {_text(node.content)}")
    return ""


def _nodes(graph: Graph, scope: str, branch: str = "") -> list[pb.WorkflowNode]:
    out = []
    for node in graph.nodes:
        path = join_path(scope, node.id)
        edge = graph.edge_from(node.id)
        item = pb.WorkflowNode(
            id=node.id,
            kind=node.kind,
            path=path,
            description=node.description,
            detail=detail(node),
            line=node.at.line,
            next=list(dict.fromkeys(edge.targets())) if edge is not None else [],
            branch=branch,
            entry=node.id in graph.entry,
        )
        if isinstance(node, CallLlmNode | AgentNode):
            item.preset = node.llm.preset
        if isinstance(node, LoopNode):
            item.max_iterations = _text(node.max_iterations)
            item.children.extend(_nodes(node.body, path))
        elif isinstance(node, ParallelNode):
            for b in node.branches:
                item.children.extend(_nodes(b.graph, join_path(path, b.id), b.id))
        out.append(item)
    return out


def nodes(definition: Definition) -> list[pb.WorkflowNode]:
    return _nodes(definition.graph, "")


def presets(definition: Definition) -> list[str]:
    named = {n.llm.preset for _, n in definition.walk() if isinstance(n, CallLlmNode | AgentNode) and n.llm.preset}
    return sorted(named)


def workflow(
    definition: Definition | None,
    *,
    name: str,
    source: str,
    origin: str,
    text: str,
    problems: Iterable[Problem] = (),
    note: str = "",
) -> pb.Workflow:
    out = pb.Workflow(name=name, source=source, origin=origin, text=text, note=note)
    out.problems.extend(problem(p) for p in problems)
    if definition is not None:
        out.description = definition.description
        out.inputs.extend(workflow_input(i) for i in definition.inputs)
        out.outputs.extend(pb.WorkflowOutput(name=o.name, expression=o.value.text) for o in definition.outputs)
        out.nodes.extend(nodes(definition))
        out.presets.extend(presets(definition))
    return out


def node_state(payload: Mapping[str, Any]) -> pb.NodeState:
    out = pb.NodeState(
        path=str(payload.get("path", "")),
        instance=str(payload.get("instance", "")),
        kind=str(payload.get("kind", "")),
        status=str(payload.get("status", "")),
        iteration=int(payload.get("iteration") or 0),
        thread=str(payload.get("thread") or ""),
        error=str(payload.get("error") or ""),
        version=int(payload.get("version") or 0),
    )
    outputs = payload.get("outputs")
    if isinstance(outputs, Mapping) and outputs:
        out.outputs.CopyFrom(struct(outputs))
    return out


def run(
    record: RunRecord,
    definition: Definition | None,
    states: Iterable[Mapping[str, Any]] = (),
    last_seq: int = 0,
) -> pb.Run:
    out = pb.Run(
        id=record.id,
        chat_id=record.chat_id,
        workflow=record.workflow,
        source=record.source,
        status=record.status.value,
        error=record.error,
        parent_id=record.parent_id or "",
        node=record.node,
        message_id=record.message_id or "",
        created_unix=record.created_at,
        finished_unix=record.finished_at or 0.0,
        last_seq=last_seq,
        text=record.workflow_text.text,
    )
    out.inputs.CopyFrom(struct(record.inputs))
    out.outputs.CopyFrom(struct(record.outputs))
    if definition is not None:
        out.nodes.extend(nodes(definition))
    out.states.extend(node_state(s) for s in states)
    return out
