"""What each node kind leaves in `nodes.<id>.*` when it is done: the contract between the interpreter
(which produces exactly these) and expressions (which read them).

| kind           | outputs                                                                 |
|----------------|-------------------------------------------------------------------------|
| call_llm       | text, tool_calls (how many the model asked for), message_id, response   |
|                | (the response tool's fields; {} without one)                            |
| execute_tools  | executed, denied, interrupted (counts of the source node's tool calls)  |
| agent          | text (the final answer), turns (model calls made), message_id           |
| run            | exit_code, stdout, stderr (both capped by the interpreter)              |
| approval       | choice (one of the node's choices), note (what the user added, or "")   |
| loop           | iterations (how many ran), last (`<body node id>` -> its outputs, from  |
|                | the last iteration)                                                     |
| parallel       | branches (`<branch>` -> `<node id>` -> outputs, for finished branches), |
|                | completed (branch ids in the order they finished)                       |
| workflow       | the child workflow's outputs; with `count`/`worktree`: runs (one entry  |
|                | per child: index, agent_id, status, error, outputs, worktree {path,     |
|                | branch, base}, diff, files), done (how many ended done), report (the    |
|                | runs in words, diffs included, for a judge)                             |
| worktree       | ok (every action done), merged, kept, removed (agent ids), conflicts    |
|                | (paths), commit (the merge commit), reason (why not, "" when ok)        |
| compact        | compacted (whether it summarised), tokens_before, tokens_after          |
| save_message   | message_id                                                              |

Shapes describe these values for the validator: it follows `nodes.fix.last.check.exit_code` through
them, and evaluates expressions against sample values of the right types to find type errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reliant.engine.definition import (
    AgentNode,
    ApprovalNode,
    CallLlmNode,
    CompactNode,
    Definition,
    ExecuteToolsNode,
    InputType,
    LoopNode,
    Node,
    ParallelNode,
    RunNode,
    SaveMessageNode,
    WorkflowNode,
    WorktreeNode,
)


@dataclass(frozen=True, slots=True)
class Scalar:
    name: str  # string | int | double | bool (CEL's names)


@dataclass(frozen=True, slots=True)
class Record:
    """A map whose keys are known (`open`: other keys may be there too)."""

    fields: Mapping[str, Shape] = field(default_factory=dict)
    open: bool = False


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Shape


@dataclass(frozen=True, slots=True)
class Unknown:
    """Anything: nothing is checked beyond this point."""


Shape = Scalar | Record | ListOf | Unknown

STRING, INT, DOUBLE, BOOL = Scalar("string"), Scalar("int"), Scalar("double"), Scalar("bool")
ANY = Unknown()

INPUT_SHAPES: dict[InputType, Scalar] = {
    InputType.STRING: STRING,
    InputType.INTEGER: INT,
    InputType.NUMBER: DOUBLE,
    InputType.BOOLEAN: BOOL,
    InputType.ENUM: STRING,
    InputType.MODEL: STRING,
}

# The outputs of the kinds the interpreter executes (a workflow node's are its child's outputs).
TASK_OUTPUTS: dict[type[Node], dict[str, Shape]] = {
    CallLlmNode: {"text": STRING, "tool_calls": INT, "message_id": STRING, "response": Record(open=True)},
    ExecuteToolsNode: {"executed": INT, "denied": INT, "interrupted": INT},
    AgentNode: {"text": STRING, "turns": INT, "message_id": STRING},
    RunNode: {"exit_code": INT, "stdout": STRING, "stderr": STRING},
    ApprovalNode: {"choice": STRING, "note": STRING},
    CompactNode: {"compacted": BOOL, "tokens_before": INT, "tokens_after": INT},
    SaveMessageNode: {"message_id": STRING},
    WorktreeNode: {
        "ok": BOOL,
        "merged": ListOf(STRING),
        "kept": ListOf(STRING),
        "removed": ListOf(STRING),
        "conflicts": ListOf(STRING),
        "commit": STRING,
        "reason": STRING,
    },
}

WORKTREE_SHAPE = Record({"path": STRING, "branch": STRING, "base": STRING})


def runs_shape(child: Definition | None) -> Record:
    """A `workflow` node's outputs when it runs a set of children (count/worktree)."""
    outputs = Record({o.name: ANY for o in child.outputs}) if child is not None else Record(open=True)
    run = Record(
        {
            "index": INT,
            "agent_id": STRING,
            "status": STRING,
            "error": STRING,
            "outputs": outputs,
            "worktree": WORKTREE_SHAPE,
            "diff": STRING,
            "files": ListOf(STRING),
        }
    )
    return Record({"runs": ListOf(run), "done": INT, "report": STRING})


CHAT_SHAPE = Record({"id": STRING, "mode": STRING, "model": STRING, "project": STRING})


def node_shape(node: Node, callee: Callable[[str], Definition | None]) -> Record:
    """The outputs of `node`; `callee(name)` gives a child workflow's definition when it is known."""
    if isinstance(node, LoopNode):
        last = Record({n.id: node_shape(n, callee) for n in node.body.nodes})
        return Record({"iterations": INT, "last": last})
    if isinstance(node, ParallelNode):
        branches = Record({b.id: Record({n.id: node_shape(n, callee) for n in b.graph.nodes}) for b in node.branches})
        return Record({"branches": branches, "completed": ListOf(STRING)})
    if isinstance(node, WorkflowNode):
        child = callee(node.workflow)
        if node.fans_out:
            return runs_shape(child)
        if child is None:
            return Record(open=True)
        return Record({o.name: ANY for o in child.outputs})
    if isinstance(node, CallLlmNode) and node.response is not None:
        return Record({**TASK_OUTPUTS[CallLlmNode], "response": schema_shape(node.response)})
    return Record(dict(TASK_OUTPUTS[type(node)]))


def schema_shape(schema: Mapping[str, Any]) -> Shape:
    """The shape of values a JSON Schema admits (as far as it says)."""
    kind = schema.get("type")
    if "enum" in schema and kind in (None, "string"):
        return STRING
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties")
        if not isinstance(props, Mapping):
            return Record(open=True)
        fields = {str(k): schema_shape(v) if isinstance(v, Mapping) else ANY for k, v in props.items()}
        return Record(fields, open=schema.get("additionalProperties", False) is not False)
    if kind == "array":
        items = schema.get("items")
        return ListOf(schema_shape(items) if isinstance(items, Mapping) else ANY)
    return {"string": STRING, "integer": INT, "number": DOUBLE, "boolean": BOOL}.get(str(kind), ANY)


def sample(shape: Shape) -> Any:
    """A value of the shape, for trying an expression out (Unknown has none: callers skip it)."""
    if isinstance(shape, Scalar):
        return {"string": "", "int": 0, "double": 0.0, "bool": False}[shape.name]
    if isinstance(shape, Record):
        return {k: sample(v) for k, v in shape.fields.items()}
    if isinstance(shape, ListOf):
        return []
    return None


def conforms(value: Any, shape: Shape) -> bool:
    """Whether a produced value has the shape (ints are not bools; doubles accept ints)."""
    if isinstance(shape, Unknown):
        return True
    if isinstance(shape, Scalar):
        if shape.name == "bool":
            return isinstance(value, bool)
        if shape.name == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if shape.name == "double":
            return isinstance(value, int | float) and not isinstance(value, bool)
        return isinstance(value, str)
    if isinstance(shape, ListOf):
        return isinstance(value, list) and all(conforms(v, shape.item) for v in value)
    if not isinstance(value, dict):
        return False
    return all(conforms(v, shape.fields[k]) if k in shape.fields else shape.open for k, v in value.items())


def describe_shape(shape: Shape) -> str:
    if isinstance(shape, Scalar):
        return {"string": "a string", "int": "an integer", "double": "a number", "bool": "a boolean"}[shape.name]
    if isinstance(shape, ListOf):
        return "a list"
    if isinstance(shape, Record):
        return "a map"
    return "a value"
