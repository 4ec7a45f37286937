"""The agent tools' side effects (spawn_agent, wait_agents, message_agent, cancel_agent,
list_agents): what the workflow cannot do itself. Starting, waiting for and signalling the agents
is the workflow's (interpreter/agents.py); this records them, makes their worktrees and writes each
call's result, once: every step is idempotent by the call's key.

begin_agent_tool reads the call, checks it, and either finishes it at once (a malformed call, a
limit reached, list_agents, message_agent) or tells the workflow what to do (the agent to start,
the agents to wait for or cancel). finish_agent_tool writes the result from the agents' records:
their final text, outputs and worktree diff.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from temporalio import activity

from reliant.bus import Bus
from reliant.clients.daemons import control
from reliant.clients.providers import ProviderPool
from reliant.clients.update_log import Change, UpdateLog
from reliant.clients.workflow_files import Library, ProjectFiles
from reliant.db import Database
from reliant.db import agents as agents_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain import update_kinds as kinds
from reliant.domain.agents import (
    CANCEL_AGENT,
    FINAL_AGENT_STATES,
    LIST_AGENTS,
    MESSAGE_AGENT,
    SPAWN_AGENT,
    WAIT_AGENTS,
    AgentLimits,
    AgentRecord,
    AgentStatus,
)
from reliant.domain.chat import FINAL_TOOL_STATES, ToolRun, ToolState
from reliant.domain.model_spec import SPEC_FORMS, split_model_spec
from reliant.engine.parse import parse_preset
from reliant.errors import DaemonUnavailableError
from reliant.llm.errors import FatalLlmError
from reliant.wire.payloads import agent_payload, tool_run_payload, tool_started_payload
from reliant.worker import agent_tools, definitions
from reliant.worker.activities.llm import chat_gone
from reliant.worker.activities.notes import emit_notes
from reliant.worker.activities.types import (
    AbandonSpawnInput,
    AgentStatusesInput,
    AgentStatusesResult,
    BeginAgentToolInput,
    BeginAgentToolResult,
    FinishAgentToolInput,
)
from reliant.worker.interpreter.cursor import AgentScope

logger = logging.getLogger(__name__)

DEFAULT_WORKFLOW = "agent"
WORKTREE_TIMEOUT = 60.0
MAX_RESULT_TEXT = 12_000  # an agent's answer in its spawner's tool result
MAX_DIFF_TEXT = 8_000  # its worktree's diff there (the worktree keeps all of it)
NAME_CHARS = 40


async def finish_agent(change: Change, agent_id: str, status: str, outputs: dict[str, Any], error: str) -> bool:
    """A sub-agent's own run ended: so does the agent (its answer is its run's `text` output). True
    when its spawner must be told: it continued as new since, and holds no handle of the agent."""
    text = outputs.get("text")
    answer = text if isinstance(text, str) else ""
    end = await agents_db.finish(change.tx, agent_id, AgentStatus(status), text=answer, outputs=outputs, error=error)
    if end.agent is not None:
        change.emit(kinds.AGENT_FINISHED, agent_payload(end.agent))
    return end.report


class AgentActivities:
    def __init__(
        self, db: Database, bus: Bus, log: UpdateLog, providers: ProviderPool, limits: AgentLimits | None = None
    ) -> None:
        self.db = db
        self.bus = bus
        self.log = log
        self.providers = providers
        self.limits = limits or AgentLimits()

    @activity.defn(name="begin_agent_tool")
    async def begin_agent_tool(self, inp: BeginAgentToolInput) -> BeginAgentToolResult:
        await emit_notes(self.log, inp.chat_id, inp.notes)
        target = await tool_runs_db.get_with_target(self.db, inp.chat_id, inp.call_key)
        if target is None:
            raise chat_gone(inp.chat_id)
        run = target.run
        name = run.tool_name
        if run.state in FINAL_TOOL_STATES:
            return BeginAgentToolResult(name, state=run.state.value)
        problem = agent_tools.problems(name, run.input)
        if problem:
            return await self._result(inp.chat_id, run, error=f"invalid {name} call: {problem}")
        start = run.state is ToolState.PENDING
        if name == SPAWN_AGENT:  # started in the commit that records the agent
            return await self._spawn(inp, run, target, start=start)
        if start:
            await self._started(inp.chat_id, run)
        if name == LIST_AGENTS:
            return await self._result(inp.chat_id, run, output=_listing(await agents_db.for_chat(self.db, inp.chat_id)))
        ids, problem = await self._resolve(inp, run)
        if problem:
            return await self._result(inp.chat_id, run, error=problem)
        if name == MESSAGE_AGENT:
            agent = await agents_db.get(self.db, ids[0])
            assert agent is not None
            if agent.status in FINAL_AGENT_STATES:
                return await self._result(inp.chat_id, run, error=f"agent {agent.id} has ended ({agent.status})")
            async with self.log.change(inp.chat_id) as change:
                await agents_db.add_note(change.tx, agent.id, str(run.input["message"]))
                finished = await tool_runs_db.finish(
                    change.tx,
                    inp.chat_id,
                    run.key,
                    state=ToolState.COMPLETED,
                    output=f"Sent: agent {agent.name} ({agent.id}) reads it before its next model call.",
                )
                if finished is not None:
                    change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
            return BeginAgentToolResult(name, state=ToolState.COMPLETED.value)
        if name == CANCEL_AGENT:
            return BeginAgentToolResult(name, ids=ids)
        given = run.input.get("timeout_seconds")
        if given == 0:  # not to wait at all: how each stands now (for the workflow, 0 is no timeout)
            return await self.finish_agent_tool(FinishAgentToolInput(inp.chat_id, run.key, ids=ids))
        timeout = float(given or 0)
        return BeginAgentToolResult(name, ids=ids, any=run.input.get("mode") == "any", timeout_seconds=timeout)

    @activity.defn(name="finish_agent_tool")
    async def finish_agent_tool(self, inp: FinishAgentToolInput) -> BeginAgentToolResult:
        run = await tool_runs_db.get(self.db, inp.chat_id, inp.call_key)
        if run is None:
            raise chat_gone(inp.chat_id)
        if run.state in FINAL_TOOL_STATES:
            return BeginAgentToolResult(run.tool_name, state=run.state.value)
        found = {a.id: a for a in await agents_db.by_ids(self.db, inp.chat_id, inp.ids)}
        agents = [found[i] for i in inp.ids if i in found]
        if inp.spawned:
            [agent] = agents
            output = f"Agent {agent.name} started: id {agent.id}. It works on its own; wait_agents gives its result."
            return await self._result(inp.chat_id, run, output=output, data={"agents": [agent_payload(agent)]})
        if inp.cancelled:
            [agent] = agents
            return await self._result(
                inp.chat_id, run, output=f"Agent {agent.name} ({agent.id}) is {agent.status}.", data={}
            )
        parts = [await self._report(a) for a in agents]
        if inp.timed_out:
            running = [a for a in agents if a.status is AgentStatus.RUNNING]
            parts.append(f"Timed out waiting; still running: {', '.join(a.id for a in running)}")
        data = {"agents": [agent_payload(a) for a in agents]}
        failed = run.tool_name == SPAWN_AGENT and agents and agents[0].status is not AgentStatus.DONE
        text = "\n\n".join(parts)
        if failed:
            return await self._result(inp.chat_id, run, error=text, data=data)
        return await self._result(inp.chat_id, run, output=text, data=data)

    @activity.defn(name="abandon_spawn")
    async def abandon_spawn(self, inp: AbandonSpawnInput) -> None:
        """A spawn_agent call whose run was stopped before it started the agent's workflow: the call
        ends interrupted, and an agent begin_agent_tool recorded for it meanwhile is cancelled (it
        would otherwise stay "running" for ever, counted against the chat's limits). Under the lock
        agents are recorded under: an attempt of begin_agent_tool still running records none after."""
        reason = inp.reason or "cancelled"
        async with self.log.change(inp.chat_id) as change:
            await agents_db.lock_spawns(change.tx, inp.chat_id)
            try:
                finished = await tool_runs_db.finish(
                    change.tx,
                    inp.chat_id,
                    inp.call_key,
                    state=ToolState.INTERRUPTED,
                    error=f"{reason}: the agent was not started",
                )
            except LookupError:
                return  # the chat is gone
            if finished is not None:
                change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
            agent = await agents_db.by_call(change.tx, inp.chat_id, inp.call_key)
            if agent is not None:
                await finish_agent(change, agent.id, AgentStatus.CANCELLED.value, {}, f"{reason} before it started")

    @activity.defn(name="agent_statuses")
    async def agent_statuses(self, inp: AgentStatusesInput) -> AgentStatusesResult:
        if inp.report_ends:  # in one transaction with the read: each is read ended, or will report
            async with self.db.tx() as tx:
                await agents_db.report_ends(tx, inp.chat_id, inp.ids)
                agents = await agents_db.by_ids(tx, inp.chat_id, inp.ids)
            return AgentStatusesResult({a.id: a.status.value for a in agents})
        agents = await agents_db.by_ids(self.db, inp.chat_id, inp.ids)
        return AgentStatusesResult({a.id: a.status.value for a in agents})

    # -- spawn_agent ------------------------------------------------------------------------------------

    async def _spawn(
        self, inp: BeginAgentToolInput, run: ToolRun, target: tool_runs_db.ToolTarget, *, start: bool
    ) -> BeginAgentToolResult:
        """`start`: the call is still pending (shown started with the agent's record)."""
        daemon_id, workspace = target.daemon_id, target.workspace
        args = run.input
        task = str(args["task"])
        workflow = str(args.get("workflow") or DEFAULT_WORKFLOW)
        scope = inp.scope
        try:
            files = await definitions.project_files(self.bus, daemon_id, workspace)
        except DaemonUnavailableError as exc:
            why = f"the project's workflows and presets could not be read: {exc}"
            return await self._refuse(inp.chat_id, run, f"not spawned: {why}", start=start)
        model, system, named_by = scope.model, "", ""
        if args.get("preset"):
            found = _preset(files, str(args["preset"]))
            if isinstance(found, str):
                return await self._refuse(inp.chat_id, run, found, start=start)
            model, system = found[0] or model, found[1]
            named_by = f"preset {args['preset']}: " if found[0] and not args.get("model") else ""
        model = str(args.get("model") or model)
        why = await self._unusable(model)
        if why:  # its first model call would fail, and pause the chat
            return await self._refuse(inp.chat_id, run, f"not spawned: {named_by}{why}", start=start)
        why = await self._unfit(files, workflow, inp.mode)
        if why:
            return await self._refuse(inp.chat_id, run, f"not spawned: {why}", start=start)
        new = agents_db.NewAgent(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"reliant:agent:{inp.chat_id}:{run.key}")),
            chat_id=inp.chat_id,
            parent_id=scope.agent_id,
            call_key=run.key,
            depth=scope.depth + 1,
            name=str(args.get("name") or _name_of(task)),
            task=task,
            workflow=workflow,
            model=model,
            thread_mode=str(args.get("thread") or "new"),
        )
        try:
            async with self.log.change(inp.chat_id) as change:
                if start:
                    await _begin(change, inp.chat_id, run)
                agent, created = await agents_db.create(change.tx, new, self.limits)
                if created:
                    change.emit(kinds.AGENT_STARTED, agent_payload(agent))
        except agents_db.LimitReached as exc:
            # Not shown started with the agent's record (there is none).
            return await self._refuse(inp.chat_id, run, f"not spawned: {exc.message}", start=start)
        except agents_db.CallEnded:  # its run was stopped meanwhile (abandon_spawn): the call stands as it ended
            stood = await tool_runs_db.get(self.db, inp.chat_id, run.key)
            return BeginAgentToolResult(SPAWN_AGENT, state=stood.state.value if stood else ToolState.INTERRUPTED.value)
        if args.get("worktree") and not agent.worktree_path:
            # Where the spawner works (its own worktree, the chat's, else the project): where the
            # agent's worktree starts from and is merged into.
            spawner = inp.scope.workspace or target.worktree
            made = await self.make_worktree(agent, daemon_id, workspace, spawner)
            if isinstance(made, str):
                async with self.log.change(inp.chat_id) as change:
                    end = await agents_db.finish(
                        change.tx, agent.id, AgentStatus.FAILED, text="", outputs={}, error=made
                    )
                    ended = end.agent or await agents_db.get(change.tx, agent.id)
                    assert ended is not None
                    change.emit(kinds.AGENT_FINISHED, agent_payload(ended))
                return await self._result(inp.chat_id, run, error=f"not spawned: {made}")
            agent = made
        inputs: dict[str, Any] = {}
        if workflow != DEFAULT_WORKFLOW:
            # A workflow that takes a task gets it; every one finds it as its first message (open_run).
            inputs = {"task": task}
        return BeginAgentToolResult(
            SPAWN_AGENT,
            agent_id=agent.id,
            workflow=workflow,
            inputs=inputs,
            thread_mode=agent.thread_mode,
            wait=args.get("wait", True) is not False,
            task=task,
            scope=AgentScope(
                agent_id=agent.id,
                depth=agent.depth,
                model=model,
                system="\n\n".join(s for s in (scope.system if not system else "", system) if s),
                workspace=agent.worktree_path or scope.workspace,
            ),
        )

    async def _unusable(self, model: str) -> str:
        """Why the agent's model cannot be called ("" when it can): it names no provider reliant
        has, or one without its key (the settings in force, as its calls would find them)."""
        spec = split_model_spec(model)
        if spec is None:
            return f"model {model!r} names no provider reliant has; use {SPEC_FORMS}"
        try:
            (await self.providers.providers()).require(spec.provider)
        except FatalLlmError as exc:
            return f"model {model!r} cannot be called: {exc}"
        return ""

    async def _unfit(self, files: ProjectFiles, workflow: str, mode: str) -> str:
        """Why the workflow cannot run as an agent the model spawns in `mode` ("" when it can): it
        is not there (or not valid), a node of it (or of a workflow it runs) names a model that
        cannot be called, or it does what `mode` does not allow unasked. The default workflow too:
        the project's own agent.yaml may shadow it. Asked before an agent, and its worktree, are
        made for it."""
        try:
            definitions.choose(workflow, files)
        except definitions.DefinitionProblem as exc:
            return str(exc)
        for named in definitions.models(workflow, files):
            why = await self._unusable(named.spec)
            if why:  # that node's first call would fail, and pause the chat
                return f"workflow {workflow} cannot run: {named.where}: {why}"
        why = definitions.unasked(workflow, files, mode)
        return f"{why}, which {mode} mode does not allow" if why else ""

    async def make_worktree(
        self, agent: AgentRecord, daemon_id: str, workspace: str, spawner: str = ""
    ) -> AgentRecord | str:
        """The agent's own git worktree of the project, on a new branch (idempotent: a retry after the
        daemon made it finds it). `spawner`: the worktree of the project its spawner works in ("" or
        the project's path: the project's checkout); the agent's starts from the commit checked out
        there, and is merged back there."""
        name = f"agent-{agent.id[:8]}"
        body: dict[str, Any] = {"workspace": workspace, "name": name, "branch": f"reliant/{name}"}
        into = spawner if spawner != workspace else ""
        try:
            create = {**body, "source": into} if into else body
            reply = await control(self.bus, daemon_id, "worktree.create", create, timeout=WORKTREE_TIMEOUT)
            if not reply.get("ok") and "already exists" in str(reply.get("error", "")):
                listed = await control(self.bus, daemon_id, "worktree.list", body, timeout=WORKTREE_TIMEOUT)
                same = [w for w in listed.get("worktrees") or () if w.get("name") == name]
                reply = {"ok": bool(same), "worktree": {**same[0], "base": same[0].get("head", "")} if same else {}}
        except DaemonUnavailableError as exc:
            return f"no worktree: {exc}"
        if not reply.get("ok"):
            return f"no worktree: {reply.get('error') or 'the daemon could not make one'}"
        info = reply["worktree"]
        async with self.db.tx() as tx:
            await agents_db.set_worktree(
                tx,
                agent.id,
                path=str(info["path"]),
                branch=str(info["branch"]),
                base_commit=str(info["base"]),
                merge_into=into,
            )
            made = await agents_db.get(tx, agent.id)
        assert made is not None
        return made

    # -- results ------------------------------------------------------------------------------------

    async def _report(self, agent: AgentRecord) -> str:
        """What the spawner reads of an agent: how it ended, its answer, its outputs, its diff."""
        head = f"Agent {agent.name} ({agent.id}): {agent.status}"
        if agent.error:
            head += f": {agent.error}"
        lines = [head]
        if agent.text:
            lines.append(_capped(agent.text, MAX_RESULT_TEXT))
        extra = {k: v for k, v in agent.outputs.items() if k not in ("text", "turns")}
        if extra:
            lines.append("Outputs: " + _capped(json.dumps(extra, default=str), MAX_RESULT_TEXT))
        if agent.worktree_path:
            lines.append(f"Worktree: {agent.worktree_path} (branch {agent.worktree_branch})")
            lines.append(await self._diff(agent))
        return "\n".join(lines)

    async def _diff(self, agent: AgentRecord) -> str:
        project = await self.db.fetchrow(
            "SELECT p.daemon_id, p.path FROM chats c JOIN projects p ON p.id = c.project_id WHERE c.id = %s",
            (agent.chat_id,),
        )
        if project is None or agent.worktree_state != "active":
            return f"(worktree {agent.worktree_state or 'gone'})"
        body = {"workspace": project["path"], "path": agent.worktree_path, "base": agent.base_commit}
        try:
            reply = await control(self.bus, project["daemon_id"], "worktree.diff", body, timeout=WORKTREE_TIMEOUT)
        except DaemonUnavailableError as exc:
            return f"(its diff could not be read: {exc})"
        if not reply.get("ok"):
            return f"(its diff could not be read: {reply.get('error')})"
        diff = str(reply.get("diff") or "")
        if not diff:
            return "No changes."
        return "Changes:\n" + _capped(diff, MAX_DIFF_TEXT)

    async def _resolve(self, inp: BeginAgentToolInput, run: ToolRun) -> tuple[list[str], str]:
        """The agents a wait/message/cancel call names: the caller's own (by id or a unique prefix)."""
        given = run.input.get("ids") if run.tool_name == WAIT_AGENTS else [run.input.get("id")]
        mine = [a for a in await agents_db.for_chat(self.db, inp.chat_id) if a.parent_id == inp.scope.agent_id]
        ids: list[str] = []
        for raw in given or ():
            text = str(raw).strip()
            matches = [a.id for a in mine if a.id == text] or [a.id for a in mine if text and a.id.startswith(text)]
            if len(matches) != 1:
                known = ", ".join(f"{a.id} ({a.name})" for a in mine) or "none"
                why = "matches several" if matches else "is not one of yours"
                return [], f"agent {text!r} {why}; the agents you spawned: {known}"
            if matches[0] not in ids:
                ids.append(matches[0])
        return ids, ""

    async def _refuse(self, chat_id: str, run: ToolRun, error: str, *, start: bool) -> BeginAgentToolResult:
        """The call fails with `error` (`start`: it is still pending, and is shown started first)."""
        if start:
            await self._started(chat_id, run)
        return await self._result(chat_id, run, error=error)

    async def _started(self, chat_id: str, run: ToolRun) -> None:
        async with self.log.change(chat_id) as change:
            await _begin(change, chat_id, run)

    async def _result(
        self, chat_id: str, run: ToolRun, *, output: str = "", error: str = "", data: dict[str, Any] | None = None
    ) -> BeginAgentToolResult:
        state = ToolState.FAILED if error else ToolState.COMPLETED
        async with self.log.change(chat_id) as change:
            finished = await tool_runs_db.finish(
                change.tx, chat_id, run.key, state=state, output=output, error=error, data=data
            )
            if finished is None:  # another attempt recorded its result first: it stands
                stood = await tool_runs_db.get(change.tx, chat_id, run.key)
                return BeginAgentToolResult(run.tool_name, state=stood.state.value if stood else state.value)
            change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
        return BeginAgentToolResult(run.tool_name, state=state.value)


def _preset(files: ProjectFiles, name: str) -> tuple[str, str] | str:
    """(model, instructions) of the preset `name` (the project's shadows a built-in), or why not."""
    presets = Library(files).presets  # later ones shadow earlier ones
    texts = [t for t in presets if t.name == name]
    if not texts:
        known = ", ".join(sorted({t.name for t in presets}))
        return f"no preset called {name!r}; the presets are {known}"
    preset, problems = parse_preset(texts[-1].text, texts[-1].source, name)
    if preset is None or problems:
        return f"preset {name} is not valid: {'; '.join(str(p) for p in problems[:3])}"
    settings = preset.settings
    model = settings.model.text if settings.model is not None and not settings.model.expressions() else ""
    system = settings.system.text if settings.system is not None and not settings.system.expressions() else ""
    return model, system


def _name_of(task: str) -> str:
    words = " ".join(task.split())
    return words if len(words) <= NAME_CHARS else words[: NAME_CHARS - 1].rstrip() + "…"


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n[... {len(text) - limit} more characters]"


def _listing(agents: list[AgentRecord]) -> str:
    if not agents:
        return "No agents in this chat."
    lines = []
    for a in agents:
        indent = "  " * (a.depth - 1)
        where = f" worktree {a.worktree_branch}" if a.worktree_path else ""
        lines.append(
            f"{indent}{a.id} {a.name!r}: {a.status}, ${a.cost_usd:.4f}, "
            f"{a.input_tokens + a.output_tokens} tokens{where} — {_capped(a.task, 200)}"
        )
    return "\n".join(lines)


async def _begin(change: Change, chat_id: str, run: ToolRun) -> None:
    """Record the call executing, and say so (unless it has ended meanwhile)."""
    begun = await tool_runs_db.begin(change.tx, chat_id, run.key)
    if begun is not None:
        change.emit(kinds.TOOL_STARTED, tool_started_payload(begun))
