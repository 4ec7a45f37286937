"""The JSON shapes of messages and tool runs in chat update payloads (see reliant.domain.update_kinds)."""

from __future__ import annotations

from typing import Any

from reliant.domain.agents import AgentRecord
from reliant.domain.chat import BlockType, ContentBlock, StoredMessage, ToolRun, ToolState
from reliant.domain.tool_outcome import tool_outcome


def block_payload(block: ContentBlock) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": block.type.value}
    if block.text:
        doc["text"] = block.text
    if block.tool_call_id:
        doc["tool_call_id"] = block.tool_call_id
    if block.tool_name:
        doc["tool_name"] = block.tool_name
    if block.type is BlockType.TOOL_CALL:
        doc["tool_input"] = block.tool_input
    if block.is_error:
        doc["is_error"] = True
    if block.media_type:
        doc["media_type"] = block.media_type
    if block.path:
        doc["path"] = block.path
    return doc


def message_payload(message: StoredMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "ordinal": message.ordinal,
        "role": message.role.value,
        "model": message.model,
        "turn": message.turn,
        "blocks": [block_payload(b) for b in message.blocks],
        "usage": {
            "input_tokens": message.usage.input_tokens,
            "output_tokens": message.usage.output_tokens,
            "cache_read_tokens": message.usage.cache_read_tokens,
            "cache_write_tokens": message.usage.cache_write_tokens,
        },
        "cost_usd": message.cost_usd,
        "created_at": message.created_at,
        "thread_id": message.thread_id,
        "step": message.step,
        "cut": message.cut(),  # why the answer stops short, in words ("": it is whole)
    }


def public_tool_data(data: dict[str, Any]) -> dict[str, Any]:
    """A tool run's data for clients: images a tool returned keep their type and size, not their
    bytes (those go to the model, in the transcript's tool message)."""
    content = data.get("content")
    if not isinstance(content, list) or not any(isinstance(c, dict) and "data" in c for c in content):
        return data
    slim = [{k: v for k, v in c.items() if k != "data"} if isinstance(c, dict) else c for c in content]
    return {**data, "content": slim}


def tool_started_payload(run: ToolRun) -> dict[str, Any]:
    """A tool_started update's payload (a call on another thread than the chat's main one also
    names its key and thread)."""
    started = {"tool_call_id": run.tool_call_id, "tool_name": run.tool_name, "input": run.input, "turn": run.turn}
    if run.key != run.tool_call_id:
        started |= {"call_key": run.key, "thread_id": run.thread_id}
    return started


def tool_run_payload(run: ToolRun) -> dict[str, Any]:
    status = {
        ToolState.COMPLETED: "ok",
        ToolState.FAILED: "error",
        ToolState.INTERRUPTED: "interrupted",
        ToolState.DENIED: "denied",
    }
    payload: dict[str, Any] = {
        "tool_call_id": run.tool_call_id,
        "tool_name": run.tool_name,
        "status": status.get(run.state, run.state.value),
        # One word for clients to show at a glance (ok | exit_nonzero | refused | timeout |
        # interrupted | denied | cancelled | error): see reliant.domain.tool_outcome.
        "outcome": tool_outcome(run.state, run.data, run.error).value,
        "output": run.output,
        "error": run.error,
        "data": public_tool_data(run.data),
        "duration_ms": round(run.duration_ms, 3),
    }
    if run.key != run.tool_call_id:
        payload |= {"call_key": run.key, "thread_id": run.thread_id}
    return payload


def agent_payload(agent: AgentRecord) -> dict[str, Any]:
    """An agent as clients see it (agent_started / agent_finished updates, ListAgents)."""
    return {
        "agent_id": agent.id,
        "parent_agent_id": agent.parent_id,
        "depth": agent.depth,
        "name": agent.name,
        "task": agent.task,
        "workflow": agent.workflow,
        "model": agent.model,
        "thread_mode": agent.thread_mode,
        "status": agent.status.value,
        "worktree": {
            "path": agent.worktree_path,
            "branch": agent.worktree_branch,
            "state": agent.worktree_state,
            "into": agent.merge_into,  # where it started from and is merged ("" the project's checkout)
        }
        if agent.worktree_path
        else None,
        "error": agent.error,
        "cost_usd": round(agent.cost_usd, 6),
        "input_tokens": agent.input_tokens,
        "output_tokens": agent.output_tokens,
    }
