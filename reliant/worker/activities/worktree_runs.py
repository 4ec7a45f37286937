"""The side effects of a `workflow` node that runs a set of children side by side (`count`,
`worktree`) and of the `worktree` node: what the workflow cannot do itself.

begin_runs records each child as an agent of the chat (so the agent tree shows it like a spawned
one) and makes its git worktree; report_runs reads how each ended, with its worktree's diff;
settle_worktrees merges, keeps or removes worktrees. Every step is idempotent: the agents are keyed by
the node's step key and the run's index, and a worktree's state is recorded on its agent — a merge
recorded once is reported again, never made again (and the daemon's merge itself is a no-op for a
branch merged already, which covers a crash between the merge and its record).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from temporalio import activity

from reliant.clients.daemons import control
from reliant.db import agents as agents_db
from reliant.domain import update_kinds as kinds
from reliant.domain.agents import AgentRecord, AgentStatus
from reliant.errors import DaemonUnavailableError
from reliant.llm.demo import DEMO_MODEL, demo_model, is_demo_model
from reliant.wire.payloads import agent_payload
from reliant.worker.activities.agents import (
    MAX_DIFF_TEXT,
    WORKTREE_TIMEOUT,
    AgentActivities,
    _capped,
    finish_agent,
)
from reliant.worker.activities.llm import chat_gone
from reliant.worker.activities.notes import emit_notes
from reliant.worker.activities.types import (
    BeginRunsInput,
    BeginRunsResult,
    ReportRunsInput,
    ReportRunsResult,
    RunAgent,
    SettleWorktreesInput,
    SettleWorktreesResult,
)
from reliant.worker.interpreter.cursor import AgentScope

MERGE_TIMEOUT = 120.0
REPORT_CHARS = 7_000  # the whole report (a node output stays under the interpreter's 8,000)


@dataclass(frozen=True)
class _Project:
    daemon_id: str
    path: str
    worktree: str = ""  # the chat's own active worktree (where its tools run), if it has one
    model: str = ""  # the chat's


class WorktreeRunActivities:
    def __init__(self, agents: AgentActivities) -> None:
        self.agents = agents
        self.db = agents.db
        self.bus = agents.bus
        self.log = agents.log
        self.limits = agents.limits

    # -- a node's runs ------------------------------------------------------------------------------

    @activity.defn(name="begin_runs")
    async def begin_runs(self, inp: BeginRunsInput) -> BeginRunsResult:
        await emit_notes(self.log, inp.chat_id, inp.notes)
        project = await self._project(inp.chat_id)
        scope = inp.scope
        if inp.count > self.limits.max_concurrent:  # said before a key is made: a count may be a billion
            return BeginRunsResult(
                problem=f"{inp.count:,} runs cannot start: at most {self.limits.max_concurrent} may run at once "
                "in a chat (max_concurrent)"
            )
        keys = [f"{inp.key}#{i}" for i in range(inp.count)]
        known = [await agents_db.by_call(self.db, inp.chat_id, k) for k in keys]
        new = sum(1 for a in known if a is None)
        running = await agents_db.running_count(self.db, inp.chat_id)
        if new and running + new > self.limits.max_concurrent:
            return BeginRunsResult(
                problem=f"{inp.count} runs cannot start: {running} agents run in this chat already and at most "
                f"{self.limits.max_concurrent} may run at once (max_concurrent)"
            )
        if new and inp.worktree:  # the runs need a repository to branch from: said before any starts
            repo = await self._daemon(project, "worktree.repo", {"workspace": project.path})
            if not repo.get("ok") or repo.get("problem"):
                why = repo.get("problem") or repo.get("error") or "the daemon could not tell"
                return BeginRunsResult(problem=f"the runs cannot have worktrees: {why}")
        started: list[RunAgent] = []
        for i, key in enumerate(keys):
            model = inp.models[i % len(inp.models)] if inp.models else scope.model
            if is_demo_model(model or project.model):  # the child plays its own workflow's demo
                model = demo_model(DEMO_MODEL, inp.workflow)
            record = agents_db.NewAgent(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"reliant:agent:{inp.chat_id}:{key}")),
                chat_id=inp.chat_id,
                parent_id=scope.agent_id,
                call_key=key,
                depth=scope.depth + 1,
                name=f"{inp.name} #{i + 1}",
                task=inp.task,
                workflow=inp.workflow,
                model=model,
                thread_mode=inp.thread_mode,
            )
            try:
                async with self.log.change(inp.chat_id) as change:
                    agent, created = await agents_db.create(change.tx, record, self.limits)
                    if created:
                        change.emit(kinds.AGENT_STARTED, agent_payload(agent))
            except agents_db.LimitReached as exc:
                return await self._abandon(inp, project, f"run {i + 1} of {inp.count} cannot start: {exc.message}")
            if inp.worktree and not agent.worktree_path:
                # The runs start from, and are merged into, where the node's run works.
                spawner = scope.workspace or project.worktree
                made = await self.agents.make_worktree(agent, project.daemon_id, project.path, spawner)
                if isinstance(made, str):
                    return await self._abandon(inp, project, f"run {i + 1} of {inp.count} has {made}")
                agent = made
            started.append(
                RunAgent(
                    agent.id,
                    AgentScope(
                        agent_id=agent.id,
                        depth=agent.depth,
                        model=model,
                        system=scope.system,
                        workspace=agent.worktree_path or scope.workspace,
                    ),
                )
            )
        return BeginRunsResult(started)

    async def _abandon(self, inp: BeginRunsInput, project: _Project, problem: str) -> BeginRunsResult:
        """Some runs cannot start: none does. The agents recorded for them end failed (the node, once
        resumed, records a new set) and the worktrees made for them go."""
        for i in range(inp.count):
            agent = await agents_db.by_call(self.db, inp.chat_id, f"{inp.key}#{i}")
            if agent is None:
                continue
            if agent.worktree_state == "active":
                await self._remove(project, agent, listed=True)
                await self._record(inp.chat_id, agent, "removed", "")
            async with self.log.change(inp.chat_id) as change:
                error = f"not started: {problem}"
                await finish_agent(change, agent.id, AgentStatus.FAILED.value, {}, error)
        return BeginRunsResult(problem=problem)

    @activity.defn(name="report_runs")
    async def report_runs(self, inp: ReportRunsInput) -> ReportRunsResult:
        found = {a.id: a for a in await agents_db.by_ids(self.db, inp.chat_id, inp.agent_ids)}
        project = await self._project(inp.chat_id)
        runs: list[dict[str, Any]] = []
        for index, agent_id in enumerate(inp.agent_ids):
            agent = found.get(agent_id)
            if agent is None:
                raise chat_gone(inp.chat_id)
            run: dict[str, Any] = {
                "index": index,
                "agent_id": agent.id,
                "worktree": {"path": "", "branch": "", "base": ""},
                "diff": "",
                "files": [],
            }
            if agent.worktree_path:
                where = {"path": agent.worktree_path, "branch": agent.worktree_branch, "base": agent.base_commit}
                run["worktree"] = where
                run["diff"], run["files"] = await self._diff(project, agent)
            runs.append(run)
        return ReportRunsResult(runs, _report(runs, inp.results, {a.id: a for a in found.values()}))

    async def _diff(self, project: _Project, agent: AgentRecord) -> tuple[str, list[str]]:
        if agent.worktree_state != "active":
            return f"(worktree {agent.worktree_state or 'gone'})", []
        body = {"workspace": project.path, "path": agent.worktree_path, "base": agent.base_commit}
        try:
            reply = await control(self.bus, project.daemon_id, "worktree.diff", body, timeout=WORKTREE_TIMEOUT)
        except DaemonUnavailableError as exc:
            return f"(its diff could not be read: {exc})", []
        if not reply.get("ok"):
            return f"(its diff could not be read: {reply.get('error')})", []
        files = [str(f) for f in reply.get("files") or ()]
        return _capped(str(reply.get("diff") or ""), MAX_DIFF_TEXT), files

    # -- the worktree node ------------------------------------------------------------------------

    @activity.defn(name="settle_worktrees")
    async def settle_worktrees(self, inp: SettleWorktreesInput) -> SettleWorktreesResult:
        await emit_notes(self.log, inp.chat_id, inp.notes)
        project = await self._project(inp.chat_id)
        result = SettleWorktreesResult()
        reasons: list[str] = []
        for agent_id in inp.agent_ids:
            # Under the lock the api settles a worktree under: a user's merge or removal of it under
            # way is waited for (the step is retried), and what it made of the worktree read after.
            async with self.db.tx() as tx:
                if not await agents_db.try_lock_worktree(tx, agent_id):
                    raise RuntimeError(f"agent {agent_id}'s worktree is being settled by another request")
                found = await agents_db.by_ids(tx, inp.chat_id, [agent_id])
                agent = found[0] if found else None
                if agent is None:
                    reasons.append(f"no agent {agent_id} in this chat")
                elif not agent.worktree_path:
                    reasons.append(f"agent {agent.name} has no worktree")
                elif inp.action == "merge":
                    reasons.append(await self._merge(inp, project, agent, result))
                else:
                    reasons.append(await self._keep_or_remove(inp, project, agent, result))
        said = [r for r in reasons if r]
        result.ok = not said
        result.reason = "; ".join(said)
        return result

    async def _merge(
        self, inp: SettleWorktreesInput, project: _Project, agent: AgentRecord, out: SettleWorktreesResult
    ) -> str:
        state, commit = agent.worktree_state, agent.worktree_commit
        if state == "active":
            if agent.status is AgentStatus.RUNNING:
                return f"agent {agent.name} is still running: its worktree was not merged"
            message = inp.message or f"Merge the work of {agent.name}: {agent.task[:200]}"
            where = {"workspace": project.path, "path": agent.worktree_path, "into": agent.merge_into}
            reply = await self._daemon(project, "worktree.merge", {**where, "message": message})
            if not reply.get("ok"):
                return f"{agent.name} was not merged: {reply.get('error')}"
            if not reply.get("merged"):
                out.conflicts.extend(str(c) for c in reply.get("conflicts") or ())
                return f"{agent.name} was not merged, nothing changed: {reply.get('reason')} (its worktree is kept)"
            commit = str(reply.get("commit") or "")
            await self._record(inp.chat_id, agent, "merged", commit)
            left = await self._remove(project, agent, listed=False)
        elif state == "merged":  # recorded before (a retry): the worktree may still be there
            left = await self._remove(project, agent, listed=True)
        else:
            return f"{agent.name}'s worktree is {state}: it cannot be merged"
        out.merged.append(agent.id)
        out.commit = commit
        return f"{agent.name} was merged as {commit[:12]}, but its worktree is left: {left}" if left else ""

    async def _keep_or_remove(
        self, inp: SettleWorktreesInput, project: _Project, agent: AgentRecord, out: SettleWorktreesResult
    ) -> str:
        wanted = "kept" if inp.action == "keep" else "removed"
        state = agent.worktree_state
        if state == "active":
            if wanted == "removed":
                if agent.status is AgentStatus.RUNNING:
                    return f"agent {agent.name} is still running: its worktree was not removed"
                if left := await self._remove(project, agent, listed=True, force=inp.force):
                    return f"{agent.name}'s worktree is kept: {left}"
            await self._record(inp.chat_id, agent, wanted, "")
        elif state != wanted:
            return f"{agent.name}'s worktree is {state}: it cannot be {wanted}"
        (out.kept if wanted == "kept" else out.removed).append(agent.id)
        return ""

    async def _remove(self, project: _Project, agent: AgentRecord, *, listed: bool, force: bool = False) -> str:
        """The worktree and its branch, gone (`listed`: only if the daemon still lists it); or, when
        it has uncommitted changes and not `force`, left as it is and why ("" when gone). A merge
        committed the run's work: what is uncommitted after it was changed there since, by someone."""
        if listed:
            reply = await self._daemon(project, "worktree.list", {"workspace": project.path})
            if not reply.get("ok"):
                raise RuntimeError(f"the worktrees could not be listed: {reply.get('error')}")
            names = {str(w.get("name")) for w in reply.get("worktrees") or ()}  # unique under .reliant/worktrees
            if PurePath(agent.worktree_path).name not in names:
                return ""
        body = {"workspace": project.path, "path": agent.worktree_path, "force": force, "delete_branch": True}
        reply = await self._daemon(project, "worktree.remove", body)
        if reply.get("uncommitted"):
            return str(reply.get("error"))
        if not reply.get("ok"):
            raise RuntimeError(f"worktree {agent.worktree_path} could not be removed: {reply.get('error')}")
        return ""

    async def _record(self, chat_id: str, agent: AgentRecord, state: str, commit: str) -> None:
        async with self.log.change(chat_id) as change:
            if await agents_db.set_worktree_state(change.tx, agent.id, state, commit=commit):
                changed = await agents_db.get(change.tx, agent.id)
                assert changed is not None
                change.emit(kinds.AGENT_STATUS, agent_payload(changed))

    # -- shared ---------------------------------------------------------------------------------------

    async def _project(self, chat_id: str) -> _Project:
        row = await self.db.fetchrow(
            "SELECT p.daemon_id, p.path, c.model,"
            " (SELECT w.path FROM worktrees w WHERE w.chat_id = c.id AND w.state = 'active') AS worktree"
            " FROM chats c JOIN projects p ON p.id = c.project_id WHERE c.id = %s",
            (chat_id,),
        )
        if row is None:
            raise chat_gone(chat_id)
        return _Project(str(row["daemon_id"]), str(row["path"]), str(row["worktree"] or ""), str(row["model"]))

    async def _daemon(self, project: _Project, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A worktree request to the project's daemon; offline, the activity fails and is retried."""
        reply: dict[str, Any] = await control(self.bus, project.daemon_id, name, body, timeout=MERGE_TIMEOUT)
        return reply


def _report(runs: list[dict[str, Any]], results: list[dict[str, Any]], agents: dict[str, AgentRecord]) -> str:
    """The runs side by side in words: how each ended, its answer and other outputs, its diff (the
    diffs share what room is left)."""
    heads: list[str] = []
    for run, result in zip(runs, results, strict=False):
        agent = agents[run["agent_id"]]
        outputs = dict(result.get("outputs") or {})
        answer = outputs.pop("text", "")
        lines = [f"## Candidate {run['index'] + 1}: {result.get('status', '')}"]
        if result.get("error"):
            lines.append(f"Error: {result['error']}")
        if isinstance(answer, str) and answer:
            lines.append(f"Its answer: {_capped(answer, 600)}")
        if outputs:
            shown = ", ".join(f"{k}: {_capped(json.dumps(v, default=str), 300)}" for k, v in outputs.items())
            lines.append(f"Outputs: {shown}")
        if agent.worktree_branch:
            lines.append(f"Branch: {agent.worktree_branch}; files changed: {', '.join(run['files']) or 'none'}")
        heads.append("\n".join(lines))
    room = max(300, (REPORT_CHARS - sum(len(h) for h in heads)) // max(1, len(runs)))
    parts = [
        f"{head}\n```diff\n{_capped(run['diff'], room) if run['diff'] else '(no changes)'}\n```"
        for head, run in zip(heads, runs, strict=False)
    ]
    return "\n\n".join(parts)
