"""Sub-agents: agents a model starts with `spawn_agent`, each a child workflow of the agent that
spawned it, with its own thread (and, when asked, its own git worktree). A chat's agents form a tree
under the chat's own (top) agent."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

SPAWN_AGENT = "spawn_agent"
WAIT_AGENTS = "wait_agents"
MESSAGE_AGENT = "message_agent"
CANCEL_AGENT = "cancel_agent"
LIST_AGENTS = "list_agents"
AGENT_TOOLS = frozenset({SPAWN_AGENT, WAIT_AGENTS, MESSAGE_AGENT, CANCEL_AGENT, LIST_AGENTS})

# A sub-agent signals the workflow that spawned it when it ends (wait_agents listens for it).
SIGNAL_AGENT_FINISHED = "agent_finished"


class AgentStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_AGENT_STATES = frozenset({AgentStatus.DONE, AgentStatus.FAILED, AgentStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class AgentLimits:
    """What keeps a tree of agents from running away (tool errors past them)."""

    max_depth: int = 3  # the top agent is depth 0: its children 1, grandchildren 2 ...
    max_concurrent: int = 8  # agents running at once in a chat
    max_per_chat: int = 50  # agents a chat may spawn in all


@dataclass(frozen=True, slots=True)
class AgentRecord:
    id: str  # also the id of the agent's run (runs.id)
    chat_id: str
    parent_id: str  # the agent that spawned it; "" for the chat's top agent
    call_key: str  # the spawn_agent call that started it
    depth: int
    name: str
    task: str
    workflow: str
    model: str
    thread_mode: str  # new | fork
    status: AgentStatus = AgentStatus.RUNNING
    worktree_path: str = ""
    worktree_branch: str = ""
    base_commit: str = ""
    merge_into: str = ""  # the spawner's worktree its worktree starts from and merges into; "" the project's
    worktree_state: str = ""  # "" (none) | active | merged | kept | removed
    worktree_commit: str = ""  # merged: the merge commit
    text: str = ""  # its final answer
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    cost_usd: float = 0.0  # its own model calls
    input_tokens: int = 0
    output_tokens: int = 0
    created_at: float = 0.0
    finished_at: float | None = None
