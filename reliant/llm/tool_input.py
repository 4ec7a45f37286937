"""A streamed tool call's JSON arguments, turned into the object the tool receives."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

UNPARSED_KEY = "_unparsed_arguments"


def parse_tool_input(raw: str, tool_name: str) -> dict[str, Any]:
    """The arguments as a JSON object; "" is {}.

    Arguments that are not a JSON object (a truncated answer, a confused model) are kept under
    `_unparsed_arguments`, so the tool's schema check reports the problem back to the model instead
    of the turn failing.
    """
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    logger.warning("tool call %s: arguments are not a JSON object (%d chars)", tool_name, len(raw))
    return {UNPARSED_KEY: raw}
