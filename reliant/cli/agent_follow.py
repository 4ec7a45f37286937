"""`reliant chat --chat ID --agent AGENT`: one sub-agent of a chat followed as `reliant chat` follows
a chat — its transcript so far, then its updates live (the same renderer), until the agent ends.

The chat's update stream carries every agent's updates; AgentUpdates keeps this agent's: messages
whose step is the agent's (`<agent id>/...`), the answer it streams (by message id), its tool calls
(on its own threads), the gates it raised and its own agent_* updates."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from reliant.cli import ids
from reliant.cli.api import Api, CliError
from reliant.cli.conversation import EXIT_FAILED, EXIT_OK, EXIT_PAUSED, follow
from reliant.cli.gates import Gates
from reliant.cli.render import Renderer
from reliant.cli.shown import printable
from reliant.cli.transcript import draw
from reliant.wire.v1 import agent_pb2 as apb
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1.agent_connect import AgentServiceClientSync

AGENT_KINDS = ("agent_started", "agent_status", "agent_finished")
RUN_KINDS = ("run_started", "node_state", "run_finished")
# What the view of an agent is also handed of other agents: the renderer tells the life of those it
# spawned (reliant.cli.agent_scope) and leaves out the rest.
LIFECYCLE_KINDS = ("agent_started", "agent_finished", "run_finished")
# How the follow ends, by how the agent ended (as `reliant chat` exits on its turn's end).
EXIT_OF_STATUS = {"done": EXIT_OK, "failed": EXIT_FAILED, "cancelled": EXIT_FAILED}


class AgentUpdates:
    """Which of a chat's updates are one agent's."""

    def __init__(self, agent_id: str, threads: set[str]) -> None:
        self.agent_id = agent_id
        self.prefix = f"{agent_id}/"
        self.threads = set(threads)  # its messages' threads: its tool calls are there
        self.streaming: set[str] = set()  # message ids of the answers it streams
        self.turns: set[int] = set()

    def _step(self, step: object) -> bool:
        return str(step or "").startswith(self.prefix)

    def mine(self, kind: str, payload: dict[str, Any]) -> bool:
        if kind in ("message_created", "message_completed"):
            message = payload.get("message") or {}
            if not self._step(message.get("step")):
                return False
            if message.get("thread_id"):
                self.threads.add(str(message["thread_id"]))
            return True
        if kind == "message_started":
            if not self._step(payload.get("step")):
                return False
            self.streaming.add(str(payload.get("message_id", "")))
            self.turns.add(int(payload.get("turn") or 0))
            if payload.get("thread_id"):
                self.threads.add(str(payload["thread_id"]))
            return True
        if kind in ("block_started", "block_delta"):
            return str(payload.get("message_id", "")) in self.streaming
        if kind == "message_aborted":
            return int(payload.get("turn") or 0) in self.turns
        if kind in ("tool_started", "tool_finished", "context"):
            return bool(payload.get("thread_id")) and str(payload.get("thread_id")) in self.threads
        if kind in ("approval_requested", "question_asked"):
            return str((payload.get("agent") or {}).get("agent_id", "")) == self.agent_id
        if kind in AGENT_KINDS:
            return str(payload.get("agent_id", "")) == self.agent_id
        if kind in RUN_KINDS:
            return str(payload.get("run_id", "")) == self.agent_id
        return False

    def shown(self, kind: str, payload: dict[str, Any]) -> bool:
        """Whether the agent's view is handed the update: its own, and the lives of other agents."""
        return kind in LIFECYCLE_KINDS or self.mine(kind, payload)


def resolve_agent(api: Api, chat_id: str, given: str) -> apb.Agent:
    """The chat's agent that `given` (an id or a unique prefix) names."""
    with AgentServiceClientSync(api.url, proto_json=True, timeout_ms=30_000) as agents:
        listed = agents.list_agents(apb.ListAgentsRequest(chat_id=chat_id), headers=api.headers).agents
    short = ids.short_ids([chat_id])[chat_id]
    if not listed:
        raise CliError(f"chat {short} has no sub-agents (see `reliant agents --chat {short}`)")
    candidates = [(a.agent_id, f"{a.name} ({a.status}): {a.task[:60]}") for a in listed]
    wanted = ids.resolve("agent", given, candidates, listing=f"reliant agents --chat {short}")
    for agent in listed:
        if agent.agent_id == wanted:
            return agent
    raise CliError(f"{given} is not an agent of chat {short} (see `reliant agents --chat {short}`)")


def follow_agent(api: Api, chat_id: str, given: str, renderer: Renderer, gates: Gates | None = None) -> int:
    """Draw the agent's transcript so far, then its updates until it ends; returns the exit code:
    0 when it is done, 1 when it failed or was cancelled, 2 when the chat pauses (3 from `gates`
    with --wait-for-gate). `gates` asks what the agent (only) waits for, as `reliant chat` does."""
    agent = resolve_agent(api, chat_id, given)
    renderer.scope.view = agent.agent_id  # the agents it spawns show as lines of their lives
    with api.chats() as chats:
        listed = chats.list_messages(
            pb.ListMessagesRequest(chat_id=chat_id, agent_id=agent.agent_id), headers=api.headers
        )
        chat = chats.get_chat(pb.GetChatRequest(id=chat_id), headers=api.headers)
    # Its status read after the stream's resume point: if it ends later, the stream tells.
    with AgentServiceClientSync(api.url, proto_json=True, timeout_ms=30_000) as agents:
        request = apb.GetAgentRequest(chat_id=chat_id, agent_id=agent.agent_id)
        agent = agents.get_agent(request, headers=api.headers)
    short = agent.agent_id[:8]
    about = f"agent {agent.name} ({short}) · {agent.task[:80]} · {agent.model or chat.model}"
    renderer.note(Text(printable(about), style="bold"))
    messages = [m for m in listed.messages if not m.queued]
    draw(renderer, messages)
    if agent.status != "running":
        renderer.settle()
        return _ended(renderer, agent.name, agent.status, agent.error)
    if chat.status == "paused":
        renderer.note(Text(f"the chat is paused: {chat.status_reason or 'paused by the user'}", style="yellow"))
        return EXIT_PAUSED
    mine = AgentUpdates(agent.agent_id, {m.thread_id for m in messages if m.thread_id})
    if gates is not None:
        gates.chat_id = chat_id
        for kind, payload in gates.waiting():
            if mine.mine(kind, payload) and (code := gates.on_update(kind, payload)) is not None:
                return code

    def done(kind: str, payload: dict[str, Any]) -> int | None:
        if kind == "chat_status":
            status = payload.get("status")
            if status == "paused":
                renderer.note(Text(f"the chat paused: {payload.get('reason') or 'paused by the user'}", style="yellow"))
                return EXIT_PAUSED
            if status == "failed":
                return EXIT_FAILED
            return None
        if gates is not None and kind in ("approval_resolved", "question_answered"):
            gates.on_update(kind, payload)  # answered (here or elsewhere): not asked again
        if not mine.mine(kind, payload):
            return None
        if gates is not None and (code := gates.on_update(kind, payload)) is not None:
            return code
        if kind == "agent_finished" or (kind in AGENT_KINDS and payload.get("status") in EXIT_OF_STATUS):
            renderer.settle()
            return _ended(renderer, agent.name, str(payload.get("status")), str(payload.get("error") or ""))
        return None

    return follow(api, chat_id, int(listed.resume_seq), done, _Filtered(renderer, mine))


class _Filtered:
    """The renderer, handed only the agent's updates (follow draws each update, then asks `done`)."""

    def __init__(self, renderer: Renderer, mine: AgentUpdates) -> None:
        self.renderer = renderer
        self.mine = mine

    def update(self, kind: str, payload: dict[str, Any]) -> None:
        if self.mine.shown(kind, payload):
            self.renderer.update(kind, payload)


def show_agent(api: Api, chat_id: str, given: str) -> int:
    """`reliant show --agent AGENT`: the agent's transcript alone, from the chat's update log, and
    how it ended (or that it still runs)."""
    from reliant.cli.transcript import header, replay
    from reliant.cli.workflow_client import RunRenderer

    agent = resolve_agent(api, chat_id, given)
    renderer = RunRenderer(live=False, agent=agent.agent_id)
    header(api, chat_id, renderer)
    about = f"agent {agent.name} ({agent.agent_id[:8]}) · {agent.task[:80]} · {agent.status}"
    renderer.line(Text(printable(about), style="bold"))
    replay(api, chat_id, renderer, AgentUpdates(agent.agent_id, set()).shown)
    if agent.status != "running":
        _ended(renderer, agent.name, agent.status, agent.error)
    return 0


def _ended(renderer: Renderer, name: str, status: str, error: str) -> int:
    style = "green" if status == "done" else "red"
    renderer.note(Text(printable(f"agent {name} {status}" + (f": {error}" if error else "")), style=style))
    return EXIT_OF_STATUS.get(status, EXIT_FAILED)
