"""REST for a chat's agents and budget.

GET /api/chats/{chat_id}/agents              the tree: agents, spent_usd, budget_usd (the chat's own),
                                             budget_in_force_usd and budget_source (chat|api|config|"")
GET /api/chats/{chat_id}/agents/{agent_id}   one agent, with its answer and outputs
GET /api/chats/{chat_id}/agents/{agent_id}/diff  its worktree's changes: {diff, files, truncated}
PUT /api/chats/{chat_id}/budget  {usd}       the chat's budget (null: the configured default; 0: none,
                                             over the settings' and reliant.toml's)
POST /api/chats/{chat_id}/agents/{agent_id}/worktree  {action: merge|keep|remove, force?}
                                             its worktree merged (409 naming the conflicts, or saying
                                             the agent changed nothing: nothing changed), kept, or
                                             removed (409 naming its uncommitted files unless `force`:
                                             they are deleted then; a merged agent's worktree
                                             left after the merge too); 409 while another request
                                             settles it
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from reliant.api.agents import Agents
from reliant.api.rest import RequestBody


@dataclass
class SetBudget(RequestBody):
    usd: float | None = None


@dataclass
class WorktreeAction(RequestBody):
    action: str = ""
    force: bool = False


class AgentController(Controller):
    path = "/api/chats"

    @get("/{chat_id:str}/agents")
    async def tree(self, chat_id: FromPath[str], agents: NamedDependency[Agents]) -> dict[str, Any]:
        return await agents.tree(chat_id)

    @get("/{chat_id:str}/agents/{agent_id:str}")
    async def agent(
        self, chat_id: FromPath[str], agent_id: FromPath[str], agents: NamedDependency[Agents]
    ) -> dict[str, Any]:
        return await agents.agent(chat_id, agent_id)

    @get("/{chat_id:str}/agents/{agent_id:str}/diff")
    async def diff(
        self, chat_id: FromPath[str], agent_id: FromPath[str], agents: NamedDependency[Agents]
    ) -> dict[str, Any]:
        return await agents.diff(chat_id, agent_id)

    @post("/{chat_id:str}/agents/{agent_id:str}/worktree", status_code=200)
    async def worktree(
        self,
        chat_id: FromPath[str],
        agent_id: FromPath[str],
        data: JSONBody[WorktreeAction],
        agents: NamedDependency[Agents],
    ) -> dict[str, Any]:
        return await agents.worktree(chat_id, agent_id, data.action, force=data.force)

    @put("/{chat_id:str}/budget")
    async def budget(
        self, chat_id: FromPath[str], data: JSONBody[SetBudget], agents: NamedDependency[Agents]
    ) -> dict[str, Any]:
        return await agents.set_budget(chat_id, data.usd)
