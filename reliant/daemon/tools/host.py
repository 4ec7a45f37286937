"""Runs tool calls on the daemon: validates input, confines to a workspace, returns results.

Every failure becomes a ToolResult the model can read; nothing a tool does can raise out of here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path

import jsonschema

from reliant.daemon.tools.base import ToolContext, ToolOutput, ToolSpec
from reliant.domain.tools import ToolCall, ToolResult, ToolStatus

logger = logging.getLogger(__name__)


class ToolHost:
    def __init__(self, daemon_id: str, tools: Iterable[ToolSpec], workspaces: Iterable[Path] = ()) -> None:
        self.daemon_id = daemon_id
        self.tools = {t.name: t for t in tools}
        self.workspaces = [p.resolve() for p in workspaces]
        self._validators = {
            t.name: jsonschema.Draft202012Validator(t.input_schema) for t in self.tools.values()
        }

    def workspace_for(self, requested: str) -> Path | None:
        if requested:
            path = Path(requested).resolve()
            return path if path in self.workspaces else None
        return self.workspaces[0] if self.workspaces else None

    async def execute(self, call: ToolCall) -> ToolResult:
        started = time.perf_counter()

        def result(status: ToolStatus, out: ToolOutput | None = None, error: str = "") -> ToolResult:
            return ToolResult(
                tool_call_id=call.tool_call_id,
                status=status,
                output=out.output if out else "",
                data=out.data if out else {},
                error=error or (out.error if out else ""),
                duration_ms=(time.perf_counter() - started) * 1000,
            )

        spec = self.tools.get(call.tool)
        if spec is None:
            return result(
                ToolStatus.ERROR,
                error=f"unknown tool {call.tool!r}; available: {', '.join(sorted(self.tools))}",
            )
        problems = sorted(self._validators[spec.name].iter_errors(call.input), key=lambda e: list(e.path))
        if problems:
            detail = "; ".join(f"{'/'.join(map(str, p.path)) or 'input'}: {p.message}" for p in problems[:5])
            return result(ToolStatus.ERROR, error=f"invalid input for {spec.name}: {detail}")
        workspace = self.workspace_for(call.workspace)
        if spec.needs_workspace and workspace is None:
            return result(
                ToolStatus.ERROR,
                error=f"workspace {call.workspace or '(none)'} is not registered on daemon {self.daemon_id}",
            )
        ctx = ToolContext(self.daemon_id, workspace, call.chat_id, call.tool_call_id, call.timeout)
        try:
            out = await spec.run(ctx, call.input)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("tool %s failed", spec.name)
            return result(ToolStatus.ERROR, error=f"{spec.name} failed: {type(exc).__name__}: {exc}")
        return result(ToolStatus.ERROR if out.error else ToolStatus.OK, out)
