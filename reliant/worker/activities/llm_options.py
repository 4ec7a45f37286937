"""What a workflow node asks of a model call beyond the agent loop's: which tools it offers (a node's
filter by name or tag, plan mode's read-only ones) and an answer in a given shape (the `respond` tool,
whose arguments are the node's `response` output)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

from reliant.domain.chat import BlockType, StoredMessage, ToolDefinition
from reliant.domain.tools import invalid_arguments_error
from reliant.worker.activities.types import ToolChoice

RESPOND_TOOL = "respond"
RESPOND_RESULT = "Recorded."
MAX_TEXT = 4_000  # of an answer's text in a node's outputs (the stored message holds it all)


def tool_tags(tool: ToolDefinition) -> set[str]:
    """The tags a tool filter can name: read_only, mcp (and mcp:<server>) or builtin."""
    tags = {"read_only"} if tool.read_only else set()
    if tool.name.startswith("mcp__"):
        server = tool.name.split("__")[1] if tool.name.count("__") >= 2 else ""
        tags |= {"mcp", f"mcp:{server}"}
    else:
        tags.add("builtin")
    return tags


def chosen(tools: Iterable[ToolDefinition], choice: ToolChoice | None, mode: str) -> tuple[ToolDefinition, ...]:
    """The tools a call offers: those the node's filter allows, only read-only ones in plan mode."""
    out = []
    for tool in tools:
        if mode == "plan" and not tool.read_only:
            continue
        if choice is not None and not choice.all:
            named = any(fnmatch.fnmatchcase(tool.name, pattern) for pattern in choice.names)
            if not named and not tool_tags(tool) & set(choice.tags):
                continue
        out.append(tool)
    return tuple(out)


def respond_tool(schema: dict[str, Any]) -> ToolDefinition:
    return ToolDefinition(
        name=RESPOND_TOOL,
        description="Give your answer in this form. Call it once, when you have your answer.",
        input_schema=schema,
        read_only=True,
    )


def response_of(message: StoredMessage) -> dict[str, Any] | None:
    """The arguments of the answer's last `respond` call (None: it did not call it, or not with
    arguments that are a JSON object)."""
    calls = [
        b
        for b in message.blocks
        if b.type is BlockType.TOOL_CALL
        and b.tool_name == RESPOND_TOOL
        and not invalid_arguments_error(b.tool_name, b.tool_input)
    ]
    return dict(calls[-1].tool_input) if calls else None


def capped(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n[... {len(text) - limit} more characters]"
