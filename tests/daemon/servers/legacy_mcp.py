"""An MCP server on the 2025-11-25 protocol (initialize handshake, ping, tasks), written by hand as
newline-delimited JSON-RPC over stdio, so reliant is also tested against a server of an older
revision than the SDK's own: python legacy_mcp.py."""

from __future__ import annotations

import json
import sys
from typing import Any

PROTOCOL = "2025-11-25"
OBJECT: dict[str, Any] = {"type": "object", "properties": {"text": {"type": "string"}}}
TOOLS = [
    {"name": "echo", "description": "Return the text.", "inputSchema": OBJECT},
    {
        "name": "long_job",
        "description": "Runs only as a task (task-augmented tools/call).",
        "inputSchema": OBJECT,
        "execution": {"taskSupport": "required"},
    },
    {
        "name": "maybe_task",
        "description": "Runs as a task or as a plain call.",
        "inputSchema": OBJECT,
        "execution": {"taskSupport": "optional"},
    },
]


def answer(request: dict[str, Any]) -> dict[str, Any]:
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        return {
            "protocolVersion": PROTOCOL,
            "capabilities": {"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}},
            "serverInfo": {"name": "legacy-test", "version": "1.0"},
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        if params.get("name") == "long_job" and "task" not in params:
            raise LookupError("long_job requires task-augmented execution")
        text = str((params.get("arguments") or {}).get("text", ""))
        return {"content": [{"type": "text", "text": text}], "isError": False}
    raise KeyError(method)


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if "id" not in request:
            continue  # a notification
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
        try:
            reply["result"] = answer(request)
        except KeyError:
            reply["error"] = {"code": -32601, "message": f"Method not found: {request.get('method')}"}
        except LookupError as exc:
            reply["error"] = {"code": -32602, "message": str(exc)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
