"""Ending all a chat runs when it goes (deleted, or removed with its project): its workflow, its
sub-agents' (children it abandons when it ends, so they would run on), the tool calls any of them
still runs on the daemon and every background process any of them started there.

What runs is read (`running`) before the chat's rows are deleted, since they name it, and ended
(`stop`) after; a daemon that cannot be reached is owed what it runs (clients/stops.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.service import RPCError, RPCStatusCode

from reliant.api.context import ApiContext
from reliant.api.errors import UnavailableError
from reliant.clients import stops
from reliant.db import Database
from reliant.db import agents as agents_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.agents import FINAL_AGENT_STATES
from reliant.domain.chat import ToolState
from reliant.domain.workflows import agent_workflow_id, run_workflow_id


@dataclass(frozen=True, slots=True)
class Running:
    """What a chat may run: its workflows and the tool calls executing on its daemon."""

    chat_id: str
    daemon_id: str
    workflow_ids: tuple[str, ...]
    calls: tuple[str, ...]  # what the daemon knows each call by (a sub-agent's too)


async def running(db: Database, chat_id: str, daemon_id: str) -> Running:
    agents = [a.id for a in await agents_db.for_chat(db, chat_id) if a.status not in FINAL_AGENT_STATES]
    return Running(
        chat_id,
        daemon_id,
        (agent_workflow_id(chat_id), *(run_workflow_id(chat_id, a) for a in agents)),
        await executing_calls(db, chat_id),
    )


async def executing_calls(db: Database, chat_id: str) -> tuple[str, ...]:
    return tuple(r.key for r in await tool_runs_db.unfinished(db, chat_id) if r.state is ToolState.EXECUTING)


async def cancel_calls(ctx: ApiContext, daemon_id: str, chat_id: str, calls: tuple[str, ...]) -> None:
    """Kill the calls on the daemon at once (not only when a worker next hears from Temporal), or,
    unreachable, once it is back: a deleted chat's workflow is gone, and nothing else would."""
    for key in calls:
        await stops.cancel_tool(ctx.bus, ctx.db, daemon_id, chat_id, key)


async def stop(ctx: ApiContext, what: Running, reason: str) -> None:
    """End what the chat runs. Every part is tried; UnavailableError afterwards if Temporal could
    not end one of its workflows (which then runs on)."""
    failed: list[str] = []
    for workflow_id in what.workflow_ids:
        try:
            await ctx.temporal.get_workflow_handle(workflow_id).terminate(reason)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # ended already
                failed.append(f"{workflow_id}: {exc}")
    await cancel_calls(ctx, what.daemon_id, what.chat_id, what.calls)
    await stops.stop_chat_background(ctx.bus, ctx.db, what.daemon_id, what.chat_id)
    if failed:
        raise UnavailableError(f"could not end the workflows of chat {what.chat_id}: {'; '.join(failed)}")
