"""The tools that let a model delegate: spawn_agent, wait_agents, message_agent, cancel_agent and
list_agents. Offered by the worker to `agent` nodes (not run by a daemon): the workflow itself
starts, waits for and steers the sub-agents (interpreter/agents.py)."""

from __future__ import annotations

import functools
from typing import Any

from reliant.domain.agents import CANCEL_AGENT, LIST_AGENTS, MESSAGE_AGENT, SPAWN_AGENT, WAIT_AGENTS
from reliant.domain.chat import ToolDefinition
from reliant.domain.schema_errors import in_words

MAX_TASK_CHARS = 20_000
MAX_WAIT_SECONDS = 3_600

SPAWN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "task": {"type": "string", "minLength": 1, "maxLength": MAX_TASK_CHARS, "description": "What it should do"},
        "name": {"type": "string", "maxLength": 60, "description": "A short name to tell it apart"},
        "workflow": {"type": "string", "maxLength": 100, "description": "The workflow it runs (default: agent)"},
        "preset": {"type": "string", "maxLength": 100, "description": "A preset: its model and instructions"},
        "model": {"type": "string", "maxLength": 500, "description": "Its model (default: this agent's)"},
        "thread": {
            "type": "string",
            "enum": ["new", "fork"],
            "description": "new (default): it starts with only the task; fork: it also sees this conversation",
        },
        "worktree": {
            "type": "boolean",
            "description": "Work in its own git worktree on a new branch from your workspace's last commit (what you "
            "have not committed is not in it: commit first); its diff comes back with its result",
        },
        "wait": {
            "type": "boolean",
            "description": "true (default): wait for its result; false: return its id at once (see wait_agents)",
        },
    },
    "required": ["task"],
    "additionalProperties": False,
}

WAIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50},
        "mode": {"type": "string", "enum": ["all", "any"], "description": "Wait for all (default) or any one"},
        "timeout_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_WAIT_SECONDS,
            "description": "Wait at most this long (default: until they end); 0: do not wait, say how they stand",
        },
    },
    "required": ["ids"],
    "additionalProperties": False,
}

MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "message": {"type": "string", "minLength": 1, "maxLength": MAX_TASK_CHARS},
    },
    "required": ["id", "message"],
    "additionalProperties": False,
}

CANCEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"id": {"type": "string"}},
    "required": ["id"],
    "additionalProperties": False,
}

LIST_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}

SCHEMAS = {
    SPAWN_AGENT: SPAWN_SCHEMA,
    WAIT_AGENTS: WAIT_SCHEMA,
    MESSAGE_AGENT: MESSAGE_SCHEMA,
    CANCEL_AGENT: CANCEL_SCHEMA,
    LIST_AGENTS: LIST_SCHEMA,
}

# All of them are read-only for the gates: they change nothing themselves (a sub-agent's own tool
# calls go through its own gates, in the mode of its parent, and outside auto mode spawn_agent
# refuses a workflow with steps past them: definitions.unasked), so they run in plan mode too, and
# several spawns in one answer run side by side.
DEFINITIONS = (
    ToolDefinition(
        name=SPAWN_AGENT,
        description=(
            "Start a sub-agent on a task. It works on its own (its own conversation, optionally its own git "
            "worktree) with the same tools, and its final answer comes back as this tool's result. Spawn "
            "several in one answer to have them work in parallel; with wait=false you get its id at once."
        ),
        input_schema=SPAWN_SCHEMA,
        read_only=True,
    ),
    ToolDefinition(
        name=WAIT_AGENTS,
        description="Wait for sub-agents started with wait=false: all of them (default) or any one; their results.",
        input_schema=WAIT_SCHEMA,
        read_only=True,
    ),
    ToolDefinition(
        name=MESSAGE_AGENT,
        description="Send a note to a running sub-agent; it reads it before its next model call.",
        input_schema=MESSAGE_SCHEMA,
        read_only=True,
    ),
    ToolDefinition(
        name=CANCEL_AGENT,
        description="Stop a running sub-agent (and the agents it started).",
        input_schema=CANCEL_SCHEMA,
        read_only=True,
    ),
    ToolDefinition(
        name=LIST_AGENTS,
        description="The sub-agents of this chat: id, name, task, status, cost.",
        input_schema=LIST_SCHEMA,
        read_only=True,
    ),
)


@functools.cache
def _validator(name: str) -> Any:
    import jsonschema  # on first use: it is a sizeable import for every worker start

    return jsonschema.Draft202012Validator(SCHEMAS[name])


# Texts that must say something: one of only spaces and newlines would reach a model as a blank
# message, which providers refuse.
SAID = {SPAWN_AGENT: "task", MESSAGE_AGENT: "message"}


def problems(name: str, tool_input: dict[str, Any]) -> str:
    """Why the input is not a valid call of agent tool `name` ("" if it is)."""
    errors = sorted(_validator(name).iter_errors(tool_input), key=lambda e: list(e.path))
    text = tool_input.get(SAID.get(name, ""))
    if not errors and isinstance(text, str) and not text.strip():
        return f"{SAID[name]}: is blank"
    return in_words(errors)
