"""Agents: a chat's tree of sub-agents (status, model, cost and tokens, worktree) and its spending
budget, for clients (REST: rest_agents.py; ConnectRPC: AgentService; the CLI's `reliant agents`)."""

from __future__ import annotations

import math
from typing import Any

from connectrpc.request import RequestContext
from google.protobuf.struct_pb2 import Struct

from reliant.api.chats import Chats
from reliant.api.connect import call
from reliant.api.errors import InvalidFieldError, NotFoundError
from reliant.db import agents as agents_db
from reliant.db import budgets as budgets_db
from reliant.domain.agents import AgentRecord
from reliant.wire.payloads import agent_payload
from reliant.wire.v1 import agent_pb2 as pb

MAX_BUDGET_USD = 1_000_000.0


class Agents:
    def __init__(self, chats: Chats) -> None:
        self.chats = chats
        self.db = chats.db

    async def tree(self, chat_id: str) -> dict[str, Any]:
        """The chat's agents (each with its parent's id, so a client draws the tree), what the
        chat has spent and its budget."""
        chat = await self.chats.chat(chat_id)
        agents = await agents_db.for_chat(self.db, chat.id)
        return {
            "chat_id": chat.id,
            "spent_usd": round(await budgets_db.chat_spent(self.db, chat.id), 6),
            "budget_usd": await budgets_db.chat_budget(self.db, chat.id),
            "agents": [agent_payload(a) | _times(a) for a in agents],
        }

    async def agent(self, chat_id: str, agent_id: str) -> dict[str, Any]:
        chat = await self.chats.chat(chat_id)
        found = [a for a in await agents_db.for_chat(self.db, chat.id) if a.id == agent_id.strip()]
        if not found:
            raise NotFoundError(f"agent {agent_id} not found in chat {chat.id}")
        agent = found[0]
        return agent_payload(agent) | _times(agent) | {"text": agent.text, "outputs": agent.outputs}

    async def set_budget(self, chat_id: str, usd: float | None) -> dict[str, Any]:
        """The chat's own budget (None: back to the configured default). A paused chat goes on once
        resumed."""
        chat = await self.chats.chat(chat_id)
        if usd is not None and (not math.isfinite(usd) or not 0 <= usd <= MAX_BUDGET_USD):
            raise InvalidFieldError("usd", f"must be a number of dollars from 0 to {MAX_BUDGET_USD:,.0f}")
        await budgets_db.set_chat_budget(self.db, chat.id, usd)
        return await self.tree(chat.id)


def _times(agent: AgentRecord) -> dict[str, Any]:
    return {"created_at": agent.created_at, "finished_at": agent.finished_at}


class AgentService:
    """The ConnectRPC adapter."""

    def __init__(self, agents: Agents) -> None:
        self.agents = agents

    async def list_agents(self, request: pb.ListAgentsRequest, ctx: RequestContext[Any, Any]) -> pb.ListAgentsResponse:
        tree = await call(self.agents.tree(request.chat_id))
        return pb.ListAgentsResponse(
            agents=[_agent_pb(a) for a in tree["agents"]], spent_usd=tree["spent_usd"], budget_usd=tree["budget_usd"]
        )

    async def get_agent(self, request: pb.GetAgentRequest, ctx: RequestContext[Any, Any]) -> pb.Agent:
        return _agent_pb(await call(self.agents.agent(request.chat_id, request.agent_id)))


def _agent_pb(agent: dict[str, Any]) -> pb.Agent:
    worktree = agent["worktree"]
    outputs = Struct()
    outputs.update(agent.get("outputs") or {})
    return pb.Agent(
        agent_id=agent["agent_id"],
        parent_agent_id=agent["parent_agent_id"],
        depth=agent["depth"],
        name=agent["name"],
        task=agent["task"],
        workflow=agent["workflow"],
        model=agent["model"],
        thread_mode=agent["thread_mode"],
        status=agent["status"],
        worktree=pb.AgentWorktree(**worktree) if worktree else None,
        error=agent["error"],
        cost_usd=agent["cost_usd"],
        input_tokens=agent["input_tokens"],
        output_tokens=agent["output_tokens"],
        created_unix=agent["created_at"],
        finished_unix=agent["finished_at"] or 0.0,
        text=agent.get("text", ""),
        outputs=outputs,
    )
