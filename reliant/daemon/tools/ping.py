"""`ping`: answers at once; the doctor uses it to measure the path to the daemon."""

from __future__ import annotations

import time
from typing import Any

from reliant.daemon.tools.base import ToolContext, ToolOutput, ToolSpec


async def _ping(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    return ToolOutput(
        output="pong",
        data={"daemon_id": ctx.daemon_id, "echo": args.get("echo", ""), "unix_ms": int(time.time() * 1000)},
    )


PING = ToolSpec(
    name="ping",
    description="Answer immediately with 'pong' (diagnostics).",
    input_schema={
        "type": "object",
        "properties": {"echo": {"type": "string", "maxLength": 1024}},
        "additionalProperties": False,
    },
    run=_ping,
    read_only=True,
    needs_workspace=False,
    offered=False,
)
