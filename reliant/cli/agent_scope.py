"""Whose a chat's update is: the agent a view follows, or one of the sub-agents beside it.

A chat's update stream carries every agent's updates interleaved (best-of-n's agents stream,
call tools and take their context side by side). A view shows its own agent's thread and, for
each agent it spawned, only lines about its life; AgentScope tells which agent an update is from:
an agent_* or its run's update by its id, a message by its step (`<agent id>/...`) or thread, a
streamed answer by its message id (or turn), a tool call or a context by its thread, a gate by the
agent that raised it. An update of no agent it knows (the chat's top agent's, or one whose agent
it has not met yet) is the view's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CLIP = 100  # characters of a task or a result on an agent's lifecycle line


@dataclass
class Agent:
    """What a view says about a sub-agent: who spawned it, its name and task, and how it ended."""

    agent_id: str
    parent_id: str
    name: str
    task: str
    result: str = ""  # its run's outputs, in one line, once its run finished


class AgentScope:
    def __init__(self, view: str = "") -> None:
        self.view = view  # the agent whose view this is ("": the chat's top agent)
        self.agents: dict[str, Agent] = {}
        self._threads: dict[str, str] = {}  # thread id -> the agent whose thread it is
        self._own: set[str] = set()  # the view's threads (a sub-agent may inherit one: it stays the view's)
        self._streams: dict[str, str] = {}  # message id of a streamed answer -> its agent
        self._turns: dict[int, str] = {}  # turn of a streamed answer -> its agent

    def meet(self, fields: Mapping[str, Any]) -> Agent:
        """An agent as an agent_* update (or ListAgents) describes it."""
        agent_id = str(fields.get("agent_id", ""))
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = Agent(
                agent_id,
                str(fields.get("parent_agent_id") or ""),
                str(fields.get("name", "")),
                str(fields.get("task", "")),
            )
            self.agents[agent_id] = agent
        return agent

    def is_child(self, agent_id: str) -> bool:
        """Whether the agent was spawned by the view's own agent (its life is told in the view)."""
        agent = self.agents.get(agent_id)
        return agent is not None and agent.parent_id == self.view

    def owner(self, kind: str, payload: Mapping[str, Any]) -> str:
        """The id of the agent whose update this is ("": the view's own, as far as is known)."""
        if kind.startswith("agent_"):
            self.meet(payload)
            return str(payload.get("agent_id", ""))
        if kind in ("run_started", "node_state", "run_finished"):
            run = str(payload.get("run_id", ""))  # a sub-agent's own run has the agent's id
            if kind == "run_started" and run in self.agents:
                self._claim(payload.get("thread_id"), run)
            return run if run in self.agents else ""
        if kind in ("message_created", "message_completed"):
            message = payload.get("message") or {}
            return self._of_step(message.get("step"), message.get("thread_id"))
        if kind == "message_started":
            agent = self._of_step(payload.get("step"), payload.get("thread_id"))
            self._streams[str(payload.get("message_id", ""))] = agent
            self._turns[int(payload.get("turn") or 0)] = agent
            return agent
        if kind in ("block_started", "block_delta"):
            return self._streams.get(str(payload.get("message_id", "")), "")
        if kind == "message_aborted":
            return self._turns.get(int(payload.get("turn") or 0), "")
        if kind in ("tool_started", "tool_finished", "context"):
            return self._threads.get(str(payload.get("thread_id") or ""), "")
        if kind in ("approval_requested", "question_asked"):
            tag = payload.get("agent") or {}
            agent = str(tag.get("agent_id", "")) if isinstance(tag, Mapping) else ""
            run = str(payload.get("run_id", ""))  # a workflow's approval node, in a sub-agent's run
            return agent or (run if run in self.agents else "")
        return ""

    def _of_step(self, step: object, thread: object) -> str:
        """A message's agent: its step begins with the agent's id (its notes: by their thread)."""
        head = str(step or "").partition("/")[0]
        agent = head if head in self.agents else self._threads.get(str(thread or ""), "")
        self._claim(thread, agent)
        return agent

    def _claim(self, thread: object, agent: str) -> None:
        """The thread is the agent's: its tool calls and its context come on it."""
        if not thread:
            return
        if not agent:
            self._own.add(str(thread))
        elif str(thread) not in self._own:
            self._threads[str(thread)] = agent


def one_line(text: str, limit: int = CLIP) -> str:
    """`text` on one line, clipped to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def result_of(outputs: object) -> str:
    """A finished run's outputs in one line: its answer's text when it has one, else name=value."""
    if not isinstance(outputs, Mapping) or not outputs:
        return ""
    if isinstance(outputs.get("text"), str) and outputs["text"].strip():
        return one_line(outputs["text"])
    return one_line(", ".join(f"{k}={value_text(v)}" for k, v in outputs.items()))


def value_text(value: Any) -> str:
    """A workflow value as a person writes it (true, 3, not True, 3.0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
