"""A `worktree` node: merge, keep or remove the worktrees of a `workflow` node's runs. `of` gives a
run (`nodes.solve.runs[0]`), a list of runs, or agent ids. A merge that conflicts changes nothing and
keeps the worktree: `ok` is false and `conflicts` and `reason` say why (an output, not a failure). So
does a removal of a worktree with uncommitted changes, unless the node says `force: true`."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from reliant.engine.definition import WORKTREE_ACTIONS, WorktreeNode
    from reliant.engine.expressions import describe
    from reliant.worker.activities.types import SettleWorktreesInput
    from reliant.worker.activities.worktree_runs import WorktreeRunActivities
    from reliant.worker.interpreter.host import Failed
    from reliant.worker.interpreter.interpreter import NodeContext
    from reliant.worker.policies import STATUS_RETRY

STEP_TIMEOUT = timedelta(minutes=5)


def agent_ids(value: Any) -> list[str]:
    """The agents `of` names: a run (a map with `agent_id`), an agent id, or a list of those."""
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("agent_id"), str):
            ids.append(item["agent_id"])
        elif isinstance(item, str) and item.strip():
            ids.append(item.strip())
        else:
            raise Failed(f"of: expected a run (with agent_id), an agent id, or a list of them, not {describe(item)}")
    return list(dict.fromkeys(ids))


async def worktree(ctx: NodeContext) -> dict[str, Any]:
    action = ctx.run.text(ctx.task, "action") or ""
    if action not in WORKTREE_ACTIONS:
        raise Failed(f"action must be one of {', '.join(WORKTREE_ACTIONS)}, not {action!r}")
    ids = agent_ids(ctx.run.value(ctx.task, "of"))
    message = ctx.run.text(ctx.task, "message") or ""
    node = ctx.task.node
    assert isinstance(node, WorktreeNode)
    await ctx.checkpoint()
    settled = await ctx.step(
        functools.partial(
            workflow.start_activity_method,
            WorktreeRunActivities.settle_worktrees,
            SettleWorktreesInput(ctx.chat_id, ids, action, message, notes=ctx.notes(), force=node.force),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STATUS_RETRY,
        )
    )
    return {
        "ok": settled.ok,
        "merged": settled.merged,
        "kept": settled.kept,
        "removed": settled.removed,
        "conflicts": settled.conflicts,
        "commit": settled.commit,
        "reason": settled.reason,
    }
