"""Drives a Run the way an interpreter would, with outputs made up per task: no Temporal needed."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from typing import Any

from reliant.engine import Catalog, Definition, Run, Task, load_definition
from reliant.engine.definition import ApprovalNode

DEFAULTS: dict[str, dict[str, Any]] = {
    "run": {"exit_code": 0, "stdout": "", "stderr": ""},
    "agent": {"text": "", "turns": 1, "message_id": "m1"},
    "call_llm": {"text": "", "tool_calls": 0, "message_id": "m1", "response": {}},
    "execute_tools": {"executed": 0, "denied": 0, "interrupted": 0},
    "compact": {"compacted": False, "tokens_before": 0, "tokens_after": 0},
    "save_message": {"message_id": "m1"},
    "workflow": {},
    "worktree": {"ok": True, "merged": [], "kept": [], "removed": [], "conflicts": [], "commit": "", "reason": ""},
}


def definition(text: str, catalog: Catalog | None = None, source: str = "test.yaml") -> Definition:
    return load_definition(textwrap.dedent(text), source, catalog)


def outputs(task: Task, **values: Any) -> dict[str, Any]:
    """The task kind's outputs: defaults, overridden by `values`."""
    if isinstance(task.node, ApprovalNode):
        base: dict[str, Any] = {"choice": task.node.choices[0], "note": ""}
    else:
        base = dict(DEFAULTS[task.node.kind])
    return {**base, **values}


Answer = Callable[[Run, Task], Mapping[str, Any] | None]


def drive(run: Run, answer: Answer | None = None, *, limit: int = 100_000) -> list[str]:
    """Run to the end, one task at a time in hand-out order; `answer` gives a task's outputs (None:
    the defaults). Returns the task instances in the order they ran."""
    ran: list[str] = []
    pending: list[Task] = []
    while not run.done:
        pending += run.take_ready()
        assert pending, f"stuck: nothing ready and the run is not done ({run.state.nodes})"
        task = pending.pop(0)
        ran.append(task.instance)
        given = answer(run, task) if answer else None
        cancelled = run.finish(task, outputs(task, **(given or {})))
        pending = [t for t in pending if t not in cancelled]
        assert len(ran) < limit
    return ran
