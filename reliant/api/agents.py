"""Agents: a chat's tree of sub-agents (status, model, cost and tokens, worktree) and its spending
budget, for clients (REST: rest_agents.py; ConnectRPC: AgentService; the CLI's `reliant agents`)."""

from __future__ import annotations

from typing import Any

from connectrpc.request import RequestContext
from google.protobuf.struct_pb2 import Struct

from reliant.api.chats import Chats
from reliant.api.connect import call
from reliant.api.errors import FailedPreconditionError, InvalidFieldError, NotFoundError, UnavailableError
from reliant.clients.daemons import control
from reliant.db import agents as agents_db
from reliant.db import budgets as budgets_db
from reliant.domain import update_kinds as kinds
from reliant.domain.agents import AgentRecord, AgentStatus
from reliant.domain.budgets import budget_problem
from reliant.errors import DaemonUnavailableError, quoted
from reliant.wire.payloads import agent_payload
from reliant.wire.v1 import agent_pb2 as pb

WORKTREE_ACTIONS = ("merge", "keep", "remove")
# A kept worktree stays the user's to merge or remove later; the agent's own settling leaves it be.
# A merged one is removed once the merge has been made, or by the user later when that was refused
# (they changed it after the merge): it stays recorded as the merge it was.
SETTLED_FROM = {"merge": ("active", "kept"), "keep": ("active",), "remove": ("active", "kept", "merged")}
WORKTREE_TIMEOUT = 120.0


class Agents:
    def __init__(self, chats: Chats) -> None:
        self.chats = chats
        self.db = chats.db

    async def tree(self, chat_id: str) -> dict[str, Any]:
        """The chat's agents (each with its parent's id, so a client draws the tree), what the
        chat has spent and its budget."""
        chat = await self.chats.chat(chat_id)
        agents = await agents_db.for_chat(self.db, chat.id)
        configured = self.chats.ctx.settings.budget_chat_usd
        in_force, source = await budgets_db.chat_budget_in_force(self.db, chat.id, configured)
        return {
            "chat_id": chat.id,
            "spent_usd": round(await budgets_db.chat_spent(self.db, chat.id), 6),
            "budget_usd": await budgets_db.chat_budget(self.db, chat.id),  # the chat's own
            "budget_in_force_usd": in_force,
            "budget_source": source,
            "agents": [agent_payload(a) | _times(a) for a in agents],
        }

    async def agent(self, chat_id: str, agent_id: str) -> dict[str, Any]:
        chat = await self.chats.chat(chat_id)
        agent = await self._one(chat.id, agent_id)
        return agent_payload(agent) | _times(agent) | {"text": agent.text, "outputs": agent.outputs}

    async def worktree(self, chat_id: str, agent_id: str, action: str, *, force: bool = False) -> dict[str, Any]:
        """An agent's worktree: `merge` its branch (its uncommitted work committed first) into the
        branch checked out where its spawner works (the chat's or the parent agent's worktree, else
        the project) and remove the worktree — refused, changing nothing, over a
        conflict (named) or when the agent changed nothing —, `keep` it as it is (to merge or remove
        later), or `remove` it and its branch — refused, changing nothing, while it has uncommitted
        changes (the error names the files), unless `force`: they are deleted then. A merge is
        recorded as soon as it is made: a worktree that cannot be removed after it is left (a change
        made in it after the merge committed its work is never deleted), and the error says the merge
        was made; `remove` (with `force` for such changes) then removes it, the agent still recorded
        as merged."""
        if action not in WORKTREE_ACTIONS:
            raise InvalidFieldError("action", f"must be one of {', '.join(WORKTREE_ACTIONS)}")
        if force and action != "remove":
            raise InvalidFieldError("force", "only a removal is forced")
        chat = await self.chats.chat(chat_id)
        agent = await self._one(chat.id, agent_id)
        # One request at a time settles a worktree (a merge racing a remove would have both run and
        # both answered done); the other is refused, or, coming after, finds it settled.
        async with self.db.tx() as tx:
            if not await agents_db.try_lock_worktree(tx, agent.id):
                raise FailedPreconditionError(
                    f"agent {agent.name}'s worktree is being settled by another request: see what it did, then retry"
                )
            return await self._settle(chat.id, await self._one(chat.id, agent.id), action, force)

    async def _settle(self, chat_id: str, agent: AgentRecord, action: str, force: bool) -> dict[str, Any]:
        """worktree(), under the worktree's lock, with its agent as the lock found it."""
        if not agent.worktree_path:
            raise FailedPreconditionError(f"agent {agent.name} ({agent.id}) has no worktree")
        if agent.worktree_state not in SETTLED_FROM[action]:
            raise FailedPreconditionError(f"agent {agent.name}'s worktree is {agent.worktree_state} already")
        if agent.status is AgentStatus.RUNNING and action != "keep":
            raise FailedPreconditionError(f"agent {agent.name} is still running: wait for it or cancel it first")
        project = await self.db.fetchrow(
            "SELECT p.daemon_id, p.path FROM chats c JOIN projects p ON p.id = c.project_id WHERE c.id = %s",
            (chat_id,),
        )
        assert project is not None
        where = {"workspace": project["path"], "path": agent.worktree_path}
        removal = {**where, "delete_branch": True, "branch": agent.worktree_branch}
        result: dict[str, Any] = {}
        if action == "merge":
            message = f"Merge the work of agent {agent.name}: {agent.task[:200]}"
            # Into where its spawner worked (the chat's or its parent's worktree), else the project.
            body = {**where, "message": message, "base": agent.base_commit, "into": agent.merge_into}
            result = await self._daemon(project["daemon_id"], "worktree.merge", body)
            if result.get("empty"):
                raise FailedPreconditionError(f"nothing to merge: agent {agent.name} changed nothing in its worktree")
            if not result.get("merged"):
                conflicts = ", ".join(result.get("conflicts") or ())
                raise FailedPreconditionError(f"not merged, nothing changed: {result.get('reason')}: {conflicts}")
            commit = str(result.get("commit") or "")
            await self._record(chat_id, agent.id, "merged", commit)  # made: recorded before anything else can fail
            try:
                await self._daemon(project["daemon_id"], "worktree.remove", removal)
            except (FailedPreconditionError, UnavailableError) as exc:
                left = f"merged as {commit[:12]}, but its worktree is left at {agent.worktree_path}: {exc.message}"
                raise type(exc)(left) from None
        elif agent.worktree_state == "merged":  # its worktree left after the merge
            try:
                await self._daemon(project["daemon_id"], "worktree.status", where)
            except FailedPreconditionError as exc:
                merged = f"agent {agent.name}'s worktree is merged already (as {agent.worktree_commit[:12]})"
                raise FailedPreconditionError(f"{merged}, and {exc.message}") from None
            await self._daemon(project["daemon_id"], "worktree.remove", removal | {"force": force})
        else:
            if action == "remove":
                await self._daemon(project["daemon_id"], "worktree.remove", removal | {"force": force})
            await self._record(chat_id, agent.id, {"keep": "kept", "remove": "removed"}[action], "")
        done = await self.agent(chat_id, agent.id)
        return done | {"commit": result.get("commit", ""), "files": result.get("files", [])}

    async def _record(self, chat_id: str, agent_id: str, state: str, commit: str) -> None:
        """The agent's active or kept worktree is now `state` (announced to the chat's clients)."""
        async with self.chats.log.change(chat_id) as change:
            if await agents_db.set_worktree_state(
                change.tx, agent_id, state, commit=commit, settled_from=("active", "kept")
            ):
                changed = await agents_db.get(change.tx, agent_id)
                assert changed is not None
                change.emit(kinds.AGENT_STATUS, agent_payload(changed))

    async def diff(self, chat_id: str, agent_id: str) -> dict[str, Any]:
        """What the agent changed in its worktree since the commit it started from: {diff, files,
        truncated}; refused when it has no worktree (any more)."""
        chat = await self.chats.chat(chat_id)
        agent = await self._one(chat.id, agent_id)
        if not agent.worktree_path:
            raise FailedPreconditionError(f"agent {agent.name} ({agent.id}) has no worktree")
        if agent.worktree_state not in ("active", "kept"):
            raise FailedPreconditionError(f"agent {agent.name}'s worktree is {agent.worktree_state}: it has no diff")
        project = await self.db.fetchrow(
            "SELECT p.daemon_id, p.path FROM chats c JOIN projects p ON p.id = c.project_id WHERE c.id = %s",
            (chat.id,),
        )
        assert project is not None
        body = {"workspace": project["path"], "path": agent.worktree_path, "base": agent.base_commit}
        reply = await self._daemon(project["daemon_id"], "worktree.diff", body)
        return {
            "diff": str(reply.get("diff", "")),
            "files": [str(f) for f in reply.get("files") or []],
            "truncated": bool(reply.get("truncated")),
        }

    async def _one(self, chat_id: str, agent_id: str) -> AgentRecord:
        wanted = agent_id.strip().lower()  # a UUID, in either case like the chat's
        found = [a for a in await agents_db.for_chat(self.db, chat_id) if a.id == wanted]
        if not found:
            raise NotFoundError(f"agent {quoted(agent_id)} not found in chat {chat_id}")
        return found[0]

    async def _daemon(self, daemon_id: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = await control(self.chats.ctx.bus, daemon_id, name, body, timeout=WORKTREE_TIMEOUT)
        except DaemonUnavailableError as exc:
            raise UnavailableError(str(exc)) from None
        if reply.get("uncommitted"):
            how = (
                "remove it with force (REST: {action: remove, force: true}; CLI: reliant agents --remove AGENT --force)"
            )
            raise FailedPreconditionError(f"{reply.get('error')}. To delete them, {how}")
        if not reply.get("ok"):
            raise FailedPreconditionError(str(reply.get("error") or f"the daemon refused {name}"))
        return reply

    async def set_budget(self, chat_id: str, usd: float | None) -> dict[str, Any]:
        """The chat's own budget (None: back to the configured default). A paused chat goes on once
        resumed."""
        chat = await self.chats.chat(chat_id)
        if usd is not None and (problem := budget_problem(usd)):
            raise InvalidFieldError("usd", problem)
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
            agents=[_agent_pb(a) for a in tree["agents"]],
            spent_usd=tree["spent_usd"],
            budget_usd=tree["budget_usd"],
            budget_in_force_usd=tree["budget_in_force_usd"],
            budget_source=tree["budget_source"],
        )

    async def get_agent(self, request: pb.GetAgentRequest, ctx: RequestContext[Any, Any]) -> pb.Agent:
        return _agent_pb(await call(self.agents.agent(request.chat_id, request.agent_id)))

    async def set_worktree(self, request: pb.SetWorktreeRequest, ctx: RequestContext[Any, Any]) -> pb.Agent:
        done = self.agents.worktree(request.chat_id, request.agent_id, request.action, force=request.force)
        return _agent_pb(await call(done))

    async def get_agent_diff(self, request: pb.GetAgentRequest, ctx: RequestContext[Any, Any]) -> pb.AgentDiff:
        return pb.AgentDiff(**await call(self.agents.diff(request.chat_id, request.agent_id)))


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
