"""A streamed tool call's JSON arguments, turned into the object the tool receives."""

from __future__ import annotations

import json
from typing import Any

from reliant.domain.tools import invalid_arguments


class ToolInputError(ValueError):
    """The arguments of a tool call are not a JSON object (cut off, or a confused model)."""

    def __init__(self, tool_name: str, chars: int) -> None:
        self.tool_name = tool_name
        self.chars = chars
        super().__init__(f"the arguments of {tool_name} are not a JSON object ({chars} characters)")


def parse_tool_input(raw: str, tool_name: str) -> dict[str, Any]:
    """The arguments as a JSON object; "" and JSON null (what some servers send for a call without
    arguments) are {}. Anything else raises ToolInputError: arguments that were cut off must never
    reach a tool (or the transcript) as if the model had sent them."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ToolInputError(tool_name, len(raw)) from None
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise ToolInputError(tool_name, len(raw))


def tool_input_of(raw: str, tool_name: str, *, cut: bool) -> dict[str, Any]:
    """The arguments of a call in a finished answer. Arguments that are not a JSON object are the
    model's mistake when the answer ended normally: the call is kept marked (invalid_arguments), to
    be answered with an error the model reads. In an answer `cut` by a limit they raise
    ToolInputError: another attempt would be cut the same way."""
    try:
        return parse_tool_input(raw, tool_name)
    except ToolInputError:
        if cut:
            raise
        return invalid_arguments(raw)
