"""JSON encoding of tool calls and results as they cross NATS and the gateway stream."""

from __future__ import annotations

import json
from typing import Any

from reliant.domain.tools import ToolCall, ToolResult, ToolStatus


def encode_call(call: ToolCall) -> bytes:
    doc: dict[str, Any] = {"id": call.tool_call_id, "tool": call.tool, "input": call.input}
    if call.chat_id:
        doc["chat_id"] = call.chat_id
    if call.workspace:
        doc["workspace"] = call.workspace
    if call.timeout:
        doc["timeout"] = call.timeout
    if call.resume_only:
        doc["resume_only"] = True
    if call.wait:
        doc["wait"] = call.wait
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_call(data: bytes) -> ToolCall:
    """Raises ValueError on a malformed document."""
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("tool call must be a JSON object")
    ident, tool, args = doc.get("id"), doc.get("tool"), doc.get("input", {})
    if not isinstance(ident, str) or not ident:
        raise ValueError("tool call needs a non-empty string 'id'")
    if not isinstance(tool, str) or not tool:
        raise ValueError("tool call needs a non-empty string 'tool'")
    if not isinstance(args, dict):
        raise ValueError("tool call 'input' must be an object")
    return ToolCall(
        tool_call_id=ident,
        tool=tool,
        input=args,
        chat_id=str(doc.get("chat_id", "")),
        workspace=str(doc.get("workspace", "")),
        timeout=float(doc.get("timeout", 0.0) or 0.0),
        resume_only=bool(doc.get("resume_only", False)),
        wait=max(0.0, float(doc.get("wait", 0.0) or 0.0)),
    )


def encode_result(result: ToolResult) -> bytes:
    doc: dict[str, Any] = {"id": result.tool_call_id, "status": result.status.value}
    if result.output:
        doc["output"] = result.output
    if result.data:
        doc["data"] = result.data
    if result.error:
        doc["error"] = result.error
    if result.duration_ms:
        doc["duration_ms"] = round(result.duration_ms, 3)
    if result.replayed:
        doc["replayed"] = True
    if result.boot_id:
        doc["boot"] = result.boot_id
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_result(data: bytes) -> ToolResult:
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("tool result must be a JSON object")
    return ToolResult(
        tool_call_id=str(doc.get("id", "")),
        status=ToolStatus(doc.get("status", "error")),
        output=str(doc.get("output", "")),
        data=dict(doc.get("data") or {}),
        error=str(doc.get("error", "")),
        duration_ms=float(doc.get("duration_ms", 0.0)),
        replayed=bool(doc.get("replayed", False)),
        boot_id=str(doc.get("boot", "")),
    )
